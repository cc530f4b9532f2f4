"""A synthetic EEG corpus in the pretraining Parquet layout, for demos, tests and benchmarks.

The signals are EEG-like, not EEG. The base (:func:`synthetic_signals`): a 1/f background (exponent
0.8-1.4 per recording) mixed across the scalp so that neighbouring electrodes correlate, an alpha rhythm
(8.5-11.5 Hz, per participant) strongest over the back of the head whose strength waxes and wanes over
seconds, and a little 50 Hz line noise. Values are µV.

With ``dynamics=True`` (what :func:`write_synthetic_corpus` writes) the spectrum also changes over time
the way real recordings do, so a window's band power is predictable from its neighbours but not from
the recording's average spectrum:

* **slow state changes**: the recording switches between three states (alert, relaxed, drowsy) with
  dwell times of about 40 s (exponential), blended over ~4 s; each state scales the rhythms below
  (alert: beta up, alpha down; relaxed: alpha up; drowsy: theta up);
* **alpha bursts** at the participant's alpha frequency, posterior, and **beta bursts** (16-24 Hz, per
  participant), fronto-central, each with a log-normal envelope that comes and goes over tens of
  seconds (low-passed around 0.03-0.05 Hz);
* **frontal-midline theta** (4.5-7 Hz) and a **central mu rhythm** (10.5-13 Hz) with a per-participant
  dominant hemisphere: participant-specific frequencies, and a random per-channel gain (0.5-1.5) on
  every rhythm, so each channel has its own mix;
* **artefacts**: eye blinks (about one per 10 s, ~150 µV, 0.2-s bumps over the frontal-polar
  electrodes) and muscle bursts (about one per 45 s, 1-3 s of >= 20 Hz noise over temporal electrodes).

Rhythms above the Nyquist frequency are left out. Unknown electrode names get no spatially weighted rhythm.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from eeg_io.layout import METADATA_COLUMNS, contiguous_windows, windows_table, write_table

__all__ = [
    "STANDARD_10_10_64",
    "STANDARD_10_20",
    "SUB_WINDOWS_PER_PARENT",
    "synthetic_signals",
    "write_synthetic_corpus",
]

# The 19 electrodes of the classic 10-20 system, in the usual spelling (files carry them so; the
# index upper-cases them).
STANDARD_10_20: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip
# A common 64-electrode 10-10 cap (the 10-20 set plus 45 intermediate positions).
STANDARD_10_10_64: tuple[str, ...] = (
    *STANDARD_10_20,
    "AF7", "AF3", "AFz", "AF4", "AF8", "F5", "F1", "F2", "F6", "FT7", "FC5", "FC3", "FC1", "FCz",
    "FC2", "FC4", "FC6", "FT8", "C5", "C1", "C2", "C6", "TP7", "CP5", "CP3", "CP1", "CPz", "CP2",
    "CP4", "CP6", "TP8", "P5", "P1", "P2", "P6", "PO7", "PO3", "POz", "PO4", "PO8", "Oz",
    "FT9", "FT10", "TP9", "TP10",
)  # fmt: skip

SUB_WINDOWS_PER_PARENT = 4
_LINE_FREQUENCY_HZ = 50.0
_NEIGHBOUR_SCALE = 0.4  # unit-sphere chord length over which background correlation falls off


def write_synthetic_corpus(
    root: str | os.PathLike,
    participants: int = 4,
    runs: int = 1,
    channels: Sequence[str] | None = None,
    windows_per_run: int = 16,
    window_length: int = 2048,
    sfreq: float = 256.0,
    seed: int = 0,
    dynamics: bool = True,
) -> list[Path]:
    """Write ``participants x runs`` Parquet files and return their paths (sorted).

    Layout: ``root/sub-001/sub-001_run-1.parquet``, ... with metadata columns ``participant``
    (``"sub-001"``), ``run`` (``"1"``), ``parent_window_id`` / ``sub_window_id`` (int64; four
    consecutive sub-windows per parent window), ``window_start`` / ``window_end`` (float64 seconds
    from the start of the run), then one ``list<float32>`` column per channel: row i holds samples
    ``[i*W, (i+1)*W)`` of the continuous recording, in µV.

    The output is a pure function of the arguments: the same arguments give byte-identical files.

    Args:
        channels: channel column names; default ``STANDARD_10_20``. Names the built-in montage does
            not know (e.g. ``VEOG``) get an uncorrelated background and a weak alpha.
        window_length: W, samples per window; ``sfreq`` in Hz.
        dynamics: add the time-varying spectrum (states, bursts, rhythms, artefacts; module docstring);
            False writes the base signals only.
    """
    channels = tuple(STANDARD_10_20 if channels is None else channels)
    _check_arguments(participants, runs, channels, windows_per_run, window_length, sfreq, seed)
    root = Path(root)

    def write(participant: int, run: int) -> Path:
        participant_id = f"sub-{participant + 1:03d}"
        signals = synthetic_signals(
            channels,
            windows_per_run * window_length,
            sfreq,
            seed=(seed, participant, run),
            dynamics=dynamics,
            participant_seed=(seed, participant),
        )
        table = _windows_table(signals, channels, participant_id, str(run + 1), window_length, sfreq)
        return write_table(table, root / participant_id / f"{participant_id}_run-{run + 1}.parquet")

    files = [(participant, run) for participant in range(participants) for run in range(runs)]
    # Each file has its own seeds, so files can be written at once: numpy's array work and Parquet
    # writing release the GIL, and the bytes do not depend on the order.
    workers = min(len(files), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1, 4)
    if workers <= 1:
        return sorted(write(*file) for file in files)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return sorted(pool.map(lambda file: write(*file), files))


def synthetic_signals(
    channels: Sequence[str],
    num_samples: int,
    sfreq: float,
    seed: int | tuple[int, ...] = 0,
    dynamics: bool = False,
    participant_seed: int | tuple[int, ...] | None = None,
) -> np.ndarray:
    """EEG-like signals, float32 ``[C, num_samples]`` in µV, deterministic in ``seed``.

    ``dynamics`` adds the time-varying spectrum described in the module docstring; the participant's
    rhythm frequencies and dominant hemisphere come from ``participant_seed`` (default ``seed``), so
    every run of one participant shares them. The base signal is the same with or without ``dynamics``.
    """
    rng = np.random.default_rng(seed)
    num_channels = len(channels)
    positions, known = _positions(channels)
    times = np.arange(num_samples) / sfreq  # (N,) seconds

    # 1/f^beta background: independent sources, then spatial smoothing so neighbours correlate.
    exponent = rng.uniform(0.8, 1.4)
    sources = _coloured_noise(rng, num_channels, num_samples, sfreq, lambda f: f ** (-exponent / 2), 0.5)
    mixing = _neighbour_mixing(positions, known)  # (C, C)
    background = mixing @ sources * (12.0 * rng.uniform(0.7, 1.3))  # (C, N)
    background *= rng.uniform(0.8, 1.2, size=(num_channels, 1))  # electrode impedance spread

    # Alpha: one drifting-phase oscillator, weighted towards posterior electrodes (y < 0), with an
    # envelope that varies over seconds (log-normal, low-passed around 0.2 Hz).
    alpha_hz = rng.uniform(8.5, 11.5)
    phase = 2 * np.pi * alpha_hz * times + np.cumsum(rng.normal(0.0, 0.03, num_samples))
    phase_offsets = rng.normal(0.0, 0.2, size=(num_channels, 1))
    envelope = np.exp(
        0.6 * _coloured_noise(rng, 1, num_samples, sfreq, lambda f: np.exp(-((f / 0.2) ** 2)), 0.0)
    )
    posterior = np.where(known, np.clip(-positions[:, 1], 0.0, 1.0), 0.0)
    weights = (0.25 + 1.25 * posterior) * rng.uniform(0.8, 1.2, size=num_channels)  # (C,)
    alpha = 10.0 * weights[:, None] * envelope * np.sin(phase[None, :] + phase_offsets)

    signals = background + alpha
    if sfreq / 2 > _LINE_FREQUENCY_HZ:  # below Nyquist only
        line_phase = rng.uniform(0, 2 * np.pi, size=(num_channels, 1))
        signals += 0.8 * np.sin(2 * np.pi * _LINE_FREQUENCY_HZ * times[None, :] + line_phase)
    if dynamics:
        person = np.random.default_rng(seed if participant_seed is None else participant_seed)
        signals += _dynamics(rng, person, positions, known, num_samples, sfreq, alpha_hz)
    return signals.astype(np.float32)


# State gains (alert, relaxed, drowsy) of the alpha, beta and theta rhythms.
_STATE_GAINS = {"alpha": (0.3, 1.5, 0.6), "beta": (1.4, 0.6, 0.3), "theta": (0.3, 0.5, 1.6)}
_STATE_DWELL_S = 40.0
_BLINK_RATE_HZ = 0.1
_MUSCLE_RATE_HZ = 1.0 / 45.0


def _dynamics(
    rng: np.random.Generator,
    person: np.random.Generator,
    positions: np.ndarray,
    known: np.ndarray,
    num_samples: int,
    sfreq: float,
    alpha_hz: float,
) -> np.ndarray:
    """The time-varying part ``[C, N]`` (µV): states, bursts, rhythms, artefacts (module docstring).

    ``rng`` draws the recording's own randomness; ``person`` the participant's traits (frequencies,
    dominant mu hemisphere), shared by all of that participant's runs.
    """
    num_channels = len(known)
    times = np.arange(num_samples) / sfreq
    x, y, z = (np.where(known, positions[:, k], 0.0) for k in range(3))
    beta_hz, theta_hz, mu_hz = (
        person.uniform(16.0, 24.0),
        person.uniform(4.5, 7.0),
        person.uniform(10.5, 13.0),
    )
    mu_side = person.choice((-1.0, 1.0))

    # Slow states: exponential dwell times, one-hot, blended over ~4 s by a moving average.
    state = np.zeros(num_samples, dtype=np.int64)
    start, current = 0, int(rng.integers(3))
    while start < num_samples:
        dwell = max(1, int(rng.exponential(_STATE_DWELL_S) * sfreq))
        state[start : start + dwell] = current
        start += dwell
        current = int((current + rng.integers(1, 3)) % 3)
    blend = max(1, min(num_samples, int(4.0 * sfreq)))
    kernel = np.ones(blend) / blend
    one_hot = np.stack([np.convolve((state == k).astype(float), kernel, mode="same") for k in range(3)])

    def gain(name: str) -> np.ndarray:  # (N,) the states' blended gain of one rhythm
        return np.asarray(_STATE_GAINS[name]) @ one_hot

    def envelope(cutoff_hz: float, depth: float) -> np.ndarray:  # (N,) log-normal, slow
        slow = _coloured_noise(rng, 1, num_samples, sfreq, lambda f: np.exp(-((f / cutoff_hz) ** 2)), 0.0)[0]
        return np.exp(depth * slow)

    def rhythm(frequency: float) -> np.ndarray:  # (C, N) drifting phase, small per-channel phase offsets
        phase = 2 * np.pi * frequency * times + np.cumsum(rng.normal(0.0, 0.02, num_samples))
        return np.sin(phase[None, :] + rng.normal(0.0, 0.3, size=(num_channels, 1)))

    def channel_gain() -> np.ndarray:  # (C, 1)
        return rng.uniform(0.5, 1.5, size=(num_channels, 1))

    out = np.zeros((num_channels, num_samples))
    nyquist = sfreq / 2
    sources = (
        # (frequency, amplitude µV, spatial weight (C,), state gain, envelope cutoff Hz)
        (alpha_hz, 12.0, 0.2 + np.clip(-y, 0.0, 1.0), gain("alpha"), 0.04),
        (beta_hz, 5.0, 0.3 + np.clip(z, 0.0, 1.0) * (1.0 - 0.5 * np.clip(-y, 0.0, 1.0)), gain("beta"), 0.05),
        (theta_hz, 8.0, np.clip(y + 0.3, 0.0, 1.0) * np.exp(-4.0 * x**2), gain("theta"), 0.03),
        (
            mu_hz,
            6.0,
            np.clip(z, 0.0, 1.0) * np.exp(-6.0 * y**2) * np.clip(1.0 + mu_side * x, 0.0, 2.0),
            1.0,
            0.05,
        ),
    )
    for frequency, amplitude, spatial, state_gain, cutoff in sources:
        if frequency >= nyquist:
            continue
        weights = np.where(known, spatial, 0.0)[:, None] * channel_gain()  # (C, 1)
        out += amplitude * weights * (state_gain * envelope(cutoff, 0.8))[None, :] * rhythm(frequency)

    # Eye blinks: 0.2-s bumps, strongest at the frontal-polar electrodes.
    frontal = np.where(known, np.clip((y - 0.5) / 0.5, 0.0, 1.0) ** 2, 0.0)[:, None]  # (C, 1)
    blink = np.zeros(num_samples)
    width = 0.08 * sfreq
    span = np.arange(-int(4 * width), int(4 * width) + 1)
    for centre in np.flatnonzero(rng.random(num_samples) < _BLINK_RATE_HZ / sfreq):
        idx = centre + span
        keep = (idx >= 0) & (idx < num_samples)
        blink[idx[keep]] += rng.uniform(100.0, 200.0) * np.exp(-0.5 * (span[keep] / width) ** 2)
    out += frontal * blink[None, :]

    # Muscle bursts: 1-3 s of >= 20 Hz noise over temporal electrodes (only when 20 Hz is below Nyquist).
    if nyquist > 20.0:
        temporal = np.where(known, np.clip((np.abs(x) - 0.6) / 0.4, 0.0, 1.0), 0.0)[:, None]
        emg = _coloured_noise(rng, num_channels, num_samples, sfreq, lambda f: np.ones_like(f), 20.0)
        burst = np.zeros(num_samples)
        for centre in np.flatnonzero(rng.random(num_samples) < _MUSCLE_RATE_HZ / sfreq):
            length = int(rng.uniform(1.0, 3.0) * sfreq)
            stop = min(num_samples, centre + length)
            burst[centre:stop] = np.hanning(length)[: stop - centre]
        out += 10.0 * temporal * emg * burst[None, :]
    return out


def _coloured_noise(rng, rows: int, num_samples: int, sfreq: float, gain, highpass_hz: float) -> np.ndarray:
    """Gaussian noise ``[rows, N]`` with amplitude spectrum ``gain(f)``, zero below ``highpass_hz``, unit std."""
    spectrum = np.fft.rfft(rng.standard_normal((rows, num_samples)), axis=1)
    freqs = np.fft.rfftfreq(num_samples, 1.0 / sfreq)
    shaped = np.zeros_like(freqs)
    keep = (freqs > 0) & (freqs >= highpass_hz)
    shaped[keep] = gain(freqs[keep])
    noise = np.fft.irfft(spectrum * shaped, n=num_samples, axis=1)
    std = noise.std(axis=1, keepdims=True)
    return noise / np.where(std > 0, std, 1.0)


def _positions(channels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Unit-sphere positions ``[C, 3]`` (x right, y anterior, z up) and bool ``[C]`` known-to-montage."""
    from eeg_montage import standard_montage  # numpy-only, but only the synthetic writer needs it

    montage = standard_montage()
    known = np.array([montage.has(name) for name in channels], dtype=bool)
    positions = np.zeros((len(channels), 3))
    if known.any():
        positions[known] = montage.coords([c for c, k in zip(channels, known, strict=True) if k])
    return positions, known


def _neighbour_mixing(positions: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Row-normalised Gaussian kernel of electrode distance; unknown electrodes mix only with themselves."""
    distances = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)  # (C, C)
    kernel = np.exp(-0.5 * (distances / _NEIGHBOUR_SCALE) ** 2)
    both_known = known[:, None] & known[None, :]
    kernel = np.where(both_known, kernel, np.eye(len(known)))
    return kernel / np.sqrt((kernel**2).sum(axis=1, keepdims=True))  # unit variance per channel


def _windows_table(
    signals: np.ndarray, channels: Sequence[str], participant: str, run: str, window_length: int, sfreq: float
) -> pa.Table:
    num_windows = signals.shape[1] // window_length
    usable = signals[:, : num_windows * window_length]
    return windows_table(
        {
            name: samples.reshape(num_windows, window_length)
            for name, samples in zip(channels, usable, strict=True)
        },
        participant=participant,
        run=run,
        **contiguous_windows(num_windows, window_length, sfreq, SUB_WINDOWS_PER_PARENT),
    )


def _check_arguments(participants, runs, channels, windows_per_run, window_length, sfreq, seed) -> None:
    for name, value in (
        ("participants", participants),
        ("runs", runs),
        ("windows_per_run", windows_per_run),
        ("window_length", window_length),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if not isinstance(sfreq, int | float) or not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"sfreq must be a positive number of Hz, got {sfreq!r}")
    if not channels or not all(isinstance(c, str) and c.strip() for c in channels):
        raise ValueError(f"channels must be a non-empty list of names, got {list(channels)!r}")
    upper = [c.upper() for c in channels]
    if len(set(upper)) != len(upper):
        raise ValueError(f"channels repeat a name (names are case-insensitive): {list(channels)}")
    clashes = [c for c in channels if c.lower() in METADATA_COLUMNS]
    if clashes:
        raise ValueError(f"channels {clashes} clash with the metadata columns {METADATA_COLUMNS}")
