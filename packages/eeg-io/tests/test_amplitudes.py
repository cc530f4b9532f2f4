"""Amplitudes that cannot be EEG (issue #24): 1e30 in 40 samples of one channel, e.g. a unit or write error.

Before: the float32 sum of squares overflowed, the standard deviation became inf and the whole sequence was
silently zeroed, and the data checks said "no warnings". Now statistics cannot overflow, and every reader
and check names the file, channel and window of a value beyond ±1e6 (1 V in µV).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_io import EEGDataError, read_channel_windows, validate
from eeg_io.data_checks import check_data
from eeg_io.normalize import PHYSICAL_LIMIT, normalize

from .conftest import write_file

L, W = 6, 16


def _sequence(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 20.0, size=(L, W))  # (L, W) µV


def _with_absurd_values(tmp_path, name: str = "f.parquet"):
    clean = _sequence()
    bad = clean.copy()
    bad[3, 2:10] = 1e30  # window 3, samples 2..9
    bad[4, :] = 1e30  # and the whole of window 4
    path = write_file(tmp_path / name, {"Cz": bad.tolist(), "Fz": clean.tolist()})
    return path, clean, bad


@pytest.mark.parametrize("normalization", ["sequence", "window"])
def test_statistics_do_not_overflow(normalization):
    windows = (_sequence() * 1e17).astype(np.float32)  # squares beyond float32's range, still finite
    out = normalize(windows, normalization)
    assert np.isfinite(out).all() and np.abs(out).max() > 0.5, "the sequence was zeroed"
    expected = normalize((windows / np.float32(1e17)).astype(np.float32), normalization)
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_the_reader_names_file_channel_window_and_sample_of_a_value_beyond_the_bound(tmp_path):
    path, _, _ = _with_absurd_values(tmp_path)
    with pytest.raises(EEGDataError) as info:
        read_channel_windows(path, "Cz", W)
    message = str(info.value)
    assert f"{path}: channel CZ: value 1e+30 beyond ±{PHYSICAL_LIMIT:g}" in message
    assert "in row 3 (window 3 in time order) at sample 2, 2 window(s) in all" in message
    assert "nan_policy" in message and "\n" not in message
    # the other channel of the same file is EEG and reads as before
    assert np.isfinite(read_channel_windows(path, "Fz", W).windows).all()


def test_nan_policies_treat_values_beyond_the_bound_as_non_finite(tmp_path):
    path, clean, bad = _with_absurd_values(tmp_path)
    dropped = read_channel_windows(path, "Cz", W, nan_policy="drop_window", normalization="none")
    np.testing.assert_array_equal(dropped.rows, [0, 1, 2, 5])
    np.testing.assert_allclose(dropped.windows, clean[[0, 1, 2, 5]].astype(np.float32))
    zeroed = read_channel_windows(path, "Cz", W, nan_policy="zero", normalization="sequence")
    usable = np.abs(bad) <= PHYSICAL_LIMIT
    assert (zeroed.windows[~usable] == 0).all()
    kept = zeroed.windows[usable]
    # standardised over the usable samples alone: not a sequence of zeros with one spike
    assert abs(kept.mean()) < 1e-5 and kept.std() == pytest.approx(1.0, rel=1e-4)


def test_validate_and_the_data_checks_report_values_beyond_the_bound(tmp_path):
    path, _, _ = _with_absurd_values(tmp_path)
    problems = validate(tmp_path)
    assert [p.message for p in problems] == [
        f"channel CZ: 24 value(s) beyond ±{PHYSICAL_LIMIT:g} (1 V in µV: not EEG in any unit, a unit error?), "
        "first in row 3 at sample 2 (1e+30)"
    ]
    report = check_data([path], sampling_rate=float(W))
    assert report.counts.get("beyond_physical") == 2, report.counts
    (warning,) = [w.message for w in report.warnings if "beyond" in w.message]
    assert "channel CZ: 2 window(s) with values beyond ±1e+06" in warning and "first at row 3" in warning


@settings(max_examples=60, deadline=None)
@given(
    value=st.floats(-1e7, 1e7, allow_nan=False),
    row=st.integers(0, L - 1),
    sample=st.integers(0, W - 1),
    scale=st.floats(1e-3, 1e3),
)
def test_any_single_value_beyond_the_bound_is_found_and_none_within_it(value, row, sample, scale):
    from eeg_io.normalize import finish_sequence

    windows = (_sequence(1) * scale).astype(np.float32)
    windows[row, sample] = np.float32(value)
    args = dict(normalization="sequence", scale=1.0, nan_policy="error", where="f: channel CZ")
    if abs(float(np.float32(value))) > PHYSICAL_LIMIT:
        with pytest.raises(
            EEGDataError, match=rf"in row {row} \(window {row} in time order\) at sample {sample}"
        ):
            finish_sequence(windows, None, **args)
    else:
        out, kept = finish_sequence(windows, None, **args)
        assert kept is None and np.isfinite(out).all()
