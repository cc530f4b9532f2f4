"""The band-power baseline works in Hz: pretraining's bands (eeg_ssm.band_edges) at the data's sampling rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose

from eeg_config import ConfigError
from eeg_finetune.baselines import band_power, band_power_edges
from eeg_finetune.config import build_config
from eeg_finetune.errors import FinetuneError
from eeg_finetune.inputs import data_sampling_rate
from eeg_ssm import SpectralConfigError, band_edges, load_pretrained, log_band_power


def sine(frequency: float, rate: float, seconds: float, channels: int = 2, seed: int = 0) -> np.ndarray:
    """``[3, channels, W]``: three windows of a ``frequency`` Hz sine of random phase plus weak noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(rate * seconds)) / rate
    phases = rng.uniform(0, 2 * np.pi, size=(3, channels, 1))
    return np.sin(2 * np.pi * frequency * t + phases) + 0.01 * rng.standard_normal((3, channels, t.size))


@pytest.mark.parametrize("rate", [128.0, 256.0])
@pytest.mark.parametrize("frequency", [2.0, 6.0, 10.0, 20.0, 40.0])
def test_a_sine_lands_in_the_band_that_holds_its_frequency(rate, frequency):
    edges = band_edges(round(2 * rate), rate, 8)
    assert edges[0] == 1.0 and edges[-1] == 45.0  # 1 to 45 Hz at any rate that reaches 45 Hz
    expected = int(np.searchsorted(edges, frequency, side="right")) - 1
    features = band_power(sine(frequency, rate, 2.0), rate, bands=8)  # (3, 2 * 8)
    per_band = features.reshape(3, 2, 8)
    assert (per_band.argmax(axis=-1) == expected).all(), (edges, per_band[0, 0])


def test_the_same_frequency_lands_in_the_same_band_at_128_and_256_hz():
    low = band_power(sine(10.0, 128.0, 2.0), 128.0).reshape(3, 2, 8)
    high = band_power(sine(10.0, 256.0, 2.0), 256.0).reshape(3, 2, 8)
    assert (low.argmax(-1) == high.argmax(-1)).all()
    # the PSD is a density (units² / Hz): the same sine has the same band power at either rate
    assert_allclose(low.max(-1), high.max(-1), atol=0.05)


def test_one_second_windows_at_128_hz_work_with_the_defaults():
    evaluation = build_config({}).evaluation
    edges = band_power_edges(evaluation, 128, 128.0)
    assert len(edges) == 9 and edges[0] == 1.0 and edges[-1] == 45.0
    windows = sine(10.0, 128.0, 1.0)
    windows[1, 0] = 0.0  # a flat (dropped-out) channel stays finite
    features = band_power(windows, 128.0, evaluation.bands, evaluation.fmin, evaluation.fmax)
    assert features.shape == (3, 2 * 8) and np.isfinite(features).all()
    assert (features[1, :8] == math.log10(1e-12)).all()


def test_derived_settings_follow_the_window():
    # 64-sample windows at 64 Hz: fmax is Nyquist; bands: null fits as many as the resolution allows
    assert band_power_edges(build_config({}).evaluation, 64, 64.0)[-1] == 32.0
    derived = band_power_edges(build_config({"evaluation": {"bands": None}}).evaluation, 128, 128.0)
    assert_allclose(derived, band_edges(128, 128.0))


def test_the_features_are_pretrainings_log_band_power_in_log10():
    rng = np.random.default_rng(1)
    windows = 20.0 * rng.standard_normal((4, 3, 510))  # loud enough that neither floor matters
    edges = band_edges(510, 255.0, 8)
    pretraining = log_band_power(torch.from_numpy(windows), 255.0, edges).numpy() / math.log(10)
    assert_allclose(band_power(windows, 255.0, 8), pretraining.reshape(4, -1), rtol=1e-6, atol=1e-6)


def test_settings_the_windows_cannot_hold_name_the_key():
    def error(window_length: int, rate: float, **evaluation) -> str:
        with pytest.raises(FinetuneError) as info:
            band_power_edges(build_config({"evaluation": evaluation}).evaluation, window_length, rate)
        message = str(info.value)
        assert "\n" not in message
        return message

    assert error(128, 128.0, fmax=100.0).startswith("evaluation.fmax: expected a frequency in (0, 64] Hz")
    assert error(128, 128.0, fmin=50.0).startswith("evaluation.fmin: expected a frequency in (0, fmax = 45)")
    assert error(64, 64.0, bands=30).startswith("evaluation.bands: 30 log-spaced bands")
    assert error(64, 64.0, fmax=40.0).endswith("(the band_power baseline of 64-sample windows at 64 Hz)")
    with pytest.raises(SpectralConfigError, match=r"^fmax"):  # the function itself, without the config
        band_power(sine(10.0, 128.0, 1.0), 128.0, fmax=80.0)


@pytest.mark.parametrize(
    ("evaluation", "key", "fragment"),
    [
        ({"fmin": 0.0}, "fmin", "must be a positive number of Hz or null"),
        ({"fmax": -4.0}, "fmax", "must be a positive number of Hz or null"),
        ({"fmin": 30.0, "fmax": 12.0}, "fmin", "must lie below fmax = 12 Hz, got 30"),
        ({"bands": 0}, "bands", "must be a positive integer or null"),
    ],
)
def test_impossible_band_settings_are_config_errors(evaluation, key, fragment):
    with pytest.raises(ConfigError) as info:
        build_config({"evaluation": evaluation})
    (problem,) = info.value.problems
    assert fragment in problem and problem.endswith(f"@ $.evaluation.{key}"), problem


def test_the_rate_is_the_data_setting_else_the_checkpoints(pretrained):
    encoder = load_pretrained(pretrained.checkpoint, map_location="cpu")
    assert encoder.config.sampling_rate == 64.0
    assert data_sampling_rate(build_config({}), encoder) == 64.0
    assert data_sampling_rate(build_config({"data": {"sampling_rate": 128}}), encoder) == 128.0
    with pytest.raises(ConfigError, match=r"\$\.data\.sampling_rate"):
        build_config({"data": {"sampling_rate": 0}})
