"""Check a configured sampling rate against the window times a Parquet corpus records."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pyarrow.compute as pc

from eeg_io.errors import EEGDataError
from eeg_io.layout import channel_columns, find_column, open_parquet

__all__ = ["check_sampling_rate", "implied_sampling_rate"]

#: Relative disagreement tolerated between the setting and ``samples / (window_end - window_start)``.
TOLERANCE = 0.02


def implied_sampling_rate(path: str | os.PathLike, rows: int = 64) -> float | None:
    """``median(samples per window / (window_end - window_start))`` over the first ``rows`` windows of the
    file's first channel, in Hz; None when the file has no window times (or they are not positive)."""
    with open_parquet(path) as parquet_file:
        schema = parquet_file.schema_arrow
        start, end = find_column(schema, "window_start"), find_column(schema, "window_end")
        channels = channel_columns(schema, path)
        if start is None or end is None or not channels:
            return None
        channel = next(iter(channels.values()))
        batch = next(parquet_file.iter_batches(batch_size=rows, columns=[start, end, channel]), None)
    if batch is None or batch.num_rows == 0:
        return None
    duration = np.asarray(batch.column(1).to_numpy(zero_copy_only=False), dtype=np.float64) - np.asarray(
        batch.column(0).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    samples = np.asarray(
        pc.list_value_length(batch.column(2)).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    usable = np.isfinite(duration) & (duration > 0) & (samples > 0)
    if not usable.any():
        return None
    return float(np.median(samples[usable] / duration[usable]))


def check_sampling_rate(files: Iterable[str | os.PathLike], sampling_rate: float, max_files: int = 4) -> None:
    """Raise :class:`EEGDataError` (naming ``data.sampling_rate`` and the file) when the window times of
    the first ``max_files`` files imply another rate. Files without ``window_start``/``window_end`` pass."""
    for index, path in enumerate(files):
        if index >= max_files:
            break
        implied = implied_sampling_rate(path)
        if implied is not None and abs(implied - sampling_rate) > TOLERANCE * sampling_rate:
            raise EEGDataError(
                f"data.sampling_rate: {sampling_rate:g} Hz disagrees with {path}, whose windows hold "
                f"{implied:.4g} samples per second of window_end - window_start; set data.sampling_rate: {implied:.4g}"
            )
