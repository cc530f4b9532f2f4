"""Encoder token features of one participant's windows (``finetune embed``; the baselines use
:mod:`eeg_finetune.baselines`)."""

from __future__ import annotations

import numpy as np
import torch

from eeg_ssm import EEGModel

__all__ = ["encode_participant"]


@torch.no_grad()
def encode_participant(
    encoder: EEGModel, windows: np.ndarray, channels: list[str], device: torch.device, batch_size: int = 16
) -> np.ndarray:
    """Token features float32 ``[C, L, d_model]`` of one participant's windows ``[C, L, W]`` (eval mode).

    Channels are encoded in batches of ``batch_size`` sequences; all share the participant's length, so
    there is no padding.
    """
    encoder.eval()
    count, length, _ = windows.shape
    out = []
    for start in range(0, count, batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(windows[start : start + batch_size])).to(device)
        lengths = torch.full((chunk.shape[0],), length, dtype=torch.int64, device=device)
        out.append(encoder.encode(chunk, channels[start : start + batch_size], lengths).float().cpu())
    return torch.cat(out).numpy()
