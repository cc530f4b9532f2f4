from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eeg_io import read_channel_windows
from eeg_io.normalize import finish_sequence, normalize

from .conftest import write_file


def signal(seed=0, shape=(6, 32), offset=40.0, spread=15.0) -> np.ndarray:
    return (offset + spread * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def test_sequence_zscore_has_mean_0_std_1_over_the_whole_sequence():
    x = signal()
    out = normalize(x, "sequence")
    assert out.dtype == np.float32
    assert abs(out.astype(np.float64).mean()) < 1e-5
    assert out.astype(np.float64).std() == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(out, (x - x.mean(dtype=np.float64)) / x.std(dtype=np.float64), atol=1e-5)
    assert np.abs(out.mean(axis=1)).max() > 1e-3  # windows keep their relative offsets


def test_window_zscore_has_mean_0_std_1_per_window():
    x = signal() + np.arange(6, dtype=np.float32)[:, None] * 100
    out = normalize(x, "window").astype(np.float64)
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=1), 1.0, atol=1e-5)


def test_none_applies_the_scale_only():
    x = signal()
    np.testing.assert_array_equal(normalize(x, "none"), x)
    np.testing.assert_allclose(normalize(x, "none", scale=1e-3), x * np.float32(1e-3), rtol=1e-6)


@pytest.mark.parametrize("mode", ["sequence", "window"])
@pytest.mark.parametrize("value", [0.0, 7.5, -1e6, 1e-30])
def test_flat_input_gives_zeros_not_nan(mode, value):
    out = normalize(np.full((3, 8), value, dtype=np.float32), mode)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, 0.0, atol=1e-6)


def test_one_flat_window_among_others_stays_finite():
    x = signal()
    x[2] = 3.0
    out = normalize(x, "window")
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[2], 0.0)
    assert out[0].std() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("mode", ["sequence", "window"])
def test_statistics_ignore_padding_and_padding_stays_zero(mode):
    x = signal(shape=(4, 8))
    lengths = np.array([8, 5, 8, 3])
    x[1, 5:] = 0.0
    x[3, 3:] = 0.0
    out, kept = finish_sequence(x, lengths, normalization=mode, scale=1.0, nan_policy="error", where="t")
    assert kept is None
    valid = np.arange(8)[None, :] < lengths[:, None]
    assert (out[~valid] == 0).all()
    if mode == "sequence":
        real = out[valid].astype(np.float64)
        assert abs(real.mean()) < 1e-5 and real.std() == pytest.approx(1.0, abs=1e-5)
    else:
        for row, n in enumerate(lengths):
            assert out[row, :n].astype(np.float64).std() == pytest.approx(1.0, abs=1e-5)


def test_zero_policy_keeps_nonfinite_samples_out_of_the_statistics():
    x = signal(shape=(2, 8))
    x[0, 3] = np.nan
    out, _ = finish_sequence(x, None, normalization="sequence", scale=1.0, nan_policy="zero", where="t")
    assert out[0, 3] == 0.0
    finite = np.ones_like(x, dtype=bool)
    finite[0, 3] = False
    real = x[finite].astype(np.float64)
    np.testing.assert_allclose(out[finite], (real - real.mean()) / real.std(), atol=1e-5)


def test_normalisation_through_the_reader(tmp_path):
    x = signal(shape=(3, 16))
    path = write_file(tmp_path / "f.parquet", {"Cz": x.tolist()})
    out = read_channel_windows(path, "Cz", 16, normalization="sequence").windows
    np.testing.assert_allclose(out, (x - x.mean(dtype=np.float64)) / x.std(dtype=np.float64), atol=1e-5)
    flat = write_file(tmp_path / "flat.parquet", {"Cz": [[4.0] * 16] * 3})
    assert (read_channel_windows(flat, "Cz", 16, normalization="sequence").windows == 0).all()


@settings(max_examples=25, deadline=None)
@given(
    x=hnp.arrays(np.float32, (3, 5), elements=st.floats(-1e4, 1e4, width=32)),
    mode=st.sampled_from(["sequence", "window", "none"]),
)
def test_normalisation_never_makes_nonfinite_values(x, mode):
    assert np.isfinite(normalize(x, mode)).all()


@pytest.mark.parametrize("mode", ["sequence", "window"])
def test_subnormal_spread_counts_as_flat(mode):
    # Found by the property test above: a spread below float32's smallest normal number has an
    # infinite reciprocal; such a signal is only centred.
    x = np.zeros((3, 5), dtype=np.float32)
    x[0, 0] = 4e-45
    out = normalize(x, mode)
    assert np.isfinite(out).all() and np.abs(out).max() < 1e-40
