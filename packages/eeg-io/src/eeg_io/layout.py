"""The pretraining Parquet layout: metadata columns, channel columns, row order.

One Parquet file per participant-run. The metadata columns are listed in ``METADATA_COLUMNS``;
every other list-typed column is a channel, one row per window, each cell the window's samples.
Channel names are compared case-insensitively and carried upper-cased.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eeg_io.arrow_numpy import to_numpy
from eeg_io.errors import EEGDataError

__all__ = [
    "METADATA_COLUMNS",
    "ORDER_COLUMNS",
    "PARQUET_SUFFIXES",
    "channel_columns",
    "describe_type",
    "find_column",
    "find_parquet_files",
    "is_list_type",
    "is_numeric_list_type",
    "open_parquet",
    "order_columns",
    "row_order",
    "sort_key",
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
        raise EEGDataError(f"{path}: not a readable Parquet file ({exc})") from None
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
