"""The one exception type and the one warning type of eeg_montage."""

from __future__ import annotations


class MontageError(ValueError):
    """A montage file or a montage request that cannot be honoured.

    The message names the file (or the montage's source), the line where it applies when there is
    one, and what was expected, so that it can be shown to a user as it is.
    """


class MontageWarning(UserWarning):
    """Something in a montage file or request that was tolerated but deserves a look.

    Examples: a ``NumberPositions=`` count that disagrees with the positions read, a label repeated
    with the same position, channels given zero coordinates with ``missing="zero"``.
    """
