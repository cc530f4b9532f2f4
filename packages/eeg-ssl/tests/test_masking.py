import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_ssl import MaskingConfig, MaskingError, mask_tokens, masked_counts


def _batch(lengths, width=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = max(lengths)
    windows = torch.randn(len(lengths), L, width, generator=g) + 3.0  # offset: no real window is all zeros
    valid = torch.arange(L)[None, :] < torch.tensor(lengths)[:, None]
    windows[~valid] = 0.0
    return windows, valid


def test_masked_counts_round_half_up_and_clamp():
    lengths = torch.tensor([0, 1, 2, 3, 4, 5, 10, 124])
    got = masked_counts(lengths, 0.5).tolist()
    # round(0.5*n) half-up, at least 1, at most n-1; lengths 0 and 1 get none
    assert got == [0, 0, 1, 2, 2, 3, 5, 62]  # 1.5 -> 2, 2.5 -> 3
    assert masked_counts(torch.tensor([10]), 0.95).item() == 9  # at most n - 1
    assert masked_counts(torch.tensor([10]), 0.01).item() == 1  # at least 1


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    ratio=st.floats(min_value=0.01, max_value=0.99),
    style=st.sampled_from(["mae", "bert"]),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_exact_counts_and_padding_never_masked(lengths, ratio, style, seed):
    windows, valid = _batch(lengths)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        masked, mask = mask_tokens(windows, valid, ratio, style, torch.Generator().manual_seed(seed))
    assert not (mask & ~valid).any()
    for b, n in enumerate(lengths):
        expected = 0 if n <= 1 else min(max(math.floor(ratio * n + 0.5), 1), n - 1)
        assert int(mask[b].sum()) == expected
    # unselected tokens (real and padding) are untouched
    assert torch.equal(masked[~mask], windows[~mask])
    if style == "mae":
        assert torch.all(masked[mask] == 0)


def test_determinism_by_generator_seed():
    windows, valid = _batch([30, 17, 5])
    a = mask_tokens(windows, valid, 0.2, "bert", torch.Generator().manual_seed(7))
    b = mask_tokens(windows, valid, 0.2, "bert", torch.Generator().manual_seed(7))
    c = mask_tokens(windows, valid, 0.2, "bert", torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_selection_is_uniform_over_positions():
    windows, valid = _batch([10] * 2000)
    _, mask = mask_tokens(windows, valid, 0.3, "mae", torch.Generator().manual_seed(0))
    freq = mask.float().mean(0)  # each position masked with probability 0.3
    assert torch.allclose(freq, torch.full_like(freq, 0.3), atol=0.05)


def test_bert_proportions_statistical():
    windows, valid = _batch([200] * 200, width=8)
    _, mask = mask_tokens(windows, valid, 0.2, "bert", torch.Generator().manual_seed(3))
    masked, mask = mask_tokens(windows, valid, 0.2, "bert", torch.Generator().manual_seed(3))
    sel_in, sel_out = windows[mask], masked[mask]
    zero = (sel_out == 0).all(dim=1)
    same = (sel_out == sel_in).all(dim=1)
    noise = ~zero & ~same
    n = mask.sum().item()  # 8000 selected windows: 3-sigma of a 10% share is about 1%
    assert abs(zero.float().mean().item() - 0.8) < 0.015
    assert abs(same.float().mean().item() - 0.1) < 0.012
    assert abs(noise.float().mean().item() - 0.1) < 0.012
    assert n == 200 * 40
    # the noise is unit Gaussian in normalised units
    noise_vals = sel_out[noise]
    assert abs(noise_vals.std().item() - 1.0) < 0.05 and abs(noise_vals.mean().item()) < 0.05


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5, -0.1])
def test_ratio_outside_open_unit_interval_is_an_error(ratio):
    windows, valid = _batch([4])
    with pytest.raises(MaskingError, match=r"expected float in \(0, 1\)"):
        mask_tokens(windows, valid, ratio)
    with pytest.raises(MaskingError, match="ratio"):
        MaskingConfig(ratio=ratio)


def test_bert_high_ratio_warns_but_works():
    with pytest.warns(UserWarning, match="BERT-style masking at ratio 0.5"):
        MaskingConfig(style="bert", ratio=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MaskingConfig(style="bert", ratio=0.2)
        MaskingConfig(style="mae", ratio=0.8)


def test_unknown_style_is_an_error():
    windows, valid = _batch([4])
    with pytest.raises(MaskingError, match="style"):
        mask_tokens(windows, valid, 0.5, "span")
