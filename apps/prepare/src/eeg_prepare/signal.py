"""The continuous part of processing: non-finite repair, re-reference, resample, filter.

Steps, in order (after channels were picked and converted to µV by the reader):

1. non-finite samples (NaN/Inf), and samples beyond :data:`PHYSICAL_LIMIT_UV` (1 V: not EEG; a unit
   error), are noted, then bridged by linear interpolation: FIR filtering and FFT resampling would
   otherwise spread one NaN (or one 1e30) over the whole recording. The windows that held them are
   rejected later (``artifacts.non_finite: reject``) or kept with the bridge (``interpolate``);
2. optional re-reference: the mean of the picked channels (``average``) or of ``reference_channels``
   is subtracted from every picked channel;
3. resample to ``signal.sampling_rate`` (MNE, FFT or polyphase; anti-aliased);
4. notch filters, then the band-pass / low-pass / high-pass, all zero-phase (MNE ``filter_data``).
"""

from __future__ import annotations

import warnings

import attrs
import numpy as np

from eeg_prepare.config import SignalConfig
from eeg_prepare.readers import Recording

#: No EEG sample reaches 1 V (1e6 µV); the same bound as eeg-io's reader (``eeg_io.PHYSICAL_LIMIT``).
PHYSICAL_LIMIT_UV = 1e6


@attrs.frozen(kw_only=True)
class Continuous:
    """A processed continuous recording, ready to be cut into windows.

    Attributes:
        data: float64 ``[C, M]`` µV at ``sfreq``.
        channels: output channel names, one per row.
        sfreq: the target sampling rate, Hz.
        bad: bool ``[N]`` at ``source_sfreq``: True where any channel held a non-finite value.
        source_sfreq: the recording's own sampling rate, Hz.
        notes: warnings raised on the way (e.g. a filter longer than the signal), deduplicated.
        bad_channels: the channels (output or reference-only) that held a non-finite value.
    """

    data: np.ndarray = attrs.field(repr=lambda a: f"array{a.shape}")
    channels: tuple[str, ...]
    sfreq: float
    bad: np.ndarray = attrs.field(repr=lambda a: f"{int(a.sum())} bad samples")
    source_sfreq: float
    notes: tuple[str, ...] = ()
    bad_channels: tuple[str, ...] = ()


def process_signal(recording: Recording, config: SignalConfig) -> Continuous:
    """Apply steps 1-4 of the module docstring to ``recording``."""
    import mne  # heavy import kept out of module import (dry runs, CLI start-up)

    data = np.array(recording.data, dtype=np.float64, copy=True)  # (C + E, N)
    names = [*recording.channels, *recording.extra]
    notes: list[str] = []
    with np.errstate(invalid="ignore"):
        beyond = np.abs(data) > PHYSICAL_LIMIT_UV  # (C + E, N); False on NaN
    for row in np.flatnonzero(beyond.any(axis=1)):
        first = int(np.flatnonzero(beyond[row])[0])
        notes.append(
            f"channel {names[row]}: {int(beyond[row].sum())} sample(s) beyond ±{PHYSICAL_LIMIT_UV:g} µV (1 V: "
            f"not EEG, a unit error?), first at {first / recording.sfreq:g} s ({data[row, first]:g}); "
            "treated as non-finite"
        )
    data[beyond] = np.nan
    finite = np.isfinite(data)  # (C + E, N)
    bad = ~finite.all(axis=0)  # (N,)
    bad_channels = tuple(name for name, ok in zip(names, finite.all(axis=1), strict=True) if not ok)
    del finite
    if bad.any():
        _bridge_non_finite(data)

    num_out = len(recording.channels)
    if config.reference == "average":
        data[:num_out] -= data[:num_out].mean(axis=0, keepdims=True)
    elif config.reference == "channels":
        rows = [names.index(name) for name in recording.reference]
        data[:num_out] -= data[rows].mean(axis=0, keepdims=True)
    data = data[:num_out]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not np.isclose(recording.sfreq, config.sampling_rate, rtol=0, atol=1e-9):
            data = mne.filter.resample(
                data,
                up=config.sampling_rate,
                down=recording.sfreq,
                method=config.resample_method,
                verbose="warning",  # warnings are caught into notes
            )
        phase = "zero"  # FIR: symmetric linear-phase, delay removed; IIR: forward-backward
        if config.notch:
            data = mne.filter.notch_filter(
                data,
                config.sampling_rate,
                list(config.notch),
                method=config.filter_method,
                phase=phase,
                verbose="warning",  # warnings are caught into notes
            )
        if config.l_freq is not None or config.h_freq is not None:
            data = mne.filter.filter_data(
                data,
                config.sampling_rate,
                config.l_freq,
                config.h_freq,
                method=config.filter_method,
                phase=phase,
                verbose="warning",  # warnings are caught into notes
            )
    for warning in caught:
        text = str(warning.message).strip()
        if text and text not in notes:
            notes.append(text)
    return Continuous(
        data=np.asarray(data, dtype=np.float64),
        channels=tuple(recording.channels),
        sfreq=float(config.sampling_rate),
        bad=bad,
        source_sfreq=float(recording.sfreq),
        notes=tuple(notes),
        bad_channels=bad_channels,
    )


def _bridge_non_finite(data: np.ndarray) -> None:
    """Replace non-finite samples of each row of ``data`` ``[C, N]`` in place by linear interpolation
    between the nearest finite neighbours (a row with none becomes zeros)."""
    samples = np.arange(data.shape[1])
    for row in data:
        finite = np.isfinite(row)
        if finite.all():
            continue
        if not finite.any():
            row[:] = 0.0
            continue
        row[~finite] = np.interp(samples[~finite], samples[finite], row[finite])
