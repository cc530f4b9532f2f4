"""User errors and the command-line wrapper that turns them into one line and exit status 2.

Every app uses :func:`run_cli`: a problem the user can fix (path, file, config, checkpoint) prints one
clear message on stderr and exits 2 without a traceback; anything else is a bug and raises.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem the user can fix; the message names the file or key and what was expected."""


# (module, exception name) of the libraries' user-error types, all ValueError subclasses.
_LIBRARY_ERRORS = (
    ("eeg_io", "EEGDataError"),
    ("eeg_montage", "MontageError"),
    ("eeg_ssl", "MaskingError"),
    ("eeg_ssm", "CheckpointError"),
    ("eeg_ssm", "ModelConfigError"),
)


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types that signal bad user input. Only libraries already imported can have raised one,
    so this never imports anything (an error exit stays fast)."""
    types: list[type[BaseException]] = [UserError]
    for module_name, name in _LIBRARY_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, name):
            types.append(getattr(module, name))
    return tuple(types)


def run_cli(main: Callable[[], int | None]) -> None:
    """Run ``main`` and exit with its status; user errors exit 2 with one line, Ctrl-C exits 130."""
    try:
        status = main()
    except user_error_types() as exc:
        logging.shutdown()
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(status or 0)
