"""``sweep status DIR`` and ``sweep summarize DIR``: what a sweep folder holds, without launching anything.

The runs are those ``sweep.json`` lists; each run's state comes from its folder (``summary.json``, last
checkpoint, log) and its job record. A record that says queued or running is checked: a local run is
only running while a sweep holds the folder's lock; a SLURM job is asked about through submitit
(``sacct``) when ``sacct`` is on the PATH, and otherwise shown as last recorded.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eeg_sweep.jobs import ACTIVE_STATES, FAILED, INTERRUPTED, format_status, read_record
from eeg_sweep.parent import SWEEP_STATE, planned_runs, read_state, sweep_busy
from eeg_sweep.plan import PlannedRun, SweepError, read_summary
from eeg_sweep.summary import FAILED as RUN_FAILED
from eeg_sweep.summary import FINISHED, NOT_RUN, SUMMARY_CSV, SUMMARY_PNG, RunResult
from eeg_sweep.summary import INTERRUPTED as RUN_INTERRUPTED

log = logging.getLogger("eeg_sweep")


def _folder_argument(prog: str, what: str, argv: Sequence[str]) -> Path:
    parser = argparse.ArgumentParser(prog=f"sweep {prog}", description=what)
    parser.add_argument("folder", metavar="DIR", help="a sweep folder (the sweep's train.save_dir)")
    folder = Path(parser.parse_args(list(argv)).folder)
    if not (folder / SWEEP_STATE).is_file():
        raise SweepError(f"{folder}: not a sweep folder (no {SWEEP_STATE}); give the sweep's train.save_dir")
    return folder


def current_states(folder: Path, runs: Sequence[PlannedRun]) -> tuple[dict[str, str | None], dict[str, Any]]:
    """Each run's state (``queued``, ``running``, ``failed``, ``interrupted``, ``finished`` or None when
    no sweep launched it) and its job record, with recorded active states checked against reality."""
    busy = sweep_busy(folder)
    states: dict[str, str | None] = {}
    records: dict[str, Any] = {}
    for run in runs:
        record = read_record(run)
        records[run.name] = record
        state = record.get("state")
        if state in ACTIVE_STATES:
            if record.get("launcher") == "slurm":
                state = _slurm_state(run, record) or state
            elif not busy:
                state = INTERRUPTED  # its sweep has ended, and the run with it
        summary = read_summary(run.summary_path)
        if summary is not None and summary.get("finished") is True:
            state = "finished"
        states[run.name] = state
    return states, records


def _slurm_state(run: PlannedRun, record: dict[str, Any]) -> str | None:
    """The live state of a recorded submitit job: queued / running, or None when it has ended (then the
    run folder says how) or cannot be asked about here."""
    from eeg_sweep.settings import SlurmSettings
    from eeg_sweep.submit import SubmititLauncher

    if record.get("cluster", "slurm") == "slurm" and shutil.which("sacct") is None:
        return None
    launcher = SubmititLauncher("", SlurmSettings(), Path(record.get("submitit_folder") or "."))
    handle = launcher.attach(run, record)
    if handle is None:
        return INTERRUPTED if not run.summary_path.is_file() else None
    return launcher.state(handle)


def recorded_job_active(run: PlannedRun, record: dict[str, Any]) -> bool:
    """Whether the submitit job a record names is still queued or running (as far as can be told here)."""
    if record.get("launcher") != "slurm":
        return False
    if record.get("cluster", "slurm") == "slurm" and shutil.which("sacct") is None:
        return True  # cannot ask SLURM from here: take the record's word for it
    return _slurm_state(run, record) in ACTIVE_STATES


def status_main(argv: Sequence[str]) -> int:
    folder = _folder_argument("status", "Print one line per run of a sweep folder; launches nothing.", argv)
    runs = planned_runs(folder, read_state(folder))
    states, records = current_states(folder, runs)
    print(format_status(runs, states, records))
    return 0


def results_from_folder(folder: Path, runs: Sequence[PlannedRun]) -> list[RunResult]:
    """The summary's rows as the folder has them now (queued / running jobs show as such)."""
    states, records = current_states(folder, runs)
    results = []
    for run in runs:
        state, record = states[run.name], records[run.name]
        summary = read_summary(run.summary_path)
        if state == "finished":
            results.append(RunResult(run, FINISHED, summary=summary))
        elif state == FAILED:
            results.append(
                RunResult(run, RUN_FAILED, exit_code=record.get("exit_code"), message=record.get("message"))
            )
        elif state in ACTIVE_STATES:
            results.append(RunResult(run, state))
        elif state == INTERRUPTED or run.last_checkpoint.is_file():
            results.append(RunResult(run, RUN_INTERRUPTED))
        else:
            results.append(RunResult(run, NOT_RUN))
    return results


def summarize_main(argv: Sequence[str]) -> int:
    from eeg_sweep.summary import SummaryAxes, format_table, plot_summary, summary_rows, write_csv

    folder = _folder_argument(
        "summarize",
        "Write and print a sweep folder's summary (CSV, plot, table) now; launches nothing.",
        argv,
    )
    state = read_state(folder)
    runs = planned_runs(folder, state)
    rows = summary_rows(results_from_folder(folder, runs))
    axes = SummaryAxes.of(runs)
    write_csv(folder / SUMMARY_CSV, rows, axes)
    written = [folder / SUMMARY_CSV]
    if plot_summary(folder / SUMMARY_PNG, rows, axes):
        written.append(folder / SUMMARY_PNG)
    _log_to_parent(state, written)
    print(format_table(rows, axes))
    print(f"summary: {folder / SUMMARY_CSV}", file=sys.stderr)
    return 0


def _log_to_parent(state: dict[str, Any], paths: Sequence[Path]) -> None:
    """Attach the summary to the sweep's parent MLflow run, when there is one and it can be reached."""
    run_id = state.get("parent_run_id")
    if not run_id:
        return
    import mlflow

    try:
        client = mlflow.MlflowClient(tracking_uri=state.get("tracking_uri"))
        for path in paths:
            client.log_artifact(run_id, str(path))
    except Exception as exc:  # the store may be elsewhere; the files are written either way
        print(f"warning: could not log the summary to MLflow run {run_id}: {exc}", file=sys.stderr)
