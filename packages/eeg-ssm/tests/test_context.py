"""The spectral context: the plain mean of the visible windows, or weighted by distance with a learned rate
(``model.local_context``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_ssm import EEGModel, ModelConfig, ModelConfigError, weighted_context
from eeg_ssm.model import CONTEXT_RATE_GAIN, CONTEXT_RATE_START


def reference_context(spectrum: np.ndarray, visible: np.ndarray, rate: float) -> np.ndarray:
    """Per window i: sum_j exp(-rate |i - j|) s_j / sum_j exp(-rate |i - j|) over the visible j, in float64."""
    batch, length, bands = spectrum.shape
    out = np.zeros((batch, length, bands))
    for b in range(batch):
        seen = np.flatnonzero(visible[b])
        for i in range(length):
            if len(seen):
                w = np.exp(-rate * np.abs(seen - i).astype(np.float64))
                out[b, i] = (w[:, None] * spectrum[b, seen]).sum(axis=0) / w.sum()
    return out


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 3),
    length=st.integers(1, 12),
    rate=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**16),
)
def test_weighted_context_equals_a_direct_computation(batch, length, rate, seed) -> None:
    rng = np.random.default_rng(seed)
    spectrum = rng.standard_normal((batch, length, 3))
    visible = rng.random((batch, length)) < 0.6
    spectrum[~visible] = 0.0  # as the model hands it over: hidden windows are zeros
    got = weighted_context(
        torch.from_numpy(spectrum),
        torch.from_numpy(visible).unsqueeze(-1),
        torch.tensor(rate, dtype=torch.float64),
    )
    np.testing.assert_allclose(got.numpy(), reference_context(spectrum, visible, rate), rtol=1e-9, atol=1e-12)


def test_weighted_context_limits() -> None:
    spectrum = torch.tensor([[1.0, 2.0, 0.0, 4.0, 0.0, 8.0]]).unsqueeze(-1)
    visible = torch.tensor([[True, True, False, True, False, True]]).unsqueeze(-1)
    mean = weighted_context(spectrum, visible)  # no rate: the plain mean, one row per sequence
    assert mean.shape == (1, 1, 1) and float(mean) == pytest.approx(15.0 / 4.0)
    torch.testing.assert_close(weighted_context(spectrum, visible, torch.tensor(0.0)), mean.expand(1, 6, 1))
    # a steep rate: the nearest visible window, an average of the two at a tie; far windows cannot underflow
    steep = weighted_context(spectrum, visible, torch.tensor(20.0)).squeeze()
    torch.testing.assert_close(steep, torch.tensor([1.0, 2.0, 3.0, 4.0, 6.0, 8.0]))
    far = torch.zeros(1, 300, 1)
    far[0, 0] = 5.0
    seen = torch.zeros(1, 300, 1, dtype=torch.bool)
    seen[0, 0] = True
    assert torch.equal(weighted_context(far, seen, torch.tensor(50.0)), torch.full((1, 300, 1), 5.0))
    # beyond the exponent limit every visible window weighs the same: their plain mean, never 0 / 0
    beyond = weighted_context(far[:, :100], seen[:, :100] | (torch.arange(100) == 99)[None, :, None], 50.0)
    assert torch.isfinite(beyond).all() and float(beyond[0, 50, 0]) == pytest.approx(2.5)
    # under autocast it still weighs in float32 (a bfloat16 weight would round 1 - 0.001 to 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = weighted_context(spectrum, visible, torch.tensor(0.3))
    assert cast.dtype == torch.float32
    torch.testing.assert_close(cast, weighted_context(spectrum, visible, torch.tensor(0.3)))
    # nothing visible: zeros, never NaN
    nothing = weighted_context(spectrum, torch.zeros_like(visible), torch.tensor(1.0))
    assert torch.equal(nothing, torch.zeros(1, 6, 1))


def _config(**kwargs) -> ModelConfig:
    settings = {"target": "spectrum", "input": "spectrum", **kwargs}
    return ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8, sampling_rate=64.0,
                       **settings)  # fmt: skip


def test_local_context_starts_at_the_context_mean_and_its_rate_gets_a_gradient() -> None:
    torch.manual_seed(0)
    model = EEGModel(_config(local_context=True)).eval()
    assert float(model.context_rate.detach()) == pytest.approx(CONTEXT_RATE_GAIN * CONTEXT_RATE_START**2)
    windows = torch.randn(2, 7, 64)
    windows[:, 2] = 0.0  # masked
    windows[1, 5:] = 3.0  # padding: row 1 has 5 real windows
    lengths = torch.tensor([7, 5])
    out, prior = model(windows, ["CZ", "O1"], lengths, return_context=True)
    assert torch.equal(out, prior)  # the spectrum head starts at zero
    with torch.no_grad():
        spectrum = model.band_power(windows)
    for row, visible in ((0, [0, 1, 3, 4, 5, 6]), (1, [0, 1, 3, 4])):
        # rate 0.001: the plain mean of the visible windows within 0.5 %; padding never enters
        torch.testing.assert_close(prior[row, 2], spectrum[row, visible].mean(dim=0), rtol=0.0, atol=5e-3)
    out.sum().backward()
    assert model.context_root.grad is not None and float(model.context_root.grad) != 0.0
    # the rate travels in the state_dict; a model without a local context has no such parameter
    assert "context_root" in model.state_dict()
    plain = EEGModel(_config())
    assert plain.context_rate is None and "context_root" not in plain.state_dict()
    assert plain(windows, ["CZ", "O1"], lengths, return_context=True)[1].shape == (
        2,
        7,
        plain.band_power.n_bands,
    )
    raw = EEGModel(ModelConfig(window_length=64, d_model=16, num_layers=1, headdim=4, d_state=8))
    assert raw(windows, ["CZ", "O1"], lengths, return_context=True)[1] is None


def test_steep_rate_predicts_the_nearest_visible_window() -> None:
    model = EEGModel(_config(local_context=True)).eval()
    with torch.no_grad():
        model.context_root.fill_((20.0 / CONTEXT_RATE_GAIN) ** 0.5)
        windows = torch.randn(1, 5, 64)
        windows[:, 1] = 0.0
        _, prior = model(windows, ["CZ"], torch.tensor([5]), return_context=True)
        spectrum = model.band_power(windows)
    torch.testing.assert_close(prior[0, 1], (spectrum[0, 0] + spectrum[0, 2]) / 2)


def test_local_context_needs_the_spectral_context() -> None:
    with pytest.raises(ModelConfigError, match="local_context") as info:
        _config(local_context=True, spectral_context=False)
    assert info.value.field == "local_context"


@pytest.mark.parametrize(
    "kwargs",
    [{"local_context": True}, {"input": "raw+spectrum", "target": "both"}, {"spectral_context": False}],
    ids=["local-context", "both-raw+spectrum", "no-context"],
)
def test_the_targets_band_power_serves_an_mae_masked_input(kwargs) -> None:
    """Pretraining hands the model the band power of the unmasked windows (its target) instead of letting
    it transform the masked input again: under MAE the outputs are identical, bit for bit."""
    torch.manual_seed(0)
    model = EEGModel(_config(**kwargs)).eval()
    windows = torch.randn(2, 7, 64)
    windows[1, 3] = 2.0  # a flat (dropout) window
    keep = torch.ones(2, 7, 1)
    keep[:, [1, 4]] = 0.0  # hidden, as eeg_ssl.apply_mask hides them
    inputs = windows * keep
    lengths = torch.tensor([7, 6])
    with torch.no_grad():
        own = model(inputs, ["CZ", "O1"], lengths)
        given = model(inputs, ["CZ", "O1"], lengths, spectrum=model.band_power(windows))
    assert torch.equal(own, given)
