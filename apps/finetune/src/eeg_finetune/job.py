"""One fine-tuning job, as a short pipeline of named stages:

1. :func:`eeg_finetune.inputs.load_inputs`: every input a user can get wrong, checked before anything is
   written or an MLflow run is started, and the split (groups kept whole; by default every group tested
   once);
2. :func:`eeg_finetune.folds.run_folds`: per fold, the fine-tuned classifier and the baselines (band
   power, waveform, random encoder, linear probe) on the same samples;
3. :func:`eeg_finetune.outputs.evaluate`: the pooled out-of-fold predictions judged by :mod:`eeg_eval`
   (metrics, intervals over groups, paired differences, the verdict);
4. :func:`eeg_finetune.outputs.write_report`: report files, MLflow, the printed table and verdict.

The MLflow run is opened between stages 1 and 2 and finished in stage 4 (:mod:`eeg_finetune.mlflow_run`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eeg_finetune.config import FinetuneConfig
from eeg_finetune.errors import FinetuneError
from eeg_finetune.folds import run_folds
from eeg_finetune.inputs import Inputs, load_inputs, resolve_data
from eeg_finetune.mlflow_run import open_run
from eeg_finetune.outputs import evaluate, output_files, write_report
from eeg_train import pick_device

__all__ = ["output_files", "run_job"]

log = logging.getLogger("eeg_finetune")


def run_job(
    config: FinetuneConfig, echo: Callable[[str], None] = print, command: str | None = None
) -> dict[str, Any]:
    """Run the job described by ``config`` and return its summary (also written as ``{name}_summary.json``);
    ``command`` (the command line that started it) goes into the MLflow run's description."""
    config = resolve_data(config)
    inputs = load_inputs(config)
    name = config.tracking.run_name or f"{inputs.source.run_name}_finetuned"
    device = pick_device(config.train.device)
    try:
        Path(config.output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FinetuneError(f"output_dir: cannot create {config.output_dir}: {exc.strerror}") from None
    _describe(config, inputs, device)
    tracker, page = open_run(config, name, inputs, command)
    status = "FAILED"
    try:
        runs = run_folds(config, name, inputs, device, tracker)
        evaluation = evaluate(config, inputs, runs)
        summary = write_report(config, name, inputs, runs, evaluation, tracker, echo, page)
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
