"""EEG encoders: Mamba-2 (mamba_ssm kernels on CUDA, pure PyTorch anywhere, one state_dict), a Transformer
fallback, reconstruction and classification heads, and checkpoint I/O.

    >>> import torch
    >>> from eeg_ssm import EEGModel, ModelConfig
    >>> model = EEGModel(ModelConfig(window_length=64, d_model=32, num_layers=1, headdim=8, d_state=16))
    >>> model(torch.zeros(2, 5, 64), ["FZ", "AF7"], torch.tensor([5, 3])).shape
    torch.Size([2, 5, 64])
"""

from eeg_ssm.backbone import (
    MambaBackbone,
    MambaLayer,
    TransformerBackbone,
    TransformerLayer,
    lengths_to_mask,
    reverse_within_length,
)
from eeg_ssm.backends import mamba_ssm_status
from eeg_ssm.checkpoint import CheckpointError, load_checkpoint, load_pretrained, save_checkpoint
from eeg_ssm.config import (
    BACKENDS,
    INPUTS,
    MAMBA_BACKENDS,
    MISSING_CHANNEL_POLICIES,
    TARGETS,
    ModelConfig,
    ModelConfigError,
)
from eeg_ssm.encoders import InputProjection, SpatialEncoding, TemporalEncoding
from eeg_ssm.heads import POOLINGS, ClassificationHead
from eeg_ssm.mamba2 import Mamba2, RMSNormGated
from eeg_ssm.model import EEGModel, weighted_context
from eeg_ssm.optim import param_groups
from eeg_ssm.spectral import (
    BandPower,
    BandStatistics,
    SpectralConfigError,
    band_edges,
    band_psd,
    log_band_power,
)
from eeg_ssm.ssd import ssd_chunked, ssd_sequential

__all__ = [
    "BACKENDS",
    "INPUTS",
    "MAMBA_BACKENDS",
    "MISSING_CHANNEL_POLICIES",
    "POOLINGS",
    "TARGETS",
    "BandPower",
    "BandStatistics",
    "CheckpointError",
    "ClassificationHead",
    "EEGModel",
    "InputProjection",
    "Mamba2",
    "MambaBackbone",
    "MambaLayer",
    "ModelConfig",
    "ModelConfigError",
    "RMSNormGated",
    "SpatialEncoding",
    "SpectralConfigError",
    "TemporalEncoding",
    "TransformerBackbone",
    "TransformerLayer",
    "band_edges",
    "band_psd",
    "lengths_to_mask",
    "load_checkpoint",
    "load_pretrained",
    "log_band_power",
    "mamba_ssm_status",
    "param_groups",
    "reverse_within_length",
    "save_checkpoint",
    "ssd_chunked",
    "ssd_sequential",
    "weighted_context",
]
