"""The warmup + cosine learning-rate schedule (a multiplier for ``torch.optim.lr_scheduler.LambdaLR``) and
the AdamW optimiser that pretraining and fine-tuning step with it."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def warmup_cosine(total_steps: int, warmup_steps: int, min_lr_ratio: float):
    """LR multiplier: linear warmup to 1 over ``warmup_steps``, then cosine down to ``min_lr_ratio``."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


def adamw_with_schedule(
    param_groups: Iterable[dict],
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    total_steps: int,
    warmup_fraction: float,
    min_lr_ratio: float,
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over ``param_groups`` and its :func:`warmup_cosine` schedule, stepped once per optimiser step.

    ``lr`` is the peak learning rate of every group that does not carry its own ``"lr"``; each group keeps
    its own ``weight_decay``. Warmup lasts ``int(warmup_fraction * total_steps)`` steps.
    """
    optimizer = torch.optim.AdamW(param_groups, lr=lr, betas=betas)
    warmup_steps = int(warmup_fraction * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(total_steps, warmup_steps, min_lr_ratio)
    )
    return optimizer, scheduler
