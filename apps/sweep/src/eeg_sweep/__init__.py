"""Sweeps over pretraining runs: one ``pretrain`` per (mask ratio, style), or per combination of the values
of any pretrain config keys (``--vary data.participants=4,8,16``), each in its own folder, resumable, launched on this machine (in parallel) or on SLURM (submitit), as child runs of one MLflow
sweep run, with a summary table, CSV and plot.

The names below are imported on first use: a SLURM job's tasks import ``eeg_sweep.job`` without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DEFAULT_EXPERIMENT": "eeg_sweep.plan",
    "Axis": "eeg_sweep.axes",
    "Action": "eeg_sweep.plan",
    "Decision": "eeg_sweep.plan",
    "PlannedRun": "eeg_sweep.plan",
    "SweepError": "eeg_sweep.plan",
    "build_plan": "eeg_sweep.plan",
    "plan_grid": "eeg_sweep.plan",
    "resolve_axes": "eeg_sweep.options",
    "decide": "eeg_sweep.plan",
    "parse_ratios": "eeg_sweep.plan",
    "parse_styles": "eeg_sweep.plan",
    "run_overrides": "eeg_sweep.plan",
    "SUMMARY_CSV": "eeg_sweep.summary",
    "SUMMARY_PNG": "eeg_sweep.summary",
    "RunResult": "eeg_sweep.summary",
    "SummaryAxes": "eeg_sweep.summary",
    "summary_rows": "eeg_sweep.summary",
    "plan_devices": "eeg_sweep.devices",
    "SweepSettings": "eeg_sweep.settings",
    "SlurmSettings": "eeg_sweep.settings",
    "load_settings": "eeg_sweep.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'eeg_sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
