"""Fingerprints of recordings by their samples, so that "was this encoder pretrained on these people?" is
answered by the data, not by ids: a renamed copy of a recording has the same fingerprints, and two
unrelated corpora that both call their people ``P000`` have none in common.

A fingerprint is the 8-byte BLAKE2b digest of one window of one channel, its samples cast to float32 (so a
copy written as float64 matches). Pretraining records the digests of the first ``per_channel`` windows
(physical rows) of every channel of every file it reads (:func:`file_fingerprints`); fine-tuning digests
every window of its labelled data (:func:`window_fingerprints`) and looks them up. A set of fingerprints
has one short digest (:func:`fingerprints_digest`): the name of a corpus's samples in run trackers. With a
:class:`~eeg_io.result_cache.ResultCache`, a file's fingerprints are kept between runs (keyed by its content,
the channels and this code): reading the first rows of every column of a large file takes a tenth of a second.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eeg_io.arrow_numpy import to_numpy
from eeg_io.layout import channel_columns, open_parquet
from eeg_io.result_cache import ResultCache, code_key, file_key

__all__ = [
    "column_fingerprints",
    "file_fingerprints",
    "fingerprints_digest",
    "window_fingerprint",
    "window_fingerprints",
]


def window_fingerprint(window: np.ndarray) -> str:
    """The hex digest of one window's samples ``[W]`` (as float32)."""
    return hashlib.blake2b(
        np.ascontiguousarray(window, dtype=np.float32).tobytes(), digest_size=8
    ).hexdigest()


def window_fingerprints(windows: np.ndarray) -> list[str]:
    """The digest of every row of ``windows`` ``[L, W]``."""
    return [window_fingerprint(row) for row in np.asarray(windows)]


def column_fingerprints(column: pa.Array | pa.ChunkedArray) -> list[str]:
    """The digest of every cell (window) of a list column, in row order."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = to_numpy(pc.list_value_length(column))
    values = to_numpy(pc.list_flatten(column))
    return [window_fingerprint(row) for row in np.split(values, np.cumsum(lengths)[:-1])]


def file_fingerprints(
    path: str | os.PathLike,
    channels: Iterable[str] | None = None,
    per_channel: int = 2,
    cache: ResultCache | None = None,
) -> list[str]:
    """Digests of the first ``per_channel`` windows of each channel (upper-cased names, in the order given;
    None = every channel column) of a Parquet file in the pretraining layout, read from the file's first
    rows only, or from ``cache`` when they were read before from the same file content."""
    if cache is None or not cache.enabled:
        return _file_fingerprints(path, channels, per_channel)
    names = None if channels is None else [c.upper() for c in channels]
    before = file_key(path)
    key = cache.key(before, names, per_channel, code_key(("eeg_io",), ("numpy", "pyarrow")))
    stored = cache.load(_CACHE_KIND, key, group=before[0])
    if isinstance(stored, list) and all(isinstance(d, str) for d in stored):
        return stored
    digests = _file_fingerprints(path, names, per_channel)
    if file_key(path) == before:  # not stored if the file changed while it was read
        cache.store(_CACHE_KIND, key, digests, group=before[0])
    return digests


_CACHE_KIND = "fingerprints"


def _file_fingerprints(
    path: str | os.PathLike, channels: Iterable[str] | None, per_channel: int
) -> list[str]:
    with open_parquet(path) as parquet_file:
        columns = channel_columns(parquet_file.schema_arrow, path)
        wanted = [
            columns[c]
            for c in (columns if channels is None else [c.upper() for c in channels])
            if c in columns
        ]
        if not wanted:
            return []
        batch = next(parquet_file.iter_batches(batch_size=per_channel, columns=wanted), None)
    if batch is None:
        return []
    digests = []
    for column in batch.columns:
        digests += column_fingerprints(column)
    return digests


def fingerprints_digest(fingerprints: Iterable[str]) -> str:
    """One 16-hex-digit digest of a set of fingerprints (order and repeats do not matter): the same corpus,
    copied or renamed, has the same digest; a corpus with one window changed among the fingerprinted ones
    has another."""
    joined = "\n".join(sorted(set(fingerprints))).encode()
    return hashlib.blake2b(joined, digest_size=8).hexdigest()
