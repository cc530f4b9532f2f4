"""Bad input ends with one clear line on stderr, exit status 2, and nothing written."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from eeg_finetune.cli import main
from eeg_finetune.synthetic import write_synthetic_primary


def fails(args: list[str], capsys, *fragments: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


@pytest.fixture
def attempt(pretrained, labelled, ft_config, write_config, tmp_path, capsys):
    """``attempt(*fragments, dataset=..., extra=[...], **sections)``: run and expect exit 2 naming the fragments;
    the output folder must not exist afterwards."""

    def go(*fragments: str, dataset=labelled, extra=(), **sections) -> str:
        out = tmp_path / "out"
        config = ft_config(pretrained, dataset, out, **sections)
        err = fails(["--config", str(write_config(config, "bad.yaml")), *extra], capsys, *fragments)
        assert not out.exists(), "nothing is written for bad input"
        return err

    return go


def test_missing_channel_is_named(attempt, labelled):
    attempt("no column for channel(s) CZ", str(labelled), "AF7, AF8", data={"channels": ["af7", "Cz"]})


def test_window_length_mismatch_names_both_lengths(attempt, tmp_path):
    short = write_synthetic_primary(tmp_path / "short.parquet", window_length=32, sfreq=64.0)
    attempt("windows have 32 samples", "window_length 64", dataset=short)


def test_single_class_labels(attempt, tmp_path):
    one_class = write_synthetic_primary(tmp_path / "one.parquet", rhythms_hz=(4.0,))
    attempt("label column 'Remission' has a single class (0)", "at least two classes", dataset=one_class)


def test_non_integer_labels(attempt, labelled, tmp_path):
    table = pq.read_table(labelled)
    labels = pa.array(["yes" if v else "no" for v in table.column("Remission").to_pylist()])
    path = tmp_path / "text_labels.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("Remission"), "Remission", labels), path)
    attempt("label column 'Remission' must hold integer classes", dataset=path)


def test_missing_label_column_and_missing_file(attempt, tmp_path):
    attempt("no label column 'Outcome'", "set data.label_column", data={"label_column": "Outcome"})
    attempt(
        "primary dataset not found",
        str(tmp_path / "nowhere.parquet"),
        data={"data_path": str(tmp_path / "nowhere.parquet")},
    )


def test_unreadable_checkpoint(attempt, tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    attempt(str(garbage), "not a readable checkpoint", extra=["--checkpoint", str(garbage)])
    attempt("no such checkpoint file", extra=["--checkpoint", str(tmp_path / "missing.pt")])


def test_checkpoint_that_disagrees_with_the_pretrain_config_lists_every_difference(
    attempt, pretrained, tmp_path
):
    raw = yaml.safe_load(pretrained.config.read_text())
    raw["model"]["d_model"] = 32
    raw["masking"]["ratio"] = 0.6
    other = tmp_path / "pretrain_d32.yaml"
    other.write_text(yaml.safe_dump(raw))
    attempt(
        "does not match the pretrain config",
        "d_model: checkpoint 16, config 32",
        "masking.ratio: checkpoint 0.4, config 0.6",
        "use this checkpoint as saved with --checkpoint",
        pretrained={"pretrain_config": str(other)},
    )


def test_no_checkpoint_where_the_lookup_expects_one(attempt, pretrained, tmp_path):
    raw = yaml.safe_load(pretrained.config.read_text())
    raw["train"]["save_dir"] = str(tmp_path / "empty")
    other = tmp_path / "pretrain_elsewhere.yaml"
    other.write_text(yaml.safe_dump(raw))
    attempt(
        "no pretrained checkpoint for run mamba2_eeg_d16_l1_m40_mae",
        "pretrain first",
        pretrained={"pretrain_config": str(other)},
    )
    attempt("no pretrained encoder: give --pretrain-config", pretrained={"pretrain_config": None})


def test_split_and_config_problems(attempt):
    attempt("split.folds: stratified 7-fold", "class 0 has 6", split={"method": "kfold", "folds": 7})
    attempt("train.class_weights: 3 weights for 2 classes", train={"class_weights": [1.0, 2.0, 3.0]})
    attempt("unknown key(s) learning_rate @ $.train", train={"learning_rate": 0.1})
    attempt(
        "unfreeze_epoch needs freeze_backbone: true", model={"freeze_backbone": False, "unfreeze_epoch": 2}
    )
    attempt("class_weights must be 'none', 'balanced' or a list", train={"class_weights": "heavy"})


def test_labels_that_vary_within_a_participant_suggest_window_labels(attempt, tmp_path):
    from eeg_finetune.synthetic import write_synthetic_windows

    trials = write_synthetic_windows(tmp_path / "trials.parquet", people=4, runs=2, windows=3)
    attempt(
        "label column 'Label' varies within 4 participant(s)",
        "set data.label_level: window",
        dataset=trials,
        data={"label_column": "Label"},
    )


def test_group_column_missing_or_too_few_groups(attempt, tmp_path):
    from eeg_finetune.synthetic import write_synthetic_windows

    trials = write_synthetic_windows(
        tmp_path / "trials.parquet", people=4, runs=2, windows=3
    )  # groups G1, G2
    window = {"label_column": "Label", "label_level": "window"}
    attempt("no group column 'Site'", dataset=trials, data={**window, "group_column": "Site"})
    attempt(
        "split.folds: 3 folds need at least 3 groups in column 'Person'; it has 2",
        dataset=trials,
        data={**window, "group_column": "Person"},
        split={"method": "group_kfold", "folds": 3},
    )
    attempt(
        "split.method logo: column 'Person' has 2 group(s)",
        dataset=trials,
        data={**window, "group_column": "Person"},
        split={"method": "logo", "val_ratio": 0.2},
    )


def test_a_group_with_a_single_class_is_a_warning(pretrained, ft_config, write_config, tmp_path, caplog):
    from eeg_finetune.synthetic import write_synthetic_windows

    # one run per person: every person (group) holds one class
    trials = write_synthetic_windows(tmp_path / "trials.parquet", people=4, runs=1, windows=4)
    config = ft_config(
        pretrained,
        trials,
        tmp_path / "out",
        data={"label_column": "Label", "label_level": "window"},
        split={"method": "logo", "val_ratio": 0.0},
        train={"epochs": 1},
    )
    with caplog.at_level("WARNING", logger="eeg_finetune"), pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config, "one_class.yaml"))])
    assert info.value.code == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("S1, S2, S3, S4 of column 'Participant' hold a single class" in w for w in warnings), warnings


def test_leakage_is_counted_and_strict_disjoint_refuses_it(
    pretrained, labelled, ft_config, write_config, tmp_path, capsys
):
    import json

    from eeg_ssm import load_checkpoint, save_checkpoint

    payload = load_checkpoint(pretrained.checkpoint)
    payload["pretraining_data"] = {
        "participants": ["P01", "P05", "X99"],
        "files": [],
        "val_participants": ["P12"],
        "val_files": [],
    }
    leaky = save_checkpoint(tmp_path / "leaky.pt", payload)
    out = tmp_path / "out"
    config = ft_config(pretrained, labelled, out, split={"method": "kfold", "folds": 3}, train={"epochs": 1})
    config["pretrained"] = {}
    path = write_config(config, "leak.yaml")
    with pytest.raises(SystemExit) as info:
        main(["--config", str(path), "--checkpoint", str(leaky)])
    assert info.value.code == 0
    summary = json.loads(next(out.glob("*_summary.json")).read_text())
    assert summary["leakage"] == {
        "test_groups": 12,
        "test_groups_seen": 3,
        "test_participants": 12,
        "test_participants_seen": 3,
        "seen": ["P01", "P05", "P12"],
        "by": "participant ids",  # this checkpoint records no fingerprints
    }
    assert "pretrained on 3 of the 12 test groups" in capsys.readouterr().out

    strict_out = tmp_path / "strict"
    fails(
        [
            "--config",
            str(path),
            "--checkpoint",
            str(leaky),
            "--output-dir",
            str(strict_out),
            "--strict-disjoint",
        ],
        capsys,
        "--strict-disjoint: the encoder",
        "was pretrained on 3 of the 12 test groups (P01, P05, P12)",
    )
    assert not strict_out.exists()
    fails(  # a checkpoint that does not say what it was pretrained on cannot pass a strict check
        [
            "--config",
            str(path),
            "--checkpoint",
            str(pretrained.checkpoint),
            "--output-dir",
            str(strict_out),
            "--strict-disjoint",
        ],
        capsys,
        "does not record the participants it was pretrained on",
    )


def test_data_section_follows_eeg_io_rules():
    from eeg_config import ConfigError
    from eeg_finetune.config import build_config

    with pytest.raises(ConfigError) as info:  # scale is eeg_io.NormalizationConfig's, rule included
        build_config({"data": {"scale": 2.0, "normalization": "sequence"}})
    assert info.value.problems == [
        "DataSection.scale must be 1.0 with normalization='sequence': scale=2.0 only applies to "
        "normalization='none' @ $.data.scale"
    ]
    assert build_config({"data": {"scale": 1.0e6, "normalization": "none"}}).data.scale == 1.0e6
    with pytest.raises(ConfigError, match=r"names AF7 twice .* @ \$\.data\.channels"):
        build_config({"data": {"channels": ["AF7", "af7"]}})
    with pytest.raises(ConfigError, match=r"@ \$\.model\.pooling"):  # eeg_ssm.POOLINGS
        build_config({"model": {"pooling": "max"}})


def test_band_power_settings_the_windows_cannot_hold_are_one_line_naming_the_key(attempt):
    baselines = {"compare_baselines": True}  # the bands matter only to the band_power baseline
    for evaluation, fragments in (
        (
            {"fmax": 40.0},
            (
                "evaluation.fmax: expected a frequency in (0, 32] Hz",
                "(the band_power baseline of 64-sample windows at 64 Hz)",
            ),
        ),
        ({"bands": 40}, ("evaluation.bands: 40 log-spaced bands", "expected 1..")),
        ({"fmin": 0.5, "fmax": 0.9}, ("evaluation.bands: 8 log-spaced", "no bin in range: widen fmin..fmax")),
        (
            {"bands": None, "fmin": 0.5, "fmax": 0.9},
            ("evaluation.fmin: no rFFT bin lies between fmin = 0.5 and fmax = 0.9 Hz for 64-sample",),
        ),
    ):
        err = attempt(*fragments, evaluation=evaluation, **baselines)
        assert err.count("\n") == 1, err
    attempt("must lie below fmax = 8 Hz, got 10 @ $.evaluation.fmin", evaluation={"fmin": 10, "fmax": 8})


def test_the_sampling_rate_is_checked_against_the_window_times(attempt, pretrain_tools, tmp_path):
    err = attempt(
        "data.sampling_rate: 128 Hz disagrees with",
        "set data.sampling_rate: 64",
        data={"sampling_rate": 128.0},
        compare_baselines=True,
    )
    assert err.count("\n") == 1, err
    # null takes the checkpoint's rate: one pretrained at 256 Hz meets 64 Hz data
    raw = pretrain_tools.config(tmp_path / "runs_256")
    raw["data"]["sampling_rate"] = 256.0
    checkpoint = pretrain_tools.write(tmp_path / "runs_256" / "at_256_hz.pt", raw)
    attempt(
        "data.sampling_rate: 256 Hz disagrees with",
        "null took the checkpoint's model.sampling_rate",
        pretrained={"pretrain_config": None, "checkpoint": str(checkpoint)},
        compare_baselines=True,
    )
