"""User errors and the command-line wrapper that turns them into one line and exit status 2.

Every app uses :func:`run_cli`: a problem the user can fix (path, file, config, checkpoint) prints one
clear message on stderr and exits 2 without a traceback; anything else is a bug and raises.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem the user can fix; the message names the file or key and what was expected.

    The libraries' own error types (``eeg_io.EEGDataError``, ``eeg_ssm.ModelConfigError``,
    ``eeg_ssm.CheckpointError``, ``eeg_ssl.MaskingError``) subclass it, so :func:`run_cli` knows them by
    type. ``eeg_montage.MontageError`` does not (eeg-montage depends on numpy alone): a command that
    can meet it passes it to :func:`run_cli` in ``also``.
    """


def run_cli(main: Callable[[], int | None], also: Iterable[type[BaseException]] = ()) -> None:
    """Run ``main`` and exit with its status; user errors (:class:`UserError` and the types in ``also``)
    exit 2 with one line, Ctrl-C exits 130. Anything else is a bug and raises with its traceback."""
    try:
        status = main()
    except (UserError, *also) as exc:
        logging.shutdown()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(status or 0)
