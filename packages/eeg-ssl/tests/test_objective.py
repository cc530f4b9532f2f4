"""Targets, the context-mean baseline, skill, and the meter's parts."""

from __future__ import annotations

import math

import pytest
import torch

from eeg_ssl import (
    ObjectiveConfig,
    ObjectiveError,
    ReconstructionMeter,
    context_mean,
    make_targets,
    masked_sse,
    scored_windows,
    skill,
    split_prediction,
    weighted_sse,
)


def test_context_mean_on_a_hand_made_sequence() -> None:
    # one sequence of 5 real windows (D = 2) and 2 padding positions holding large values
    target = torch.tensor(
        [[[1.0, 10.0], [3.0, 30.0], [100.0, 100.0], [5.0, 50.0], [200.0, 200.0], [1e6, 1e6], [-1e6, 7.0]]]
    )
    valid = torch.tensor([[True, True, True, True, True, False, False]])
    mask = torch.tensor([[False, False, True, False, True, False, False]])
    pred = context_mean(target, mask, valid)
    expected = torch.tensor([3.0, 30.0])  # mean of windows 0, 1, 3: masked windows and padding excluded
    assert torch.equal(pred[0, 2], expected) and torch.equal(pred[0, 4], expected)
    assert torch.equal(pred[0, [0, 1, 3, 5, 6]], target[0, [0, 1, 3, 5, 6]])  # unmasked keep the target


def test_context_mean_is_per_sequence_and_ignores_padding_content() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.randn(3, 6, 4, generator=g)
    lengths = torch.tensor([6, 4, 2])
    valid = torch.arange(6)[None] < lengths[:, None]
    mask = torch.zeros(3, 6, dtype=torch.bool)
    mask[0, 1] = mask[1, 3] = mask[2, 0] = True
    a = context_mean(target, mask, valid)
    noisy = target.clone()
    noisy[~valid] = 1e9  # padding content never matters
    b = context_mean(noisy, mask, valid)
    assert torch.equal(a[mask], b[mask])
    for row, length in enumerate(lengths.tolist()):
        known = [t for t in range(length) if not mask[row, t]]
        assert torch.allclose(a[row][mask[row]], target[row, known].mean(dim=0, keepdim=True))


def test_meter_parts_weights_and_skill() -> None:
    valid = torch.ones(1, 4, dtype=torch.bool)
    mask = torch.tensor([[False, True, False, False]])
    raw = torch.zeros(1, 4, 2)
    raw[0, :, 0] = torch.tensor([1.0, 2.0, 3.0, 5.0])
    spec = torch.tensor([[[0.0], [4.0], [2.0], [1.0]]])
    pred = {"raw": torch.zeros(1, 4, 2), "spectrum": torch.full((1, 4, 1), 3.0)}
    meter = ReconstructionMeter(parts=("raw", "spectrum"), weights=(0.25, 0.75))
    meter.update(pred, {"raw": raw, "spectrum": spec}, mask, valid)
    s = meter.summary(meter.totals())
    # raw: masked window [2, 0]; model 0 -> SSE 4 over 2 samples; context mean [3, 0] -> 1 / 2
    assert s["raw_loss"] == 2.0 and s["raw_context_mean_baseline"] == 0.5 and s["raw_skill"] == -3.0
    # spectrum: target 4; model 3 -> 1; zero -> 16; context mean of (0, 2, 1) = 1 -> 9; interp (0+2)/2 -> 9
    assert s["spectrum_loss"] == 1.0 and s["spectrum_zero_baseline"] == 16.0
    assert s["spectrum_context_mean_baseline"] == 9.0 and s["spectrum_interp_baseline"] == 9.0
    assert s["spectrum_skill"] == pytest.approx(1 - 1 / 9)
    assert s["loss"] == pytest.approx(0.25 * 2.0 + 0.75 * 1.0)
    assert s["skill"] == pytest.approx(skill(s["loss"], 0.25 * 0.5 + 0.75 * 9.0))


def test_weighted_sse_with_one_part_is_the_masked_mean() -> None:
    g = torch.Generator().manual_seed(1)
    pred, target = torch.randn(2, 5, 3, generator=g), torch.randn(2, 5, 3, generator=g)
    mask = torch.rand(2, 5, generator=g) < 0.5
    sse, count = masked_sse(pred, target, mask)
    total, parts = weighted_sse({"raw": pred}, {"raw": target}, mask, {"raw": 1.0}, {"raw": float(count)})
    assert torch.equal(total, sse * (1.0 / count)) and torch.equal(parts["raw"], sse)


def test_split_and_make_targets() -> None:
    windows = torch.randn(2, 3, 8)
    pred = torch.randn(2, 3, 8 + 4)
    parts = split_prediction(pred, ("raw", "spectrum"), 8)
    assert parts["raw"].shape == (2, 3, 8) and parts["spectrum"].shape == (2, 3, 4)
    targets = make_targets(windows, ("raw", "spectrum"), lambda w: w[..., :4].abs())
    assert torch.equal(targets["raw"], windows) and torch.equal(targets["spectrum"], windows[..., :4].abs())
    with pytest.raises(ValueError, match="band-power"):
        make_targets(windows, ("spectrum",))


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"target": "wave"}, "target"),
        ({"spectrum_weight": 1.5}, "spectrum_weight"),
        ({"stats_sequences": 0}, "stats_sequences"),
    ],
)
def test_objective_config_errors_name_the_key(kwargs, key) -> None:
    with pytest.raises(ObjectiveError, match=rf"^ObjectiveConfig\.{key} must be"):
        ObjectiveConfig(**kwargs)
    assert ObjectiveConfig(target="both").weights == (0.5, 0.5)
    assert math.isclose(sum(ObjectiveConfig(target="both", spectrum_weight=0.8).weights), 1.0)


def test_flat_dropout_windows_are_not_scored_or_context_for_the_spectrum() -> None:
    windows = torch.randn(1, 5, 8)
    windows[0, 1] = 3.0  # exactly flat (a dropout), masked
    windows[0, 3] = -1.0  # exactly flat, context
    mask = torch.tensor([[False, True, True, False, False]])
    valid = torch.tensor([[True, True, True, True, False]])
    masks, valids = scored_windows(windows, mask, valid, ("raw", "spectrum"))
    assert torch.equal(masks["raw"], mask) and torch.equal(valids["raw"], valid)
    assert masks["spectrum"].tolist() == [[False, False, True, False, False]]
    assert valids["spectrum"].tolist() == [[True, False, True, False, False]]
    # the context mean of the spectrum then uses window 0 alone
    assert torch.equal(context_mean(windows, masks["spectrum"], valids["spectrum"])[0, 2], windows[0, 0])
