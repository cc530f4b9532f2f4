"""eeg_train: the run plumbing that pretraining and fine-tuning share.

MLflow trackers behind a tiny protocol (:class:`Tracker`; nested child runs), AdamW with the warmup +
cosine learning-rate schedule, device choice, and the DDP helpers (process group under torchrun, sums and
flags across ranks).
"""

from eeg_train.config import DEVICES, TrackingConfig
from eeg_train.distributed import (
    DistInfo,
    all_reduce_sum,
    any_rank,
    barrier,
    init_distributed,
    pick_device,
    shutdown,
)
from eeg_train.resilient import (
    JOURNAL,
    ON_FAILURE,
    ResilientTracker,
    TrackingFailed,
    journal_status,
    replay_journal,
)
from eeg_train.schedule import adamw_with_schedule, warmup_cosine
from eeg_train.tracking import (
    MAX_PARAM_LENGTH,
    ChildRunTracker,
    MlflowTracker,
    NullTracker,
    Tracker,
    child_tracker,
)
from eeg_train.tracking_store import TrackingStoreError, bounded_requests, check_tracking_store, short_reason

__all__ = [
    "DEVICES",
    "JOURNAL",
    "MAX_PARAM_LENGTH",
    "ON_FAILURE",
    "ChildRunTracker",
    "DistInfo",
    "MlflowTracker",
    "NullTracker",
    "ResilientTracker",
    "Tracker",
    "TrackingConfig",
    "TrackingFailed",
    "TrackingStoreError",
    "adamw_with_schedule",
    "all_reduce_sum",
    "any_rank",
    "barrier",
    "bounded_requests",
    "check_tracking_store",
    "child_tracker",
    "init_distributed",
    "journal_status",
    "pick_device",
    "replay_journal",
    "short_reason",
    "shutdown",
    "warmup_cosine",
]
