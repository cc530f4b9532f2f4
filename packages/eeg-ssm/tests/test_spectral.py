"""The band-power transform against scipy, on degenerate windows, and for any window length >= 16."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.signal import periodogram
from scipy.signal.windows import dpss

from eeg_ssm import BandPower, EEGModel, ModelConfig, ModelConfigError, SpectralConfigError, band_edges
from eeg_ssm.spectral import POWER_FLOOR, log_band_power, max_tapers, taper_matrix
from eeg_ssm.spectral import dpss as our_dpss


def scipy_band_power(x: np.ndarray, fs: float, edges: np.ndarray) -> np.ndarray:
    """Reference: scipy's Hann periodogram of the mean-removed window, averaged over each band's bins."""
    freqs, psd = periodogram(x, fs=fs, window="hann", detrend="constant", scaling="density", axis=-1)
    out = []
    for i in range(len(edges) - 1):
        upper = freqs <= edges[i + 1] if i == len(edges) - 2 else freqs < edges[i + 1]
        inside = (freqs >= edges[i]) & upper
        out.append(psd[..., inside].mean(axis=-1))
    return np.log(np.stack(out, axis=-1) + POWER_FLOOR)


@pytest.mark.parametrize(("width", "fs"), [(2048, 256.0), (510, 255.0), (128, 128.0), (101, 200.0)])
def test_equals_scipy_periodogram(width, fs) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, width)) * 5 + 840.0  # a Muse-like offset
    edges = band_edges(width, fs)
    ours = log_band_power(torch.from_numpy(x), fs, edges).numpy()
    assert_allclose(ours, scipy_band_power(x, fs, edges), rtol=1e-9, atol=1e-9, err_msg=f"{width} @ {fs}")
    ours32 = log_band_power(torch.from_numpy(x).float(), fs, edges).numpy()
    assert_allclose(ours32, scipy_band_power(x, fs, edges), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("frequency", [2.0, 6.0, 10.0, 21.0, 40.0])
def test_sine_lands_in_its_band(frequency) -> None:
    fs, width = 256.0, 2048
    t = np.arange(width) / fs
    x = 840.0 + 20 * np.sin(2 * np.pi * frequency * t + 0.3)
    edges = band_edges(width, fs)
    power = log_band_power(torch.from_numpy(x), fs, edges).numpy()
    expected = np.searchsorted(edges, frequency, side="right") - 1
    assert int(power.argmax()) == expected, (edges, power)


def multitaper_band_power(x: np.ndarray, fs: float, edges: np.ndarray, tapers: int) -> np.ndarray:
    """Reference: Thomson's multitaper PSD (the mean periodogram under scipy's DPSS tapers, NW = (K + 1) / 2,
    one-sided density) of the mean-removed window, averaged over each band's bins."""
    width = x.shape[-1]
    windows = dpss(width, (tapers + 1) / 2, tapers)  # (K, W), unit energy
    centred = x - x.mean(axis=-1, keepdims=True)
    psd = (np.abs(np.fft.rfft(centred[..., None, :] * windows, axis=-1)) ** 2).mean(axis=-2) / fs
    psd[..., 1 : (width + 1) // 2] *= 2  # one-sided: all but DC and (even W) Nyquist twice
    freqs = np.fft.rfftfreq(width, 1 / fs)
    out = []
    for i in range(len(edges) - 1):
        upper = freqs <= edges[i + 1] if i == len(edges) - 2 else freqs < edges[i + 1]
        out.append(psd[..., (freqs >= edges[i]) & upper].mean(axis=-1))
    return np.log(np.stack(out, axis=-1) + POWER_FLOOR)


@pytest.mark.parametrize("width", [16, 17, 64, 101, 255, 256, 510, 2048])
def test_our_dpss_tapers_are_scipys_to_the_bit(width) -> None:
    """eeg_ssm computes the tapers without importing scipy.signal (its import time): the same numbers, so
    models and checkpoints do not change."""
    for tapers in range(2, max_tapers(width) + 1):
        ours = our_dpss(width, (tapers + 1) / 2, tapers)
        np.testing.assert_array_equal(
            ours, dpss(width, (tapers + 1) / 2, tapers), err_msg=f"{width}, {tapers}"
        )
        assert torch.equal(taper_matrix(width, tapers), torch.from_numpy(np.ascontiguousarray(ours)))


@pytest.mark.parametrize(
    ("width", "fs", "tapers"), [(510, 255.0, 3), (2048, 256.0, 5), (128, 128.0, 3), (101, 200.0, 7)]
)
def test_multitaper_equals_a_direct_computation(width, fs, tapers) -> None:
    x = np.random.default_rng(1).standard_normal((3, width)) * 5 + 840.0
    edges = band_edges(width, fs)
    ours = log_band_power(torch.from_numpy(x), fs, edges, tapers=tapers).numpy()
    assert_allclose(ours, multitaper_band_power(x, fs, edges, tapers), rtol=1e-9, atol=1e-9)
    module = BandPower(width, fs, tapers=tapers)  # float32, on the module's buffers
    assert_allclose(module.log_power(torch.from_numpy(x).float()).numpy(), ours, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("frequency", [3.0, 10.0, 21.0, 40.0])
def test_multitaper_sine_lands_in_its_band(frequency) -> None:
    fs, width = 255.0, 510
    x = 840.0 + 20 * np.sin(2 * np.pi * frequency * np.arange(width) / fs + 0.3)
    edges = band_edges(width, fs)
    power = log_band_power(torch.from_numpy(x), fs, edges, tapers=3).numpy()
    assert int(power.argmax()) == np.searchsorted(edges, frequency, side="right") - 1, (edges, power)


def test_multitaper_band_power_is_less_noisy() -> None:
    """On white noise every band's true power is the same; the spread of one window's log band power around
    it shrinks with more tapers, most in the low bands that hold one or two bins."""
    fs, width = 255.0, 510
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((400, width)))
    edges = band_edges(width, fs)
    spread = {k: log_band_power(x, fs, edges, tapers=k).std(dim=0) for k in (1, 3, 5)}
    assert (spread[3] < spread[1]).all() and (spread[5] < spread[3]).all()
    assert float(spread[5][0]) < 0.6 * float(spread[1][0])  # the 1-Hz band: one or two bins


def test_tapers_must_fit_the_window() -> None:
    assert max_tapers(16) == 3 and max_tapers(510) == 15
    with pytest.raises(SpectralConfigError, match=r"tapers: expected an integer in 1\.\.3 for 16-sample"):
        BandPower(16, 64.0, tapers=4)
    with pytest.raises(
        ModelConfigError,
        match=r"ModelConfig\.tapers: expected an integer in 1\.\.3 for 16-sample windows, got 4",
    ):
        ModelConfig(window_length=16, sampling_rate=64.0, target="spectrum", tapers=4)
    assert ModelConfig(window_length=16, tapers=99).tapers == 99  # raw/raw: no band power, nothing to check


def test_zero_and_constant_windows_are_a_finite_floor() -> None:
    edges = band_edges(256, 128.0)
    windows = torch.stack([torch.zeros(256), torch.full((256,), 840.0)])
    for dtype in (torch.float32, torch.float64):
        power = log_band_power(windows.to(dtype), 128.0, edges)
        assert torch.isfinite(power).all()
        assert_allclose(power.numpy(), np.log(POWER_FLOOR), rtol=1e-4)
    module = BandPower(256, 128.0)
    module.set_statistics(torch.full((module.n_bands,), -3.0), torch.full((module.n_bands,), 2.0))
    assert torch.isfinite(module(windows)).all()


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(16, 3000),
    fs=st.floats(1.0, 2000.0, allow_nan=False, allow_infinity=False),
    seed=st.integers(0, 2**16),
)
@example(width=17, fs=2.0625, seed=0)  # found by hypothesis: no bin between 1 Hz and Nyquist
@example(width=46, fs=1092.0, seed=0)  # found by hypothesis: fs / W rounds one ulp above the first bin
def test_defaults_work_for_any_window(width, fs, seed) -> None:
    edges = band_edges(width, fs)
    n_bands = len(edges) - 1
    assert 1 <= n_bands <= 30 and edges[0] > 0 and edges[-1] <= fs / 2 + 1e-9
    assert np.all(np.diff(edges) > 0)
    x = np.random.default_rng(seed).standard_normal((2, width))
    ours = log_band_power(torch.from_numpy(x), fs, edges).numpy()
    assert np.isfinite(ours).all()
    assert_allclose(ours, scipy_band_power(x, fs, edges), rtol=1e-8, atol=1e-8)


def test_contract_window_lengths_get_useful_bands() -> None:
    assert len(band_edges(2048, 256.0)) - 1 == 30  # 8-s windows: the full default
    assert len(band_edges(510, 255.0)) - 1 >= 12  # 2-s Blink trials
    assert len(band_edges(128, 128.0)) - 1 >= 8  # 1-s windows at 128 Hz


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"fmax": 200.0}, "fmax"),
        ({"fmin": 30.0, "fmax": 20.0}, "fmin"),
        ({"fmin": 0.0}, "fmin"),
        ({"n_bands": 0}, "n_bands"),
        ({"n_bands": 500}, "n_bands"),
    ],
)
def test_impossible_explicit_settings_name_the_key(kwargs, key) -> None:
    with pytest.raises(SpectralConfigError, match=rf"^{key}: .*expected"):
        band_edges(512, 256.0, **kwargs)
    config = dict(window_length=512, d_model=16, num_layers=1, headdim=4, d_state=8, target="spectrum")
    with pytest.raises(ModelConfigError, match=rf"^ModelConfig\.{key}[: ]"):
        ModelConfig(**config, **kwargs)


def test_model_with_spectral_input_and_target() -> None:
    config = ModelConfig(
        window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8, input="raw+spectrum", target="both",
        sampling_rate=64.0,
    )  # fmt: skip
    model = EEGModel(config)
    assert config.head_size == 64 + model.band_power.n_bands
    windows = torch.randn(2, 5, 64)
    windows[0, 2] = 0.0  # a masked window
    out = model(windows, ["FZ", "CZ"], torch.tensor([5, 3]))
    assert out.shape == (2, 5, config.head_size) and torch.isfinite(out).all()
    # Standardisation buffers are in the state_dict; derived buffers are not.
    state = model.state_dict()
    assert "band_power.mean" in state and "band_power.std" in state and "band_power.matrix" not in state


def test_raw_model_draws_the_seed_weights() -> None:
    """A raw/raw model has exactly the parameters (names, shapes, values) it had before spectra existed."""
    config = ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8)
    torch.manual_seed(3)
    model = EEGModel(config)
    assert model.band_power is None and model.spectral_projection is None
    assert model.head.weight.shape == (64, 16)
    assert not any("band_power" in k or "spectral" in k for k in model.state_dict())


def test_masked_window_shows_the_standardised_mean_on_the_spectral_branch() -> None:
    config = ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8, input="raw+spectrum",
                         sampling_rate=64.0)  # fmt: skip
    model = EEGModel(config).eval()
    model.band_power.set_statistics(
        torch.full((model.band_power.n_bands,), -4.0), torch.ones(model.band_power.n_bands)
    )
    windows = torch.randn(1, 3, 64)
    windows[0, 1] = 0.0
    with torch.no_grad():
        tokens = model.embed(windows, ["CZ"], torch.tensor([3]))
        expected = (
            model.input_projection(windows[:, 1:2])
            + model.spectral_projection.bias
            + model.spatial(["CZ"]).unsqueeze(1)
            + model.temporal(torch.tensor([3]), 3)[:, 1:2]
        )
    torch.testing.assert_close(tokens[:, 1:2], expected)


def test_spectrum_only_input_sees_band_power_and_marks_hidden_windows() -> None:
    """``input: spectrum`` has no projection of the samples: two windows of equal band power but different
    waveforms give the same token; a masked window's token is the mean spectrum's plus the mask embedding,
    so it differs from a visible window whose band power is exactly the mean."""
    config = ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8, input="spectrum",
                         target="spectrum", sampling_rate=64.0)  # fmt: skip
    model = EEGModel(config).eval()
    assert model.input_projection is None and model.mask_embedding is not None
    assert not any(k.startswith("input_projection") for k in model.state_dict())
    t = torch.arange(64) / 64.0
    windows = torch.stack(
        [torch.sin(2 * torch.pi * 8 * t), torch.sin(2 * torch.pi * 8 * t + 1.0), torch.zeros(64)]
    )
    n_bands = model.band_power.n_bands
    # standardise so that the first window's band power is exactly the mean
    model.band_power.set_statistics(model.band_power.log_power(windows[0]).detach(), torch.ones(n_bands))
    with torch.no_grad():
        position = model.spatial(["CZ"])[0] + model.temporal(torch.tensor([3]), 3)[0]  # (3, d)
        content = model.embed(windows.unsqueeze(0), ["CZ"], torch.tensor([3]))[0] - position
        bias = model.spectral_projection.bias
    # a phase shift of a whole-cycle sine keeps the periodogram (up to float error): same content
    torch.testing.assert_close(content[0], content[1], atol=1e-4, rtol=0)
    torch.testing.assert_close(content[0], bias)
    torch.testing.assert_close(content[2], bias + model.mask_embedding.detach())
    assert (content[2] - content[0]).abs().max() > 1e-3


def test_an_untrained_spectrum_head_predicts_the_context_mean() -> None:
    """A new model's spectrum outputs are the context mean exactly (their head rows start at zero), for
    either spectral input; the raw rows of a ``both`` target keep their random initialisation."""
    for inputs in ("spectrum", "raw+spectrum"):
        config = ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8,
                             target="both", input=inputs, sampling_rate=64.0)  # fmt: skip
        torch.manual_seed(0)
        model = EEGModel(config).eval()
        windows = torch.randn(2, 5, 64)
        windows[:, 1] = 0.0  # masked
        with torch.no_grad():
            out = model(windows, ["CZ", "O1"], torch.tensor([5, 5]))
            spectrum = model.band_power(windows)
        mean = spectrum[:, [0, 2, 3, 4]].mean(dim=1, keepdim=True).expand(2, 5, -1)
        torch.testing.assert_close(out[..., 64:], mean)
        assert out[..., :64].abs().amax() > 0.0
    # without the context the head is an ordinary Linear (nothing to start from)
    plain = EEGModel(config.evolve(spectral_context=False))
    assert plain.head.weight[-plain.band_power.n_bands :].abs().amax() > 0.0


def test_spectral_context_starts_the_spectrum_head_at_the_context_mean() -> None:
    """With a zero head, the predicted band power of a masked window is the mean standardised band power
    of its sequence's visible windows: the context-mean baseline (padding and masked windows excluded)."""
    config = ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8, target="both",
                         sampling_rate=64.0)  # fmt: skip
    model = EEGModel(config).eval()
    torch.nn.init.zeros_(model.head.weight)
    torch.nn.init.zeros_(model.head.bias)
    windows = torch.randn(2, 6, 64)
    windows[:, 2] = 0.0  # masked
    windows[1, 4:] = 5.0  # padding (row 1 has 4 real windows)
    lengths = torch.tensor([6, 4])
    with torch.no_grad():
        out = model(windows, ["CZ", "O1"], lengths)
        spectrum = model.band_power(windows)
    bands = model.band_power.n_bands
    assert torch.equal(out[..., :64], torch.zeros(2, 6, 64))
    for row, visible in ((0, [0, 1, 3, 4, 5]), (1, [0, 1, 3])):
        torch.testing.assert_close(out[row, 2, 64:], spectrum[row, visible].mean(dim=0))
    assert out.shape[-1] == 64 + bands
    plain = EEGModel(config.evolve(spectral_context=False)).eval()
    assert set(plain.state_dict()) == set(model.state_dict())  # the context is parameter-free
