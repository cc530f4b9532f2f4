"""The sweep folder's own files and the parent MLflow run that every run of the sweep is a child of.

``sweep.json`` (written atomically) records the plan and the parent run's id, so re-running the same
command reopens the same parent run instead of starting a second one. ``.sweep.lock`` keeps two sweeps
from working in one folder at the same time. The parent run's description (:func:`describe_sweep`) says
what the sweep runs and, once runs are done, links each run's page with its figures.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eeg_config import atomic_write_text, flatten
from eeg_sweep.plan import PlannedRun, SweepError

if TYPE_CHECKING:  # eeg_train imports torch, which `sweep status` does not need
    from eeg_train import Tracker

log = logging.getLogger("eeg_sweep")

SWEEP_STATE = "sweep.json"
LOCK_FILE = ".sweep.lock"
STATE_VERSION = 1
# Per-run settings: they differ between children, so the parent does not record them as params.
PER_RUN_KEYS = ("masking.ratio", "masking.style", "tracking.run_name", "tracking.parent_run_id")


@contextlib.contextmanager
def sweep_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` for the sweep's lifetime (released if the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; running two sweeps at once is then on the user
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise SweepError(
                f"{folder}: another sweep is running in this folder ({holder}); wait for it or stop it"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def sweep_busy(folder: Path) -> bool:
    """Whether a sweep holds ``folder``'s lock right now (it is launching or waiting for runs)."""
    try:
        import fcntl
    except ImportError:
        return False
    path = folder / LOCK_FILE
    if not path.is_file():
        return False
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    return False


def planned_runs(folder: Path, state: Mapping[str, Any]) -> list[PlannedRun]:
    """The runs ``sweep.json`` lists, in plan order, with their folders under ``folder`` (where the
    sweep folder is now, even if it was moved)."""
    runs = []
    for entry in state.get("runs") or []:
        try:
            runs.append(
                PlannedRun(
                    ratio=float(entry["mask_ratio"]),
                    style=str(entry["mask_style"]),
                    name=str(entry["name"]),
                    folder=folder / str(entry["name"]),
                    # sweeps from before other keys could be swept record none: ratio by style
                    values=tuple(dict(entry.get("values") or {}).items()),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise SweepError(f"{folder / SWEEP_STATE}: unreadable run entry {entry!r}") from None
    return runs


def read_state(folder: Path) -> dict[str, Any]:
    """The sweep folder's ``sweep.json``, or ``{}`` when there is none yet."""
    path = folder / SWEEP_STATE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(
            f"{path}: not a readable sweep state file ({exc}); move it away to start over"
        ) from None
    if not isinstance(data, dict):
        raise SweepError(f"{path}: expected a JSON object; move it away to start over")
    return data


def write_state(
    folder: Path,
    *,
    command: Sequence[str],
    config_path: str,
    experiment: str,
    tracking_uri: str | None,
    parent_run_id: str | None,
    runs: Sequence[PlannedRun],
    torchrun_nproc: int | None,
    launcher: Mapping[str, Any] | None = None,
) -> Path:
    path = folder / SWEEP_STATE
    state = {
        "version": STATE_VERSION,
        "command": list(command),
        "config": config_path,
        "experiment": experiment,
        "tracking_uri": tracking_uri,
        "parent_run_id": parent_run_id,
        "torchrun_nproc": torchrun_nproc,
        "launcher": dict(launcher or {"name": "local"}),
        "runs": [
            {
                "name": r.name,
                "mask_ratio": r.ratio,
                "mask_style": r.style,
                "values": r.swept,
                "folder": str(r.folder),
            }
            for r in runs
        ],
    }
    atomic_write_text(path, json.dumps(state, indent=2) + "\n")
    return path


def reusable_parent(uri: str | None, experiment: str, run_id: str | None) -> str | None:
    """``run_id`` when that run exists, is not deleted and belongs to ``experiment`` in the store at
    ``uri``; else None (the store was moved or wiped, or the experiment changed: a new parent it is)."""
    if not run_id:
        return None
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient(tracking_uri=uri)
    try:
        run = client.get_run(run_id)
        wanted = client.get_experiment_by_name(experiment)
    except MlflowException:
        return None
    if (
        wanted is None
        or run.info.experiment_id != wanted.experiment_id
        or run.info.lifecycle_stage != "active"
    ):
        return None
    return run_id


def open_parent(
    *,
    enabled: bool,
    uri: str | None,
    experiment: str,
    name: str,
    stored_run_id: str | None,
    base_config: Mapping[str, Any],
    tags: Mapping[str, str],
    swept: Sequence[str] = ("masking.ratio", "masking.style"),
) -> Tracker:
    """Start (or reopen) the sweep's parent run and record the plan: the shared config as params (without
    the ``swept`` keys, which differ between its runs), the plan as tags (tags can change when a later
    session extends the sweep; params cannot)."""
    from eeg_train import MlflowTracker, NullTracker

    if not enabled:
        return NullTracker()
    run_id = reusable_parent(uri, experiment, stored_run_id)
    if stored_run_id and run_id is None:
        log.warning(
            "the recorded parent run %s is not in %s / %s: starting a new one", stored_run_id, uri, experiment
        )
    # what the sweep varies: "mask_ratio" for the mask-ratio sweep (as before other keys could be swept)
    kind = "mask_ratio" if set(swept) <= {"masking.ratio", "masking.style"} else ",".join(swept)
    tracker = MlflowTracker(uri, experiment, name, run_id=run_id, tags={"sweep": kind})
    params = {k: v for k, v in flatten(base_config).items() if k not in PER_RUN_KEYS and k not in set(swept)}
    tracker.log_params(params)
    tracker.set_tags(tags)
    return tracker


def describe_sweep(
    command: str,
    runs: Sequence[PlannedRun],
    folder: Path,
    rows: Sequence[Mapping[str, Any]] = (),
    experiment_id: str | None = None,
) -> str:
    """The parent run's description (Markdown): the plan and the command; with ``rows``
    (:func:`eeg_sweep.summary.summary_rows`), a table of the runs, each linked to its page in experiment
    ``experiment_id``, with status, best validation loss and skill."""
    from eeg_sweep.axes import RATIO, STYLE, value_text
    from eeg_train import markdown_link

    ratios = ", ".join(f"{r:g}" for r in dict.fromkeys(run.ratio for run in runs))
    styles = ", ".join(dict.fromkeys(run.style for run in runs))
    # the swept keys other than the masking, in the order of the axes, with their values
    others: dict[str, list[str]] = {}
    for run in runs:
        for key, value in run.values:
            if key not in (RATIO, STYLE):
                others.setdefault(key, [])
                if value_text(value) not in others[key]:
                    others[key].append(value_text(value))
    what = "; ".join(f"{key} {', '.join(values)}" for key, values in others.items())
    title = f"Sweep of {', '.join(others)}" if others else "Mask-ratio sweep"
    lines = [
        f"**{title}**: {len(runs)} pretraining runs ({what + '; ' if what else ''}mask ratios {ratios}; "
        f"{styles}), each a child run of this one; folder `{folder}`.",
        f"Command: `{command}`",
    ]
    if rows:

        def number(value: Any, form: str) -> str:
            return "" if value is None else format(value, form)

        table = [
            "| run | "
            + "".join(f"{key} | " for key in others)
            + "mask ratio | style | status | best val loss | skill |",
            "|---|" + "---|" * len(others) + "---|---|---|---|---|",
        ]
        for row in rows:
            run_id = row.get("mlflow_run_id")
            route = f"#/experiments/{experiment_id}/runs/{run_id}" if run_id and experiment_id else None
            swept = "".join(f"{value_text(row[key]) if key in row else ''} | " for key in others)
            table.append(
                f"| {markdown_link(row['run_name'], route)} | {swept}{row['mask_ratio']:g} | {row['mask_style']} | "
                f"{row['status']} | {number(row.get('best_val_loss'), '.4f')} | "
                f"{number(row.get('val_skill'), '+.3f')} |"
            )
        lines.append("\n".join(table))
    return "\n\n".join(lines)
