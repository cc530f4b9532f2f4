"""Moved to the ``eeg-train`` library (``eeg_train.distributed``); this name stays for compatibility."""

from eeg_train.distributed import (
    DistInfo,
    all_reduce_sum,
    any_rank,
    barrier,
    init_distributed,
    pick_device,
    shutdown,
)

__all__ = ["DistInfo", "all_reduce_sum", "any_rank", "barrier", "init_distributed", "pick_device", "shutdown"]
