"""Spectral targets and inputs end to end: learning against the context mean, summary and MLflow fields,
band statistics in checkpoints, and the errors a user can cause."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from eeg_pretrain.cli import main
from eeg_ssm import load_pretrained

SFREQ = 64.0
WINDOW = 64  # 1-s windows at 64 Hz: 8 bands between 1 and 32 Hz
SPECTRAL = {"objective": {"target": "spectrum"}, "model": {"input": "raw+spectrum"}}


def _run(args, expect=0):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == expect
    return info.value.code


@pytest.fixture(scope="module")
def slow_spectrum_corpus(tmp_path_factory) -> object:
    """Windows whose band power follows a slow pattern: an 8 Hz and a 20 Hz rhythm trade power over ~12
    windows (random phase inside each window, plus white noise). A window's spectrum is predictable from
    its neighbours, much better than from its sequence's mean spectrum."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("slow_spectrum")
    rng = np.random.default_rng(0)
    windows = 24
    t = np.arange(WINDOW) / SFREQ
    for p in range(8):
        columns = {
            "participant": [f"sub-{p:02d}"] * windows,
            "run": ["1"] * windows,
            "window_start": [float(i) for i in range(windows)],
            "window_end": [float(i + 1) for i in range(windows)],
        }
        for channel in ("C3", "C4", "O1", "O2"):
            phase = rng.uniform(0, 2 * np.pi)
            rows = []
            for i in range(windows):
                state = np.sin(2 * np.pi * i / 12 + phase)  # slow state, in (-1, 1)
                a, b = np.exp(1.2 * state), np.exp(-1.2 * state)
                x = a * np.sin(2 * np.pi * 8 * t + rng.uniform(0, 2 * np.pi))
                x += b * np.sin(2 * np.pi * 20 * t + rng.uniform(0, 2 * np.pi))
                rows.append((x + 0.3 * rng.standard_normal(WINDOW)).astype(np.float32))
            columns[channel] = pa.array(rows, pa.list_(pa.float32()))
        pq.write_table(pa.table(columns), root / f"sub-{p:02d}_run-1.parquet")
    return root


@pytest.fixture(scope="module")
def drifting_corpus(tmp_path_factory) -> object:
    """White noise whose power drifts slowly (a smoothed random walk over ~10 windows, range about 30x), so
    a window's spectrum is told best by its nearest neighbours: the plain mean of the sequence is far off."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("drifting")
    rng = np.random.default_rng(1)
    windows = 48
    for p in range(6):
        columns = {"participant": [f"sub-{p:02d}"] * windows, "run": ["1"] * windows}
        for channel in ("C3", "C4", "O1"):
            walk = np.convolve(rng.standard_normal(windows + 9), np.ones(10) / np.sqrt(10), mode="valid")
            rows = [(np.exp(0.8 * w) * rng.standard_normal(WINDOW)).astype(np.float32) for w in walk]
            columns[channel] = pa.array(rows, pa.list_(pa.float32()))
        pq.write_table(pa.table(columns), root / f"sub-{p:02d}_run-1.parquet")
    return root


def _config(make_config, corpus, save, uri=None, **sections):
    cfg = make_config(
        corpus, save, uri, data={"window_length": WINDOW, "sampling_rate": SFREQ, "val_ratio": 0.25}
    )
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


def test_spectral_model_beats_the_context_mean(slow_spectrum_corpus, tmp_path, make_config, write_config):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    save = tmp_path / "spectral"
    cfg = _config(
        make_config, slow_spectrum_corpus, save, uri, objective={"target": "spectrum"},
        train={"epochs": 12, "lr": 1.0e-2}, model={"input": "raw+spectrum", "bidirectional": True},
    )  # fmt: skip
    _run(["--config", str(write_config(cfg))])
    summary = json.loads((save / "summary.json").read_text())
    for key in ("val_skill", "val_context_mean_baseline", "val_local_mean_baseline", "train_r2", "r2_gap",
                "val_r2", "target", "input"):  # fmt: skip
        assert key in summary, key
    assert summary["target"] == "spectrum" and summary["input"] == "raw+spectrum"
    assert summary["val_skill"] > 0, summary  # knows more than the sequence's own mean spectrum
    assert summary["r2_gap"] == pytest.approx(summary["train_r2"] - summary["val_r2"])

    run = mlflow.tracking.MlflowClient(uri).get_run(
        json.loads((save / "summary.json").read_text())["mlflow_run_id"]
    )
    for metric in (
        "val_skill",
        "val_context_mean_baseline",
        "val_local_mean_baseline",
        "train_skill",
        "r2_gap",
    ):
        assert metric in run.data.metrics, metric

    # the standardisation lives in the checkpoint: a reload predicts with the same numbers
    payload = torch.load(save / "mamba2_eeg_pretrained.pt", weights_only=True)
    assert not torch.equal(
        payload["model"]["band_power.mean"], torch.zeros_like(payload["model"]["band_power.mean"])
    )
    model = load_pretrained(save / "mamba2_eeg_pretrained.pt")
    assert torch.equal(model.band_power.mean, payload["model"]["band_power.mean"])
    assert (save / "reconstructions.png").is_file()


def test_spectrum_only_input_beats_the_context_mean(
    slow_spectrum_corpus, tmp_path, make_config, write_config
):
    """``model.input: spectrum`` (band power and a mask embedding, no projection of the samples) learns the
    slow pattern too (more slowly than ``raw+spectrum`` at this tiny size: 24 epochs instead of 12), and its
    checkpoint reloads as the same model."""
    save = tmp_path / "spectrum_only"
    cfg = _config(
        make_config, slow_spectrum_corpus, save, objective={"target": "spectrum"},
        train={"epochs": 24, "lr": 1.0e-2}, model={"input": "spectrum", "bidirectional": True},
    )  # fmt: skip
    _run(["--config", str(write_config(cfg))])
    summary = json.loads((save / "summary.json").read_text())
    assert summary["input"] == "spectrum", summary
    assert summary["val_skill"] > 0, {
        k: summary.get(k) for k in ("val_skill", "val_r2", "best_epoch", "epochs_run")
    }
    payload = torch.load(save / "mamba2_eeg_pretrained.pt", weights_only=True)
    assert "mask_embedding" in payload["model"]
    assert not any(k.startswith("input_projection") for k in payload["model"])
    model = load_pretrained(save / "mamba2_eeg_pretrained.pt")
    assert torch.equal(model.mask_embedding.detach(), payload["model"]["mask_embedding"])


def test_local_context_learns_its_rate(drifting_corpus, tmp_path, make_config, write_config, caplog):
    """``model.local_context``: on windows whose power drifts slowly the learned rate grows, the model's own
    (distance-weighted) context beats the plain context mean, and the run reports both."""
    save = tmp_path / "local"
    cfg = _config(
        make_config, drifting_corpus, save, objective={"target": "spectrum"},
        train={"epochs": 4, "lr": 1.0e-2}, model={"input": "spectrum", "bidirectional": True, "local_context": True},
    )  # fmt: skip
    with caplog.at_level("INFO", logger="eeg_pretrain"):
        _run(["--config", str(write_config(cfg))])
    summary = json.loads((save / "summary.json").read_text())
    assert summary["context_rate"] > 0.05, summary  # started at 0.001
    assert summary["val_model_context_baseline"] < 0.9 * summary["val_context_mean_baseline"], summary
    assert summary["val_encoder_skill"] == pytest.approx(
        1.0 - summary["best_val_loss"] / summary["val_model_context_baseline"]
    )
    assert "local context (rate" in caplog.text and "encoder skill" in caplog.text
    # the last line: the best epoch against both baselines, on the held-out participants
    (done,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("done:")]
    assert done.startswith("done: on the held-out participants, best epoch "), done
    assert (
        f"skill {summary['val_skill']:+.3f} against the context mean ({summary['val_context_mean_baseline']:.4f})"
        in done
    ), done
    assert (
        f"encoder skill {summary['val_encoder_skill']:+.3f} against the model's own context alone "
        f"({summary['val_model_context_baseline']:.4f}, rate {summary['context_rate']:.3f})" in done
    ), done
    assert (save / "reconstructions.png").is_file()  # drawn with the model's context beside the mean
    model = load_pretrained(save / "mamba2_eeg_pretrained.pt")
    assert model.config.local_context and float(model.context_rate.detach()) == pytest.approx(
        summary["context_rate"]
    )


def test_the_last_line_names_what_the_best_loss_beat():
    from eeg_pretrain.reporting import done_line

    assert done_line({}, 0.5, 3, "participant", "runs/x") == "done: best loss 0.5000; checkpoints in runs/x"
    best = {"best_epoch": 2.0, "val_skill": 0.05, "val_context_mean_baseline": 0.4}
    assert done_line(best, 0.38, 3, "participant", "runs/x") == (
        "done: on the held-out participants, best epoch 2 of 3: loss 0.3800, skill +0.050 against the "
        "context mean (0.4000); checkpoints in runs/x"
    )
    best |= {"context_rate": 0.05, "val_encoder_skill": -0.012, "val_model_context_baseline": 0.3755}
    assert done_line(best, 0.38, 3, "run", "runs/x") == (
        "done: on the held-out runs, best epoch 2 of 3: loss 0.3800, skill +0.050 against the context mean "
        "(0.4000), encoder skill -0.012 against the model's own context alone (0.3755, rate 0.050); "
        "checkpoints in runs/x"
    )


@pytest.mark.parametrize(
    "sections",
    [
        pytest.param({}, id="raw"),
        pytest.param({"objective": {"target": "both"}, "model": {"input": "raw+spectrum"}}, id="both"),
        pytest.param(
            {
                "objective": {"target": "spectrum"},
                "model": {"input": "spectrum", "tapers": 3, "local_context": True},
            },
            id="spectrum-input-local-context",
        ),
    ],
)
def test_resume_is_bit_identical_with_each_target(
    slow_spectrum_corpus, tmp_path, make_config, write_config, sections
):
    straight = _config(
        make_config, slow_spectrum_corpus, tmp_path / "straight", **sections, train={"epochs": 2}
    )
    _run(["--config", str(write_config(straight, "a.yaml"))])
    split = _config(make_config, slow_spectrum_corpus, tmp_path / "split", **sections, train={"epochs": 2})
    path = write_config(split, "b.yaml")
    _run(["--config", str(path), "--stop-after-epochs", "1"])
    _run(["--config", str(path), "--resume", str(tmp_path / "split" / "mamba2_eeg_pretrained_last.pt")])
    a = torch.load(tmp_path / "straight" / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    b = torch.load(tmp_path / "split" / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    assert a["step"] == b["step"] and a["best_val_loss"] == b["best_val_loss"]
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_raw_checkpoint_from_before_the_objective_settings_resumes(
    slow_spectrum_corpus, tmp_path, make_config, write_config
):
    cfg = _config(make_config, slow_spectrum_corpus, tmp_path / "old", train={"epochs": 2})
    path = write_config(cfg)
    _run(["--config", str(path), "--stop-after-epochs", "1"])
    last = tmp_path / "old" / "mamba2_eeg_pretrained_last.pt"
    payload = torch.load(last, weights_only=True)
    for key in ("input", "target", "sampling_rate", "n_bands", "fmin", "fmax", "spectral_context", "tapers",
                "local_context"):  # fmt: skip
        del payload["model_config"][key]
    torch.save(payload, last)
    _run(["--config", str(path), "--resume", str(last)])
    assert load_pretrained(last).config.target == "raw"


def test_resume_with_other_bands_or_rate_is_an_error(
    slow_spectrum_corpus, tmp_path, make_config, write_config, capsys
):
    cfg = _config(make_config, slow_spectrum_corpus, tmp_path / "b", **SPECTRAL, train={"epochs": 1})
    path = write_config(cfg)
    _run(["--config", str(path)])
    last = str(tmp_path / "b" / "mamba2_eeg_pretrained_last.pt")
    _run(["--config", str(path), "--resume", last, "--set", "model.n_bands=4"], expect=2)
    err = capsys.readouterr().err
    assert "n_bands: checkpoint None, config 4" in err and "Traceback" not in err
    _run(["--config", str(path), "--resume", last, "--set", "model.tapers=3"], expect=2)
    err = capsys.readouterr().err
    assert "tapers: checkpoint 1, config 3" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("model.fmax=40.0", "fmax: expected a frequency in (0, 32] Hz"),
        ("model.fmin=31.0", "fmin: expected a frequency in (0, fmax = 30) Hz"),
        ("model.n_bands=0", "ModelConfig.n_bands must be a positive integer or null, got 0"),
        ("model.n_bands=40", "n_bands: 40 log-spaced bands"),
        (
            "objective.target=wave",
            "ObjectiveConfig.target must be one of 'raw', 'spectrum', 'both'; got 'wave'",
        ),
        ("model.input=power", "ModelConfig.input must be one of 'raw', 'raw+spectrum', 'spectrum'; got"),
        ("data.sampling_rate=0", "sampling_rate must be a positive number of Hz"),
        ("model.tapers=0", "ModelConfig.tapers must be a positive integer, got 0"),
        ("model.tapers=99", "ModelConfig.tapers: expected an integer in 1..15 for 64-sample windows, got 99"),
    ],
)
def test_bad_objective_settings_exit_2_naming_the_key(
    slow_spectrum_corpus, tmp_path, make_config, write_config, capsys, override, needle
):
    cfg = _config(make_config, slow_spectrum_corpus, tmp_path / "bad", **SPECTRAL)
    cfg["model"]["fmax"] = 30.0 if override.startswith("model.fmin") else None
    _run(["--config", str(write_config(cfg)), "--set", override], expect=2)
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err


def test_local_context_without_the_spectral_context_exits_2_naming_the_key(
    slow_spectrum_corpus, tmp_path, make_config, write_config, capsys
):
    cfg = _config(make_config, slow_spectrum_corpus, tmp_path / "bad", **SPECTRAL)
    args = ["--set", "model.local_context=true", "--set", "model.spectral_context=false"]
    _run(["--config", str(write_config(cfg)), *args], expect=2)
    err = capsys.readouterr().err
    assert "local_context: weights the spectral context, so it needs spectral_context: true" in err, err
    assert "$.model.local_context" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()  # nothing written


def test_sampling_rate_disagreeing_with_window_times_is_a_config_error(
    slow_spectrum_corpus, tmp_path, make_config, write_config, capsys
):
    cfg = _config(make_config, slow_spectrum_corpus, tmp_path / "rate", **SPECTRAL)
    cfg["data"]["sampling_rate"] = 256.0
    _run(["--config", str(write_config(cfg))], expect=2)
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("error: data.sampling_rate: 256 Hz disagrees with")
        and "set data.sampling_rate: 64" in err
    )
    assert len(err.splitlines()) == 1
