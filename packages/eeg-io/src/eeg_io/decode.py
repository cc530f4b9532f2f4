"""Arrow list columns -> ``[num_windows, window_length]`` float32 arrays, without Python loops over rows."""

from __future__ import annotations

import attrs
import numpy as np
import pyarrow as pa

from eeg_io.arrow_numpy import null_mask, to_numpy
from eeg_io.errors import EEGDataError
from eeg_io.layout import describe_type, is_numeric_list_type

__all__ = ["DecodedWindows", "decode_windows"]


@attrs.frozen(kw_only=True)
class DecodedWindows:
    """One channel's windows in file row order, padded or truncated to ``window_length``.

    Attributes:
        windows: float32 ``[N, W]``; rows that were null in the file are all NaN, padding is 0.
            May be a read-only view on Arrow memory: copy before writing.
        valid_lengths: int64 ``[N]`` count of real samples per row (``<= W``), or None when every row
            holds exactly ``W`` real samples (the common case, so no mask has to be built).
        num_padded: rows shorter than ``W`` (zero-padded at the end).
        num_truncated: rows longer than ``W`` (cut after ``W`` samples).
    """

    windows: np.ndarray
    valid_lengths: np.ndarray | None
    num_padded: int
    num_truncated: int


def decode_windows(column: pa.Array | pa.ChunkedArray, window_length: int, *, where: str) -> DecodedWindows:
    """Decode a list column (one window per row) into a dense float32 array.

    Windows shorter than ``window_length`` are zero-padded and longer ones truncated, both counted.
    Windows of different lengths where some are longer than ``window_length`` are refused: cutting
    windows of unequal lengths at one fixed sample count means the file mixes window sizes (or
    sampling rates), which truncation would hide.

    Args:
        column: ``list``, ``large_list`` or ``fixed_size_list`` of floats or integers.
        window_length: W, samples per window.
        where: ``"file: channel X"``, used in error messages.

    Raises:
        EEGDataError: non-numeric column, or mixed window lengths beyond ``window_length``.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.chunk(0) if column.num_chunks == 1 else pa.concat_arrays(column.chunks)
    if not is_numeric_list_type(column.type):
        raise EEGDataError(
            f"{where}: column type is {describe_type(column.type)}, expected a list of numbers per window"
        )
    num_rows = len(column)
    null_rows = null_mask(column) if column.null_count else None

    if pa.types.is_fixed_size_list(column.type):
        size = column.type.list_size
        # .values ignores the array's slice offset and .flatten() drops null slots; slice explicitly.
        flat = column.values.slice(column.offset * size, num_rows * size)
        lengths = np.full(num_rows, size, dtype=np.int64)
        offsets = np.arange(num_rows + 1, dtype=np.int64) * size
    else:
        offsets = to_numpy(column.offsets).astype(np.int64)
        flat = column.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        offsets = offsets - offsets[0]
        lengths = np.diff(offsets)
    # Null values inside a window become NaN here and are handled by the non-finite policy.
    values = to_numpy(flat).astype(np.float32, copy=False)

    real_lengths = lengths if null_rows is None else lengths[~null_rows]
    distinct = np.unique(real_lengths)
    if len(distinct) > 1 and distinct[-1] > window_length:
        first_long = int(np.flatnonzero(lengths > window_length)[0])
        shown = ", ".join(str(int(n)) for n in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise EEGDataError(
            f"{where}: windows have mixed lengths ({shown} samples) and some are longer than "
            f"window_length={window_length} (first at row {first_long}); expected one window length per file"
        )

    if len(distinct) <= 1:
        windows, valid_lengths, num_padded, num_truncated = _decode_uniform(
            values, num_rows, int(distinct[0]) if len(distinct) else window_length, window_length, null_rows
        )
    else:
        windows, valid_lengths, num_padded = _decode_ragged(
            values, offsets, lengths, window_length, null_rows
        )
        num_truncated = 0
    if null_rows is not None:
        windows = np.array(windows, dtype=np.float32)  # writable copy
        windows[null_rows] = np.nan
        if valid_lengths is not None:
            valid_lengths[null_rows] = window_length
    return DecodedWindows(
        windows=windows, valid_lengths=valid_lengths, num_padded=num_padded, num_truncated=num_truncated
    )


def _decode_uniform(
    values: np.ndarray, num_rows: int, length: int, window_length: int, null_rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, int, int]:
    """All non-null rows have ``length`` samples: a reshape, plus one slice or pad."""
    num_real = num_rows if null_rows is None else int(num_rows - null_rows.sum())
    if null_rows is not None:
        # Null rows hold no values in ``values`` (variable lists) or ``length`` placeholder slots
        # (fixed-size lists); scatter the real rows into place.
        rows = np.zeros((num_rows, length), dtype=np.float32)
        if values.size == num_rows * length:
            rows = values.reshape(num_rows, length)
        else:
            rows[~null_rows] = values.reshape(num_real, length)
    else:
        rows = values.reshape(num_rows, length)
    if length == window_length:
        return rows, None, 0, 0
    if length > window_length:
        return rows[:, :window_length], None, 0, num_real
    windows = np.zeros((num_rows, window_length), dtype=np.float32)
    windows[:, :length] = rows
    return windows, np.full(num_rows, length, dtype=np.int64), num_real, 0


def _decode_ragged(
    values: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    window_length: int,
    null_rows: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows of different lengths, none longer than ``window_length``: one vectorised scatter."""
    num_rows = len(lengths)
    windows = np.zeros((num_rows, window_length), dtype=np.float32)
    row_of_value = np.repeat(np.arange(num_rows), lengths)
    col_of_value = np.arange(len(values)) - np.repeat(offsets[:-1], lengths)
    windows[row_of_value, col_of_value] = values
    short = lengths < window_length
    if null_rows is not None:
        short &= ~null_rows
    return windows, lengths.copy(), int(short.sum())
