"""ClassificationHead: pooling over valid tokens only, logits shape, argument checks."""

from __future__ import annotations

import pytest
import torch

from eeg_ssm import ClassificationHead, lengths_to_mask


def _features(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(3, 6, 8, generator=g)
    return h, lengths_to_mask(torch.tensor([6, 2, 4]), 6)


def test_mean_pooling_is_the_mean_of_valid_tokens() -> None:
    h, valid = _features()
    pooled = ClassificationHead(8, 2).pool(h, valid)
    assert torch.allclose(pooled[1], h[1, :2].mean(0))
    assert torch.allclose(pooled[0], h[0].mean(0))


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_padding_never_contributes_even_when_non_finite(pooling: str) -> None:
    head = ClassificationHead(8, 3, pooling=pooling).eval()
    h, valid = _features()
    logits = head(h, valid)
    assert logits.shape == (3, 3)
    poisoned = h.clone()
    poisoned[~valid] = float("nan")
    poisoned[1, 5] = float("inf")
    assert torch.equal(head(poisoned, valid), logits)


def test_attention_pooling_is_a_convex_combination_of_valid_tokens() -> None:
    head = ClassificationHead(8, 2, pooling="attention")
    h, valid = _features()
    h[1, :2] = torch.tensor([1.0] * 8)  # all valid tokens of row 1 equal: any weights give that token
    assert torch.allclose(head.pool(h, valid)[1], torch.ones(8))


def test_attention_pooling_scores_receive_gradients() -> None:
    head = ClassificationHead(8, 2, pooling="attention")
    h, valid = _features()
    head(h, valid).sum().backward()
    assert head.score.weight.grad is not None and head.score.weight.grad.abs().sum() > 0


def test_rows_without_valid_tokens_pool_to_zeros() -> None:
    h, _ = _features()
    none = torch.zeros(3, 6, dtype=torch.bool)
    for pooling in ("mean", "attention"):
        assert torch.equal(ClassificationHead(8, 2, pooling=pooling).pool(h, none), torch.zeros(3, 8))


def test_hidden_zero_is_a_linear_probe() -> None:
    head = ClassificationHead(8, 4, hidden=0)
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8, 4)]
    wide = [m for m in ClassificationHead(8, 4, hidden=32).mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in wide] == [(8, 32), (32, 4)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"num_classes": 0}, "num_classes"), ({"pooling": "max"}, "pooling"), ({"dropout": 1.0}, "dropout"),
     ({"hidden": -1}, "hidden")],
)  # fmt: skip
def test_bad_arguments_name_the_argument(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"ClassificationHead.{field}"):
        ClassificationHead(**({"d_model": 8, "num_classes": 2} | kwargs))
