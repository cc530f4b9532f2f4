"""Bad input, interrupted writes and odd resumes, through the CLI (issue #14)."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from eeg_pretrain.cli import main
from eeg_ssm import save_checkpoint
from eeg_train import warmup_cosine

LAST = "mamba2_eeg_pretrained_last.pt"


def run(args: list[str], capsys, expect: int = 0) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == expect, err
    if expect == 2:
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_save_dir_that_is_a_file_is_refused_before_any_work(tmp_path, make_config, write_config, capsys):
    occupied = tmp_path / "runs.txt"
    occupied.write_text("notes")
    # The dataset does not exist either: the save_dir check must come first (before data is read).
    cfg = make_config(tmp_path / "no_such_corpus", occupied, None)
    err = run(["--config", str(write_config(cfg))], capsys, expect=2)
    assert f"train.save_dir: {occupied} is a file" in err
    cfg = make_config(tmp_path / "no_such_corpus", occupied / "inner", None)
    err = run(["--config", str(write_config(cfg))], capsys, expect=2)
    assert f"lies under {occupied}" in err
    assert occupied.read_text() == "notes"


def test_data_error_in_the_first_epoch_leaves_no_config_behind(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    bad = sorted(corpus.rglob("*.parquet"))[-1]
    table = pq.read_table(bad)
    cells = table.column("Fp1").to_pylist()
    cells[3] = [float("nan")] * len(cells[3])
    table = table.set_column(
        table.schema.get_field_index("Fp1"), "Fp1", pa.array(cells, table.schema.field("Fp1").type)
    )
    pq.write_table(table, bad)
    save = tmp_path / "run"
    cfg = make_config(corpus, save, None, data={"val_ratio": 0.0})
    err = run(["--config", str(write_config(cfg))], capsys, expect=2)
    assert "non-finite" in err or "NaN" in err, err
    assert not (save / "config.yaml").exists()
    assert not save.exists() or not any(save.iterdir()), sorted(save.iterdir())


def _copy_run(source, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(source, folder)
    return folder


def test_resume_with_weights_that_do_not_fit_their_own_model_config(
    one_of_two_epochs, tmp_path, write_config, capsys
):
    source, cfg = one_of_two_epochs
    folder = _copy_run(source, tmp_path)
    payload = torch.load(folder / LAST, weights_only=True)
    name = next(k for k in payload["model"] if k.endswith("in_proj.weight"))
    payload["model"][name] = torch.zeros(3, 5)
    save_checkpoint(folder / LAST, payload)
    before = (folder / LAST).read_bytes()
    config = write_config({**cfg, "train": {**cfg["train"], "save_dir": str(folder)}})
    err = run(["--config", str(config), "--resume", str(folder / LAST)], capsys, expect=2)
    assert "shape mismatches" in err and name in err and "(3, 5)" in err
    assert (folder / LAST).read_bytes() == before


# (changed key, value, expected outcome): "error" lists the key, "applied" logs it and records it, "extended"
# logs the longer schedule. The run was configured for 2 epochs and stopped after 1.
RESUME_RULES = [
    ("train.lr", 0.01, "error"),
    ("train.seed", 1, "error"),
    ("train.weight_decay", 0.0, "error"),
    ("train.grad_accum_steps", 2, "error"),
    ("train.epochs", 1, "error"),
    ("data.batch_size", 2, "error"),
    ("data.normalization", "none", "error"),
    ("masking.ratio", 0.6, "error"),
    ("masking.noise_std", 0.5, "error"),
    ("model.dropout", 0.1, "error"),
    ("synthetic.participants", 3, "error"),
    ("train.epochs", 3, "extended"),
    ("train.grad_clip", 0.5, "applied"),
    ("train.log_every", 3, "applied"),
    ("train.patience", 4, "applied"),
    ("model.chunk_size", 4, "applied"),
    ("tracking.experiment", "elsewhere", "applied"),  # the checkpoint has no MLflow run to continue
]


@pytest.mark.parametrize(
    ("key", "value", "outcome"), RESUME_RULES, ids=[f"{k}={v}" for k, v, _ in RESUME_RULES]
)
def test_resume_rules(key, value, outcome, one_of_two_epochs, tmp_path, write_config, capsys, caplog):
    source, cfg = one_of_two_epochs
    folder = tmp_path / "run"
    shutil.copytree(source, folder)
    config = write_config(cfg)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    section, name = key.split(".")
    args = ["--config", str(config), "--resume", str(folder / LAST), "--set", f"{key}={value}"]
    args += ["--set", f"train.save_dir={folder}", "--stop-after-epochs", "1"]
    if outcome == "error":
        err = run(args, capsys, expect=2)
        assert f"{key}: checkpoint " in err and "cannot change" in err, err
        assert "train.save_dir: checkpoint" not in err  # applied settings are not listed as problems
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "nothing is written"
        return
    caplog.set_level("INFO", logger="eeg_pretrain")
    run(args, capsys)
    after = torch.load(folder / LAST, weights_only=True)
    assert after["epoch"] == 2
    recorded = after["run_config"][section][name]
    assert recorded == value
    if outcome == "applied":
        assert f"resume: {key}: checkpoint " in caplog.text and f"config {value!r} (applied)" in caplog.text
    else:
        assert "schedule extended to 3 epochs" in caplog.text
        # the resumed steps follow the 3-epoch schedule
        steps_per_epoch = after["step"] // 2
        total = 3 * steps_per_epoch
        factor = warmup_cosine(total, int(cfg["train"].get("warmup_fraction", 0.05) * total), 0.05)
        lr = after["optimizer"]["param_groups"][0]["lr"]
        assert lr == pytest.approx(cfg["train"]["lr"] * factor(after["step"]), rel=1e-9)


def test_stale_temp_files_of_an_interrupted_write_are_removed(
    one_of_two_epochs, tmp_path, write_config, capsys
):
    source, cfg = one_of_two_epochs
    folder = _copy_run(source, tmp_path)
    stale = [folder / ".mamba2_eeg_pretrained.pt.k2j_x9qa.tmp", folder / ".config.yaml.abc123.tmp"]
    kept = [folder / ".notes.txt.abc123.tmp", folder / "mine.tmp", folder / ".mamba2_eeg_pretrained.pt.tmp"]
    for path in stale + kept:
        path.write_bytes(np.zeros(16, dtype=np.uint8).tobytes())
    config = write_config({**cfg, "train": {**cfg["train"], "save_dir": str(folder)}})
    run(["--config", str(config), "--resume", str(folder / LAST)], capsys)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


def test_start_up_reports_data_check_counts_once_and_names_leaks(
    tiny_corpus, tmp_path, make_config, write_config, capsys, caplog
):
    from eeg_io import build_index, split_by_group

    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    items = build_index(corpus)
    train, val = split_by_group(items, 0.34, group="participant", seed=0)
    train_file, val_file = sorted({i.file for i in train})[0], sorted({i.file for i in val})[0]
    # the validation participant's recording is the training participant's, under another name
    copied = pq.read_table(train_file)
    names = pq.read_table(val_file).column("participant")
    copied = copied.set_column(copied.schema.get_field_index("participant"), "participant", names)
    pq.write_table(copied, val_file)
    caplog.set_level("INFO", logger="eeg_pretrain")
    cfg = make_config(corpus, tmp_path / "run", None, train={"epochs": 1})
    run(["--config", str(write_config(cfg))], capsys)
    counts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("data checks on ")]
    assert len(counts) == 1, counts  # once at start-up, not per batch
    assert "1 duplicate recording(s)" in counts[0]
    assert (
        f"train/validation leak: {train_file} (train) and {val_file} (validation) hold the same recording"
        in (caplog.text)
    )


def test_resume_of_an_mlflow_run_refuses_another_experiment_and_renames_the_run(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = make_config(tiny_corpus, tmp_path / "run", uri, train={"epochs": 2})
    config = write_config(cfg)
    run(["--config", str(config), "--stop-after-epochs", "1"], capsys)
    last = tmp_path / "run" / LAST
    run_id = torch.load(last, weights_only=True)["mlflow_run_id"]
    err = run(
        ["--config", str(config), "--resume", str(last), "--set", "tracking.experiment=other"], capsys, 2
    )
    assert "tracking.experiment: checkpoint 'tests', config 'other'" in err
    run(["--config", str(config), "--resume", str(last), "--set", "tracking.run_name=renamed"], capsys)
    assert torch.load(last, weights_only=True)["mlflow_run_id"] == run_id
    mlflow.set_tracking_uri(uri)
    assert mlflow.get_run(run_id).data.tags["mlflow.runName"] == "renamed"


def test_the_demo_corpus_is_written_whole_and_its_settings_are_remembered(
    tmp_path, make_config, write_config, capsys, caplog
):
    """``synthetic.enabled``: the first run writes the corpus (through a hidden folder moved in when
    complete, so an interrupted write leaves nothing to train on) with a record of its settings; a later
    run with the same settings reuses it, one with other ``synthetic.*`` settings replaces it and says so."""
    corpus = tmp_path / "data" / "demo_corpus"
    staging = corpus.with_name(".demo_corpus.writing")
    staging.mkdir(parents=True)
    (staging / "sub-00_run-1.parquet").write_text("half written by an interrupted first run")
    synthetic = {"enabled": True, "participants": 3, "windows_per_run": 6, "sfreq": 64.0}
    cfg = make_config(corpus, tmp_path / "run", None, synthetic=synthetic, train={"epochs": 1})
    cfg["data"]["sampling_rate"] = 64.0
    path = write_config(cfg)
    run(["--config", str(path)], capsys)
    assert not staging.exists()
    assert len(list(corpus.rglob("*.parquet"))) == 3 and (corpus / "synthetic_corpus.json").is_file()
    written = sorted((str(p), p.stat().st_mtime_ns) for p in corpus.rglob("*"))

    run(["--config", str(path)], capsys)
    assert sorted((str(p), p.stat().st_mtime_ns) for p in corpus.rglob("*")) == written  # reused as it is

    (corpus / "notes.txt").write_text("the user's own file")
    caplog.clear()
    with caplog.at_level("INFO", logger="eeg_pretrain"):
        run(["--config", str(path), "--set", "synthetic.participants=4"], capsys)
    assert "holds a synthetic corpus written with other settings: participants 3 (config: 4)" in caplog.text
    assert len(list(corpus.rglob("*.parquet"))) == 4  # the corpus the config asks for, not the stale one
    assert '"participants": 4' in (corpus / "synthetic_corpus.json").read_text()
    assert (corpus / "notes.txt").read_text() == "the user's own file"
