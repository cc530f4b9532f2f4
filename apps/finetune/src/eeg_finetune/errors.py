"""The fine-tuning app's user-error type."""

from __future__ import annotations

from eeg_config import UserError


class FinetuneError(UserError, ValueError):
    """A problem the user can fix (data, labels, split, checkpoint, paths); the message names the file or
    key and what was expected. The CLI prints it on one line and exits with status 2."""
