"""Read one channel of one pretraining Parquet file as a time-ordered ``[L, W]`` float32 array."""

from __future__ import annotations

import functools
import os

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eeg_config import one_line
from eeg_io.decode import decode_windows
from eeg_io.errors import EEGDataError
from eeg_io.index import file_identity
from eeg_io.layout import channel_columns, open_parquet, order_columns, row_order
from eeg_io.normalize import finish_sequence

__all__ = ["ChannelWindows", "FileLayout", "file_layout", "read_channel_windows"]

# Footers of this many files stay cached per process (a few kB each for ~70 columns): enough for
# the files a DataLoader worker is interleaving, bounded whatever the corpus size.
_LAYOUT_CACHE_FILES = 64


@attrs.frozen(kw_only=True)
class FileLayout:
    """What every read of one file needs and a footer holds: parsed once per file version.

    Attributes:
        metadata: the Parquet footer.
        channels: upper-cased channel name -> column name as spelled in the file.
        order: int64 ``[num_rows]`` row permutation into time order, or None when already in order.
        num_rows: windows in the file.
    """

    metadata: pq.FileMetaData = attrs.field(repr=False)
    channels: dict[str, str]
    order: np.ndarray | None = attrs.field(repr=False)
    num_rows: int


def file_layout(file: str | os.PathLike) -> FileLayout:
    """The layout of ``file``, cached per (path, size, mtime), so a changed file is parsed again.

    Raises:
        EEGDataError: unreadable or not Parquet, duplicate or non-numeric channel columns.
    """
    return _cached_layout(*file_identity(file))


@functools.lru_cache(maxsize=_LAYOUT_CACHE_FILES)
def _cached_layout(path: str, size: int, mtime_ns: int) -> FileLayout:
    with open_parquet(path) as parquet_file:
        schema = parquet_file.schema_arrow
        channels = channel_columns(schema, path)
        sort_by = order_columns(schema)
        num_rows = parquet_file.metadata.num_rows
        order = None
        if sort_by and num_rows:
            order = row_order(parquet_file.read(columns=sort_by, use_threads=False), sort_by)
        return FileLayout(metadata=parquet_file.metadata, channels=channels, order=order, num_rows=num_rows)


@attrs.frozen(kw_only=True)
class ChannelWindows:
    """One ``(file, channel)`` sequence, decoded.

    Attributes:
        windows: float32 ``[L, W]`` in time order, padded/truncated to W, non-finite policy and
            normalisation applied. Owned and writable.
        rows: int64 ``[L]`` file row index of each window.
        num_padded: windows shorter than W in the file (zero-padded).
        num_truncated: windows longer than W in the file (cut).
        num_dropped: windows removed by ``nan_policy="drop_window"``.
    """

    windows: np.ndarray
    rows: np.ndarray
    num_padded: int
    num_truncated: int
    num_dropped: int


def read_channel_windows(
    file: str | os.PathLike,
    channel: str,
    window_length: int,
    *,
    normalization: str = "none",
    scale: float = 1.0,
    nan_policy: str = "error",
) -> ChannelWindows:
    """Read one channel column (plus the small row-order columns) and decode it.

    Only that channel's column chunk is read and decoded; the file is opened and closed inside
    this call. The file's footer, channel names and row order come from :func:`file_layout`. Rows are put in time order by ``parent_window_id, sub_window_id`` (or
    ``window_start``) when those columns exist, file order otherwise.

    Args:
        file: a pretraining Parquet file.
        channel: channel name, matched case-insensitively (``"fz"`` finds column ``Fz``).
        window_length: W, samples per window (shorter windows zero-padded, longer ones truncated).
        normalization: ``"none"`` (default here: raw values times ``scale``), ``"sequence"`` or ``"window"``.
        nan_policy: ``"error"``, ``"zero"`` or ``"drop_window"``.

    Raises:
        EEGDataError: unreadable file, missing channel, zero rows, bad column type, mixed window
            lengths beyond W, or a non-finite value under ``nan_policy="error"``.
    """
    layout = file_layout(file)
    key = channel.upper()
    if key not in layout.channels:
        known = ", ".join(layout.channels) or "none"
        raise EEGDataError(f"{file}: no channel column {channel!r} (channels in this file: {known})")
    if layout.num_rows == 0:
        raise EEGDataError(f"{file}: zero rows (no windows)")
    column_name = layout.channels[key]
    where = f"{file}: channel {key}"
    try:
        # The footer comes from the layout cache: parsing it again for every column of a wide
        # file would cost about as much as decoding the column. use_threads=False: one column
        # gains nothing from Arrow's pool, and threads would compete with DataLoader workers.
        parquet_file = pq.ParquetFile(file, metadata=layout.metadata)
        try:
            column = parquet_file.read(columns=[column_name], use_threads=False).column(0)
        finally:
            parquet_file.close()
    except (pa.ArrowException, OSError) as exc:
        raise EEGDataError(f"{where}: could not read the column ({one_line(exc)})") from None
    decoded = decode_windows(column, window_length, where=where)
    order = layout.order
    windows, valid_lengths = decoded.windows, decoded.valid_lengths
    rows = np.arange(layout.num_rows, dtype=np.int64)
    if order is not None:
        windows = windows[order]
        valid_lengths = None if valid_lengths is None else valid_lengths[order]
        rows = order
    out, kept = finish_sequence(
        windows,
        valid_lengths,
        normalization=normalization,
        scale=scale,
        nan_policy=nan_policy,
        where=where,
        rows=rows,
    )
    num_dropped = 0
    if kept is not None:
        num_dropped = int((~kept).sum())
        rows = rows[kept]
    return ChannelWindows(
        windows=out,
        rows=rows,
        num_padded=decoded.num_padded,
        num_truncated=decoded.num_truncated,
        num_dropped=num_dropped,
    )
