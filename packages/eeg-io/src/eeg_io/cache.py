"""A disk cache of decoded ``(file, channel)`` sequences, read back with one copy of the crop.

Layout: ``cache_dir/<path hash>/<content hash>/<settings hash>.npy``. The content hash covers the
source file's size and mtime, so a changed file misses the cache and is decoded again; older
content folders of that file are then removed. The settings hash covers everything that changes
the decoded values (channel, window length, normalisation, scale, non-finite policy, dtype).

Each entry is a standard ``.npy`` file (``np.load`` opens it, memory-mapped or not) holding the
``[L, W]`` windows, followed by a 32-byte trailer with the padded/truncated/dropped counts, which
``np.load`` ignores. Opening an entry parses the header by hand (``np.load``'s parsing would cost
more than copying a typical sequence); a read then copies just the crop into the caller's array. A
process keeps the first entries it reads memory-mapped (:class:`MappedEntries`), so later epochs copy
them out of memory; the others are read with plain reads, about half the time of mapping a file afresh,
whose pages would all fault on first touch.

Entries are written under a unique temporary name and renamed into place, so any number of
DataLoader workers or DDP ranks can fill the same cache at once: a reader sees a whole entry or none.
"""

from __future__ import annotations

import functools
import hashlib
import mmap
import os
import shutil
import struct
from typing import BinaryIO

import attrs
import numpy as np

from eeg_config import atomic_write
from eeg_io.errors import EEGDataError

__all__ = ["CACHE_DTYPES", "CacheEntry", "DecodedCache", "MappedEntries", "MappedEntry"]

CACHE_DTYPES: tuple[str, ...] = ("float32", "float16")
# Bump when the decoded values or the entry format change, so old entries are never reused.
_FORMAT_VERSION = 3  # 3: values beyond PHYSICAL_LIMIT follow nan_policy (were z-scored, or zeroed)
_TRAILER = struct.Struct("<8sqqq")  # magic, num_padded, num_truncated, num_dropped
_TRAILER_MAGIC = b"EEGIOCNT"
_NPY_MAGIC = b"\x93NUMPY"
_HEAD_READ = 128  # the .npy header of a 2-D array fits (numpy pads it to 64-byte multiples)


class CacheEntry:
    """An open cache entry, header parsed: ``num_windows`` x ``width`` samples and the counts of the sequence.

    Reads copy just the requested windows from the file into the caller's array: one copy, and no memory
    map whose pages would all fault on first touch (:meth:`map` makes one that is kept for later epochs).
    A context manager; closing releases the file.
    """

    def __init__(
        self,
        path: str,
        handle,
        dtype: str,
        offset: int,
        num_windows: int,
        width: int,
        num_padded: int,
        num_truncated: int,
        num_dropped: int,
    ) -> None:
        self.path = path
        self._handle = handle
        self._dtype = np.dtype(dtype)
        self._offset = offset
        self.num_windows = num_windows
        self.width = width
        self.num_padded = num_padded
        self.num_truncated = num_truncated
        self.num_dropped = num_dropped

    @property
    def itemsize(self) -> int:
        """Bytes per stored sample (4 for float32, 2 for float16)."""
        return self._dtype.itemsize

    def read_into(self, start: int, stop: int, out: np.ndarray) -> bool:
        """Copy windows ``[start, stop)`` into ``out``, a C-contiguous float32 ``[stop - start, width]`` array.

        Returns False if the file ended early (it was damaged after it was opened).
        """
        if out.shape != (stop - start, self.width) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(
                f"out: expected C-contiguous float32 {(stop - start, self.width)}, got {out.shape}"
            )
        target = out if self._dtype == np.float32 else np.empty(out.shape, dtype=self._dtype)
        self._handle.seek(self._offset + start * self.width * self._dtype.itemsize)
        if self._handle.readinto(memoryview(target).cast("B")) != target.nbytes:
            return False
        if target is not out:
            out[...] = target  # float16 widens here
        return True

    def map(self) -> MappedEntry:
        """The same entry memory-mapped, readable after this one is closed (the mapping outlives the file)."""
        mapping = mmap.mmap(self._handle.fileno(), 0, access=mmap.ACCESS_READ)
        windows = np.frombuffer(
            mapping, dtype=self._dtype, count=self.num_windows * self.width, offset=self._offset
        ).reshape(self.num_windows, self.width)  # the view keeps the mapping alive
        return MappedEntry(self.path, windows, self.num_padded, self.num_truncated, self.num_dropped)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> CacheEntry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MappedEntry:
    """A cache entry kept memory-mapped: a read is a copy out of memory, with no system call and, once the
    pages have been touched, no page fault. The mapping lives as long as this object."""

    def __init__(
        self, path: str, windows: np.ndarray, num_padded: int, num_truncated: int, num_dropped: int
    ) -> None:
        self.path = path
        self.windows = windows  # read-only [L, W] view of the file, in the cache's dtype
        self.num_windows, self.width = windows.shape
        self.num_padded = num_padded
        self.num_truncated = num_truncated
        self.num_dropped = num_dropped

    def read_into(self, start: int, stop: int, out: np.ndarray) -> None:
        """Copy windows ``[start, stop)`` into ``out`` (float32 ``[stop - start, width]``); float16 widens."""
        out[...] = self.windows[start:stop]


class MappedEntries:
    """The cache entries one process keeps memory-mapped between epochs.

    Reading an entry through a kept mapping skips opening, parsing and reading the file, and once its pages
    have been touched (in the first epoch) it costs one copy. It holds the first ``max_entries`` entries
    read (and at most ``max_bytes`` of them) and never evicts: a corpus too large for it has its other
    entries read with plain reads, which beat mapping a file afresh on every visit. Mapped pages are the
    kernel's page cache (shared, reclaimable), but they count towards the process's resident size.
    """

    def __init__(self, max_entries: int = 4096, max_bytes: int = 2 << 30) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._kept: dict[str, MappedEntry] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, entry: str) -> MappedEntry | None:
        return self._kept.get(entry)

    def keep(self, entry: str, opened: CacheEntry) -> MappedEntry | None:
        """Map ``opened`` and keep it, if there is room; None otherwise (then read ``opened`` itself)."""
        size = opened.num_windows * opened.width * opened.itemsize
        if len(self._kept) >= self.max_entries or self._bytes + size > self.max_bytes:
            return None
        mapped = self._kept[entry] = opened.map()
        self._bytes += size
        return mapped


@attrs.frozen
class DecodedCache:
    """Holds only the folder and dtype (no open files), so it pickles cheaply into workers.

    Attributes:
        root: cache folder (created on first write).
        dtype: ``"float32"`` or ``"float16"`` (half the disk and page cache; about 3 significant
            digits, fine for normalised data; raw values must fit float16's range, +-65504). The
            ``SequenceConfig`` that holds ``cache_dtype`` checks it; the cache does not check again.
    """

    root: str
    dtype: str = "float32"

    def settings_key(self, **settings: object) -> str:
        """A string of everything besides the source file that determines an entry's values."""
        items = sorted({**settings, "dtype": self.dtype, "version": _FORMAT_VERSION}.items())
        return ";".join(f"{key}={value!r}" for key, value in items)

    def entry_path(self, identity: tuple[str, int, int], channel: str, settings_key: str) -> str:
        """Where the entry of ``channel`` of a source file ``identity`` (path, size, mtime_ns) lives."""
        return _entry_path(self.root, identity, channel, settings_key)

    def open(self, entry: str) -> CacheEntry | None:
        """Open an entry and parse its header and counts; None on a miss or a damaged entry.

        Close the returned :class:`CacheEntry` (it is a context manager) after reading from it.
        """
        try:
            handle = open(entry, "rb", buffering=0)  # noqa: SIM115 (the CacheEntry closes it)
        except FileNotFoundError:
            return None
        try:
            parsed = self._parse(entry, handle)
        except BaseException:
            handle.close()
            raise
        if parsed is None:
            handle.close()
        return parsed

    def _parse(self, entry: str, handle) -> CacheEntry | None:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(_HEAD_READ)
        if size < 16 + _TRAILER.size or head[:6] != _NPY_MAGIC:
            return None
        if head[6] == 1:  # .npy version 1.0: 2-byte header length
            offset = 10 + int.from_bytes(head[8:10], "little")
        else:  # versions 2.0 and 3.0: 4-byte header length
            offset = 12 + int.from_bytes(head[8:12], "little")
        if offset > len(head):
            head += handle.read(offset - len(head))
        header = head[10:offset].decode("latin1")
        shape_start = header.find("'shape': (")
        if shape_start < 0:
            return None
        shape = header[shape_start + 10 : header.index(")", shape_start)].split(",")
        num_windows, width = int(shape[0]), int(shape[1])
        if offset + num_windows * width * np.dtype(self.dtype).itemsize + _TRAILER.size != size:
            return None  # truncated or damaged
        handle.seek(size - _TRAILER.size)
        magic, num_padded, num_truncated, num_dropped = _TRAILER.unpack(handle.read(_TRAILER.size))
        if magic != _TRAILER_MAGIC:
            return None
        return CacheEntry(
            entry, handle, self.dtype, offset, num_windows, width, num_padded, num_truncated, num_dropped
        )

    def store(
        self,
        entry: str,
        windows: np.ndarray,
        *,
        num_padded: int,
        num_truncated: int,
        num_dropped: int,
        source: str = "",
    ) -> None:
        """Write an entry atomically (temp file + rename), then drop stale versions of the same file.

        ``windows`` is float32 ``[L, W]``; ``source`` names the sequence (``"file: channel X"``) in messages.

        Raises:
            EEGDataError: the values do not fit ``float16`` (cache_dtype="float16" with raw data).
        """
        if self.dtype == "float16" and windows.size and np.abs(windows).max() > np.finfo(np.float16).max:
            raise EEGDataError(
                f"{source}: values overflow float16 (|x| > 65504) in the decoded cache; "
                "use cache_dtype='float32' or normalise the data"
            )
        stored = np.ascontiguousarray(windows.astype(self.dtype, copy=False))

        def write(handle: BinaryIO) -> None:
            np.save(handle, stored, allow_pickle=False)
            handle.write(_TRAILER.pack(_TRAILER_MAGIC, num_padded, num_truncated, num_dropped))

        atomic_write(
            entry, write, durable=False
        )  # a cache: a torn entry after a crash fails its trailer check
        folder = os.path.dirname(entry)
        _remove_stale(folder)


def _remove_stale(current: str) -> None:
    """Remove content folders of the same source file other than ``current`` (best effort)."""
    parent = os.path.dirname(current)
    for name in os.listdir(parent):
        sibling = os.path.join(parent, name)
        if sibling != current and os.path.isdir(sibling):
            # Another process may be removing it too, or still reading it through an open file
            # (which stays valid after the unlink on POSIX).
            shutil.rmtree(sibling, ignore_errors=True)


@functools.lru_cache(maxsize=1 << 16)
def _entry_path(root: str, identity: tuple[str, int, int], channel: str, settings_key: str) -> str:
    # Memoised: three SHA-256 digests cost more than the rest of a cache hit's bookkeeping.
    path, size, mtime_ns = identity
    return os.path.join(
        root,
        _digest(path),
        _digest(f"{size}:{mtime_ns}"),
        _digest(f"{channel};{settings_key}", 24) + ".npy",
    )


def _digest(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]
