"""Is the tracking store usable? A check that takes seconds, before a run reads any data.

MLflow retries a request to a server that does not answer for minutes (7 retries with exponential backoff,
120 s each) and a SQLite store it cannot open 10 times (~100 s), then raises with a traceback. The check
below looks at a local store's path itself (a folder under a regular file, a folder or database it may not
write) and asks a server once, with MLflow's own request settings bounded (:data:`PROBE_REQUEST_SETTINGS`,
unless the user set them), so an unreachable server is reported in about 15 s.

A SQLite store that does not exist yet is created here, by MLflow's own migrations run on a temporary file
beside it with SQLite's per-transaction syncs off, then synced once and moved into place
(:func:`create_sqlite_store`): MLflow creating it in place commits each of its ~70 migrations to disk, which
took 6.6-7 s on the development VM's disk (1.4 s on a RAM disk, 1 s of it CPU), and a crash then leaves a
half-made store; this way the store appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from eeg_config import UserError, one_line

__all__ = [
    "PROBE_REQUEST_SETTINGS",
    "TrackingStoreError",
    "bounded_requests",
    "check_tracking_store",
    "create_sqlite_store",
    "ensure_sqlite_store",
    "short_reason",
]

log = logging.getLogger(__name__)

#: MLflow's HTTP settings while probing (environment variables MLflow reads at each request): one retry,
#: 5 s per request, 1 s backoff. A variable the user has set is left as it is.
PROBE_REQUEST_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


class TrackingStoreError(UserError):
    """The tracking store cannot be reached or written; ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


@contextlib.contextmanager
def bounded_requests(settings: dict[str, str] | None = None) -> Iterator[None]:
    """Set MLflow's request settings (default :data:`PROBE_REQUEST_SETTINGS`) that the user has not set,
    for the duration of the block."""
    added = {k: v for k, v in (settings or PROBE_REQUEST_SETTINGS).items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _local_path(uri: str) -> Path | None:
    """The file or folder of a local store (``sqlite:///...``, ``file:...`` or a plain path), else None."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        path = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else ""
        return Path(unquote(path)) if path and path != ":memory:" else None
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (a drive letter on Windows)
        return Path(uri)
    return None


def _check_local(uri: str, path: Path) -> None:
    """A local store's path: its folder must be (or become) a writable folder, the file writable if it exists."""
    if path.exists():
        if not os.access(path, os.W_OK):
            raise TrackingStoreError(f"tracking.uri {uri}: {path} is not writable (permission denied)")
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise TrackingStoreError(
                    f"tracking.uri {uri}: {parent} is a file, not a folder; choose another tracking.uri"
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise TrackingStoreError(
                    f"tracking.uri {uri}: cannot create {path} in {parent} (permission denied)"
                )
            return


def check_tracking_store(uri: str | None, experiment: str) -> str:
    """Check that the tracking store at ``uri`` (None: MLflow's default) answers; returns the URI used.

    Local stores are checked on disk first (a new SQLite store is created: :func:`create_sqlite_store`);
    then the store is asked for ``experiment`` once, with bounded request settings. Nothing else is written.

    Raises:
        TrackingStoreError: one line naming the URI and what is wrong.
    """
    import mlflow
    from mlflow.tracking import MlflowClient

    resolved = uri or mlflow.get_tracking_uri()
    local = _local_path(resolved)
    if local is not None:
        _check_local(resolved, local)
        ensure_sqlite_store(resolved)
    try:
        with bounded_requests(), _quiet("mlflow.store.db.utils", "alembic.runtime.migration"):
            MlflowClient(resolved).get_experiment_by_name(experiment)
    except Exception as exc:  # MLflow raises many types (MlflowException, requests', SQLAlchemy's)
        reason = short_reason(exc)
        raise TrackingStoreError(
            f"tracking.uri {resolved}: the tracking store is not usable ({reason}); start or fix it, or set "
            "tracking.enabled=false to train without it",
            reason,
        ) from None
    return resolved


def ensure_sqlite_store(uri: str) -> None:
    """Create the SQLite store ``uri`` names when it does not exist yet (:func:`create_sqlite_store`); any
    other store is left to MLflow."""
    local = _local_path(uri)
    if uri.startswith("sqlite:") and local is not None and not local.exists():
        create_sqlite_store(local)


def create_sqlite_store(path: str | os.PathLike[str]) -> bool:
    """Create an empty MLflow SQLite store at ``path`` unless something is there (module docstring).

    MLflow's first-use creation (``mlflow.store.db.utils._initialize_tables``: the initial tables, then every
    migration) runs on ``.<name>.<pid>.creating`` beside ``path`` with ``PRAGMA synchronous = OFF`` and the
    rollback journal in memory; the file is then synced and linked to ``path``, which fails if another
    process created the store meanwhile (theirs is kept). Returns whether this call created it. Any failure
    (an MLflow without that function, say) leaves nothing behind and returns False: MLflow then creates the
    store itself when it opens it, as before.
    """
    import sqlalchemy

    target = Path(path).absolute()
    temporary = target.with_name(f".{target.name}.{os.getpid()}.creating")
    engine = None
    try:
        from mlflow.store.db.utils import _initialize_tables

        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.unlink(missing_ok=True)
        engine = sqlalchemy.create_engine(f"sqlite:///{temporary}")

        @sqlalchemy.event.listens_for(engine, "connect")
        def _no_syncs(connection, _record) -> None:  # a file no one reads until it is whole
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("PRAGMA journal_mode = MEMORY")

        with _quiet("mlflow.store.db.utils", "alembic.runtime.migration"):
            _initialize_tables(engine)
        engine.dispose()
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        try:
            os.link(temporary, target)  # fails if the store appeared meanwhile: keep that one
        except FileExistsError:
            return False
        _sync_folder(target.parent)
        return True
    except Exception as exc:  # an optimisation only: MLflow creates the store its own way
        log.debug("tracking store %s not pre-created: %s", target, exc)
        return False
    finally:
        if engine is not None:
            engine.dispose()
        temporary.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextlib.contextmanager
def _quiet(*names: str):
    """Raise the given loggers to WARNING for the block: a new sqlite store announces its tables at INFO."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# What a connection failure comes down to, inside MLflow's "API request to ... failed with exception ...".
_CAUSE = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)|(Read timed out)|(timed out)")


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """A failure of the tracking store in a few words: the socket's reason when there is one
    (``Connection refused``, ``Read timed out``), else the message's first ``limit`` characters, one line."""
    text = one_line(exc)
    match = _CAUSE.search(text)
    if match:
        return next(group for group in match.groups() if group).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."
