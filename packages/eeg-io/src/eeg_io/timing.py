"""Window times: in seconds (this toolkit's writer) or in samples (the seed's pipeline), and the sampling rate.

Two layouts of ``window_start`` / ``window_end`` are in use:

- **seconds** from the start of the recording (``eeg_io.write_pretraining_file``, ``prepare``);
- **samples**, offsets within the parent window (the seed's pipeline: ``start = i * window_length``,
  ``end = start + window_length``), so ``window_end - window_start`` equals the window's sample count and
  the offsets restart at every parent window.

``data.window_times: auto`` (the default) recognises the layout from the data where that is unambiguous:
a span equal to the window's samples is samples (no EEG is sampled at 1 Hz); any other span is seconds.
Declare ``seconds`` or ``samples`` where that is not enough. Window times in samples say nothing about the
sampling rate, so the rate is then taken from the config (or the corpus) unchecked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pyarrow.compute as pc

from eeg_io.errors import EEGDataError
from eeg_io.layout import channel_columns, find_column, open_parquet

__all__ = [
    "WINDOW_TIME_UNITS",
    "check_sampling_rate",
    "implied_sampling_rate",
    "recognise_window_times",
    "window_spans",
]

#: ``data.window_times``: how ``window_start``/``window_end`` count.
WINDOW_TIME_UNITS: tuple[str, ...] = ("auto", "seconds", "samples")
#: Relative disagreement tolerated between the setting and ``samples / (window_end - window_start)``.
TOLERANCE = 0.02

Unit = Literal["seconds", "samples"]


def window_spans(path: str | os.PathLike, rows: int = 64) -> tuple[np.ndarray, np.ndarray] | None:
    """``(samples, spans)`` of the first ``rows`` windows of the file's first channel (float64 each, only
    windows with a positive finite span); None when the file has no usable window times."""
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
    try:
        spans = np.asarray(batch.column(1).to_numpy(zero_copy_only=False), dtype=np.float64) - np.asarray(
            batch.column(0).to_numpy(zero_copy_only=False), dtype=np.float64
        )
    except (TypeError, ValueError):  # times that are not numbers: validate reports them
        return None
    samples = np.asarray(
        pc.list_value_length(batch.column(2)).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    usable = np.isfinite(spans) & (spans > 0) & (samples > 0)
    if not usable.any():
        return None
    return samples[usable], spans[usable]


def recognise_window_times(samples: np.ndarray, spans: np.ndarray) -> Unit:
    """``"samples"`` when the median span equals the windows' sample count (within :data:`TOLERANCE`),
    ``"seconds"`` otherwise."""
    ratio = float(np.median(samples / spans))
    return "samples" if abs(ratio - 1.0) <= TOLERANCE else "seconds"


def implied_sampling_rate(
    path: str | os.PathLike, rows: int = 64, window_times: str = "auto"
) -> float | None:
    """``median(samples per window / (window_end - window_start))`` over the first ``rows`` windows, in Hz;
    None when the file has no window times, or they count samples (``window_times``: declared, or
    recognised under ``"auto"``) and so imply no rate."""
    found = window_spans(path, rows)
    if found is None:
        return None
    samples, spans = found
    unit = recognise_window_times(samples, spans) if window_times == "auto" else window_times
    if unit == "samples":
        return None
    return float(np.median(samples / spans))


def check_sampling_rate(
    files: Iterable[str | os.PathLike],
    sampling_rate: float,
    max_files: int = 4,
    window_times: str = "auto",
    key: str = "data.sampling_rate",
) -> None:
    """Raise :class:`EEGDataError` (naming ``key`` and the file) when the window times of the first
    ``max_files`` files, read as seconds, imply another rate, or (``window_times: samples``) do not span
    the windows' samples. Files without ``window_start``/``window_end`` pass, and so do window times in
    samples: they imply no rate."""
    if window_times not in WINDOW_TIME_UNITS:
        raise ValueError(f"window_times must be one of {WINDOW_TIME_UNITS}, got {window_times!r}")
    for index, path in enumerate(files):
        if index >= max_files:
            break
        found = window_spans(path)
        if found is None:
            continue
        samples, spans = found
        unit = recognise_window_times(samples, spans) if window_times == "auto" else window_times
        ratio = float(np.median(samples / spans))
        if unit == "samples":
            if abs(ratio - 1.0) > TOLERANCE:
                raise EEGDataError(
                    f"data.window_times: samples, but in {path} window_end - window_start is "
                    f"{float(np.median(spans)):g} where the windows hold {float(np.median(samples)):g} samples; "
                    "set data.window_times: seconds (or auto) if its window times are in seconds"
                )
            continue
        if abs(ratio - sampling_rate) > TOLERANCE * sampling_rate:
            advice = (
                f"set {key}: {ratio:.4g} if that is the data's rate"
                if ratio >= 2.0
                else "check the file's window times"
            )
            raise EEGDataError(
                f"{key}: {sampling_rate:g} Hz disagrees with {path}, whose windows hold {float(np.median(samples)):g} "
                f"samples in {float(np.median(spans)):g} s of window_end - window_start ({ratio:.4g} Hz, read as "
                f"seconds; data.window_times: {window_times}); {advice}, or set data.window_times: samples if "
                "they count samples"
            )
