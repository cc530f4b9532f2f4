"""Which pretrained checkpoint to fine-tune, and whether it is the one the pretrain config describes.

Lookup from a pretrain config (``configs/pretrain.yaml``): the run name
``mamba2_eeg_d{d}_l{L}_m{ratio*100}_{style}`` (or ``tracking.run_name``) and ``train.save_dir`` give, in
order of preference, ``save_dir/<run_name>/mamba2_eeg_pretrained.pt`` (a sweep's per-run folder),
``save_dir/*/<run_name>/mamba2_eeg_pretrained.pt`` (a sweep one level down) and
``save_dir/mamba2_eeg_pretrained.pt`` (a single run). The checkpoint's embedded model config and
masking must agree with the pretrain config; otherwise every difference is listed.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import attrs

from eeg_config import ConfigError
from eeg_finetune.config import PretrainedConfig
from eeg_finetune.errors import FinetuneError
from eeg_pretrain.run_folder import (
    CHECKPOINT_BEST,
    PretrainConfig,
    build_config,
    load_config,
    pretraining_dataset,
    run_name_for,
)
from eeg_pretrain.run_folder import model_differences as config_differences
from eeg_ssm import CheckpointError, load_checkpoint
from eeg_train import RunDataset

__all__ = [
    "PretrainedSource",
    "checkpoint_candidates",
    "pretrain_differences",
    "pretraining_normalization",
    "resolve_pretrained",
]

log = logging.getLogger("eeg_finetune")


@attrs.frozen(kw_only=True)
class PretrainedSource:
    """The checkpoint to fine-tune and what is known of the pretraining run that wrote it."""

    checkpoint: Path
    run_name: str
    mlflow_run_id: str | None
    model_config: dict[str, Any]
    pretrain_config: Path | None = None
    #: participants the encoder was pretrained (or validated) on; None when the checkpoint does not say
    pretraining_participants: frozenset[str] | None = None
    #: digests of the pretraining files' first windows (:func:`eeg_io.file_fingerprints`); None when not recorded
    pretraining_fingerprints: frozenset[str] | None = None
    #: pretraining's ``data.normalization`` and ``data.scale`` (what the encoder's inputs looked like)
    normalization: str = "sequence"
    scale: float = 1.0
    #: the pretraining corpus as an MLflow dataset (context ``pretraining``); None when not recorded
    pretraining_dataset: RunDataset | None = None
    #: the pretraining run's ``tracking.uri`` (None: MLflow's default), where its MLflow run is
    tracking_uri: str | None = None


def checkpoint_candidates(save_dir: Path, run_name: str) -> list[Path]:
    """Where a pretraining run named ``run_name`` under ``save_dir`` leaves its best checkpoint."""
    return [
        save_dir / run_name / CHECKPOINT_BEST,
        *sorted(save_dir.glob(f"*/{run_name}/{CHECKPOINT_BEST}")),
        save_dir / CHECKPOINT_BEST,
    ]


def pretrain_differences(payload: dict[str, Any], pretrain: PretrainConfig) -> list[str]:
    """``key: checkpoint X, config Y`` for each model setting and masking setting that differ.

    Speed-only model settings (backend, dropout, chunk_size) are ignored, as on resume.
    """
    differences = config_differences(payload["model_config"], pretrain.model.to_dict())
    run_config = payload.get("run_config")
    masking = run_config.get("masking") if isinstance(run_config, dict) else None
    if isinstance(masking, dict):
        ratio = masking.get("ratio")
        if not isinstance(ratio, int | float) or not math.isclose(
            ratio, pretrain.masking.ratio, abs_tol=1e-9
        ):
            differences.append(f"masking.ratio: checkpoint {ratio!r}, config {pretrain.masking.ratio!r}")
        if masking.get("style") != pretrain.masking.style:
            differences.append(
                f"masking.style: checkpoint {masking.get('style')!r}, config {pretrain.masking.style!r}"
            )
    else:
        log.warning("the checkpoint has no run_config: its mask ratio and style cannot be checked")
    return differences


def _run_name_of(payload: dict[str, Any], path: Path) -> str:
    """The pretraining run name recorded in a checkpoint (its run_config), else derived from its file name."""
    run_config = payload.get("run_config")
    if isinstance(run_config, dict):
        try:
            return build_config(run_config).run_name
        except (ConfigError, ValueError, TypeError):
            masking = run_config.get("masking") or {}
            model = payload["model_config"]
            if "ratio" in masking and "style" in masking:
                return run_name_for(model["d_model"], model["num_layers"], masking["ratio"], masking["style"])
    return path.stem


def _load(path: Path) -> dict[str, Any]:
    payload = load_checkpoint(path, map_location="cpu")
    absent = [key for key in ("model", "model_config") if key not in payload]
    if absent or not isinstance(payload.get("model_config"), dict):
        raise CheckpointError(
            f"{path}: not a pretrained encoder checkpoint (lacks {absent or ['model_config']})"
        )
    return payload


def resolve_pretrained(section: PretrainedConfig) -> PretrainedSource:
    """Find and check the checkpoint: ``section.checkpoint`` when given, else the lookup from
    ``section.pretrain_config``. With both, the checkpoint must still agree with the pretrain config.

    Raises:
        FinetuneError: neither given, no checkpoint where the lookup expects one, or a checkpoint that
            disagrees with the pretrain config (listing every difference).
        CheckpointError: an unreadable or foreign checkpoint file.
        ConfigError: an invalid pretrain config.
    """
    if section.checkpoint is None and section.pretrain_config is None:
        raise FinetuneError(
            "no pretrained encoder: give --pretrain-config (pretrained.pretrain_config) to find its "
            "checkpoint, or --checkpoint PATH (pretrained.checkpoint)"
        )
    pretrain = load_config(section.pretrain_config) if section.pretrain_config is not None else None
    if section.checkpoint is not None:
        path = Path(section.checkpoint)
        if not path.is_file():
            raise FinetuneError(f"--checkpoint: no such checkpoint file: {path}")
    else:
        assert pretrain is not None
        save_dir = Path(pretrain.train.save_dir)
        candidates = checkpoint_candidates(save_dir, pretrain.run_name)
        found = [c for c in candidates if c.is_file()]
        if not found:
            raise FinetuneError(
                f"{section.pretrain_config}: no pretrained checkpoint for run {pretrain.run_name} (looked for "
                f"{', '.join(str(c) for c in dict.fromkeys(candidates))}); pretrain first, or pass --checkpoint"
            )
        path = found[0]
    payload = _load(path)
    if pretrain is not None:
        differences = pretrain_differences(payload, pretrain)
        if differences:
            raise FinetuneError(
                f"{path}: the checkpoint does not match the pretrain config {section.pretrain_config}: "
                + "; ".join(differences)
                + (
                    f" (settings given to pretrain with --set are not in the config file: edit it, or use this "
                    f"checkpoint as saved with --checkpoint {path} instead of --pretrain-config)"
                    if section.checkpoint is None
                    else ""
                )
            )
    run_name = pretrain.run_name if pretrain is not None else _run_name_of(payload, path)
    run_id = payload.get("mlflow_run_id")
    log.info(
        "pretrained encoder: %s (pretraining run %s%s)",
        path,
        run_name,
        f", MLflow {run_id}" if run_id else "",
    )
    return PretrainedSource(
        checkpoint=path,
        run_name=run_name,
        mlflow_run_id=run_id if isinstance(run_id, str) else None,
        model_config=dict(payload["model_config"]),
        pretrain_config=Path(section.pretrain_config) if section.pretrain_config is not None else None,
        pretraining_participants=_pretraining_participants(payload),
        pretraining_fingerprints=_pretraining_fingerprints(payload),
        **dict(zip(("normalization", "scale"), pretraining_normalization(payload), strict=True)),
        pretraining_dataset=_pretraining_dataset(payload),
        tracking_uri=_section(payload, "tracking").get("uri"),
    )


def _section(payload: dict[str, Any], name: str) -> dict[str, Any]:
    """A section of the checkpoint's ``run_config`` (``{}`` when it does not record one)."""
    run_config = payload.get("run_config")
    section = run_config.get(name) if isinstance(run_config, dict) else None
    return section if isinstance(section, dict) else {}


def _pretraining_dataset(payload: dict[str, Any]) -> RunDataset | None:
    """The corpus the checkpoint was pretrained on, as the pretraining run logged it (name, digest, source)."""
    record, path = payload.get("pretraining_data"), _section(payload, "data").get("dataset_path")
    if not isinstance(record, dict) or not isinstance(path, str):
        return None
    return pretraining_dataset(record, path, context="pretraining")


def pretraining_normalization(payload: dict[str, Any]) -> tuple[str, float]:
    """``(data.normalization, data.scale)`` of the run that wrote the checkpoint payload; the defaults
    (``sequence``, 1) when it does not record them."""
    run_config = payload.get("run_config")
    data = run_config.get("data") if isinstance(run_config, dict) else None
    if not isinstance(data, dict):
        return "sequence", 1.0
    return str(data.get("normalization", "sequence")), float(data.get("scale", 1.0))


def _pretraining_fingerprints(payload: dict[str, Any]) -> frozenset[str] | None:
    record = payload.get("pretraining_data")
    if not isinstance(record, dict) or "fingerprints" not in record:
        return None
    return frozenset(str(d) for d in record["fingerprints"])


def _pretraining_participants(payload: dict[str, Any]) -> frozenset[str] | None:
    """The participants of the checkpoint's ``pretraining_data`` record (training and validation)."""
    record = payload.get("pretraining_data")
    if not isinstance(record, dict):
        return None
    names = [*record.get("participants", []), *record.get("val_participants", [])]
    return frozenset(str(p) for p in names)
