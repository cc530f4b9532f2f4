"""The one exception type for problems in a user's EEG data."""

from __future__ import annotations

from eeg_config import UserError

__all__ = ["EEGDataError"]


class EEGDataError(UserError, ValueError):
    """A problem with the user's data or data settings, not a bug.

    The message always names the file (and the channel, row or key where that applies) and says
    what was expected, so that it can be printed as-is on one line without a traceback.
    """
