"""Fixtures: a tiny "pretrained" checkpoint in the pretrain app's layout, a labelled synthetic dataset whose
classes differ in their dominant rhythm, and a tiny fine-tuning config."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from eeg_finetune.synthetic import write_synthetic_primary
from eeg_pretrain.run_folder import CHECKPOINT_BEST, RESOLVED_CONFIG, build_config, config_to_dict
from eeg_ssm import EEGModel, save_checkpoint

WINDOW = 64
CHANNELS = ("AF7", "AF8")
RUN_NAME = "mamba2_eeg_d16_l1_m40_mae"
PRETRAIN_RUN_ID = "0123456789abcdef0123456789abcdef"


def pretrain_config(save_dir: Path, **model) -> dict:
    """A sectioned pretrain config for a 1-layer, 16-wide encoder on 64-sample windows at 64 Hz (the rate
    of the synthetic datasets)."""
    return {
        "data": {
            "dataset_path": str(save_dir.parent / "corpus"),
            "window_length": WINDOW,
            "sampling_rate": 64.0,
        },
        "model": {
            "d_model": 16,
            "num_layers": 1,
            "d_state": 8,
            "headdim": 4,
            "expand": 2,
            "chunk_size": 8,
            "backend": "torch",
            **model,
        },
        "masking": {"style": "mae", "ratio": 0.4},
        "train": {"save_dir": str(save_dir), "seed": 0},
        "tracking": {"enabled": False},
    }


def write_pretrained(checkpoint: Path, raw: dict, seed: int = 0) -> Path:
    """A checkpoint with every key the pretrain app writes; the weights are a seeded initialisation (what is
    under test is fine-tuning, not pretraining), the payload is the real layout."""
    config = build_config(raw)
    torch.manual_seed(seed)
    model = EEGModel(config.model)
    payload = {
        "model": model.state_dict(),
        "model_config": config.model.to_dict(),
        "optimizer": {},
        "scheduler": {},
        "scaler": {},
        "epoch": 1,
        "step": 3,
        "best_val_loss": 0.9,
        "train_state": {},
        "rng": {"torch": torch.get_rng_state(), "cuda": []},
        "run_config": config_to_dict(config),
        "mlflow_run_id": PRETRAIN_RUN_ID,
    }
    save_checkpoint(checkpoint, payload)
    (checkpoint.parent / RESOLVED_CONFIG).write_text(yaml.safe_dump(config_to_dict(config)))
    return checkpoint


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """``config`` (pretrain YAML), ``checkpoint`` (save_dir/mamba2_eeg_pretrained.pt), ``save_dir``."""
    root = tmp_path_factory.mktemp("pretrained")
    save_dir = root / "runs"
    raw = pretrain_config(save_dir)
    config_path = root / "pretrain.yaml"
    config_path.write_text(yaml.safe_dump(raw))
    checkpoint = write_pretrained(save_dir / CHECKPOINT_BEST, raw)
    return SimpleNamespace(config=config_path, checkpoint=checkpoint, save_dir=save_dir, raw=raw)


@pytest.fixture(scope="session")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 participants (6 per class: 4 Hz vs 16 Hz rhythm), AF7 and AF8, 5 to 8 windows of 64 samples at 64 Hz."""
    path = tmp_path_factory.mktemp("primary") / "1s_af7-af8_primary_dataset.parquet"
    return write_synthetic_primary(
        path, participants=12, channels=CHANNELS, windows=8, min_windows=5, window_length=WINDOW, sfreq=64.0
    )


def finetune_config(
    source: SimpleNamespace, data_path: Path, out: Path, uri: str | None = None, **sections
) -> dict:
    """A fine-tuning config that trains in about a second per fold on CPU; ``sections`` update its sections
    (``source`` is the ``pretrained`` fixture)."""
    config = {
        "pretrained": {"pretrain_config": str(source.config)},
        "data": {"data_path": str(data_path), "channels": ["af7", "af8"]},
        "split": {"method": "random", "val_ratio": 0.2, "test_ratio": 0.2},
        "model": {"dropout": 0.0},
        "train": {"epochs": 10, "lr": 1.0e-2, "batch_size": 4, "quiet": True, "patience": None},
        "tracking": {"enabled": uri is not None, "uri": uri, "experiment": "tests", "register_model": True},
        "evaluation": {"bootstrap_resamples": 50},
        "compare_baselines": False,
        "output_dir": str(out),
    }
    for name, values in sections.items():
        if isinstance(values, dict):
            config.setdefault(name, {}).update(values)
        else:
            config[name] = values
    return config


@pytest.fixture
def ft_config():
    """``ft_config(pretrained, data_path, out, uri=None, **sections) -> dict`` (see :func:`finetune_config`)."""
    return finetune_config


@pytest.fixture
def pretrain_tools() -> SimpleNamespace:
    """Helpers for tests that lay out their own pretraining runs (test modules cannot import conftest)."""
    return SimpleNamespace(config=pretrain_config, write=write_pretrained, run_name=RUN_NAME)
