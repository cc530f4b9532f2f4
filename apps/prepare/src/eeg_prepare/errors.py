"""The exception types of ``prepare``: all are :class:`PrepareError`, a user error (exit 2, one line)."""

from __future__ import annotations

from eeg_config import UserError

__all__ = [
    "DiscoveryError",
    "LabelsError",
    "MissingChannelError",
    "NoEEGChannelsError",
    "PrepareError",
    "RecordingError",
]


class PrepareError(UserError, ValueError):
    """A problem the user can fix; the message names the file or key and what was expected."""


class DiscoveryError(PrepareError):
    """The input folder is missing, or two recordings claim the same participant and run."""


class RecordingError(PrepareError):
    """A recording could not be read (corrupt, truncated, not the format its extension says).

    Reported and skipped unless ``--strict``."""


class MissingChannelError(PrepareError):
    """A recording lacks a requested channel. Fatal under ``channels.on_missing: error``, a skipped
    recording under ``skip_recording``."""


class NoEEGChannelsError(MissingChannelError):
    """With ``channels.pick: null``, a recording holds no EEG channel (a signal generator, a polygraphy
    file of ECG and respiration): skipped and reported, whatever ``on_missing`` says."""


class LabelsError(PrepareError):
    """The labels CSV is missing, lacks a column, or holds a value that is not an integer class."""
