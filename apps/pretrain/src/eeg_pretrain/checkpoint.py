"""Training checkpoints: one plain dict (``weights_only`` loadable), written atomically by eeg-ssm.

Besides the model, optimiser, schedule and scaler states a checkpoint holds the :class:`TrainState` (where
the run stands) and the RNG states (:func:`rng_state`); :func:`load_resume` checks one before a run resumes
from it, and :func:`config_differences` says which model settings differ.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import torch

from eeg_ssm import CheckpointError, ModelConfig, load_checkpoint, save_checkpoint

# Keys a pretraining checkpoint must hold to resume (DESIGN.md).
RESUME_KEYS = (
    "model",
    "model_config",
    "optimizer",
    "scheduler",
    "scaler",
    "epoch",
    "step",
    "best_val_loss",
    "rng",
)
# Model settings that may differ between the run that wrote a checkpoint and the run resuming it.
FREE_MODEL_KEYS = {"backend", "dropout", "chunk_size"}
# Settings of the band-power transform: only compared when a side uses a spectral input or target.
SPECTRAL_KEYS = {"sampling_rate", "n_bands", "fmin", "fmax", "spectral_context", "tapers", "local_context"}


@attrs.define
class TrainState:
    """What resume restores besides the model and optimiser."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken
    batches_done: int = 0  # batches done in the current, unfinished epoch
    best_val_loss: float = math.inf
    epochs_since_best: int = 0
    nonfinite_steps: int = 0
    consecutive_nonfinite: int = 0
    train_seconds: float = 0.0  # wall time spent training, summed over resumed sessions
    best_metrics: dict[str, float] = attrs.Factory(dict)  # epoch metrics of the best epoch
    early_stopped: bool = False

    @classmethod
    def from_checkpoint(cls, payload: dict[str, Any]) -> TrainState:
        """The checkpoint's ``train_state``; a checkpoint written before it existed gives epoch and step."""
        return cls(**payload.get("train_state", {"epoch": payload["epoch"], "step": payload["step"]}))


def rng_state() -> dict[str, Any]:
    """The torch RNG states as a checkpoint stores them: the CPU one and every CUDA device's (if any)."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(saved: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (the CUDA states only where CUDA is available)."""
    torch.set_rng_state(saved["torch"])
    if saved["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(saved["cuda"])


def save_keeping_last(path: Path, payload: dict[str, Any], last: Path) -> None:
    """:func:`eeg_ssm.save_checkpoint`; when the file system refuses it (a full disk, a quota, a permission),
    the one-line error adds that ``last`` (the last complete checkpoint) is intact and how to continue."""
    try:
        save_checkpoint(path, payload)
    except CheckpointError as exc:
        cause = exc.__cause__  # an OSError (or torch's RuntimeError over one); None: a payload problem
        if cause is None or not last.is_file():
            raise
        full = "no space left" in str(exc) or "quota exceeded" in str(exc)
        raise CheckpointError(
            f"{exc}; {last} is intact: {'free some space, then ' if full else ''}continue with --resume {last}"
        ) from exc


def load_resume(path: str | Path, model_config: dict[str, Any]) -> dict[str, Any]:
    """Load a checkpoint to resume from and check that it fits the configured model."""
    payload = load_checkpoint(path, map_location="cpu")
    missing = [k for k in RESUME_KEYS if k not in payload]
    if missing:
        raise CheckpointError(
            f"{path}: not a resumable pretraining checkpoint (missing {', '.join(missing)})"
        )
    differences = config_differences(payload["model_config"], model_config)
    if differences:
        raise CheckpointError(f"{path}: checkpoint model differs from the config: " + "; ".join(differences))
    return payload


def config_differences(
    saved: dict[str, Any], wanted: dict[str, Any], ignore: set[str] = FREE_MODEL_KEYS
) -> list[str]:
    """``key: checkpoint X, config Y`` for every model setting that differs (ignoring speed-only knobs).

    A setting absent from one side counts as its :class:`~eeg_ssm.ModelConfig` default, so a checkpoint
    written before the objective settings existed (``input``, ``target``, bands) compares as raw/raw.
    """
    defaults = {
        f.name: f.default for f in attrs.fields(ModelConfig) if not isinstance(f.default, attrs.Factory)
    }
    saved = {**{k: v for k, v in defaults.items() if k in wanted}, **saved}
    wanted = {**{k: v for k, v in defaults.items() if k in saved}, **wanted}
    if not (_uses_spectrum(saved) or _uses_spectrum(wanted)):
        ignore = ignore | SPECTRAL_KEYS  # bands mean nothing to a raw/raw model
    out = []
    for key in sorted(set(saved) | set(wanted)):
        if key in ignore:
            continue
        a, b = saved.get(key, "<absent>"), wanted.get(key, "<absent>")
        if _norm(a) != _norm(b):
            out.append(f"{key}: checkpoint {a!r}, config {b!r}")
    if (saved.get("backend") == "transformer") != (wanted.get("backend") == "transformer"):
        out.append(f"backend: checkpoint {saved.get('backend')!r}, config {wanted.get('backend')!r}")
    return out


def _uses_spectrum(config: dict[str, Any]) -> bool:
    return config.get("input", "raw") != "raw" or config.get("target", "raw") != "raw"


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
