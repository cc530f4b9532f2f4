"""Nested MLflow runs: one parent run per fine-tuning job (``eeg_pretrain.tracking.MlflowTracker``), one child
run per fold, written through the MLflow client so that the parent stays the active run meanwhile."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eeg_pretrain.tracking import MAX_PARAM_LENGTH, MlflowTracker, NullTracker, Tracker

__all__ = ["ChildRunTracker", "child_tracker", "set_tag"]


class ChildRunTracker:
    """A run tagged ``mlflow.parentRunId`` = the parent's run id, in the parent's experiment."""

    def __init__(self, parent: MlflowTracker, run_name: str, tags: Mapping[str, str] | None = None) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(parent.uri)
        run = self.client.create_run(
            parent.run.info.experiment_id,
            run_name=run_name,
            tags={"mlflow.parentRunId": parent.run_id, **(tags or {})},
        )
        self.run_id: str | None = run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        )

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        finite = [
            Metric(k, float(v), now, step)
            for k, v in metrics.items()
            if v == v and abs(float(v)) != float("inf")
        ]
        if finite:
            self.client.log_batch(self.run_id, metrics=finite)

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(Path(path)), artifact_path)

    def register_model(self, local_dir: str | os.PathLike[str], name: str) -> None:
        """Models are registered from the parent run only."""

    def close(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)


def child_tracker(parent: Tracker, run_name: str, tags: Mapping[str, str] | None = None) -> Tracker:
    """A nested run under ``parent``; a :class:`NullTracker` when the parent does not track."""
    if isinstance(parent, MlflowTracker):
        return ChildRunTracker(parent, run_name, tags)
    return NullTracker()


def set_tag(tracker: Tracker, key: str, value: str) -> None:
    """Tag an MLflow run (parent or child); nothing for a tracker that does not track."""
    if isinstance(tracker, MlflowTracker | ChildRunTracker):
        from mlflow.tracking import MlflowClient

        client = tracker.client if isinstance(tracker, ChildRunTracker) else MlflowClient(tracker.uri)
        client.set_tag(tracker.run_id, key, value[:MAX_PARAM_LENGTH])
