"""The run-folder contract: what a pretraining run leaves in ``train.save_dir``, and how others read it.

This is the module of the pretrain app that other apps import (sweep launches and collects runs,
finetune finds a run's checkpoint and checks it against a config); everything else they need comes from
the libraries. The one exception is :mod:`eeg_pretrain.run_files`, the file names alone (standard library
only), for code that must not import torch: a sweep's SLURM tasks. A run folder holds:

- :data:`CHECKPOINT_BEST` (best validation loss) and :data:`CHECKPOINT_LAST` (last epoch, for resume),
  plain-dict checkpoints (``torch.load(..., weights_only=True)``), with ``model_config`` and ``run_config``;
- :data:`RESOLVED_CONFIG`, the resolved run config (a :class:`PretrainConfig`; read it with
  :func:`load_config` / :func:`build_config`, write it with :func:`config_to_dict`), written with the
  first checkpoint;
- :data:`LOCK`, present while a run works in the folder (:mod:`eeg_pretrain.run_lock`; a sweep that knows a
  SLURM job has ended releases its lock with :func:`release_lock_of_ended_job`);
- :data:`SUMMARY`, written when the run has finished (its keys: :func:`run_summary`; written by
  :func:`write_summary`, read by :func:`read_summary`).

Runs are named by :func:`run_name_for` (model size, mask ratio and style). The corpus a checkpoint records
(``pretraining_data``) is one MLflow dataset (:func:`pretraining_dataset`), the same for the pretraining
run and every fine-tuning of its encoder. :func:`model_differences`
says which model settings of a checkpoint differ from a config. :func:`check_save_dir` and
:func:`remove_stale_temp_files` keep the folder sane before a run starts (rank 0 writes there).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eeg_config import UserError, atomic_write_text
from eeg_io import fingerprints_digest
from eeg_pretrain.checkpoint import TrainState
from eeg_pretrain.checkpoint import config_differences as model_differences
from eeg_pretrain.config import (
    FLAT_KEYS,
    PretrainConfig,
    build_config,
    config_to_dict,
    load_config,
    run_name_for,
)
from eeg_pretrain.run_files import (
    CHECKPOINT_BEST,
    CHECKPOINT_LAST,
    LOCK,
    RESOLVED_CONFIG,
    SUMMARY,
    read_summary,
)
from eeg_pretrain.run_lock import release_lock_of_ended_job
from eeg_train import RunDataset

__all__ = [
    "CHECKPOINT_BEST",
    "CHECKPOINT_LAST",
    "FLAT_KEYS",
    "LOCK",
    "RESOLVED_CONFIG",
    "SUMMARY",
    "PretrainConfig",
    "build_config",
    "check_save_dir",
    "config_to_dict",
    "load_config",
    "model_differences",
    "pretraining_dataset",
    "read_summary",
    "release_lock_of_ended_job",
    "remove_stale_temp_files",
    "run_name_for",
    "run_summary",
    "write_summary",
]

log = logging.getLogger("eeg_pretrain")

# The temporary files of the atomic writes of the run's own files: ``.<name>.<random>.tmp``
# (eeg_ssm.save_checkpoint and configuration.atomic_write_bytes use tempfile's prefix/suffix).
_OWN_FILES = (CHECKPOINT_BEST, CHECKPOINT_LAST, RESOLVED_CONFIG, SUMMARY)
STALE_TEMP = re.compile(
    r"^\.(?:" + "|".join(re.escape(name) for name in _OWN_FILES) + r")\.[A-Za-z0-9_]+\.tmp$"
)


def check_save_dir(save_dir: str | os.PathLike[str]) -> None:
    """Refuse a ``train.save_dir`` that cannot become a folder, before any data or model is built.

    Raises:
        UserError: the path, or one of its parents, exists and is not a folder.
    """
    path = Path(save_dir)
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            what = "is" if candidate == path else f"lies under {candidate}, which is"
            raise UserError(
                f"train.save_dir: {path} {what} a file, not a folder; choose another train.save_dir"
            )
        if candidate.is_dir():
            break


def remove_stale_temp_files(save_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete what an interrupted atomic write of this run's files left behind (``.<file>.<random>.tmp``).

    Only that pattern is touched; other files in the folder are left alone. Returns the removed paths.
    """
    folder = Path(save_dir)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if STALE_TEMP.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
            log.info("removed %s, left by an interrupted write", entry)
    return removed


def run_summary(
    config: PretrainConfig,
    state: TrainState,
    *,
    finished: bool,
    checkpoint: Path,
    mlflow_run_id: str | None,
    participants: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """What a finished run reports in :data:`SUMMARY` (the sweep and people read it): the figures of the best
    epoch, validation ones, or training ones for a run without validation; with ``participants`` (the
    checkpoint's ``pretraining_data`` record), who it was trained and validated on. A pool's summary adds
    ``corpora``: each corpus's path, weight and validation figures of the best epoch (``val_loss``,
    ``val_r2``, ``val_skill``, ``val_encoder_skill``)."""
    best = state.best_metrics
    parts = config.objective.parts

    def val(key: str) -> Any:  # the validation figure, or the training one without validation
        return best.get(f"val_{key}", best.get(f"train_{key}"))

    return {
        "run_name": config.run_name,
        "finished": finished,
        "early_stopped": state.early_stopped,
        "mask_ratio": config.masking.ratio,
        "mask_style": config.masking.style,
        "target": config.objective.target,
        "input": config.model.input,
        "epochs": state.epoch,
        "best_epoch": int(best.get("best_epoch", 0)),
        "best_val_loss": state.best_val_loss,
        "val_r2": val("r2"),
        "val_skill": val("skill"),
        "val_zero_baseline": val("zero_baseline"),
        "val_interp_baseline": val("interp_baseline"),
        "val_context_mean_baseline": val("context_mean_baseline"),
        "val_local_mean_baseline": val("local_mean_baseline"),
        "val_model_context_baseline": val("model_context_baseline"),
        "val_encoder_skill": val("encoder_skill"),
        "context_rate": best.get("context_rate"),
        "train_r2": best.get("train_r2"),
        "r2_gap": best.get("r2_gap"),
        **{f"val_{p}_{k}": val(f"{p}_{k}") for p in parts if len(parts) > 1 for k in ("r2", "skill")},
        "wall_seconds": state.train_seconds,
        "checkpoint": str(checkpoint.resolve()),
        "mlflow_run_id": mlflow_run_id,
        **(
            {
                "train_participants": list(participants.get("participants", [])),
                "val_participants": list(participants.get("val_participants", [])),
            }
            if participants is not None
            else {}
        ),
        **(
            {
                "corpora": {
                    corpus.name: {
                        "path": corpus.path,
                        "weight": corpus.weight,
                        **{
                            f"val_{key}": best.get(f"{corpus.name}/val_{key}")
                            for key in ("loss", "r2", "skill", "encoder_skill")
                        },
                    }
                    for corpus in config.data.corpora
                }
            }
            if config.data.corpora is not None
            else {}
        ),
    }


def write_summary(save_dir: str | os.PathLike[str], summary: dict[str, Any]) -> Path:
    """Write :data:`SUMMARY` atomically into ``save_dir``; returns its path."""
    path = Path(save_dir) / SUMMARY
    atomic_write_text(path, json.dumps(summary, indent=2) + "\n")
    return path


def pretraining_dataset(
    record: Mapping[str, Any],
    dataset_path: str | os.PathLike[str],
    context: str = "training",
    channels: Sequence[str] = (),
    name: str | None = None,
    **profile: Any,
) -> RunDataset | None:
    """The corpus a run pretrained on, as an MLflow dataset, from its checkpoint's ``pretraining_data``
    record: named after ``dataset_path``'s folder, with the digest of the sample fingerprints the record
    holds (:func:`eeg_io.fingerprints_digest`: a copy of the corpus elsewhere has the same digest), the
    counts of recordings (files) and participants as profile (with ``profile``'s extra entries) and
    ``channels`` as its schema; ``name`` replaces the folder's name (a pool of corpora). None for a record
    without fingerprints (older checkpoints)."""
    if not record.get("fingerprints"):
        return None
    path = Path(dataset_path).resolve()
    train, val = set(record.get("participants", ())), set(record.get("val_participants", ()))
    counts = {
        "recordings": len(record.get("files", ())) + len(record.get("val_files", ())),
        "participants": len(train | val),
        "train_participants": len(train),
        "val_participants": len(val),
        "channels": len(channels) if channels else None,
    }
    return RunDataset(
        name=name or (path.stem if path.suffix == ".parquet" else path.name),
        digest=fingerprints_digest(record["fingerprints"]),
        source=str(path),
        context=context,
        profile={k: v for k, v in {**counts, **profile}.items() if v is not None},
        schema=[{"name": c, "type": "array", "items": {"type": "float"}} for c in channels],
    )
