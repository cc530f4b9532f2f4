"""Self-supervised objectives for EEG: whole-window masking, masked losses and honest baselines.

Knows nothing of Parquet or models: it works on ``[B, L, W]`` tensors and ``[B, L]`` masks.
"""

from eeg_ssl.config import BERT_PROPORTIONS, MASKING_STYLES, MaskingConfig, MaskingError
from eeg_ssl.losses import (
    LOCAL_K,
    context_mean,
    interpolate_masked,
    local_mean,
    masked_mse,
    masked_sse,
    reconstruction_r2,
    skill,
)
from eeg_ssl.masking import MaskPlan, apply_mask, draw_masks, mask_tokens, masked_counts, select_tokens
from eeg_ssl.metrics import ReconstructionMeter
from eeg_ssl.objective import (
    TARGET_PARTS,
    TARGETS,
    ObjectiveConfig,
    ObjectiveError,
    make_targets,
    scored_windows,
    split_prediction,
    weighted_sse,
)

__all__ = [
    "BERT_PROPORTIONS",
    "LOCAL_K",
    "MASKING_STYLES",
    "TARGETS",
    "TARGET_PARTS",
    "MaskPlan",
    "MaskingConfig",
    "MaskingError",
    "ObjectiveConfig",
    "ObjectiveError",
    "ReconstructionMeter",
    "apply_mask",
    "context_mean",
    "draw_masks",
    "interpolate_masked",
    "local_mean",
    "make_targets",
    "mask_tokens",
    "masked_counts",
    "masked_mse",
    "masked_sse",
    "reconstruction_r2",
    "scored_windows",
    "select_tokens",
    "skill",
    "split_prediction",
    "weighted_sse",
]
