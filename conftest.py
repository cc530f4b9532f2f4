"""Fixtures shared by the apps' and end-to-end tests: a tiny synthetic corpus and a tiny run config.

The libraries' suites (packages/*/tests) must not need this file: each keeps its fixtures in its own
conftest.py and runs alone from its folder (`pytest tests`, its pyproject.toml being the pytest config there),
in an environment holding only that library and its `test` dependency group (`.ci/run` checks eeg-montage)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("MPLBACKEND", "Agg")
# Keep subprocesses (torchrun, CLI runs) from oversubscribing the 2 CI cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY_CHANNELS = ["Fp1", "Fp2", "C3", "C4", "O1", "O2"]
TINY_WINDOW = 64


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 participants x 1 run x 6 channels x 12 windows of 64 samples (written once per session)."""
    from eeg_io import write_synthetic_corpus

    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(
        root,
        participants=6,
        runs=1,
        channels=TINY_CHANNELS,
        windows_per_run=12,
        window_length=TINY_WINDOW,
        sfreq=32.0,
        seed=0,
    )
    return root


@pytest.fixture(scope="session")
def smooth_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus whose masked windows are predictable from their neighbours, for "does it learn" tests.

    Each (participant, channel) holds two slow sinusoids (0.2-0.6 cycles per 64-sample window, random
    phase) plus 10 % white noise, continuous across windows: a model that uses its context beats the
    zero baseline within a few epochs, which realistic EEG (mostly unpredictable at the sample level)
    does not allow in a test-sized run.
    """
    import numpy as np

    from eeg_io.layout import windows_table, write_table

    root = tmp_path_factory.mktemp("smooth")
    rng = np.random.default_rng(0)
    windows = 16
    t = np.arange(windows * TINY_WINDOW) / TINY_WINDOW  # time in windows
    for p in range(8):
        channels = {}
        for channel in TINY_CHANNELS:
            f1, f2 = rng.uniform(0.2, 0.6, size=2)
            signal = np.sin(2 * np.pi * f1 * t + rng.uniform(0, 2 * np.pi)) + 0.6 * np.sin(
                2 * np.pi * f2 * t + rng.uniform(0, 2 * np.pi)
            )
            signal = signal + 0.1 * rng.standard_normal(t.size)
            channels[channel] = signal.reshape(windows, TINY_WINDOW)
        starts = np.arange(windows, dtype=np.float64)
        table = windows_table(
            channels, participant=f"sub-{p:02d}", run="1", window_start=starts, window_end=starts + 1.0
        )
        write_table(table, root / f"sub-{p:02d}_run-1.parquet")
    return root


def tiny_config(corpus: Path, save_dir: Path, tracking_uri: str | None, **sections: dict) -> dict:
    """A sectioned pretrain config for a 1-layer, 16-wide model that trains in seconds on CPU."""
    config = {
        "data": {
            "dataset_path": str(corpus),
            "window_length": TINY_WINDOW,
            "val_ratio": 0.34,
            "num_workers": 0,
            "batch_size": 4,
        },
        "model": {
            "d_model": 16,
            "num_layers": 1,
            "d_state": 8,
            "headdim": 4,
            "expand": 2,
            "chunk_size": 8,
            "backend": "torch",
        },
        "masking": {"style": "mae", "ratio": 0.4},
        "train": {
            "save_dir": str(save_dir),
            "epochs": 2,
            "lr": 3.0e-3,
            "seed": 0,
            "quiet": True,
            "log_every": 1,
            "num_plot_examples": 2,
        },
        "tracking": {"enabled": tracking_uri is not None, "uri": tracking_uri, "experiment": "tests"},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config dict as YAML and return its path."""

    def write(config: dict, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")  # a plain function: module-scoped fixtures may use it too
def make_config():
    """``make_config(corpus, save_dir, tracking_uri, **section_overrides) -> dict`` (see :func:`tiny_config`)."""
    return tiny_config


@pytest.fixture(scope="session", autouse=True)
def _result_cache_of_the_session(tmp_path_factory: pytest.TempPathFactory):
    """The result cache (eeg_io.ResultCache: data checks, band statistics) of every test and of the
    processes they start lives in a folder of this session, never in the user's cache. Session-scoped and
    autouse, so it is set before any other session fixture runs pretraining."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EEG_MAMBA_CACHE_DIR", str(tmp_path_factory.mktemp("result-cache")))  # eeg_io.CACHE_ENV
        yield


@pytest.fixture(autouse=True)
def _run_in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own folder: MLflow's default artifact root (./mlruns) and any other
    relative output land there, never in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):
    """``full_disk(folder, free=0) -> FullDisk``: files opened with ``os.fdopen`` under ``folder`` (every
    atomic write: checkpoints, configs, summaries) live on a device with ``free`` bytes left. Linux only."""
    from eeg_config.testing import full_disks

    try:
        return full_disks(monkeypatch)
    except NotImplementedError as reason:
        pytest.skip(str(reason))
