"""Moved to the ``eeg-train`` library (``eeg_train.tracking``); this name stays for compatibility."""

from eeg_train.tracking import MAX_PARAM_LENGTH, MlflowTracker, NullTracker, Tracker

__all__ = ["MAX_PARAM_LENGTH", "MlflowTracker", "NullTracker", "Tracker"]
