"""Tracking that is not a single point of failure: a :class:`Tracker` that outlives its MLflow store.

:class:`ResilientTracker` passes every call to the MLflow tracker it wraps. When a call fails (the server
went away, the database is locked, the disk under a local store is full), the policy decides:

- ``continue`` (the default of the apps: a cluster job keeps training): one warning line, then this call and
  every later one are written to a journal in the run folder instead (:data:`JOURNAL`, JSON lines), and
  MLflow is not asked again in this session; :func:`replay_journal` logs them afterwards (every kind of
  call: params, metrics, tags and the description, datasets, artifacts, the model registration, the end);
- ``fail``: :class:`TrackingFailed`, one line (exit 2 at the command line).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from eeg_config import UserError
from eeg_train.tracking import RunDataset, Tracker
from eeg_train.tracking_store import bounded_requests, short_reason

__all__ = [
    "JOURNAL",
    "ON_FAILURE",
    "ResilientTracker",
    "TrackingFailed",
    "journal_status",
    "read_journal",
    "replay_journal",
]

log = logging.getLogger(__name__)

JOURNAL = "tracking_offline.jsonl"  # in the run folder: what could not be logged, one call per line
ON_FAILURE = ("continue", "fail")


class TrackingFailed(UserError):
    """The tracking store failed during the run and the policy is ``fail``."""


class ResilientTracker:
    """A :class:`Tracker` that keeps the run going when MLflow fails (see the module docstring).

    Args:
        open_tracker: makes the MLflow tracker (starting or continuing its run); a failure here is
            handled like any other call's.
        folder: the run folder, where :data:`JOURNAL` is written.
        on_failure: ``"continue"`` or ``"fail"``.
        where: the store, for messages (its URI).
        replay_hint: the command that logs the journal afterwards, for the warning.
        away: why the store is known to be away already (a start-up check failed): the tracker starts
            offline, with the warning, and does not try to open the MLflow run.
        run_id: the MLflow run the journal belongs to when starting offline (a resumed run's).
    """

    def __init__(
        self,
        open_tracker: Callable[[], Tracker],
        folder: str | os.PathLike[str],
        on_failure: str = "continue",
        where: str = "MLflow",
        replay_hint: str | None = None,
        away: str | None = None,
        run_id: str | None = None,
    ) -> None:
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
        self.journal = Path(folder) / JOURNAL
        self.on_failure, self.where, self.replay_hint = on_failure, where, replay_hint
        self.inner: Tracker | None = None
        self.offline = False
        self.run_id: str | None = run_id
        if away is not None:
            self._go_offline(away)
        else:
            self._call(lambda: self._open(open_tracker), {"op": "open"})

    def _open(self, open_tracker: Callable[[], Tracker]) -> None:
        self.inner = open_tracker()
        self.run_id = self.inner.run_id

    def _call(self, action: Callable[[], object], record: dict[str, Any]) -> None:
        if not self.offline:
            try:
                action()
                return
            except Exception as exc:  # MLflow raises many types (MlflowException, requests', SQLAlchemy's)
                self._went_away(exc)
        self._write(record)

    def _went_away(self, exc: Exception) -> None:
        reason = short_reason(exc)
        if self.on_failure == "fail":
            raise TrackingFailed(
                f"tracking store {self.where} failed ({reason}) and tracking.on_failure is 'fail'; the run "
                "folder is as the last checkpoint left it (continue with --resume once the store is back)"
            ) from exc
        self._go_offline(reason)

    def _go_offline(self, reason: str) -> None:
        self.offline = True
        hint = f"; log it afterwards with: {self.replay_hint}" if self.replay_hint else ""
        log.warning(
            "tracking store %s failed (%s): training goes on, and what would have been logged is kept in %s%s",
            self.where,
            reason,
            self.journal,
            hint,
        )
        self._write({"op": "offline", "run_id": self.run_id, "reason": reason})

    def _write(self, record: Mapping[str, Any]) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        with self.journal.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def log_params(self, params: Mapping[str, Any]) -> None:
        record = {"op": "params", "values": {k: str(v) for k, v in params.items()}}
        self._call(lambda: self.inner.log_params(params), record)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        record = {"op": "metrics", "step": step, "values": {k: float(v) for k, v in metrics.items()}}
        self._call(lambda: self.inner.log_metrics(metrics, step), record)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        record = {"op": "tags", "values": {k: str(v) for k, v in tags.items()}}
        self._call(lambda: self.inner.set_tags(tags), record)

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        record = {"op": "artifact", "path": str(Path(path).resolve()), "artifact_path": artifact_path}
        self._call(lambda: self.inner.log_artifact(path, artifact_path), record)

    def log_dataset(self, dataset: RunDataset) -> None:
        self._call(lambda: self.inner.log_dataset(dataset), {"op": "dataset", "dataset": dataset.to_dict()})

    def register_model(
        self,
        local_dir: str | os.PathLike[str],
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        model_description: str | None = None,
    ) -> str | None:
        """The new version, or None (offline, or a store without a model registry)."""
        # the folder is temporary: the journal keeps the name and the details; the replay registers from the
        # run folder
        details = {
            "tags": dict(tags or {}),
            "description": description,
            "model_description": model_description,
        }
        version: list[str | None] = [None]

        def register() -> None:
            version[0] = self.inner.register_model(local_dir, name, **details)

        self._call(register, {"op": "register", "name": name, **details})
        return version[0]

    def close(self, status: str = "FINISHED") -> None:
        if self.offline and self.inner is not None:
            self._write({"op": "close", "status": status})
            # one bounded try (seconds, not MLflow's minutes): it ends the process's active MLflow run, and a
            # store that is back learns the status
            with contextlib.suppress(Exception), bounded_requests():
                self.inner.close(status)
            return
        self._call(lambda: self.inner.close(status), {"op": "close", "status": status})


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records of a journal, in order (a line cut short by a crash is skipped)."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def replay_journal(
    path: str | os.PathLike[str],
    tracker: Tracker,
    register: Callable[..., None] | None = None,
) -> dict[str, int]:
    """Log a journal's records into ``tracker`` (an MLflow run), in order. Artifacts are logged once each,
    from the files as they are now; ``register(name, **details)`` registers the model (the app knows which
    files; ``details``: the ``tags``, ``description`` and ``model_description`` of ``register_model``). The run is not closed (:func:`journal_status` gives its last status). Returns how many
    records of each kind were logged."""
    counts: dict[str, int] = {}
    artifacts: dict[tuple[str, str | None], None] = {}
    for record in read_journal(path):
        op = record.get("op")
        if op == "params":
            tracker.log_params(record["values"])
        elif op == "metrics":
            tracker.log_metrics(record["values"], step=int(record["step"]))
        elif op == "tags":
            tracker.set_tags(record["values"])
        elif op == "dataset":
            tracker.log_dataset(RunDataset.from_dict(record["dataset"]))
        elif op == "artifact":
            artifacts[(record["path"], record.get("artifact_path"))] = None
            continue
        elif op == "register" and register is not None:  # journals of older versions keep the name only
            details = {k: record.get(k) for k in ("tags", "description", "model_description")}
            register(record["name"], **{**details, "tags": dict(details["tags"] or {})})
        else:
            continue
        counts[op] = counts.get(op, 0) + 1
    for file, artifact_path in artifacts:
        if Path(file).exists():
            tracker.log_artifact(file, artifact_path)
            counts["artifact"] = counts.get("artifact", 0) + 1
    return counts


def journal_status(path: str | os.PathLike[str]) -> tuple[str | None, str | None]:
    """``(MLflow run id when the store went away, the run's last close status)`` from a journal."""
    run_id, status = None, None
    for record in read_journal(path):
        if record.get("op") == "offline" and record.get("run_id"):
            run_id = record["run_id"]
        elif record.get("op") == "close":
            status = record.get("status")
    return run_id, status
