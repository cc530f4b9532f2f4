"""AdamW parameter groups that know Mamba-2's parameter names."""

from __future__ import annotations

from torch import nn

__all__ = ["param_groups"]


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only: never on norms, biases, ``A_log``, ``dt_bias`` or ``D``."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        leaf = name.rsplit(".", 1)[-1]
        skip = (
            param.ndim < 2
            or getattr(param, "_no_weight_decay", False)
            or leaf in {"A_log", "dt_bias", "D", "bias"}
            or "norm" in name.lower()
        )
        (no_decay if skip else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
