"""Each run's job record (``sweep_job.json`` in its folder) and the one-line-per-run status table.

The record says how the run was last launched (``local`` process or submitit job, its id) and in what
state the sweep last saw it: ``queued``, ``running``, ``finished``, ``failed`` or ``interrupted``. It is
written by the sweep only (atomically), so a later ``sweep`` call knows which SLURM jobs are still
queued or running and does not launch them twice, and ``sweep status`` can say what happened.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from eeg_config import atomic_write_text
from eeg_pretrain.run_files import RESOLVED_CONFIG  # not run_folder: that imports torch
from eeg_sweep.plan import PlannedRun, read_summary

JOB_RECORD = "sweep_job.json"
QUEUED, RUNNING, DONE, FAILED, INTERRUPTED = "queued", "running", "finished", "failed", "interrupted"
ACTIVE_STATES = (QUEUED, RUNNING)

_EPOCH_LINE = re.compile(r"\bepoch (\d+)/(\d+):")


def read_record(run: PlannedRun) -> dict[str, Any]:
    """The run's job record, or ``{}`` when there is none (or it is unreadable: then nothing is known)."""
    try:
        data = json.loads((run.folder / JOB_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(run: PlannedRun, **fields: Any) -> dict[str, Any]:
    """Update the run's job record with ``fields`` (and the time), atomically; returns the new record."""
    record = {**read_record(run), **fields, "updated": datetime.now().isoformat(timespec="seconds")}
    run.folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.folder / JOB_RECORD, json.dumps(record, indent=2) + "\n")
    return record


def epoch_progress(run: PlannedRun) -> tuple[int, int | None]:
    """(epochs done, epochs in all) from the run's log (pretrain logs ``epoch k/n: ...`` after each
    epoch; resumed sessions go on counting) and its ``config.yaml``; (0, None) when unknown."""
    done, total = 0, None
    try:
        with run.log_path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                match = _EPOCH_LINE.search(line)
                if match:
                    done, total = int(match.group(1)), int(match.group(2))
    except OSError:
        pass
    if total is None:
        total = _configured_epochs(run.folder / RESOLVED_CONFIG)
    return done, total


def _configured_epochs(path: Path) -> int | None:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        epochs = data["train"]["epochs"]
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError):
        return None
    return epochs if isinstance(epochs, int) else None


def describe_run(
    run: PlannedRun, state: str | None, record: Mapping[str, Any], epochs: int | None = None
) -> str:
    """What one status line says about a run in ``state`` (None: never launched by a sweep); ``epochs``
    is the run's ``train.epochs`` when the caller knows it before the run has written its config."""
    summary = read_summary(run.summary_path)
    if summary is not None and summary.get("finished") is True:
        loss = summary.get("best_val_loss")
        loss_text = f", best val loss {loss:.4f}" if isinstance(loss, int | float) else ""
        return f"done ({summary.get('epochs', '?')} epochs{loss_text})"
    done, total = epoch_progress(run)
    total = total or epochs
    of = f" of {total}" if total else ""
    job = f" [job {record['job_id']}]" if record.get("job_id") else ""
    if state == QUEUED:
        return f"queued{job}"
    if state == RUNNING:
        return f"running epoch {min(done + 1, total or done + 1)}{of}{job}"
    if state == FAILED:
        exit_code = record.get("exit_code")
        exit_part = f" (exit status {exit_code})" if exit_code is not None else ""
        message = record.get("message") or "no message"
        return f"failed{exit_part}: {message}; log: {run.log_path}"
    if state == INTERRUPTED or run.last_checkpoint.is_file():
        return f"interrupted after epoch {done}{of} (resumes on the next sweep call); log: {run.log_path}"
    if run.folder.is_dir():
        return "not finished, no checkpoint (starts over on the next sweep call)"
    return "not started"


def format_status(
    runs: Sequence[PlannedRun],
    states: Mapping[str, str | None],
    records: Mapping[str, Any],
    epochs: Mapping[str, int] | None = None,
) -> str:
    """One line per run: ``ratio style name  what``, aligned."""
    width = max((len(r.name) for r in runs), default=0)
    lines = []
    for run in runs:
        what = describe_run(
            run, states.get(run.name), records.get(run.name, {}), (epochs or {}).get(run.name)
        )
        lines.append(f"{run.ratio:.2f}  {run.style:<4}  {run.name:<{width}}  {what}")
    return "\n".join(lines)
