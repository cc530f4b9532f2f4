"""Signal processing and windowing on in-memory recordings with known sine components."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from eeg_prepare.config import ArtifactConfig, SignalConfig, WindowConfig
from eeg_prepare.readers import Recording
from eeg_prepare.signal import Continuous, process_signal
from eeg_prepare.windowing import cut_windows, plan_windows

NO_FILTER = SignalConfig(sampling_rate=128.0, l_freq=None, h_freq=None)
NO_REJECTION = ArtifactConfig(max_peak_to_peak_uv=None, flat_max_uv=None)


def amplitude(x: np.ndarray, sfreq: float, freq: float) -> float:
    """Amplitude (µV) of the ``freq`` Hz component of ``x`` [N], from the middle of the signal
    (edges are where filters ring); a Hann window and its coherent gain keep leakage small."""
    middle = x[len(x) // 4 : 3 * len(x) // 4]
    window = np.hanning(len(middle))
    spectrum = np.abs(np.fft.rfft(middle * window)) * 2 / window.sum()
    freqs = np.fft.rfftfreq(len(middle), 1 / sfreq)
    return float(spectrum[np.argmin(np.abs(freqs - freq))])


def continuous(data: np.ndarray, sfreq: float, bad: np.ndarray | None = None) -> Continuous:
    return Continuous(
        data=data,
        channels=tuple(f"C{i}" for i in range(len(data))),
        sfreq=sfreq,
        bad=np.zeros(data.shape[1], bool) if bad is None else bad,
        source_sfreq=sfreq,
    )


def test_resampling_and_band_pass_keep_the_pass_band_and_remove_the_rest(writers):
    source_rate = 500.0
    x = writers.sines([(10.0, 20.0), (45.0, 20.0), (0.2, 30.0), (180.0, 20.0)], 40.0, source_rate)
    # MNE default transition bands: the 30 Hz low-pass stops from 37.5 Hz; the 1 Hz high-pass is -6 dB at 0.5 Hz.
    config = SignalConfig(sampling_rate=128.0, l_freq=1.0, h_freq=30.0)
    out = process_signal(Recording(data=x[None, :], channels=("Fz",), sfreq=source_rate), config)
    assert out.sfreq == 128.0 and out.data.shape == (1, 40 * 128)
    y = out.data[0]
    assert amplitude(y, 128.0, 10.0) == pytest.approx(20.0, rel=0.03)  # pass band kept
    assert amplitude(y, 128.0, 45.0) < 0.2  # stop band of the low-pass
    assert amplitude(y, 128.0, 0.2) < 3.0  # a slow drift, 10x down (MNE: -6 dB at 0.5 Hz, 0 Hz stop edge)
    # 180 Hz lies above the new Nyquist (64 Hz): resampling must not fold it onto 128 - 180 -> 52 Hz.
    assert amplitude(y, 128.0, 52.0) < 0.2


def test_notch_removes_line_noise_only(writers):
    x = writers.sines([(30.0, 20.0), (50.0, 20.0)], 20.0, 256.0)
    config = SignalConfig(sampling_rate=256.0, l_freq=None, h_freq=None, notch=(50.0,))
    y = process_signal(Recording(data=x[None, :], channels=("Fz",), sfreq=256.0), config).data[0]
    assert amplitude(y, 256.0, 50.0) < 0.2
    assert amplitude(y, 256.0, 30.0) == pytest.approx(20.0, rel=0.02)


@pytest.mark.parametrize("method", ["fft", "polyphase"])
def test_resampling_methods_keep_a_sine(writers, method):
    x = writers.sines([(8.0, 10.0)], 20.0, 250.0)
    config = SignalConfig(sampling_rate=128.0, l_freq=None, h_freq=None, resample_method=method)
    out = process_signal(Recording(data=x[None, :], channels=("Fz",), sfreq=250.0), config)
    assert out.data.shape[1] == pytest.approx(20 * 128, abs=1)
    assert amplitude(out.data[0], 128.0, 8.0) == pytest.approx(10.0, rel=0.02)


def test_iir_filter_is_zero_phase(writers):
    x = writers.sines([(6.0, 10.0)], 20.0, 128.0)
    config = SignalConfig(sampling_rate=128.0, l_freq=1.0, h_freq=30.0, filter_method="iir")
    out = process_signal(Recording(data=x[None, :], channels=("Fz",), sfreq=128.0), config)
    middle = slice(512, -512)
    assert_allclose(out.data[0][middle], x[middle], atol=0.5)  # no delay: the sine is unchanged


def test_references():
    data = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [10.0, 10.0, 10.0]])
    average = SignalConfig(sampling_rate=10.0, l_freq=None, h_freq=None, reference="average")
    out = process_signal(Recording(data=data[:2], channels=("A", "B"), sfreq=10.0), average)
    assert_allclose(out.data, [[-1.0, 0.0, 1.0], [1.0, 0.0, -1.0]])
    # A reference channel read only for re-referencing is subtracted, then dropped.
    linked = SignalConfig(
        sampling_rate=10.0, l_freq=None, h_freq=None, reference="channels", reference_channels=("R",)
    )
    recording = Recording(data=data, channels=("A", "B"), extra=("R",), reference=("R",), sfreq=10.0)
    out = process_signal(recording, linked)
    assert out.channels == ("A", "B")
    assert_allclose(out.data, data[:2] - 10.0)


def test_non_finite_samples_are_bridged_and_remembered():
    data = np.tile(np.arange(10.0), (2, 1))
    data[0, 4] = np.nan
    data[1, 7] = np.inf
    out = process_signal(Recording(data=data, channels=("A", "B"), sfreq=128.0), NO_FILTER)
    assert np.isfinite(out.data).all()
    assert_allclose(out.data[0, 4], 4.0)
    assert out.bad.nonzero()[0].tolist() == [4, 7]


def test_samples_beyond_one_volt_are_named_and_treated_as_non_finite():
    """1e30 in a recording (a unit or write error) is bridged and its windows marked, not spread by the
    filters; the note names the channel, the count and the first time."""
    data = np.tile(np.arange(256.0), (2, 1))
    data[1, 128:168] = 1e30
    out = process_signal(Recording(data=data, channels=("A", "B"), sfreq=128.0), NO_FILTER)
    assert np.isfinite(out.data).all() and np.abs(out.data).max() < 256
    assert out.bad.nonzero()[0].tolist() == list(range(128, 168))
    assert any(
        "channel B: 40 sample(s) beyond ±1e+06 µV" in n and "first at 1 s (1e+30)" in n for n in out.notes
    )


def test_plan_windows_offsets_parents_overlap_and_incomplete():
    # 10 s at 10 Hz, parents of 4 s, sub-windows of 2 s every 1 s (1 s overlap).
    config = WindowConfig(window_seconds=2.0, overlap_seconds=1.0, parent_window_seconds=4.0)
    plan, dropped = plan_windows(100, 10.0, config)
    assert plan == [
        (0, 0, 0, 20), (0, 1, 10, 30), (0, 2, 20, 40),
        (1, 0, 40, 60), (1, 1, 50, 70), (1, 2, 60, 80),
        (2, 0, 80, 100),
    ]  # fmt: skip
    assert dropped == 0
    plan, dropped = plan_windows(105, 10.0, WindowConfig(window_seconds=2.0))
    assert plan[-1] == (0, 4, 80, 100) and len(plan) == 5 and dropped == 1
    plan, dropped = plan_windows(105, 10.0, WindowConfig(window_seconds=2.0, incomplete="pad"))
    assert plan[-1] == (0, 5, 100, 105) and dropped == 0


def test_windows_land_at_the_right_sample_offsets():
    ramp = np.arange(3000, dtype=np.float64)
    data = np.vstack([ramp, -ramp])
    config = WindowConfig(window_seconds=1.0, parent_window_seconds=3.0, remove_dc=False)
    windows = cut_windows(continuous(data, 100.0), config, NO_REJECTION)
    assert windows.data.shape == (30, 2, 100) and windows.data.dtype == np.float32
    assert windows.parent_ids.tolist() == [p for p in range(10) for _ in range(3)]
    assert windows.sub_ids.tolist() == [0, 1, 2] * 10
    for k in range(30):
        assert_allclose(windows.data[k, 0], ramp[100 * k : 100 * (k + 1)], err_msg=f"window {k}")
        assert_allclose(windows.data[k, 1], -ramp[100 * k : 100 * (k + 1)], err_msg=f"window {k}")
    assert_allclose(windows.starts, np.arange(30.0))
    assert_allclose(windows.ends, np.arange(30.0) + 1)


def test_padded_window_keeps_its_real_end_and_zero_tail():
    data = np.ones((1, 250)) * 5.0 + np.arange(250) % 2
    config = WindowConfig(window_seconds=1.0, incomplete="pad")
    windows = cut_windows(continuous(data, 100.0), config, NO_REJECTION)
    assert windows.counts.padded == 1 and windows.data.shape == (3, 1, 100)
    assert windows.ends[-1] == pytest.approx(2.5)
    assert_allclose(windows.data[-1, 0, 50:], 0.0)
    assert_allclose(windows.data[-1, 0, :50].mean(), 0.0, atol=1e-6)  # de-meaned over the real samples


def test_dc_is_removed_per_window_and_channel(writers):
    x = writers.sines([(10.0, 20.0)], 8.0, 128.0, offset=800.0)  # Muse-like offset, µV
    data = np.vstack([x, x + 50.0])
    windows = cut_windows(continuous(data, 128.0), WindowConfig(window_seconds=2.0), NO_REJECTION)
    assert_allclose(windows.data.mean(axis=2), 0.0, atol=1e-3)
    kept_dc = cut_windows(
        continuous(data, 128.0), WindowConfig(window_seconds=2.0, remove_dc=False), NO_REJECTION
    )
    assert_allclose(kept_dc.data.mean(axis=2), [[800.0, 850.0]] * 4, atol=0.1)


def test_artifact_windows_are_rejected_and_counted(writers):
    sfreq = 100.0
    x = writers.sines([(7.0, 20.0)], 10.0, sfreq)  # ten 1-s windows
    data = np.vstack([x, x])
    data[1, 250] += 1000.0  # window 2: a spike
    data[0, 520:660] = 3.0  # windows 5 and 6: a flat line of 1.4 s, at least 0.6 s in each
    bad = np.zeros(data.shape[1], bool)
    bad[905] = True  # window 9: a sample that was NaN in the recording
    config = ArtifactConfig(max_peak_to_peak_uv=300.0, flat_max_uv=1.0, flat_seconds=0.5)
    windows = cut_windows(continuous(data, sfreq, bad), WindowConfig(window_seconds=1.0), config)
    c = windows.counts
    assert (c.candidates, c.kept, c.peak_to_peak, c.flat, c.non_finite) == (10, 6, 1, 2, 1)
    assert windows.sub_ids.tolist() == [0, 1, 3, 4, 7, 8]
    kept = cut_windows(
        continuous(data, sfreq, bad),
        WindowConfig(window_seconds=1.0),
        ArtifactConfig(max_peak_to_peak_uv=None, flat_max_uv=None, non_finite="interpolate"),
    )
    assert kept.counts.kept == 10 and kept.counts.rejected == 0


def test_non_finite_rejection_maps_source_samples_to_resampled_windows(writers):
    # 250 Hz source, NaN at 3.5 s; resampled to 128 Hz, 1-s windows: only window 3 holds it.
    x = writers.sines([(5.0, 10.0)], 6.0, 250.0)
    x[875] = np.nan
    out = process_signal(Recording(data=x[None, :], channels=("Fz",), sfreq=250.0), NO_FILTER)
    windows = cut_windows(out, WindowConfig(window_seconds=1.0), ArtifactConfig())
    assert windows.counts.non_finite == 1
    assert windows.sub_ids.tolist() == [0, 1, 2, 4, 5]


def test_filter_warnings_become_notes_of_the_recording(writers):
    x = writers.sines([(5.0, 10.0)], 0.5, 128.0)  # far shorter than the 1 Hz high-pass filter
    out = process_signal(
        Recording(data=x[None, :], channels=("Fz",), sfreq=128.0), SignalConfig(sampling_rate=128.0)
    )
    assert any("longer than the signal" in note for note in out.notes)
    windows = cut_windows(out, WindowConfig(window_seconds=1.0), ArtifactConfig())
    assert windows.notes == out.notes and windows.counts.incomplete_dropped == 1
