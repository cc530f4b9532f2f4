"""The pretraining Parquet layout: metadata columns, channel columns, row order.

One Parquet file per participant-run. The metadata columns are listed in ``METADATA_COLUMNS``;
every other list-typed column is a channel, one row per window, each cell the window's samples.
Channel names are compared case-insensitively and carried upper-cased.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eeg_config import atomic_write, one_line
from eeg_io.arrow_numpy import to_numpy
from eeg_io.errors import EEGDataError

__all__ = [
    "METADATA_COLUMNS",
    "ORDER_COLUMNS",
    "PARQUET_SUFFIXES",
    "channel_columns",
    "contiguous_windows",
    "describe_type",
    "find_column",
    "find_parquet_files",
    "is_list_type",
    "is_numeric_list_type",
    "open_parquet",
    "order_columns",
    "primary_table",
    "row_order",
    "sort_key",
    "windows_table",
    "write_table",
]

METADATA_COLUMNS: tuple[str, ...] = (
    "participant",
    "run",
    "parent_window_id",
    "sub_window_id",
    "window_start",
    "window_end",
)
# Columns that define the time order of the windows, in sort-key priority.
ORDER_COLUMNS: tuple[str, ...] = ("parent_window_id", "sub_window_id", "window_start")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".parq", ".pq")


def find_parquet_files(paths: str | os.PathLike | list | tuple) -> list[Path]:
    """All Parquet files under ``paths`` (folders are searched recursively), sorted, without duplicates.

    Raises:
        EEGDataError: a path does not exist, a file given explicitly is not ``*.parquet``, or no
            Parquet file was found at all.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if len(paths) == 0:
        raise EEGDataError("no dataset paths given: expected a folder or a list of Parquet files")
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            in_dir = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES and p.is_file()
            )
            if not in_dir:
                raise EEGDataError(f"{path}: folder holds no Parquet files (*.parquet), searched recursively")
            found.extend(in_dir)
        elif path.is_file():
            if path.suffix.lower() not in PARQUET_SUFFIXES:
                raise EEGDataError(f"{path}: not a Parquet file name (expected a *.parquet file)")
            found.append(path)
        else:
            raise EEGDataError(f"{path}: no such file or folder")
    unique = sorted({p.resolve(): p for p in found}.values(), key=lambda p: str(p))
    return unique


@contextmanager
def open_parquet(path: str | os.PathLike) -> Iterator[pq.ParquetFile]:
    """Open ``path`` as Parquet for the duration of a ``with`` block (no handle outlives it).

    Opening per read keeps the datasets safe to use in forked DataLoader workers.

    Raises:
        EEGDataError: missing, empty (0 bytes) or not a Parquet file.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise EEGDataError(f"{path}: no such file") from None
    if size == 0:
        raise EEGDataError(f"{path}: empty file (0 bytes), expected a Parquet file")
    try:
        parquet_file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise EEGDataError(f"{path}: not a readable Parquet file ({one_line(exc)})") from None
    try:
        yield parquet_file
    finally:
        parquet_file.close()


def is_list_type(type_: pa.DataType) -> bool:
    """True for ``list``, ``large_list`` and ``fixed_size_list`` columns."""
    return pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_)


def is_numeric_list_type(type_: pa.DataType) -> bool:
    """True for a list type whose values are floating point or integer numbers."""
    if not is_list_type(type_):
        return False
    value_type = type_.value_type
    return pa.types.is_floating(value_type) or pa.types.is_integer(value_type)


def describe_type(type_: pa.DataType) -> str:
    """A short name of an Arrow type for messages, e.g. ``double`` or ``list<string>``."""
    return str(type_).replace("<item: ", "<").replace("<element: ", "<")


def channel_columns(schema: pa.Schema, source: str | os.PathLike) -> dict[str, str]:
    """Map upper-cased channel name -> column name as written in the file, in file column order.

    A channel column is any list-typed column that is not a metadata column.

    Raises:
        EEGDataError: two columns name the same channel once upper-cased, or a list column holds
            something other than numbers.
    """
    metadata = {name.lower() for name in METADATA_COLUMNS}
    channels: dict[str, str] = {}
    for field in schema:
        if field.name.lower() in metadata or not is_list_type(field.type):
            continue
        if not is_numeric_list_type(field.type):
            raise EEGDataError(
                f"{source}: channel column {field.name!r} has type {describe_type(field.type)}, "
                "expected a list of numbers (one window of samples per row)"
            )
        key = field.name.upper()
        if key in channels:
            raise EEGDataError(
                f"{source}: columns {channels[key]!r} and {field.name!r} name the same channel {key} "
                "(channel names are compared case-insensitively)"
            )
        channels[key] = field.name
    return channels


def find_column(schema: pa.Schema, name: str) -> str | None:
    """The column of ``schema`` called ``name`` ignoring case, as spelled in the file; None if absent."""
    for field_name in schema.names:
        if field_name.lower() == name.lower():
            return field_name
    return None


def order_columns(schema: pa.Schema) -> list[str]:
    """The columns that order the rows in time, as present in ``schema`` (file spelling).

    ``parent_window_id`` then ``sub_window_id`` when present, otherwise ``window_start``.
    """
    parent = find_column(schema, "parent_window_id")
    if parent is not None:
        sub = find_column(schema, "sub_window_id")
        return [parent] if sub is None else [parent, sub]
    start = find_column(schema, "window_start")
    return [] if start is None else [start]


def row_order(table: pa.Table, columns: list[str]) -> np.ndarray | None:
    """Stable permutation that sorts the rows by ``columns``; None when they are already in order.

    Returns:
        int64 array [num_rows] of source row indices, or None for "keep file order".
    """
    if not columns:
        return None
    keys = [sort_key(table.column(c)) for c in columns]
    # np.lexsort sorts by the last key first, hence the reversal.
    order = np.lexsort(keys[::-1])
    if np.array_equal(order, np.arange(len(order))):
        return None
    return order.astype(np.int64, copy=False)


def sort_key(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numpy sort key ``[N]`` for a column: numbers as they are, anything else ranked as strings.

    np.lexsort wants plain numbers, so window ids written as strings are replaced by their rank.
    """
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return to_numpy(column)
    return np.unique(np.array([str(v) for v in column.to_pylist()]), return_inverse=True)[1]


# --- writing ---------------------------------------------------------------------------------------
# The one writer of both layouts: prepare, the synthetic corpora, the benchmarks' real-data conversions
# and the test fixtures build their tables here and write them with ``write_table``.


def windows_table(
    channels: Mapping[str, np.ndarray],
    *,
    participant: str,
    run: str,
    window_start: np.ndarray | None = None,
    window_end: np.ndarray | None = None,
    parent_window_id: np.ndarray | None = None,
    sub_window_id: np.ndarray | None = None,
) -> pa.Table:
    """The pretraining-layout table of one participant-run: K rows, one per window.

    Args:
        channels: channel name -> samples ``[K, W]`` (µV), in column order; every channel has the same K.
        window_start, window_end: ``[K]`` seconds from the start of the recording (float64); both None
            (the columns are left out) where the times are unknown, e.g. separate trials.
        parent_window_id, sub_window_id: ``[K]`` int64 window ids; default ``0..K-1`` and all zeros
            (each window is its own parent).

    Returns:
        Columns ``participant, run, parent_window_id, sub_window_id[, window_start, window_end]`` then
        one ``list<float32>`` column per channel.
    """
    if not channels:
        raise ValueError("windows_table needs at least one channel")
    blocks = {name: np.asarray(samples) for name, samples in channels.items()}
    shapes = {name: block.shape for name, block in blocks.items()}
    if any(len(shape) != 2 for shape in shapes.values()) or len({shape[0] for shape in shapes.values()}) != 1:
        raise ValueError(f"channels must all be [K, W] arrays with the same K, got shapes {shapes}")
    num_rows = next(iter(shapes.values()))[0]
    if parent_window_id is None:
        parent_window_id = np.arange(num_rows, dtype=np.int64)
    if sub_window_id is None:
        sub_window_id = np.zeros(num_rows, dtype=np.int64)
    if (window_start is None) != (window_end is None):
        raise ValueError("give both window_start and window_end, or neither (times unknown)")
    per_row = {"parent_window_id": parent_window_id, "sub_window_id": sub_window_id}
    if window_start is not None:
        per_row.update(window_start=window_start, window_end=window_end)
    for name, values in per_row.items():
        if np.shape(values) != (num_rows,):
            raise ValueError(
                f"{name} must have one value per window ({num_rows}), got shape {np.shape(values)}"
            )
    columns: dict[str, pa.Array] = {
        "participant": _repeated_string(participant, num_rows),
        "run": _repeated_string(run, num_rows),
        "parent_window_id": _numbers(parent_window_id, pa.int64()),
        "sub_window_id": _numbers(sub_window_id, pa.int64()),
    }
    if window_start is not None:
        columns["window_start"] = _numbers(window_start, pa.float64())
        columns["window_end"] = _numbers(window_end, pa.float64())
    for name, block in blocks.items():
        length = block.shape[1]
        offsets = _numbers(np.arange(num_rows + 1, dtype=np.int64) * length, pa.int32())
        columns[name] = pa.ListArray.from_arrays(offsets, _numbers(block.reshape(-1), pa.float32()))
    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


def contiguous_windows(count: int, window_length: int, sampling_rate: float, sub_per_parent: int = 1) -> dict:
    """The id and time columns of ``count`` back-to-back windows of one continuous recording, as
    :func:`windows_table` keyword arguments: window ``i`` is sub-window ``i % sub_per_parent`` of parent
    ``i // sub_per_parent`` and spans ``[i, i + 1) * window_length / sampling_rate`` seconds."""
    ids = np.arange(count, dtype=np.int64)
    return {
        "parent_window_id": ids // sub_per_parent,
        "sub_window_id": ids % sub_per_parent,
        "window_start": ids * window_length / sampling_rate,
        "window_end": (ids + 1) * window_length / sampling_rate,
    }


def primary_table(
    windows: pa.Table,
    labels: int | Sequence[int] | np.ndarray,
    *,
    participant_column: str = "Participant",
    label_column: str = "Remission",
) -> pa.Table:
    """The primary (labelled) layout: a :func:`windows_table` with the participant id and label first.

    ``labels`` is one int64 label for the whole table or one per row (per-window labels: trials,
    epochs). The participant id column doubles as the ``participant`` metadata column when it is
    spelled so (case-insensitively); under another name it is added in front.
    """
    num_rows = windows.num_rows
    values = np.broadcast_to(np.asarray(labels, dtype=np.int64), (num_rows,))
    table = windows.add_column(1, label_column, _numbers(values, pa.int64()))
    if participant_column.lower() == "participant":
        return table.rename_columns([participant_column, *table.column_names[1:]])
    return table.add_column(0, participant_column, table.column("participant"))


def write_table(table: pa.Table, path: str | os.PathLike, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``table`` to the Parquet file ``path`` atomically (temporary file in the same folder, then a
    rename): a reader never sees a half-written file. ``metadata`` values are stored JSON-encoded in the
    file's key-value metadata. Returns ``path``."""
    target = Path(path)
    if metadata:
        stored = dict(table.schema.metadata or {})
        stored.update(
            {key.encode(): json.dumps(value, sort_keys=True).encode() for key, value in metadata.items()}
        )
        table = table.replace_schema_metadata(stored)
    # Dictionary encoding suits the repeated ids; sample values only waste time trying it.
    ids = [field.name for field in table.schema if not is_list_type(field.type)]
    return atomic_write(
        target, lambda handle: pq.write_table(table, handle, compression="snappy", use_dictionary=ids)
    )


# Arrays are built from buffers: pa.array()/pa.scalar() import pandas when it is installed, which
# costs seconds in every fresh process (DataLoader workers, CLI runs).
_NUMPY_TYPES = {
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


def _numbers(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    values = np.ascontiguousarray(values, dtype=_NUMPY_TYPES[type_])
    return pa.Array.from_buffers(type_, len(values), [None, pa.py_buffer(values)])


def _repeated_string(text: str, count: int) -> pa.Array:
    data = text.encode()
    offsets = np.arange(count + 1, dtype=np.int32) * np.int32(len(data))
    return pa.Array.from_buffers(
        pa.string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data * count)]
    )
