"""The index of ``(file, channel)`` sequences, built from Parquet metadata alone."""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs
import numpy as np
import pyarrow.parquet as pq

from eeg_io.errors import EEGDataError
from eeg_io.layout import channel_columns, describe_type, find_column, find_parquet_files, open_parquet

__all__ = ["SequenceItem", "build_index", "file_identity"]

MISSING_CHANNEL_POLICIES: tuple[str, ...] = ("error", "skip")


@attrs.frozen(kw_only=True)
class SequenceItem:
    """One training sequence: one channel of one participant-run file.

    Attributes:
        file: path of the Parquet file.
        channel: channel name, upper-cased (the file may spell it ``Fz``).
        num_windows: rows in the file = sequence length L before any crop or dropped window.
        participant: participant id (the file's ``participant`` value, as a string).
        run: run id (the file's ``run`` value, as a string).
    """

    file: str
    channel: str
    num_windows: int
    participant: str
    run: str


def build_index(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    include_channels: Sequence[str] | None = None,
    exclude_channels: Sequence[str] = ("VEOG", "HEOG"),
    *,
    on_missing_channel: str = "error",
) -> list[SequenceItem]:
    """List every ``(file, channel)`` sequence under ``paths`` without reading any sample data.

    Folders are searched recursively for ``*.parquet``. Each file is opened for its footer only
    (schema, row count, column statistics); ``participant`` and ``run`` come from the column
    statistics, or from reading those two small columns when a writer left statistics out.

    Args:
        paths: a folder, a file, or a list of them.
        include_channels: only these channels (any case), in this order; None = every channel column.
        exclude_channels: channels never used (any case); applied after ``include_channels``.
        on_missing_channel: what to do when a file lacks a channel of ``include_channels``:
            ``"error"`` (default) or ``"skip"`` (use the channels it has).

    Returns:
        Items ordered by file path, then channel (``include_channels`` order, else file column order).

    Raises:
        EEGDataError: missing path, folder without Parquet files, unreadable/empty file, zero rows,
            no channel column, a missing or non-list included channel, missing or ambiguous
            ``participant``/``run`` values.
    """
    if isinstance(include_channels, str) or isinstance(exclude_channels, str):
        raise ValueError("include_channels and exclude_channels must be lists of names, not one string")
    include = None if include_channels is None else [c.upper() for c in include_channels]
    exclude = {c.upper() for c in exclude_channels}
    items: list[SequenceItem] = []
    for path in find_parquet_files(paths):
        with open_parquet(path) as parquet_file:
            schema = parquet_file.schema_arrow
            num_rows = parquet_file.metadata.num_rows
            if num_rows == 0:
                raise EEGDataError(f"{path}: zero rows (no windows)")
            channels = channel_columns(schema, path)
            selected = _select_channels(path, schema, channels, include, exclude, on_missing_channel)
            participant = _single_value(parquet_file, path, "participant")
            run = _single_value(parquet_file, path, "run")
        items.extend(
            SequenceItem(file=str(path), channel=c, num_windows=num_rows, participant=participant, run=run)
            for c in selected
        )
    return items


def file_identity(path: str | os.PathLike) -> tuple[str, int, int]:
    """``(resolved path, size in bytes, mtime in ns)``: what identifies a file's current content."""
    # abspath, not realpath: no system call per path component on every read. (A file reached
    # through two different symlinked paths merely gets two cache entries.)
    resolved = os.path.abspath(path)
    try:
        stat = os.stat(resolved)
    except FileNotFoundError:
        raise EEGDataError(f"{path}: no such file") from None
    return resolved, stat.st_size, stat.st_mtime_ns


def _select_channels(
    path: os.PathLike,
    schema,
    channels: dict[str, str],
    include: list[str] | None,
    exclude: set[str],
    on_missing_channel: str,
) -> list[str]:
    if include is None:
        selected = [c for c in channels if c not in exclude]
        if not channels:
            raise EEGDataError(
                f"{path}: no channel columns (expected list-typed columns, one window per row, besides "
                "the metadata columns)"
            )
        if not selected:
            raise EEGDataError(f"{path}: every channel column is excluded by exclude_channels")
        return selected
    selected = []
    for name in include:
        if name in exclude:
            continue
        if name in channels:
            selected.append(name)
            continue
        column = find_column(schema, name)
        if column is not None:
            type_ = schema.field(column).type
            raise EEGDataError(
                f"{path}: channel column {column!r} has type {describe_type(type_)}, "
                "expected a list of numbers (one window of samples per row)"
            )
        if on_missing_channel != "skip":  # DataConfig checks the policy; anything else is the strict one
            known = ", ".join(channels) or "none"
            raise EEGDataError(f"{path}: no column for channel {name} (channels in this file: {known})")
    if not selected:
        raise EEGDataError(f"{path}: none of the included channels is in this file")
    return selected


def _single_value(parquet_file: pq.ParquetFile, path: os.PathLike, name: str) -> str:
    """The one value of metadata column ``name`` in this file, as a string."""
    column = find_column(parquet_file.schema_arrow, name)
    if column is None:
        raise EEGDataError(f"{path}: missing metadata column {name!r}")
    value = _value_from_statistics(parquet_file, column)
    if value is not None:
        return str(value)
    values = parquet_file.read(columns=[column], use_threads=False).column(0)
    if values.null_count:
        raise EEGDataError(f"{path}: column {column!r} has empty (null) values")
    distinct = np.unique(np.asarray(values.to_pylist(), dtype=object).astype(str))
    if len(distinct) != 1:
        shown = ", ".join(distinct[:5])
        raise EEGDataError(
            f"{path}: column {column!r} holds {len(distinct)} different values ({shown}); "
            "expected one participant-run per file"
        )
    return str(distinct[0])


def _value_from_statistics(parquet_file: pq.ParquetFile, column: str) -> object | None:
    """The column's single value if every row group's min == max (exact), no nulls; else None."""
    metadata = parquet_file.metadata
    # Parquet leaf columns are numbered differently from Arrow fields (a list is one leaf, a struct
    # several), so find the leaf by its path.
    leaves = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if column not in leaves:
        return None
    index = leaves.index(column)
    value = None
    for group in range(metadata.num_row_groups):
        chunk = metadata.row_group(group).column(index)
        stats = chunk.statistics
        if stats is None or not stats.has_min_max or stats.null_count != 0:
            return None
        # Newer writers may store truncated string bounds; only exact bounds prove a single value.
        if not getattr(stats, "is_min_value_exact", True) or not getattr(stats, "is_max_value_exact", True):
            return None
        if stats.min != stats.max or (value is not None and stats.min != value):
            return None
        value = stats.min
    return value
