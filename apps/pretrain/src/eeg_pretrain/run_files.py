"""The names of the files a pretraining run leaves in ``train.save_dir``.

Standard library only, so code that must not import torch can name them: each task of a sweep's SLURM
job (``eeg_sweep.job``) checks for :data:`SUMMARY` before it starts pretrain. Everyone else reads them
through :mod:`eeg_pretrain.run_folder`, which re-exports them.
"""

from __future__ import annotations

CHECKPOINT_BEST = "mamba2_eeg_pretrained.pt"  # the epoch with the best validation loss
CHECKPOINT_LAST = "mamba2_eeg_pretrained_last.pt"  # the last epoch, for --resume
RESOLVED_CONFIG = "config.yaml"  # the resolved run config
SUMMARY = "summary.json"  # written when the run has finished
LOCK = ".pretrain.lock"  # held while a run works in the folder (eeg_pretrain.run_lock)
