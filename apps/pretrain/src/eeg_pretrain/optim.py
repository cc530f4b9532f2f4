"""Moved: ``param_groups`` to ``eeg_ssm.optim``, ``warmup_cosine`` to ``eeg_train.schedule``; these names stay
for compatibility."""

from eeg_ssm.optim import param_groups
from eeg_train.schedule import warmup_cosine

__all__ = ["param_groups", "warmup_cosine"]
