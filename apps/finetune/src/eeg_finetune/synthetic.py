"""A synthetic labelled ("primary") dataset whose classes differ in their dominant rhythm.

For demos and tests: the classifier has something real to find. Each participant's signals are
EEG-like background from :func:`eeg_io.synthetic.synthetic_signals` (1/f noise, a weak alpha) plus a
strong sinusoidal rhythm whose frequency is set by the participant's class (e.g. 4 Hz for class 0,
16 Hz for class 1), with a per-participant jitter of frequency and phase. By default the rhythm is
phase-locked to the windows (it restarts near phase 0 in every window, like an evoked oscillation):
averaged over windows, an oscillation of random phase nearly cancels in any linear feature, so only a
phase-locked one is plainly visible to an untrained or briefly trained encoder. The file has the layout
that ``prepare primary`` writes: participant and label columns, window metadata, one
``list<float32>`` column per channel (µV).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eeg_io.synthetic import synthetic_signals

__all__ = ["write_synthetic_primary"]

SUB_WINDOWS_PER_PARENT = 4


def write_synthetic_primary(
    path: str | os.PathLike[str],
    participants: int = 12,
    channels: Sequence[str] = ("AF7", "AF8"),
    windows: int = 8,
    window_length: int = 64,
    sfreq: float = 64.0,
    rhythms_hz: Sequence[float] = (4.0, 16.0),
    rhythm_uv: float = 25.0,
    min_windows: int | None = None,
    phase_locked: bool = True,
    seed: int = 0,
    participant_column: str = "Participant",
    label_column: str = "Remission",
) -> Path:
    """Write a labelled dataset of ``participants`` people to the Parquet file ``path``.

    Participant ``i`` (id ``P01``, ``P02``, ...) has class ``i % len(rhythms_hz)``, so classes are
    balanced; its label is the class index (int64). Every channel carries the class rhythm
    ``rhythms_hz[class]`` (± 5 %, per participant) of amplitude ``rhythm_uv`` µV on top of the
    background; ``phase_locked`` restarts it in every window (else it runs continuously).

    Args:
        windows: windows per participant (``window_length`` samples each, ``sfreq`` Hz); with
            ``min_windows`` each participant gets a seeded count in ``min_windows..windows`` instead.
        seed: the file is a pure function of the arguments.

    Returns:
        ``path``.
    """
    if participants < 2 or windows < 1 or window_length < 1 or not channels:
        raise ValueError(
            f"need participants >= 2, windows >= 1, window_length >= 1 and channels; got "
            f"{participants}, {windows}, {window_length}, {list(channels)}"
        )
    if not rhythms_hz or any(not 0 < f < sfreq / 2 for f in rhythms_hz):
        raise ValueError(f"rhythms_hz must lie in (0, {sfreq / 2:g}) Hz (Nyquist), got {list(rhythms_hz)}")
    if min_windows is not None and not 1 <= min_windows <= windows:
        raise ValueError(f"min_windows must lie in 1..windows={windows}, got {min_windows}")
    rng = np.random.default_rng(seed)
    columns: dict[str, list] = {
        name: [] for name in (participant_column, label_column, "run", "parent_window_id", "sub_window_id")
    }
    columns.update(window_start=[], window_end=[])
    samples: dict[str, list[np.ndarray]] = {name: [] for name in channels}
    for index in range(participants):
        label = index % len(rhythms_hz)
        count = windows if min_windows is None else int(rng.integers(min_windows, windows + 1))
        num_samples = count * window_length
        signals = synthetic_signals(channels, num_samples, sfreq, seed=(seed, index)).astype(np.float64)
        times = np.arange(num_samples) / sfreq  # (N,) seconds
        frequency = rhythms_hz[label] * rng.uniform(0.95, 1.05)
        if phase_locked:  # the rhythm restarts in every window, near phase 0 (an evoked oscillation)
            clock = np.tile(np.arange(window_length) / sfreq, count)  # (N,) seconds since window start
            phases = rng.normal(0.0, 0.3, size=(len(channels), 1))
        else:  # one continuous oscillation, its phase random with respect to the windows
            clock = times
            phases = rng.uniform(0.0, 2 * np.pi, size=(len(channels), 1))
        signals += rhythm_uv * np.sin(2 * np.pi * frequency * clock[None, :] + phases)  # (C, N)
        ids = np.arange(count)
        columns[participant_column] += [f"P{index + 1:02d}"] * count
        columns[label_column] += [label] * count
        columns["run"] += ["1"] * count
        columns["parent_window_id"] += (ids // SUB_WINDOWS_PER_PARENT).tolist()
        columns["sub_window_id"] += (ids % SUB_WINDOWS_PER_PARENT).tolist()
        columns["window_start"] += (ids * window_length / sfreq).tolist()
        columns["window_end"] += ((ids + 1) * window_length / sfreq).tolist()
        for name, channel in zip(channels, signals, strict=True):
            samples[name].append(channel.astype(np.float32).reshape(count, window_length))
    arrays = {
        participant_column: pa.array(columns[participant_column], pa.string()),
        label_column: pa.array(columns[label_column], pa.int64()),
        "run": pa.array(columns["run"], pa.string()),
        "parent_window_id": pa.array(columns["parent_window_id"], pa.int64()),
        "sub_window_id": pa.array(columns["sub_window_id"], pa.int64()),
        "window_start": pa.array(columns["window_start"], pa.float64()),
        "window_end": pa.array(columns["window_end"], pa.float64()),
    }
    for name in channels:
        block = np.concatenate(samples[name])  # (rows, W)
        offsets = pa.array(np.arange(block.shape[0] + 1, dtype=np.int32) * window_length, pa.int32())
        arrays[name] = pa.ListArray.from_arrays(offsets, pa.array(block.ravel(), pa.float32()))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(pa.table(arrays), temporary)
    os.replace(temporary, path)
    return path
