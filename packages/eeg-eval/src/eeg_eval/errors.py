"""The evaluation library's user-error type."""

from __future__ import annotations

from eeg_config import UserError

__all__ = ["EvalError"]


class EvalError(UserError, ValueError):
    """A problem the user can fix (too few groups or classes for a split, mismatched arrays); the message
    names the setting and what was expected. Commands print it on one line and exit with status 2."""
