"""One fine-tuning job, as a short pipeline of named stages:

1. :func:`eeg_finetune.inputs.load_inputs`: every input a user can get wrong, checked before anything is
   written or an MLflow run is started, and the split (groups kept whole; by default every group tested
   once);
2. :func:`eeg_finetune.folds.run_folds`: per fold, the fine-tuned classifier and the baselines (band
   power, waveform, random encoder, linear probe) on the same samples;
3. :func:`eeg_finetune.outputs.evaluate`: the pooled out-of-fold predictions judged by :mod:`eeg_eval`
   (metrics, intervals over groups, paired differences, the verdict);
4. :func:`eeg_finetune.outputs.write_report`: report files, MLflow, the printed table and verdict.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eeg_config import flatten
from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.errors import FinetuneError
from eeg_finetune.folds import run_folds
from eeg_finetune.inputs import Inputs, load_inputs
from eeg_finetune.outputs import evaluate, output_files, write_report
from eeg_train import MlflowTracker, NullTracker, Tracker, pick_device

__all__ = ["output_files", "run_job"]

log = logging.getLogger("eeg_finetune")


def run_job(config: FinetuneConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the job described by ``config`` and return its summary (also written as ``{name}_summary.json``)."""
    inputs = load_inputs(config)
    name = config.tracking.run_name or f"{inputs.source.run_name}_finetuned"
    device = pick_device(config.train.device)
    try:
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FinetuneError(f"output_dir: cannot create {config.output_dir}: {exc.strerror}") from None
    _describe(config, inputs, device)
    tracker = _tracker(config, name, inputs)
    status = "FAILED"
    try:
        runs = run_folds(config, name, inputs, device, tracker)
        summary = write_report(config, name, inputs, runs, evaluate(config, inputs, runs), tracker, echo)
        status = "FINISHED"
        return summary
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.close(status)


def _describe(config: FinetuneConfig, inputs: Inputs, device: object) -> None:
    data = inputs.data
    counts = np.bincount(np.concatenate(data.window_targets), minlength=data.num_classes)
    log.info(
        "%d participants, %d groups (%s), %d sequences, %s labels (windows per class %s), channels %s, "
        "%s split: %d fold(s); device %s",
        len(set(data.participants)), len(data.group_ids), data.group_column, len(data),
        data.label_level, dict(zip(data.classes, counts.tolist(), strict=True)), ", ".join(data.channels),
        config.split.method, len(inputs.folds), device,
    )  # fmt: skip


def _tracker(config: FinetuneConfig, name: str, inputs: Inputs) -> Tracker:
    track = config.tracking
    if not track.enabled:
        return NullTracker()
    tracker = MlflowTracker(track.uri, track.experiment, name)
    source, data = inputs.source, inputs.data
    params = flatten(config_to_dict(config))
    params.update(
        {
            "pretrained.checkpoint_path": str(source.checkpoint.resolve()),
            "pretrained.run_name": source.run_name,
            "pretrained.mlflow_run_id": source.mlflow_run_id,
            "data.participants": len(set(data.participants)),
            "data.groups": len(data.group_ids),
            "data.classes": list(data.classes),
            "data.channels_used": list(data.channels),
            "split.num_folds": len(inputs.folds),
        }
    )
    tracker.log_params(params)
    return tracker
