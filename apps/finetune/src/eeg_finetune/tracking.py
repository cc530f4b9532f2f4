"""Moved to the ``eeg-train`` library (``eeg_train.tracking``); this name stays for compatibility.
:func:`set_tag` tags a run (finetune puts its verdict on the parent run)."""

from eeg_train.tracking import MAX_PARAM_LENGTH, ChildRunTracker, MlflowTracker, Tracker, child_tracker

__all__ = ["ChildRunTracker", "child_tracker", "set_tag"]


def set_tag(tracker: Tracker, key: str, value: str) -> None:
    """Tag an MLflow run (parent or child); nothing for a tracker that does not track."""
    if isinstance(tracker, MlflowTracker | ChildRunTracker):
        from mlflow.tracking import MlflowClient

        client = tracker.client if isinstance(tracker, ChildRunTracker) else MlflowClient(tracker.uri)
        client.set_tag(tracker.run_id, key, value[:MAX_PARAM_LENGTH])
