"""``validate``: check every file of a corpus against the pretraining layout, reporting all problems."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from eeg_io.arrow_numpy import null_mask, to_numpy
from eeg_io.errors import EEGDataError
from eeg_io.layout import (
    METADATA_COLUMNS,
    describe_type,
    find_column,
    find_parquet_files,
    is_list_type,
    is_numeric_list_type,
    open_parquet,
)
from eeg_io.normalize import PHYSICAL_LIMIT

__all__ = ["Problem", "validate"]


@attrs.frozen
class Problem:
    """One problem found in one file (``file`` is the path as found, or the folder for corpus-wide ones)."""

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def validate(path: str | os.PathLike, window_length: int | None = None) -> list[Problem]:
    """Check every Parquet file under ``path`` (recursively) and return all problems found.

    Per file: readable Parquet; at least one row (window); the metadata columns of
    ``eeg_io.layout.METADATA_COLUMNS`` present; one ``participant``/``run`` value; at least one channel
    column; every non-metadata column a list of numbers; no two columns naming one channel; one
    window length across rows and channels (equal to ``window_length`` when given); only finite
    values. Across files: one window length (files differing from the most common one are named).
    Sample columns are read one at a time, so memory stays at one column.

    Returns:
        Problems in file order; empty when the corpus is clean.
    """
    try:
        files = find_parquet_files(path)
    except EEGDataError as exc:
        return [Problem(str(path), str(exc).removeprefix(f"{path}: "))]
    problems: list[Problem] = []
    lengths: dict[Path, int] = {}
    for file in files:
        file_problems, length = _check_file(file, window_length)
        problems.extend(file_problems)
        if length is not None:
            lengths[file] = length
    if window_length is None and len(set(lengths.values())) > 1:
        common, count = Counter(lengths.values()).most_common(1)[0]
        for file, length in lengths.items():
            if length != common:
                problems.append(
                    Problem(
                        str(file),
                        f"window length {length} differs from the {common} samples of {count} other file(s)",
                    )
                )
    return problems


def _check_file(file: Path, window_length: int | None) -> tuple[list[Problem], int | None]:
    """Problems of one file, and its window length when it has exactly one."""
    problems: list[Problem] = []

    def report(message: str) -> None:
        problems.append(Problem(str(file), message))

    try:
        with open_parquet(file) as parquet_file:
            schema = parquet_file.schema_arrow
            if parquet_file.metadata.num_rows == 0:
                report("zero rows (no windows)")
            missing = [c for c in METADATA_COLUMNS if find_column(schema, c) is None]
            if missing:
                report(f"missing metadata column(s) {', '.join(missing)}")
            metadata = {c.lower() for c in METADATA_COLUMNS}
            channels: dict[str, str] = {}
            for field in schema:
                if field.name.lower() in metadata:
                    continue
                if not is_numeric_list_type(field.type):
                    kind = "list" if is_list_type(field.type) else "column"
                    report(
                        f"{kind} {field.name!r} has type {describe_type(field.type)}; channel columns "
                        "must be lists of numbers (one window per row)"
                    )
                elif field.name.upper() in channels:
                    report(
                        f"columns {channels[field.name.upper()]!r} and {field.name!r} name the same channel"
                    )
                else:
                    channels[field.name.upper()] = field.name
            if not channels:
                report("no channel columns (list-typed columns besides the metadata)")
            for name in ("participant", "run"):
                column = find_column(schema, name)
                if column is not None and parquet_file.metadata.num_rows:
                    values = parquet_file.read(columns=[column], use_threads=False).column(0)
                    if values.null_count:
                        report(f"column {column!r} has empty (null) values")
                    elif len(pc.unique(values)) > 1:
                        report(
                            f"column {column!r} holds {len(pc.unique(values))} values; expected one per file"
                        )
            file_lengths: Counter[int] = Counter()
            for key, column in channels.items():
                array = parquet_file.read(columns=[column], use_threads=False).column(0)
                problems.extend(Problem(str(file), m) for m in _check_channel(key, array, file_lengths))
    except EEGDataError as exc:
        report(str(exc).removeprefix(f"{file}: "))
        return problems, None
    if len(file_lengths) > 1:
        shown = ", ".join(f"{n} samples x {count}" for n, count in sorted(file_lengths.items()))
        report(f"inconsistent window lengths across rows/channels ({shown} windows)")
        return problems, None
    if len(file_lengths) == 1:
        (length,) = file_lengths
        if window_length is not None and length != window_length:
            report(f"windows have {length} samples, expected window_length={window_length}")
        return problems, length
    return problems, None


def _check_channel(channel: str, array: pa.ChunkedArray, lengths: Counter[int]) -> list[str]:
    """Messages for one channel column; adds its window lengths to ``lengths``."""
    messages = []
    array = array.combine_chunks()
    null = null_mask(array)
    if array.null_count:
        first = int(np.flatnonzero(null)[0])
        messages.append(f"channel {channel}: {array.null_count} empty (null) window(s), first at row {first}")
    # Null rows count as 0 values: list_flatten skips them, so offsets below stay aligned with rows.
    row_lengths = np.nan_to_num(to_numpy(pc.list_value_length(array)), nan=0.0).astype(np.int64)
    distinct, counts = np.unique(row_lengths[~null], return_counts=True)
    lengths.update(dict(zip(distinct.tolist(), counts.tolist(), strict=True)))
    empty = (row_lengths == 0) & ~null
    if empty.any():
        messages.append(f"channel {channel}: window with 0 samples at row {int(np.flatnonzero(empty)[0])}")
    values = to_numpy(pc.list_flatten(array))
    offsets = np.concatenate([[0], np.cumsum(row_lengths)])

    def first_row(bad: np.ndarray) -> tuple[int, int]:
        """The file row and the sample within it of the first True in ``bad`` (through the list offsets)."""
        first_value = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(offsets, first_value, side="right") - 1)
        return row, first_value - int(offsets[row])

    finite = np.isfinite(values)
    if not finite.all():
        row, _ = first_row(~finite)
        messages.append(
            f"channel {channel}: {int((~finite).sum())} non-finite value(s) (NaN/Inf), first in row {row}"
        )
    beyond = finite & (np.abs(np.where(finite, values, 0.0)) > PHYSICAL_LIMIT)
    if beyond.any():
        row, sample = first_row(beyond)
        messages.append(
            f"channel {channel}: {int(beyond.sum())} value(s) beyond ±{PHYSICAL_LIMIT:g} (1 V in µV: not EEG "
            f"in any unit, a unit error?), first in row {row} at sample {sample} "
            f"({values[offsets[row] + sample]:g})"
        )
    return messages
