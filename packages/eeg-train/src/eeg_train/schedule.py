"""The warmup + cosine learning-rate schedule (a multiplier for ``torch.optim.lr_scheduler.LambdaLR``)."""

from __future__ import annotations

import math


def warmup_cosine(total_steps: int, warmup_steps: int, min_lr_ratio: float):
    """LR multiplier: linear warmup to 1 over ``warmup_steps``, then cosine down to ``min_lr_ratio``."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
