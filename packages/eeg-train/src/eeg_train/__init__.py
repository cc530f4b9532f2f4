"""eeg_train: the run plumbing that pretraining and fine-tuning share.

MLflow trackers behind a tiny protocol (:class:`Tracker`; nested child runs, datasets as run inputs, one
registered model per model family with a version per run, run descriptions and links), AdamW with the warmup +
cosine learning-rate schedule, device choice, and the DDP helpers (process group under torchrun, sums and
flags across ranks).
"""

from eeg_train.config import DEVICES, TrackingConfig, model_name
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
from eeg_train.run_pages import (
    DESCRIPTION_TAG,
    KEY_FIGURES_VIEW,
    command_line,
    markdown_link,
    run_route,
    save_runs_view,
    view_route,
)
from eeg_train.schedule import adamw_with_schedule, warmup_cosine
from eeg_train.tracking import (
    DATASET_CONTEXT_TAG,
    MAX_PARAM_LENGTH,
    ChildRunTracker,
    MlflowTracker,
    NullTracker,
    RunDataset,
    Tracker,
    child_tracker,
)
from eeg_train.tracking_store import (
    TrackingStoreError,
    bounded_requests,
    check_tracking_store,
    create_sqlite_store,
    short_reason,
)

__all__ = [
    "DATASET_CONTEXT_TAG",
    "DESCRIPTION_TAG",
    "DEVICES",
    "JOURNAL",
    "KEY_FIGURES_VIEW",
    "MAX_PARAM_LENGTH",
    "ON_FAILURE",
    "ChildRunTracker",
    "DistInfo",
    "MlflowTracker",
    "NullTracker",
    "ResilientTracker",
    "RunDataset",
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
    "command_line",
    "create_sqlite_store",
    "init_distributed",
    "journal_status",
    "markdown_link",
    "model_name",
    "pick_device",
    "replay_journal",
    "run_route",
    "save_runs_view",
    "short_reason",
    "shutdown",
    "view_route",
    "warmup_cosine",
]
