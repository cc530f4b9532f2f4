"""User errors and the command-line wrapper that turns them into one line and exit status 2.

Every app uses :func:`run_cli`: a problem the user can fix (path, file, config, checkpoint) prints one
clear message on stderr and exits 2 without a traceback; anything else is a bug and raises. A warning about
what the user gave (a :class:`UserWarning`: a config value, a montage file) is one ``warning: ...`` line.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterable

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130

#: What the environment says when a file cannot be written or read: the user (or the admin) can fix it.
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
}


class UserError(Exception):
    """A problem the user can fix; the message names the file or key and what was expected.

    The libraries' own error types (``eeg_io.EEGDataError``, ``eeg_ssm.ModelConfigError``,
    ``eeg_ssm.CheckpointError``, ``eeg_ssl.MaskingError``) subclass it, so :func:`run_cli` knows them by
    type. ``eeg_montage.MontageError`` does not (eeg-montage depends on numpy alone): a command that
    can meet it passes it to :func:`run_cli` in ``also``.

    The message is printed as one line (a library's multi-line text is folded) unless ``multiline`` is
    set: :class:`~eeg_config.ConfigError` lists one problem per line on purpose.
    """

    multiline = False


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) folded into one space: a library's
    multi-line message (pyarrow's, a server's) inside one ``error: ...`` line."""
    return " ".join(str(text).split())


def environment_error(exc: OSError, doing: str | None = None) -> UserError | None:
    """A :class:`UserError` for an :class:`OSError` the environment caused (disk full, quota, permission,
    read-only file system), naming the path; None for any other error (a bug, or the caller's to handle).

    ``doing`` says what was being done (``"writing the checkpoint"``); the message reads
    ``PATH: no space left on the device (while writing the checkpoint)``.
    """
    reason = ENVIRONMENT_ERRNOS.get(exc.errno) if isinstance(exc, OSError) else None
    if reason is None:
        return None
    path = os.fsdecode(exc.filename) if exc.filename is not None else "a file"
    while_ = f" (while {doing})" if doing else ""
    return UserError(f"{path}: {reason}{while_}")


def run_cli(main: Callable[[], int | None], also: Iterable[type[BaseException]] = ()) -> None:
    """Run ``main`` and exit with its status; user errors (:class:`UserError` and the types in ``also``)
    and faults of the environment (an :class:`OSError` for a full disk, a quota, a permission or a read-only
    file system: :func:`environment_error`) exit 2 with one line, Ctrl-C exits 130. Anything else is a bug
    and raises with its traceback.

    While ``main`` runs, a :class:`UserWarning` (about the user's config or files; its message names the key
    or file) is shown as one ``warning: ...`` line, without the path and source line of the code that raised
    it. Other categories (a library's deprecations) keep Python's format.
    """
    shown_before = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        if not issubclass(category, UserWarning):
            shown_before(message, category, filename, lineno, file, line)
            return
        stream = sys.stderr if file is None else file
        if stream is not None:  # None under pythonw
            with contextlib.suppress(OSError):  # as in Python's own: a warning never breaks the command
                stream.write(f"warning: {one_line(message)}\n")

    warnings.showwarning = show
    try:
        _run(main, also)
    finally:
        warnings.showwarning = shown_before


def _run(main: Callable[[], int | None], also: Iterable[type[BaseException]]) -> None:
    try:
        status = main()
    except (UserError, *also) as exc:
        _fail(exc if getattr(exc, "multiline", False) else one_line(exc))
    except OSError as exc:
        user_error = environment_error(exc)
        if user_error is None:
            raise
        _fail(user_error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(status or 0)


def _fail(message: object) -> None:
    logging.shutdown()
    print(f"error: {message}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)
