"""The classifier: the pretrained encoder, a :class:`~eeg_ssm.ClassificationHead`, and its checkpoint.

A sample is ``C`` channel sequences of the same windows. Each channel's sequence is encoded on its own
(the encoder's spatial encoding says which electrode it is), pooled over its valid windows by the head's
pooling, the ``C`` pooled vectors are averaged, and the head's MLP gives the class logits.

The fine-tuned checkpoint keeps the encoder exactly where a pretraining checkpoint has it (``model`` and
``model_config``), so :func:`eeg_ssm.load_pretrained` reads the fine-tuned encoder from it too; the head is
in ``head`` / ``head_config``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eeg_finetune.errors import FinetuneError
from eeg_ssm import (
    ClassificationHead,
    EEGModel,
    lengths_to_mask,
    load_checkpoint,
    load_pretrained,
    save_checkpoint,
)

__all__ = ["EncoderClassifier", "load_finetuned", "save_finetuned"]


class EncoderClassifier(nn.Module):
    """Encoder + head over multichannel samples.

    Args:
        encoder: the (pretrained) :class:`~eeg_ssm.EEGModel`.
        channels: the ``C`` channel names of every sample, in the order of its channel axis.
        num_classes: logits per sample.
        hidden, pooling, dropout: as in :class:`~eeg_ssm.ClassificationHead`.
    """

    def __init__(
        self,
        encoder: EEGModel,
        channels: Sequence[str],
        num_classes: int,
        hidden: int | None = None,
        pooling: str = "mean",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.channels = [c.upper() for c in channels]
        self.head = ClassificationHead(encoder.config.d_model, num_classes, hidden, pooling, dropout)
        self.head_config = {
            "num_classes": num_classes,
            "hidden": hidden,
            "pooling": pooling,
            "dropout": dropout,
        }
        self._backbone_trainable = True
        # Standardisation of the pooled features the MLP sees (training-split statistics, see
        # set_feature_norm); identity until set. Buffers: they move with the model and are saved with it.
        self.register_buffer("feature_mean", torch.zeros(encoder.config.d_model))
        self.register_buffer("feature_std", torch.ones(encoder.config.d_model))

    def features(self, windows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Encoder features ``[B, C, L, d_model]`` of windows ``[B, C, L, W]`` with valid lengths ``[B]``."""
        batch, channels, length, width = windows.shape
        flat = windows.reshape(batch * channels, length, width)  # (B*C, L, W), sample-major
        names = self.channels * batch  # row b*C + c is channel c
        h = self.encoder.encode(flat, names, lengths.repeat_interleave(channels))  # (B*C, L, d)
        return h.reshape(batch, channels, length, -1)

    def pooled(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Head pooling over valid windows, then the mean over channels: ``[B, C, L, d] -> [B, d]``."""
        batch, channels, length, d_model = features.shape
        valid = lengths_to_mask(lengths, length).repeat_interleave(channels, dim=0)  # (B*C, L)
        pooled = self.head.pool(features.reshape(batch * channels, length, d_model), valid)  # (B*C, d)
        return pooled.reshape(batch, channels, d_model).mean(dim=1)

    def classify(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` from encoder features ``[B, C, L, d]`` (cached features of a frozen encoder):
        pooled, standardised with the training split's statistics, then the head's MLP."""
        return self.classify_pooled(self.pooled(features, lengths))

    def classify_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` from pooled features ``[B, d]``: standardised, then the head's MLP."""
        return self.head.mlp((pooled - self.feature_mean) / self.feature_std)

    @torch.no_grad()
    def set_feature_norm(self, pooled: torch.Tensor, eps: float = 1e-6) -> None:
        """Standardise the MLP's input with the mean and standard deviation of ``pooled`` ``[N, d]`` (the
        training samples' pooled features); a constant feature keeps unit scale."""
        mean = pooled.mean(dim=0)
        std = pooled.std(dim=0, unbiased=False)
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(torch.where(std > eps, std, torch.ones_like(std)))

    def forward(self, windows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, K]`` of windows ``[B, C, L, W]`` with valid lengths ``[B]``."""
        return self.classify(self.features(windows, lengths), lengths)

    def set_backbone_trainable(self, trainable: bool) -> None:
        """Freeze (eval mode, no gradients) or unfreeze the encoder. A frozen encoder stays in eval mode
        even when the classifier is put in train mode, so its dropout never changes the features."""
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(trainable)
        self._backbone_trainable = trainable
        self.encoder.train(trainable and self.training)

    @property
    def backbone_trainable(self) -> bool:
        return self._backbone_trainable

    def train(self, mode: bool = True) -> EncoderClassifier:
        super().train(mode)
        if not self.backbone_trainable:
            self.encoder.eval()
        return self


def save_finetuned(
    path: str | os.PathLike[str], classifier: EncoderClassifier, extra: Mapping[str, Any]
) -> Path:
    """Write the classifier atomically: ``model``/``model_config`` (encoder), ``head``/``head_config``,
    ``channels`` and the plain values of ``extra`` (classes, metrics, provenance)."""
    payload = {
        "model": {k: v.detach().cpu() for k, v in classifier.encoder.state_dict().items()},
        "model_config": classifier.encoder.config.to_dict(),
        "head": {k: v.detach().cpu() for k, v in classifier.head.state_dict().items()},
        "head_config": dict(classifier.head_config),
        "feature_norm": {
            "mean": classifier.feature_mean.detach().cpu(),
            "std": classifier.feature_std.detach().cpu(),
        },
        "channels": list(classifier.channels),
        **extra,
    }
    return save_checkpoint(path, payload)


def load_finetuned(
    path: str | os.PathLike[str], map_location: Any = "cpu", backend: str | None = None
) -> tuple[EncoderClassifier, dict[str, Any]]:
    """Rebuild a fine-tuned classifier (eval mode) and return it with the checkpoint's other entries
    (``classes``, ``metrics``, ``pretrained_checkpoint``, ...).

    Raises:
        CheckpointError: unreadable file or an encoder that does not fit its config.
        FinetuneError: a checkpoint without a classification head (e.g. a pretraining checkpoint).
    """
    payload = load_checkpoint(path, map_location="cpu")
    if "head" not in payload or "head_config" not in payload or "channels" not in payload:
        raise FinetuneError(
            f"{path}: not a fine-tuned classifier checkpoint (no 'head', 'head_config', 'channels')"
        )
    encoder = load_pretrained(path, map_location="cpu", backend=backend)
    classifier = EncoderClassifier(encoder, payload["channels"], **payload["head_config"])
    classifier.head.load_state_dict(payload["head"], strict=True)
    norm = payload.get("feature_norm")  # absent in files written before the head standardised its input
    if isinstance(norm, dict):
        classifier.feature_mean.copy_(norm["mean"])
        classifier.feature_std.copy_(norm["std"])
    if isinstance(map_location, str | torch.device):
        classifier.to(map_location)
    info = {k: v for k, v in payload.items() if k not in ("model", "head", "feature_norm")}
    return classifier.eval(), info
