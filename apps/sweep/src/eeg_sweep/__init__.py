"""Mask-ratio sweeps over pretraining runs: one ``pretrain`` process per (ratio, style), each in its own
folder, resumable, as child runs of one MLflow sweep run, with a summary table, CSV and plot."""

from eeg_sweep.plan import (
    DEFAULT_EXPERIMENT,
    Action,
    Decision,
    PlannedRun,
    SweepError,
    build_plan,
    decide,
    parse_ratios,
    parse_styles,
    run_overrides,
)
from eeg_sweep.summary import SUMMARY_CSV, SUMMARY_PNG, RunResult, summary_rows

__all__ = [
    "DEFAULT_EXPERIMENT",
    "SUMMARY_CSV",
    "SUMMARY_PNG",
    "Action",
    "Decision",
    "PlannedRun",
    "RunResult",
    "SweepError",
    "build_plan",
    "decide",
    "parse_ratios",
    "parse_styles",
    "run_overrides",
    "summary_rows",
]
