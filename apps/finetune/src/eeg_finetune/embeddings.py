"""Encoder token features: of one participant's windows (``finetune embed``), and of a frozen encoder's
sample spans, computed once and cached (the heads, the linear probe)."""

from __future__ import annotations

import numpy as np
import torch

from eeg_finetune.data import LabelledData, collate_windows
from eeg_ssm import EEGModel

__all__ = ["SpanCache", "encode_participant", "encode_spans"]

#: ``(sequence, start, stop)`` -> the frozen encoder's features ``(C, stop - start, d_model)`` of that span
SpanCache = dict[tuple[int, int, int], torch.Tensor]
#: Spans are encoded in batches of about this many token features (``batch x channels x windows x d_model``
#: values; at least ``min_batch`` spans): few, large batches, as the encoder's per-call cost dominates small ones.
ENCODE_VALUES = 1 << 22


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


@torch.no_grad()
def encode_spans(
    classifier: torch.nn.Module,
    data: LabelledData,
    spans: list[tuple[int, int, int]],
    device: torch.device,
    cache: SpanCache,
    min_batch: int = 8,
) -> SpanCache:
    """The features ``(C, l, d)`` of each of ``spans`` from ``classifier``'s frozen encoder (eval mode, no
    gradients; :meth:`EncoderClassifier.features`), encoding only those not yet in ``cache`` (which keeps
    them): longest first, in batches of about :data:`ENCODE_VALUES` feature values."""
    missing = sorted({s for s in spans if s not in cache}, key=lambda s: (s[1] - s[2], s))
    classifier.encoder.eval()
    channels, d_model = len(data.channels), classifier.encoder.config.d_model
    start = 0
    while start < len(missing):
        longest = missing[start][2] - missing[start][1]
        size = max(min_batch, ENCODE_VALUES // max(1, channels * longest * d_model))
        chunk = missing[start : start + size]
        windows, lengths = collate_windows(data, chunk)
        features = classifier.features(windows.to(device), lengths.to(device))
        for b, span in enumerate(chunk):
            cache[span] = features[b, :, : span[2] - span[1]].clone()  # (C, l, d)
        start += size
    return {span: cache[span] for span in spans}
