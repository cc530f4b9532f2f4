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

from eeg_io.layout import contiguous_windows, primary_table, windows_table, write_table
from eeg_io.synthetic import SUB_WINDOWS_PER_PARENT, synthetic_signals

__all__ = ["write_synthetic_primary", "write_synthetic_windows"]


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
    tables = []
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
        tables.append(
            _labelled_table(
                signals.reshape(len(channels), count, window_length), channels, f"P{index + 1:02d}", "1",
                label, sfreq, participant_column, label_column,
            )
        )  # fmt: skip
    return write_table(pa.concat_tables(tables), path)


def write_synthetic_windows(
    path: str | os.PathLike[str],
    people: int = 6,
    runs: int = 2,
    windows: int = 6,
    channels: Sequence[str] = ("AF7", "AF8"),
    window_length: int = 64,
    sfreq: float = 64.0,
    rhythm_hz: float = 8.0,
    class_amplitudes_uv: Sequence[float] = (4.0, 30.0),
    labels: str = "run",
    phase_locked: bool = False,
    seed: int = 0,
    participant_column: str = "Participant",
    label_column: str = "Label",
    group_column: str = "Person",
) -> Path:
    """A dataset labelled per window (trial), with people as groups.

    Person ``i`` (participant ``S1``, ``S2``, ...; group column ``group_column`` = ``G1``, ... with two
    people per group) makes ``runs`` runs of ``windows`` windows. ``labels="run"``: run ``r`` of person
    ``i`` has class ``(i + r) % K`` in all its windows (labels per recording, like trials of one
    session; every person with two or more runs has both classes); ``labels="window"``: each window's
    class is drawn at random. Classes differ **only** in the amplitude ``class_amplitudes_uv[class]``
    of a ``rhythm_hz`` rhythm (± 5 % per window) whose phase is random in every window unless
    ``phase_locked``: only features that see power (not the waveform's sign) tell them apart.

    Returns:
        ``path``.
    """
    if labels not in ("run", "window"):
        raise ValueError(f"labels must be 'run' or 'window', got {labels!r}")
    rng = np.random.default_rng(seed)
    classes = len(class_amplitudes_uv)
    tables = []
    clock = np.arange(window_length) / sfreq  # (W,) seconds since the window's start
    for person in range(people):
        for run in range(runs):
            count = windows
            background = synthetic_signals(
                channels, count * window_length, sfreq, seed=(seed, person, run)
            ).astype(np.float64)
            background = background.reshape(len(channels), count, window_length)  # (C, L, W)
            if labels == "run":
                targets = np.full(count, (person + run) % classes)
            else:
                targets = rng.integers(0, classes, size=count)
            for w in range(count):
                frequency = rhythm_hz * rng.uniform(0.95, 1.05)
                phase = (
                    rng.normal(0.0, 0.3, (len(channels), 1))
                    if phase_locked
                    else rng.uniform(0, 2 * np.pi, (len(channels), 1))
                )
                amplitude = class_amplitudes_uv[int(targets[w])]
                background[:, w] += amplitude * np.sin(2 * np.pi * frequency * clock[None, :] + phase)
            table = _labelled_table(
                background, channels, f"S{person + 1}", str(run + 1), targets, sfreq, participant_column,
                label_column,
            )  # fmt: skip
            tables.append(table.add_column(1, group_column, pa.array([f"G{person // 2 + 1}"] * count)))
    return write_table(pa.concat_tables(tables), path)


def _labelled_table(
    signals: np.ndarray,
    channels: Sequence[str],
    participant: str,
    run: str,
    labels: int | np.ndarray,
    sfreq: float,
    participant_column: str,
    label_column: str,
) -> pa.Table:
    """The primary-layout table of one participant-run: ``signals`` ``(C, K, W)`` µV, one label or ``K``."""
    _, count, window_length = signals.shape
    windows = windows_table(
        {name: signals[c] for c, name in enumerate(channels)},
        participant=participant,
        run=run,
        **contiguous_windows(count, window_length, sfreq, SUB_WINDOWS_PER_PARENT),
    )
    return primary_table(windows, labels, participant_column=participant_column, label_column=label_column)
