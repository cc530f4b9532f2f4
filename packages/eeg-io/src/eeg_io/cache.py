"""A disk cache of decoded ``(file, channel)`` sequences, read back through memory maps.

Layout: ``cache_dir/<path hash>/<content hash>/<settings hash>.npy``. The content hash covers the
source file's size and mtime, so a changed file misses the cache and is decoded again; older
content folders of that file are then removed. The settings hash covers everything that changes
the decoded values (channel, window length, normalisation, scale, non-finite policy, dtype).

Each entry is a standard ``.npy`` file (``np.load`` opens it, memory-mapped or not) holding the
``[L, W]`` windows, followed by a 32-byte trailer with the padded/truncated/dropped counts, which
``np.load`` ignores. Entries are read with one ``mmap`` and a copy of just the crop, skipping
``np.load``'s header parsing, which would cost more than copying a typical sequence.

Entries are written under a unique temporary name and renamed into place, so any number of
DataLoader workers or DDP ranks can fill the same cache at once: a reader sees a whole entry or none.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import struct
import uuid
from collections.abc import Callable

import attrs
import numpy as np

from eeg_io.errors import EEGDataError

__all__ = ["CACHE_DTYPES", "CachedSequence", "DecodedCache"]

CACHE_DTYPES: tuple[str, ...] = ("float32", "float16")
# Bump when the decoded values or the entry format change, so old entries are never reused.
_FORMAT_VERSION = 2
_TRAILER = struct.Struct("<8sqqq")  # magic, num_padded, num_truncated, num_dropped
_TRAILER_MAGIC = b"EEGIOCNT"
_NPY_MAGIC = b"\x93NUMPY"


@attrs.frozen(kw_only=True)
class CachedSequence:
    """The crop read from a cache entry.

    Attributes:
        windows: float32 ``[stop - start, W]``, owned and writable.
        num_windows: L of the whole cached sequence.
        num_padded, num_truncated, num_dropped: counts of the whole sequence, as first decoded.
    """

    windows: np.ndarray
    num_windows: int
    num_padded: int
    num_truncated: int
    num_dropped: int


@attrs.frozen
class DecodedCache:
    """Holds only the folder and dtype (no open files), so it pickles cheaply into workers.

    Attributes:
        root: cache folder (created on first write).
        dtype: ``"float32"`` or ``"float16"`` (half the disk and page cache; about 3 significant
            digits, fine for normalised data; raw values must fit float16's range, +-65504).
    """

    root: str
    dtype: str = "float32"

    def __attrs_post_init__(self) -> None:
        if self.dtype not in CACHE_DTYPES:
            raise ValueError(f"cache_dtype must be one of {CACHE_DTYPES}, got {self.dtype!r}")

    def settings_key(self, **settings: object) -> str:
        """A string of everything besides the source file that determines an entry's values."""
        items = sorted({**settings, "dtype": self.dtype, "version": _FORMAT_VERSION}.items())
        return ";".join(f"{key}={value!r}" for key, value in items)

    def entry_path(self, identity: tuple[str, int, int], channel: str, settings_key: str) -> str:
        """Where the entry of ``channel`` of a source file ``identity`` (path, size, mtime_ns) lives."""
        path, size, mtime_ns = identity
        return os.path.join(
            self.root,
            _digest(path),
            _digest(f"{size}:{mtime_ns}"),
            _digest(f"{channel};{settings_key}", 24) + ".npy",
        )

    def read(self, entry: str, crop: Callable[[int], tuple[int, int]]) -> CachedSequence | None:
        """Copy windows ``crop(L)`` = ``[start, stop)`` out of an entry; None on a miss or a damaged entry."""
        try:
            with open(entry, "rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (FileNotFoundError, ValueError):  # ValueError: an empty file cannot be mapped
            return None
        try:
            return self._copy_out(mapped, crop)
        finally:
            mapped.close()

    def _copy_out(self, mapped: mmap.mmap, crop: Callable[[int], tuple[int, int]]) -> CachedSequence | None:
        size = len(mapped)
        if size < 16 + _TRAILER.size or mapped[:6] != _NPY_MAGIC:
            return None
        if mapped[6] == 1:  # .npy version 1.0: 2-byte header length
            offset = 10 + int.from_bytes(mapped[8:10], "little")
        else:  # versions 2.0 and 3.0: 4-byte header length
            offset = 12 + int.from_bytes(mapped[8:12], "little")
        magic, num_padded, num_truncated, num_dropped = _TRAILER.unpack_from(mapped, size - _TRAILER.size)
        header = mapped[10:offset].decode("latin1")
        shape_start = header.find("'shape': (")
        if magic != _TRAILER_MAGIC or shape_start < 0:
            return None
        shape = header[shape_start + 10 : header.index(")", shape_start)].split(",")
        num_windows, width = int(shape[0]), int(shape[1])
        itemsize = np.dtype(self.dtype).itemsize
        if offset + num_windows * width * itemsize + _TRAILER.size != size:
            return None  # truncated or damaged
        start, stop = crop(num_windows)
        view = np.frombuffer(
            mapped, dtype=self.dtype, count=(stop - start) * width, offset=offset + start * width * itemsize
        )
        windows = view.astype(np.float32).reshape(stop - start, width)  # the one copy; float16 widens here
        del view  # the map cannot close while a view exports its buffer
        return CachedSequence(
            windows=windows,
            num_windows=num_windows,
            num_padded=num_padded,
            num_truncated=num_truncated,
            num_dropped=num_dropped,
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
        folder = os.path.dirname(entry)
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f".{os.path.basename(entry)}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as handle:
                np.save(handle, stored, allow_pickle=False)
                handle.write(_TRAILER.pack(_TRAILER_MAGIC, num_padded, num_truncated, num_dropped))
            os.replace(temporary, entry)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        _remove_stale(folder)


def _remove_stale(current: str) -> None:
    """Remove content folders of the same source file other than ``current`` (best effort)."""
    parent = os.path.dirname(current)
    for name in os.listdir(parent):
        sibling = os.path.join(parent, name)
        if sibling != current and os.path.isdir(sibling):
            # Another process may be removing it too, or still reading it through a memory map
            # (which stays valid after the unlink on POSIX).
            shutil.rmtree(sibling, ignore_errors=True)


def _digest(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]
