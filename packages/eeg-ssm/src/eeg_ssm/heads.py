"""Sequence-level heads for fine-tuning on encoder features."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("mean", "attention")


class ClassificationHead(nn.Module):
    """Pool the valid tokens of each sequence, then an MLP to class logits.

    Args:
        d_model: feature size of the encoder output.
        num_classes: number of logits (2 for a binary task scored with cross-entropy).
        hidden: width of the MLP's hidden layer; ``None`` means ``d_model``, ``0`` a single linear layer
            (a linear probe).
        pooling: ``"mean"`` (masked mean over valid tokens) or ``"attention"`` (a learned score per token,
            softmax over valid tokens, weighted sum).
        dropout: dropout before each linear layer of the MLP.
    """

    def __init__(
        self,
        d_model: int,
        num_classes: int,
        hidden: int | None = None,
        pooling: str = "mean",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ClassificationHead.{name}: expected a positive integer, got {value!r}")
        if hidden is not None and (isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0):
            raise ValueError(f"ClassificationHead.hidden: expected an integer >= 0 or None, got {hidden!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"ClassificationHead.pooling: expected one of {list(POOLINGS)}, got {pooling!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"ClassificationHead.dropout: expected a number in [0, 1), got {dropout!r}")
        self.pooling = pooling
        self.score = nn.Linear(d_model, 1) if pooling == "attention" else None
        hidden = d_model if hidden is None else hidden
        if hidden:
            self.mlp = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(d_model, hidden), nn.GELU(), nn.Dropout(dropout),
                nn.Linear(hidden, num_classes),
            )  # fmt: skip
        else:
            self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(d_model, num_classes))

    def pool(self, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``h``: ``(B, L, d)``; ``valid``: bool ``(B, L)``, True on real tokens. Returns ``(B, d)``.

        Padding never contributes, whatever it holds. A row without any valid token pools to zeros.
        """
        valid = valid.to(torch.bool)
        if self.score is None:
            weights = valid.to(h.dtype)
            weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        else:
            scores = self.score(h).squeeze(-1).masked_fill(~valid, -torch.inf)  # (B, L)
            # nan_to_num: an all-padding row would give softmax(-inf...) = NaN; make it zeros instead.
            weights = torch.softmax(scores, dim=1).nan_to_num(0.0)
        # masked_fill, not a product: padded features may be anything, even non-finite.
        return torch.einsum("bl,bld->bd", weights, h.masked_fill(~valid.unsqueeze(-1), 0.0))

    def forward(self, h: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``h``: ``(B, L, d)``; ``valid``: bool ``(B, L)``. Returns logits ``(B, num_classes)``."""
        return self.mlp(self.pool(h, valid))
