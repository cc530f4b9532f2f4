"""End-to-end pretraining through the CLI on a tiny synthetic corpus (CPU)."""

import math
from pathlib import Path

import pytest
import torch
import yaml

from eeg_pretrain.cli import main
from eeg_ssm import load_pretrained


def _run(args, expect=0):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == expect
    return info.value.code


def _tracking_uri(tmp_path):
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_end_to_end_checkpoints_mlflow_and_learning(smooth_corpus, tmp_path, make_config, write_config):
    import mlflow

    uri = _tracking_uri(tmp_path)
    save = tmp_path / "run"
    cfg = make_config(smooth_corpus, save, uri, train={"epochs": 8, "lr": 5.0e-3})
    _run(["--config", str(write_config(cfg))])

    best, last = save / "mamba2_eeg_pretrained.pt", save / "mamba2_eeg_pretrained_last.pt"
    assert best.is_file() and last.is_file() and (save / "config.yaml").is_file()
    assert not list(save.glob("*.tmp"))
    payload = torch.load(best, weights_only=True)
    for key in (
        "model",
        "model_config",
        "optimizer",
        "scheduler",
        "scaler",
        "epoch",
        "step",
        "best_val_loss",
        "rng",
        "run_config",
        "mlflow_run_id",
    ):
        assert key in payload, key
    assert yaml.safe_load((save / "config.yaml").read_text())["masking"]["ratio"] == 0.4
    # The leakage guard's record: which participants and files the encoder was trained (validated) on.
    record = payload["pretraining_data"]
    corpus_files = sorted(str(p.resolve()) for p in Path(smooth_corpus).rglob("*.parquet"))
    assert sorted(record["files"] + record["val_files"]) == corpus_files
    assert record["participants"] and not set(record["participants"]) & set(record["val_participants"])

    model = load_pretrained(best)  # rebuilt from the embedded model config alone
    assert model.config.d_model == 16

    client = mlflow.tracking.MlflowClient(uri)
    run = client.get_run(payload["mlflow_run_id"])
    assert run.info.run_name == "mamba2_eeg_d16_l1_m40_mae" and run.info.status == "FINISHED"
    assert run.data.params["masking.ratio"] == "0.4" and run.data.params["world_size"] == "1"
    assert "dataset_sequences" in run.data.params
    for metric in (
        "step/loss",
        "step/lr",
        "step/grad_norm",
        "step/sequences_per_s",
        "train_loss",
        "val_loss",
        "val_zero_baseline",
        "val_interp_baseline",
        "val_r2",
    ):
        assert metric in run.data.metrics, metric
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert len(history) == 8
    zero = run.data.metrics["val_zero_baseline"]
    assert run.data.metrics["val_loss"] < zero, (
        "the model must beat predicting the mean on held-out participants"
    )
    assert run.data.metrics["val_r2"] > 0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "checkpoints", "plots"} <= artifacts


def test_resume_is_bit_identical(tiny_corpus, tmp_path, make_config, write_config):
    straight = make_config(tiny_corpus, tmp_path / "straight", None, train={"epochs": 2})
    _run(["--config", str(write_config(straight, "a.yaml"))])

    split = make_config(tiny_corpus, tmp_path / "split", None, train={"epochs": 2})
    path = write_config(split, "b.yaml")
    _run(["--config", str(path), "--stop-after-epochs", "1"])
    first = torch.load(tmp_path / "split" / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    assert first["epoch"] == 1
    _run(["--config", str(path), "--resume", str(tmp_path / "split" / "mamba2_eeg_pretrained_last.pt")])

    a = torch.load(tmp_path / "straight" / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2 and a["step"] == b["step"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    assert a["best_val_loss"] == b["best_val_loss"]


def test_resume_rejects_an_incompatible_checkpoint(tiny_corpus, tmp_path, make_config, write_config, capsys):
    cfg = make_config(tiny_corpus, tmp_path / "r", None, train={"epochs": 1})
    _run(["--config", str(write_config(cfg))])
    ckpt = tmp_path / "r" / "mamba2_eeg_pretrained_last.pt"
    _run(["--config", str(write_config(cfg)), "--resume", str(ckpt), "--set", "model.d_model=32"], expect=2)
    err = capsys.readouterr().err
    assert "d_model: checkpoint 16, config 32" in err and "Traceback" not in err
    ckpt.with_name("garbage.pt").write_bytes(b"not a checkpoint")
    _run(["--config", str(write_config(cfg)), "--resume", str(ckpt.with_name("garbage.pt"))], expect=2)
    assert "garbage.pt" in capsys.readouterr().err


def test_nonfinite_losses_are_skipped_then_stop_the_run(
    tiny_corpus, tmp_path, make_config, write_config, monkeypatch, capsys, caplog
):
    import eeg_pretrain.trainer as trainer_module

    real = trainer_module.weighted_sse
    calls = {"n": 0}

    def flaky(pred, target, mask, weights, counts):
        calls["n"] += 1
        total, parts = real(pred, target, mask, weights, counts)
        return (total * math.nan if calls["n"] > 4 else total), parts  # first epoch fine, then NaN forever

    cfg = make_config(tiny_corpus, tmp_path / "nan", None, train={"epochs": 5, "max_nonfinite_steps": 3})
    monkeypatch.setattr(trainer_module, "weighted_sse", flaky)
    _run(["--config", str(write_config(cfg))], expect=2)
    err = capsys.readouterr().err
    assert "3 consecutive non-finite losses" in err and "Traceback" not in err
    assert caplog.text.count("step skipped") == 3
    kept = torch.load(tmp_path / "nan" / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    assert kept["epoch"] == 1  # the last good checkpoint is intact
    assert all(torch.isfinite(t).all() for t in kept["model"].values())
