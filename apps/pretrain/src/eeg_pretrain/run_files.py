"""The names of the files a pretraining run leaves in ``train.save_dir``, and :func:`read_summary`.

Standard library only, so code that must not import torch can name them: each task of a sweep's SLURM
job (``eeg_sweep.job``) checks for :data:`SUMMARY` before it starts pretrain, and ``sweep status`` reads
the summaries without paying for torch. Everyone else reads them through :mod:`eeg_pretrain.run_folder`,
which re-exports them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CHECKPOINT_BEST = "mamba2_eeg_pretrained.pt"  # the epoch with the best validation loss
CHECKPOINT_LAST = "mamba2_eeg_pretrained_last.pt"  # the last epoch, for --resume
RESOLVED_CONFIG = "config.yaml"  # the resolved run config
SUMMARY = "summary.json"  # written when the run has finished
LOCK = ".pretrain.lock"  # held while a run works in the folder (eeg_pretrain.run_lock)


def read_summary(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``summary.json`` as a dict, or None when absent or unreadable (then the run is not finished)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
