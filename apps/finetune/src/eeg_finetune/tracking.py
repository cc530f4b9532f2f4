"""Moved to the ``eeg-train`` library (``eeg_train.tracking``); this name stays for compatibility."""

from eeg_train.tracking import ChildRunTracker, child_tracker

__all__ = ["ChildRunTracker", "child_tracker"]
