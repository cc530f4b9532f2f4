import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_ssl import (
    ReconstructionMeter,
    interpolate_masked,
    local_mean,
    mask_tokens,
    masked_mse,
    reconstruction_r2,
)


def test_masked_mse_ignores_unmasked_positions():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 6, 4, generator=g)
    pred = torch.randn(2, 6, 4, generator=g)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[0, 1] = mask[1, 3] = mask[1, 4] = True
    loss = masked_mse(pred, target, mask)
    changed = pred.clone()
    changed[~mask] = 1e6
    assert torch.equal(masked_mse(changed, target, mask), loss)
    expected = (pred[mask] - target[mask]).pow(2).mean()
    assert torch.allclose(loss, expected)


def test_masked_mse_weighs_every_masked_sample_equally():
    target = torch.zeros(2, 4, 3)
    pred = torch.zeros(2, 4, 3)
    pred[0, 0] = 1.0  # one masked window with error 1
    mask = torch.zeros(2, 4, dtype=torch.bool)
    mask[0, 0] = True
    mask[1, :3] = True  # three masked windows with error 0
    assert masked_mse(pred, target, mask).item() == 0.25


def test_masked_mse_with_nothing_masked_is_zero_with_gradient():
    pred = torch.randn(1, 3, 2, requires_grad=True)
    loss = masked_mse(pred, torch.zeros(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None


def test_interpolation_by_hand():
    # one channel-sequence of 6 windows with width 1: values 0, 10, 20, 30, 40, 50
    target = torch.arange(6, dtype=torch.float32).mul(10).reshape(1, 6, 1)
    valid = torch.ones(1, 6, dtype=torch.bool)
    mask = torch.tensor([[True, False, True, True, False, True]])
    pred = interpolate_masked(target, mask, valid).flatten().tolist()
    # t=0: only right neighbour (10) -> copy; t=2,3 between 10 (t=1) and 40 (t=4) -> 20, 30; t=5: copy 40
    assert pred == [10.0, 10.0, 20.0, 30.0, 40.0, 40.0]


def test_interpolation_never_reads_padding():
    target = torch.tensor([[[1.0], [2.0], [99.0], [99.0]]])
    valid = torch.tensor([[True, True, False, False]])
    mask = torch.tensor([[False, True, False, False]])
    assert interpolate_masked(target, mask, valid)[0, 1, 0].item() == 1.0  # copies the left side only


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(2, 30), min_size=1, max_size=4), st.floats(0.05, 0.95), st.integers(0, 1000))
def test_interpolation_is_exact_on_linear_sequences(lengths, ratio, seed):
    L = max(lengths)
    valid = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    slope = torch.linspace(-2, 2, 3)
    target = (torch.arange(L, dtype=torch.float64)[None, :, None] * slope).expand(len(lengths), L, 3).clone()
    _, mask = mask_tokens(target, valid, ratio, "mae", torch.Generator().manual_seed(seed))
    pred = interpolate_masked(target, mask, valid)
    # between two known windows a linear trend is recovered exactly; at the ends the copy is off by design
    known = valid & ~mask
    for b, n in enumerate(lengths):
        idx = known[b, :n].nonzero().flatten()
        inner = mask[b].clone()
        inner[: idx.min()] = False
        inner[idx.max() + 1 :] = False
        assert torch.allclose(pred[b][inner], target[b][inner])


def test_meter_and_r2():
    target = torch.ones(1, 4, 2) * 2.0
    valid = torch.ones(1, 4, dtype=torch.bool)
    mask = torch.tensor([[False, True, True, False]])
    meter = ReconstructionMeter()
    meter.update(torch.ones(1, 4, 2), target, mask, valid)
    s = meter.summary(meter.totals())
    assert s["loss"] == 1.0 and s["zero_baseline"] == 4.0 and s["interp_baseline"] == 0.0
    assert s["r2"] == 0.75 == reconstruction_r2(1.0, 4.0)
    assert s["context_mean_baseline"] == 0.0 and math.isnan(s["skill"])


def test_meter_reports_the_local_mean_baseline():
    # one sequence: visible 0, 1, 2 at value 0 and 3, 4 at value 10; window 5 masked
    target = torch.tensor([[0.0, 0.0, 0.0, 10.0, 10.0, 7.0]]).unsqueeze(-1)
    valid = torch.ones(1, 6, dtype=torch.bool)
    mask = torch.tensor([[False, False, False, False, False, True]])
    meter = ReconstructionMeter()
    meter.update(torch.full((1, 6, 1), 7.0), target, mask, valid)
    s = meter.summary(meter.totals())
    # the 4 nearest visible windows of 5 are 4, 3, 2, 1: mean 5; the context mean is 4
    assert s["local_mean_baseline"] == 4.0 and s["context_mean_baseline"] == 9.0 and s["loss"] == 0.0


def test_meter_scores_the_model_context_where_given():
    # window 5 masked; the model's own context predicts 8 (the context mean 4, the target 7)
    target = torch.tensor([[0.0, 0.0, 0.0, 10.0, 10.0, 7.0]]).unsqueeze(-1)
    valid = torch.ones(1, 6, dtype=torch.bool)
    mask = torch.tensor([[False, False, False, False, False, True]])
    meter = ReconstructionMeter(parts=("raw", "spectrum"), weights=(0.5, 0.5))
    pred = {"raw": torch.full((1, 6, 1), 6.0), "spectrum": torch.full((1, 6, 1), 6.0)}
    targets = {"raw": target, "spectrum": target}
    meter.update(pred, targets, mask, valid, {"spectrum": torch.full((1, 6, 1), 8.0)})
    s = meter.summary(meter.totals())
    # spectrum: the model's context is scored (1.0); raw has none, so the context mean stands in (9.0)
    assert s["spectrum_model_context_baseline"] == 1.0 and s["raw_model_context_baseline"] == 9.0
    assert s["spectrum_encoder_skill"] == 0.0 and s["raw_encoder_skill"] == s["raw_skill"] == 1.0 - 1.0 / 9.0
    assert s["model_context_baseline"] == 5.0 and s["encoder_skill"] == 1.0 - 1.0 / 5.0


def reference_local_mean(target, mask, valid, k):
    """Per masked window: the first k visible real windows of its row by distance, ties to the earlier one
    (a stable sort of the ascending positions), averaged; none visible: zeros."""
    out = target.clone()
    for b in range(target.shape[0]):
        positions = (valid[b] & ~mask[b]).nonzero().flatten().tolist()
        for t in mask[b].nonzero().flatten().tolist():
            near = sorted(positions, key=lambda p: abs(p - t))[:k]  # sorted() is stable
            out[b, t] = target[b, near].mean(dim=0) if near else torch.zeros(target.shape[-1])
    return out


def test_local_mean_by_hand_and_padding():
    target = torch.arange(8.0).reshape(1, 8, 1).repeat(2, 1, 1)
    target[1, 6:] = 1e6  # padding of row 1 (length 6), never read
    valid = torch.tensor([[True] * 8, [True] * 6 + [False] * 2])
    mask = torch.tensor([[False, False, True, False, False, False, True, False]] * 2)
    pred = local_mean(target, mask, valid, k=2)
    assert pred[0, 2, 0] == 2.0  # neighbours 1 and 3 (distance 1 each)
    assert pred[0, 6, 0] == 6.0  # 5 and 7
    assert pred[1, 6, 0] == 4.5  # row 1: 7 is padding, so 5 and then 4 (distance 2)
    assert pred[1, 2, 0] == 2.0
    assert torch.equal(pred[~mask], target[~mask])  # visible windows keep their values
    tie = local_mean(torch.tensor([[[0.0], [0.0], [5.0], [9.0]]]), torch.tensor([[False, True, False, True]]),
                     torch.ones(1, 4, dtype=torch.bool), k=1)  # fmt: skip
    assert tie[0, 1, 0] == 0.0 and tie[0, 3, 0] == 5.0  # a tie goes to the earlier window


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 24), min_size=1, max_size=4),
    ratio=st.floats(0.0, 0.95),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_local_mean_equals_a_direct_computation(lengths, ratio, k, seed):
    generator = torch.Generator().manual_seed(seed)
    L = max(lengths)
    target = torch.randn(len(lengths), L, 3, generator=generator, dtype=torch.float64)
    valid = torch.arange(L)[None, :] < torch.tensor(lengths)[:, None]
    mask = (torch.rand(len(lengths), L, generator=generator) < ratio) & valid
    expected = reference_local_mean(target, mask, valid, k)
    torch.testing.assert_close(local_mean(target, mask, valid, k)[valid], expected[valid])
