"""A small disk cache of what a run computes from its corpus before it trains (the data checks, the
samples' fingerprints, the band-power statistics), so that a start that reads the same files with the same
settings does not read and compute them again.

Where: ``$EEG_MAMBA_CACHE_DIR`` when set (``off`` turns the cache off), else ``$XDG_CACHE_HOME/eeg-mamba``,
else ``~/.cache/eeg-mamba``: beside the user's other caches, never beside the corpus, so a read-only or
shared corpus works as any other. Deleting the folder clears it. A cache that cannot be written (a
read-only home) is skipped: it never fails a run.

Keys: an entry's key is a digest of everything its value depends on, given by the caller: each file's
:func:`file_key` (path, inode, size, modification and status-change times, and a digest of its last 64 KiB:
a Parquet file's footer, with every column chunk's offsets, sizes and statistics), the settings, and
:func:`code_key` (the source of the code that computes the value and the versions of the libraries it uses).
A file written since, a changed setting or changed code gives another key, so a stale value is not read;
a file changed in the last two seconds (:data:`SETTLE_NS`) is not cached at all until it settles.

Entries are JSON files written atomically (:func:`eeg_config.atomic_write`); a damaged entry reads as a
miss. Entries of one ``group`` (e.g. one file's data checks) replace each other, so a corpus whose files
change does not leave old entries behind.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import attrs

from eeg_config import atomic_write

__all__ = ["CACHE_ENV", "SETTLE_NS", "ResultCache", "code_key", "default_cache_root", "file_key"]

log = logging.getLogger(__name__)

#: The environment variable that moves the cache (a folder) or turns it off (``off``).
CACHE_ENV = "EEG_MAMBA_CACHE_DIR"
_OFF = ("off", "none", "0", "false")
_TAIL_BYTES = 1 << 16
#: How long ago a file must have last changed for its key to be trusted (:func:`file_key`): longer than
#: the coarsest file-system clock in common use (FAT's two seconds).
SETTLE_NS = 2_000_000_000


def default_cache_root() -> Path | None:
    """The cache folder (module docstring), or None when :data:`CACHE_ENV` turns the cache off."""
    value = os.environ.get(CACHE_ENV)
    if value is not None and value.strip():
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eeg-mamba"


def file_key(path: str | os.PathLike) -> list:
    """What identifies a file's current content: ``[absolute path, device, inode, size, mtime ns, ctime ns,
    digest of the last 64 KiB]``. The status-change time moves on any write (and cannot be set back), but
    only as finely as the kernel's clock ticks (milliseconds); a file replaced by another (a rename) has
    another inode; the digest, read every time, covers a rewrite of the footer within one tick and file
    systems whose times are coarse. A file changed less than :data:`SETTLE_NS` ago has no stable key yet:
    its key ends with a random part that matches no other, so nothing computed from it is stored or read
    (a second write in the same tick would not move the times). Raises :class:`OSError` when the file
    cannot be read."""
    resolved = os.path.abspath(path)
    with open(resolved, "rb") as handle:
        stat = os.fstat(handle.fileno())
        handle.seek(max(0, stat.st_size - _TAIL_BYTES))
        tail = hashlib.blake2b(handle.read(_TAIL_BYTES), digest_size=16).hexdigest()
    key: list = [resolved, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, tail]
    if time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < SETTLE_NS:
        key.append(os.urandom(8).hex())
    return key


@functools.cache
def code_key(modules: tuple[str, ...], libraries: tuple[str, ...] = ()) -> str:
    """A digest of the source of ``modules`` (a package stands for all its ``.py`` files) and of the
    installed versions of ``libraries``: what computed a cached value besides its inputs."""
    digest = hashlib.blake2b(digest_size=16)
    for name in modules:
        module = importlib.import_module(name)
        origin = Path(module.__file__ or "")
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for file in files:
            digest.update(str(file.relative_to(origin.parent)).encode() + b"\0" + file.read_bytes())
    for name in libraries:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}=={version}\0".encode())
    return digest.hexdigest()


@attrs.frozen
class ResultCache:
    """JSON values under ``root`` (None: a cache that holds nothing), by kind and key.

    >>> cache = ResultCache.default()                                    # doctest: +SKIP
    >>> key = cache.key("data-checks", file_key(path), {"rate": 256.0})   # doctest: +SKIP
    >>> cache.load("data-checks", key) or compute()                       # doctest: +SKIP
    """

    root: Path | None

    @classmethod
    def default(cls) -> ResultCache:
        """The cache at :func:`default_cache_root`."""
        return cls(default_cache_root())

    @property
    def enabled(self) -> bool:
        return self.root is not None

    @staticmethod
    def key(*parts: Any) -> str:
        """A digest of ``parts`` (JSON data: strings, numbers, lists, dicts)."""
        text = json.dumps(parts, sort_keys=True, separators=(",", ":"), allow_nan=True)
        return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()

    def path(self, kind: str, key: str, group: str | None = None) -> Path | None:
        """Where the entry lives (None when the cache is off)."""
        if self.root is None:
            return None
        folder = self.root / kind / (_short(group) if group is not None else key[:2])
        return folder / f"{key}.json"

    def load(self, kind: str, key: str, group: str | None = None) -> Any | None:
        """The value stored under ``key``, or None (a miss, a damaged entry, or the cache off)."""
        path = self.path(kind, key, group)
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        return entry.get("value")

    def store(self, kind: str, key: str, value: Any, group: str | None = None) -> Path | None:
        """Write ``value`` under ``key`` atomically; with a ``group``, the group's other entries go. Returns
        the entry's path, or None when the cache is off or cannot be written (logged, never raised)."""
        path = self.path(kind, key, group)
        if path is None:
            return None
        text = json.dumps({"key": key, "value": value}, separators=(",", ":"))
        try:
            atomic_write(path, lambda handle: handle.write(text.encode("utf-8")), durable=False)
        except OSError as exc:
            log.debug("result cache %s not written: %s", path, exc)
            return None
        if group is not None:
            _remove_others(path)
        return path


def _short(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


def _remove_others(current: Path) -> None:
    """Remove the entries beside ``current`` (best effort: another process may be writing one)."""
    for sibling in current.parent.iterdir():
        if sibling != current and sibling.suffix == ".json":
            sibling.unlink(missing_ok=True)
