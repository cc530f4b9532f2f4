import warnings
from pathlib import Path

import pytest
import yaml

from eeg_config import ConfigError
from eeg_pretrain.cli import main
from eeg_pretrain.config import build_config, load_config, run_name_for


def _problems(exc_info) -> str:
    return "\n".join(exc_info.value.problems)


def test_sectioned_config_round_trip(tiny_corpus, tmp_path, make_config):
    cfg = build_config(make_config(tiny_corpus, tmp_path, None))
    assert cfg.model.window_length == cfg.data.window_length == 64
    assert cfg.masking.ratio == 0.4 and cfg.run_name == "mamba2_eeg_d16_l1_m40_mae"


def test_run_name_rounds_ratio():
    assert run_name_for(128, 6, 0.4, "mae") == "mamba2_eeg_d128_l6_m40_mae"
    assert run_name_for(64, 2, 0.7000000001, "bert") == "mamba2_eeg_d64_l2_m70_bert"


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        (
            "masking",
            "ratio",
            1.5,
            r"MaskingConfig\.ratio must be a number in \(0, 1\).* @ \$\.masking\.ratio",
        ),
        ("train", "epochs", 2.5, r"expected int, got 2\.5 @ \$\.train\.epochs"),
        ("train", "epochs", "3", r"expected int, got '3' @ \$\.train\.epochs"),
        ("train", "compile", "yes", r"expected true or false.* @ \$\.train\.compile"),
        ("train", "bogus", 1, r"unknown key\(s\) bogus @ \$\.train"),
        ("masking", "style", "span", r"@ \$\.masking\.style"),
        ("train", "precision", "fp8", r"@ \$\.train\.precision"),
        (
            "tracking",
            "registered_model_name",
            "eeg/encoder",
            r"must be a model name without '/' or ':', got 'eeg/encoder' @ \$\.tracking\.registered_model_name",
        ),
    ],
)
def test_bad_values_name_the_key(tiny_corpus, tmp_path, make_config, section, key, value, expected):
    raw = make_config(tiny_corpus, tmp_path, None)
    raw[section][key] = value
    with pytest.raises(ConfigError) as info:
        build_config(raw)
    assert __import__("re").search(expected, _problems(info)), _problems(info)


def test_unknown_section_and_several_problems_at_once(tiny_corpus, tmp_path, make_config):
    raw = make_config(tiny_corpus, tmp_path, None)
    raw["optimizer"] = {"lr": 1}
    raw["data"]["batch_size"] = "eight"
    with pytest.raises(ConfigError) as info:
        build_config(raw)
    text = _problems(info)
    assert "unknown key(s) optimizer @ $" in text and "@ $.data.batch_size" in text


def test_float_fields_accept_yaml_scientific_strings(tiny_corpus, tmp_path, make_config, write_config):
    raw = make_config(tiny_corpus, tmp_path, None)
    path = write_config(raw)
    path.write_text(path.read_text().replace("lr: 0.003", "lr: 1e-4"))  # PyYAML reads 1e-4 as a string
    assert load_config(path).train.lr == 1e-4


def test_set_overrides_any_key(tiny_corpus, tmp_path, make_config, write_config):
    path = write_config(make_config(tiny_corpus, tmp_path, None))
    cfg = load_config(path, ["masking.ratio=0.6", "model.num_layers=2", "tracking.uri=file:///x"])
    assert cfg.masking.ratio == 0.6 and cfg.model.num_layers == 2 and cfg.tracking.uri == "file:///x"
    with pytest.raises(ConfigError, match=r"unknown key\(s\) nope @ \$\.masking"):
        load_config(path, ["masking.nope=1"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(path, ["masking.ratio"])


def test_set_keeps_text_where_the_config_expects_text(tiny_corpus, tmp_path, make_config, write_config):
    path = write_config(make_config(tiny_corpus, tmp_path, None))
    cfg = load_config(path, ["tracking.run_name=123", "tracking.experiment={sweep}", "train.lr=1e-4"])
    assert cfg.tracking.run_name == "123" and cfg.tracking.experiment == "{sweep}" and cfg.train.lr == 1e-4
    assert load_config(path, ["tracking.run_name=null"]).tracking.run_name is None
    assert load_config(path, ["data.participants=2"]).data.participants == 2  # a count (1.0 would be all)


def test_window_lengths_must_agree(tiny_corpus, tmp_path, make_config):
    raw = make_config(tiny_corpus, tmp_path, None)
    raw["model"]["window_length"] = 128
    with pytest.raises(ConfigError, match=r"window_length"):
        build_config(raw)


def test_window_length_and_rate_are_set_in_data_only(tiny_corpus, tmp_path, make_config):
    raw = make_config(tiny_corpus, tmp_path, None)
    raw["data"]["sampling_rate"] = 128.0
    cfg = build_config(raw)  # the model takes both from data
    assert (cfg.model.window_length, cfg.model.sampling_rate) == (64, 128.0)
    raw["model"].update(window_length=64, sampling_rate=128.0)  # equal values (resolved configs) still load
    assert build_config(raw) == cfg
    del raw["data"]["window_length"]  # a model value never sets the data's (default 2048)
    with pytest.raises(ConfigError) as info:
        build_config(raw)
    assert info.value.problems == [
        "PretrainConfig.model.window_length must equal data.window_length = 2048 (set data.window_length "
        "only), got 64 @ $.model.window_length"
    ]


@pytest.mark.parametrize(
    ("section", "key", "value", "problem"),
    [
        ("data", "window_length", 0, "DataConfig.window_length must be a positive integer, got 0"),
        ("data", "window_length", "abc", "expected int, got 'abc'"),
        ("data", "sampling_rate", 0.0, "DataConfig.sampling_rate must be a positive number of Hz, got 0.0"),
        ("objective", "target", "xyz", "ObjectiveConfig.target must be one of 'raw', 'spectrum', 'both'"),
        # only the model checks this: reported where the user set it, not at the copy
        ("data", "window_length", 7, "the band-power transform needs windows of at least 16 samples, got 7"),
    ],
)
def test_a_value_the_model_copies_is_reported_once_where_it_was_set(
    tiny_corpus, tmp_path, make_config, section, key, value, problem
):
    raw = make_config(tiny_corpus, tmp_path, None, objective={"target": "spectrum"})
    raw.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError) as info:
        build_config(raw)
    assert len(info.value.problems) == 1, info.value.problems
    assert problem in info.value.problems[0]
    assert info.value.problems[0].endswith(f" @ $.{section}.{key}")


def test_a_model_target_copied_to_the_objective_is_reported_at_the_model(tiny_corpus, tmp_path, make_config):
    raw = make_config(tiny_corpus, tmp_path, None)
    raw.pop("objective", None)
    raw["model"]["target"] = "xyz"
    with pytest.raises(ConfigError) as info:
        build_config(raw)
    assert [p.rpartition(" @ ")[2] for p in info.value.problems] == ["$.model.target"]


def test_flat_older_config_is_mapped(tiny_corpus, tmp_path, write_config):
    flat = {
        "asa_path": None,
        "dataset_path": str(tiny_corpus),
        "save_dir": str(tmp_path / "out"),
        "masking_style": "bert",
        "mask_ratio": 0.15,
        "d_model": 32,
        "num_layers": 2,
        "headdim": 8,
        "window_length": 64,
        "lr": 0.0005,
        "batch_size": 4,
        "epochs": 3,
        "mlflow_tracking_uri": "sqlite:///x.db",
        "mlflow_experiment": "old_experiment",
    }
    cfg = load_config(write_config(flat), ["mask_ratio=0.2", "train.seed=5"])
    assert (cfg.data.dataset_path, cfg.data.window_length, cfg.model.window_length) == (
        str(tiny_corpus),
        64,
        64,
    )
    assert (cfg.masking.style, cfg.masking.ratio) == ("bert", 0.2)
    assert (cfg.model.d_model, cfg.model.num_layers) == (32, 2)
    assert (cfg.train.lr, cfg.data.batch_size, cfg.train.epochs, cfg.train.seed) == (0.0005, 4, 3, 5)
    assert (cfg.tracking.uri, cfg.tracking.experiment) == ("sqlite:///x.db", "old_experiment")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) learning_rte"):
        load_config(write_config({**flat, "learning_rte": 1}))


def test_bert_ratio_warning_is_shown(tiny_corpus, tmp_path, make_config):
    raw = make_config(tiny_corpus, tmp_path, None, masking={"style": "bert", "ratio": 0.5})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_config(raw)
    assert any("BERT-style masking at ratio 0.5" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["train"].update(bogus=1), "unknown key(s) bogus @ $.train"),
        (lambda c: c["data"].update(batch_size="x"), "@ $.data.batch_size"),
        (lambda c: c["masking"].update(ratio=1.5), "@ $.masking.ratio"),
        (lambda c: c["data"].update(dataset_path="/nonexistent/corpus"), "/nonexistent/corpus"),
    ],
)
def test_cli_exits_2_with_one_clear_message(
    tiny_corpus, tmp_path, make_config, write_config, capsys, mutate, expected
):
    raw = make_config(tiny_corpus, tmp_path / "out", None)
    mutate(raw)
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(raw))])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out" / "mamba2_eeg_pretrained.pt").exists()


def test_cli_missing_config_and_resume_file(tmp_path, capsys, tiny_corpus, make_config, write_config):
    with pytest.raises(SystemExit) as info:
        main(["--config", str(tmp_path / "missing.yaml")])
    assert info.value.code == 2 and "config file not found" in capsys.readouterr().err
    path = write_config(make_config(tiny_corpus, tmp_path / "out", None))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(path), "--resume", str(tmp_path / "nope.pt")])
    assert info.value.code == 2 and "checkpoint not found" in capsys.readouterr().err


def test_print_config_shows_resolved_values(tiny_corpus, tmp_path, make_config, write_config, capsys):
    with pytest.raises(SystemExit) as info:
        main(
            [
                "--config",
                str(write_config(make_config(tiny_corpus, tmp_path, None))),
                "--print-config",
                "--set",
                "masking.ratio=0.3",
            ]
        )
    assert info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["masking"]["ratio"] == 0.3 and printed["model"]["window_length"] == 64


@pytest.mark.parametrize("name", ["pretrain.yaml", "demo.yaml"])
@pytest.mark.parametrize(
    ("window", "rate"),
    [(16, 128.0), (128, 128.0), (256, 256.0), (510, 255.0), (2048, 256.0)],
    ids=["16@128", "1s@128", "1s@256", "2s@255", "8s@256"],
)
def test_shipped_configs_work_for_any_window_the_contract_allows(name, window, rate):
    """The configs' spectral defaults (derived bands, three tapers, the learned local context) build a
    model that runs, from the shortest window the band-power transform takes to 8-s windows."""
    import torch

    from eeg_ssm import EEGModel

    path = Path(__file__).parents[3] / "configs" / name
    config = load_config(path, [f"data.window_length={window}", f"data.sampling_rate={rate}"])
    assert config.model.tapers == 3 and config.model.local_context
    model = EEGModel(config.model.evolve(d_model=16, num_layers=1, headdim=4, d_state=8)).eval()
    windows = torch.randn(2, 6, window)
    windows[:, 2] = 0.0  # masked
    with torch.no_grad():
        out = model(windows, ["CZ", "O1"], torch.tensor([6, 4]))
    assert out.shape == (2, 6, config.model.head_size) and torch.isfinite(out).all()


def test_window_length_and_rate_come_from_the_corpus_unless_set(tmp_path):
    import numpy as np
    import pytest

    from eeg_config import ConfigError
    from eeg_io import corpus_metadata
    from eeg_io.layout import windows_table, write_table
    from eeg_pretrain.config import from_the_corpus

    corpus = tmp_path / "corpus"
    starts = np.arange(3) * 0.5
    table = windows_table({"FZ": np.zeros((3, 64)) + np.arange(64)}, participant="p", run="1",
                          window_start=starts, window_end=starts + 0.5)  # fmt: skip
    write_table(table, corpus / "p_run-1.parquet", corpus_metadata(64, 128.0, ["FZ"]))
    raw = {"data": {"dataset_path": str(corpus)}}
    assert from_the_corpus(raw)["data"] | {} == {
        "dataset_path": str(corpus),
        "window_length": 64,
        "sampling_rate": 128.0,
    }
    kept = from_the_corpus({"data": {"dataset_path": str(corpus), "window_length": 64}})
    assert kept["data"]["window_length"] == 64 and kept["data"]["sampling_rate"] == 128.0
    with pytest.raises(
        ConfigError,
        match=r"2048 disagrees with 64, recorded by prepare in .*p_run-1.parquet.* @ \$\.data\.window_length",
    ):
        from_the_corpus({"data": {"dataset_path": str(corpus), "window_length": 2048}})
    # without a record: what the data shows (64-sample windows, 0.5 s apart: 128 Hz) fills, never refuses
    write_table(table, corpus / "p_run-1.parquet")
    inferred = from_the_corpus({"data": {"dataset_path": str(corpus), "sampling_rate": 256.0}})["data"]
    assert inferred["window_length"] == 64 and inferred["sampling_rate"] == 256.0
    assert from_the_corpus({"data": {"dataset_path": str(tmp_path / "not_yet")}}) == {
        "data": {"dataset_path": str(tmp_path / "not_yet")}
    }
