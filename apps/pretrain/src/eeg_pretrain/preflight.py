"""The cheap checks a run makes before it reads any data, so that a run that cannot succeed fails in seconds.

On rank 0, in this order: take ``train.save_dir``'s lock (:mod:`eeg_pretrain.run_lock`; it also proves the
folder writable), remove what interrupted writes of this run's files left there (only now: another run's
writes in progress are not stale), check that the folder's device can hold the checkpoints, and ask the
tracking store once (:func:`eeg_train.check_tracking_store`). The montage is checked against the files'
channel names when the data is indexed (:func:`eeg_pretrain.channels.check_channel_positions`), before any sample is read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from eeg_config import UserError
from eeg_montage import MontageError
from eeg_pretrain.config import PretrainConfig
from eeg_pretrain.run_folder import remove_stale_temp_files
from eeg_pretrain.run_lock import RunLock, acquire_run_lock
from eeg_ssm import EEGModel
from eeg_train import DistInfo, TrackingStoreError, any_rank, check_tracking_store

__all__ = ["cheap_checks", "check_free_space", "checkpoint_bytes"]


def checkpoint_bytes(config: PretrainConfig) -> int:
    """About the size of one checkpoint of ``config``'s model: its weights and buffers, and AdamW's two
    moments per weight (the model is built on the CPU, without touching the global random state)."""
    with torch.random.fork_rng(devices=[]):
        model = EEGModel(config.model)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    return 3 * weights + buffers


def check_free_space(config: PretrainConfig, resuming: bool) -> None:
    """Refuse a ``train.save_dir`` whose device cannot hold the checkpoints the run writes: a new run writes
    the last and the best, then a temporary copy beside them at each save; a resumed run, one more copy.

    Raises:
        UserError: naming the folder, the space needed and the space left.
    """
    folder = Path(config.train.save_dir)
    needed = checkpoint_bytes(config) * (1 if resuming else 3)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise UserError(
            f"train.save_dir {folder}: {free / 1e6:.1f} MB free, the run's checkpoints need about "
            f"{needed / 1e6:.1f} MB ({'a new copy beside the last' if resuming else 'last, best and a temporary copy'}); "
            "free some space or choose another train.save_dir"
        )


def cheap_checks(
    config: PretrainConfig, dist_info: DistInfo, resuming: bool
) -> tuple[RunLock | None, bool, str | None]:
    """The checks of the module docstring, on rank 0. Returns ``(rank 0's lock or None, ok, why the store is
    away or None)``; rank 0 raises its one-line error, the other ranks learn of it as ``ok`` False.

    A store that does not answer is an error for a new run (most likely a wrong ``tracking.uri``); a resumed
    run under ``tracking.on_failure: continue`` starts offline instead (a requeued job trains on while the
    server is down)."""
    lock, failure, away = None, None, None
    if dist_info.is_main:
        try:
            lock = acquire_run_lock(config.train.save_dir)
            remove_stale_temp_files(config.train.save_dir)
            check_free_space(config, resuming)
            if config.tracking.enabled:
                try:
                    check_tracking_store(config.tracking.uri, config.tracking.experiment)
                except TrackingStoreError as exc:
                    if not (resuming and config.tracking.on_failure == "continue"):
                        raise
                    away = exc.reason
        except (UserError, MontageError) as exc:  # MontageError: model.asa_path, while sizing the model
            failure = exc
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if failure is not None and lock is not None:
            lock.release()
    if any_rank(failure is not None, dist_info):
        if failure is not None:
            raise failure
        return None, False, None
    return lock, True, away
