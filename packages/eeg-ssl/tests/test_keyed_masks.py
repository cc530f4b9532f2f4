"""``draw_masks``: per-sequence keyed masks drawn for a whole batch, applied with ``apply_mask``."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_ssl import MaskingError, MaskPlan, apply_mask, draw_masks, masked_counts
from eeg_ssl.masking import _masked_counts_np

keys_strategy = st.lists(
    st.tuples(*(st.integers(min_value=0, max_value=2**64 - 1) for _ in range(3))), min_size=1, max_size=6
)


def expected_count(n: int, ratio: float) -> int:
    return 0 if n <= 1 else min(max(math.floor(ratio * n + 0.5), 1), n - 1)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    keys=keys_strategy,
    ratio=st.floats(min_value=0.01, max_value=0.99),
    style=st.sampled_from(["mae", "bert"]),
    extra_padding=st.integers(min_value=0, max_value=5),
)
def test_exact_counts_padding_never_masked_and_plan_consistency(data, keys, ratio, style, extra_padding):
    lengths = data.draw(st.lists(st.integers(0, 40), min_size=len(keys), max_size=len(keys)))
    length = max(lengths) + extra_padding
    plan = draw_masks(keys, lengths, ratio, style, width=3, max_length=length)
    assert plan.mask.shape == plan.hidden.shape == plan.noise.shape == (len(keys), length)
    valid = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    assert not (plan.mask & ~valid).any()
    assert [int(row.sum()) for row in plan.mask] == [expected_count(n, ratio) for n in lengths]
    assert not (plan.hidden & ~plan.mask).any() and not (plan.noise & ~plan.hidden).any()
    assert plan.noise_values.shape == (int(plan.noise.sum()), 3)
    if style == "mae":
        assert torch.equal(plan.hidden, plan.mask) and not plan.noise.any()


@settings(max_examples=40, deadline=None)
@given(
    keys=keys_strategy,
    ratio=st.floats(min_value=0.05, max_value=0.95),
    style=st.sampled_from(["mae", "bert"]),
    data=st.data(),
)
def test_a_sequences_draw_depends_on_its_key_and_length_alone(keys, ratio, style, data):
    lengths = data.draw(st.lists(st.integers(1, 30), min_size=len(keys), max_size=len(keys)))
    batch = draw_masks(keys, lengths, ratio, style, width=4, max_length=max(lengths) + 3)
    order = data.draw(st.permutations(range(len(keys))))
    shuffled = draw_masks([keys[i] for i in order], [lengths[i] for i in order], ratio, style, width=4)
    noise_rows = torch.split(batch.noise_values, batch.noise.sum(dim=1).tolist())
    shuffled_rows = torch.split(shuffled.noise_values, shuffled.noise.sum(dim=1).tolist())
    for position, b in enumerate(order):
        n = lengths[b]
        alone = draw_masks([keys[b]], [n], ratio, style, width=4)
        for plan, row in ((alone, 0), (shuffled, position)):
            assert torch.equal(plan.mask[row, :n], batch.mask[b, :n])
            assert torch.equal(plan.hidden[row, :n], batch.hidden[b, :n])
            assert torch.equal(plan.noise[row, :n], batch.noise[b, :n])
        assert torch.equal(alone.noise_values, noise_rows[b])
        assert torch.equal(shuffled_rows[position], noise_rows[b])


def test_keys_change_the_masks_and_repeat_exactly():
    keys = [(0, epoch, index) for epoch in range(2) for index in range(50)]
    a = draw_masks(keys, [40] * 100, 0.3, "bert", width=8)
    b = draw_masks(keys, [40] * 100, 0.3, "bert", width=8)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    first, second = a.mask[:50], a.mask[50:]  # the same sequences in two epochs
    assert (first != second).any(dim=1).float().mean() > 0.95
    assert len({tuple(row.tolist()) for row in a.mask}) == 100
    # a key may be a plain integer too
    assert torch.equal(draw_masks([7, 8], [10, 10], 0.5).mask, draw_masks([7, 8], [10, 10], 0.5).mask)


def test_selection_is_uniform_over_positions():
    plan = draw_masks([(1, 0, i) for i in range(4000)], [10] * 4000, 0.3)
    freq = plan.mask.float().mean(0)  # each position masked with probability 0.3
    assert torch.allclose(freq, torch.full_like(freq, 0.3), atol=0.03)


def test_bert_proportions_and_noise_statistics():
    plan = draw_masks([(5, 0, i) for i in range(200)], [200] * 200, 0.2, "bert", width=64, noise_std=2.0)
    selected = int(plan.mask.sum())  # 8000: 3-sigma of a 10 % share is about 1 %
    assert selected == 200 * 40
    noise = int(plan.noise.sum()) / selected
    zero = int((plan.hidden & ~plan.noise).sum()) / selected
    unchanged = int((plan.mask & ~plan.hidden).sum()) / selected
    assert abs(zero - 0.8) < 0.015 and abs(noise - 0.1) < 0.012 and abs(unchanged - 0.1) < 0.012
    values = plan.noise_values
    assert abs(values.std().item() - 2.0) < 0.05 and abs(values.mean().item()) < 0.05


def test_apply_mask_hides_exactly_the_planned_windows():
    windows = torch.randn(3, 20, 16) + 3.0  # no real window is all zeros
    plan = draw_masks([(0, 0, i) for i in range(3)], [20, 15, 9], 0.2, "bert", width=16, max_length=20)
    windows[1, 15:] = windows[2, 9:] = 0.0
    before = windows.clone()
    masked = apply_mask(windows, plan)
    assert torch.equal(masked[~plan.hidden], windows[~plan.hidden])  # unchanged tokens and padding
    assert torch.equal(masked[plan.noise], plan.noise_values)
    assert (masked[plan.hidden & ~plan.noise] == 0).all()
    assert torch.equal(windows, before)  # a new tensor: the targets stay intact
    mae = draw_masks([(0, 0, 0)], [20], 0.4, width=16)
    assert (apply_mask(windows[:1], mae)[mae.mask] == 0).all()


def test_plan_moves_between_devices():
    plan = draw_masks([(0, 0, 0), (0, 0, 1)], [5, 7], 0.2, "bert", width=2)
    moved = plan.to("cpu")
    assert isinstance(moved, MaskPlan) and all(torch.equal(a, b) for a, b in zip(plan, moved, strict=True))


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(0, 5000), min_size=1, max_size=20), ratio=st.floats(0.001, 0.999))
def test_numpy_counts_match_masked_counts(lengths, ratio):
    expected = masked_counts(torch.tensor(lengths), ratio).tolist()
    assert _masked_counts_np(np.array(lengths), ratio).tolist() == expected


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match=r"keys must be integers .* in \[0, 2\*\*64\)"):
        draw_masks([-1], [3], 0.5)
    with pytest.raises(ValueError, match="one key per sequence"):
        draw_masks([1, 2], [3], 0.5)
    with pytest.raises(ValueError, match="needs the window width"):
        draw_masks([1], [3], 0.2, "bert")
    with pytest.raises(ValueError, match=r"lengths must lie in 0\.\.4"):
        draw_masks([1], [5], 0.2, max_length=4)
    with pytest.raises(MaskingError, match=r"expected float in \(0, 1\)"):
        draw_masks([1], [3], 1.0)
    with pytest.raises(MaskingError, match="style"):
        draw_masks([1], [3], 0.5, "span")
    empty = draw_masks([], [], 0.5, max_length=4)
    assert empty.mask.shape == (0, 4)


def test_masking_errors_are_user_errors_and_value_errors():
    from eeg_config import UserError

    # apps print a UserError in one line (exit 2); callers may catch either
    assert issubclass(MaskingError, UserError) and issubclass(MaskingError, ValueError)
