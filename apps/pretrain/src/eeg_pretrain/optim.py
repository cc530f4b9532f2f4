"""How a pretraining run updates its weights: AdamW over eeg-ssm's parameter groups, the warmup + cosine
learning-rate schedule over all of ``train.epochs``, and mixed precision (autocast dtype, gradient scaler)."""

from __future__ import annotations

import math

import torch

from eeg_pretrain.config import TrainConfig
from eeg_ssm import param_groups
from eeg_train import adamw_with_schedule

#: ``train.precision`` -> the autocast dtype (None: no autocast)
AMP_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def build_optimizer(
    model: torch.nn.Module, train: TrainConfig, batches_per_epoch: int
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW (no weight decay on norms and biases) and its schedule, stepped once per optimiser step.

    ``batches_per_epoch`` is one rank's count; ``train.grad_accum_steps`` batches make one step, the last
    group of an epoch may be shorter.
    """
    total_steps = math.ceil(batches_per_epoch / train.grad_accum_steps) * train.epochs
    return adamw_with_schedule(
        param_groups(model, train.weight_decay),
        lr=train.lr,
        betas=(train.beta1, train.beta2),
        total_steps=total_steps,
        warmup_fraction=train.warmup_fraction,
        min_lr_ratio=train.min_lr_ratio,
    )


def mixed_precision(precision: str, device: torch.device) -> tuple[torch.dtype | None, torch.amp.GradScaler]:
    """The autocast dtype of ``train.precision`` (``auto``: bf16 on CUDA, fp32 elsewhere) and the gradient
    scaler, enabled for fp16 only."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "fp32"
    return AMP_DTYPES[precision], torch.amp.GradScaler(device.type, enabled=precision == "fp16")
