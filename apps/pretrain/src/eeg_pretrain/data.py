"""The pretraining data pipeline: eeg-io sequences + per-sequence masks drawn in the loader workers.

Each sequence's mask comes from a generator seeded by ``(seed, epoch, index)``, so masks do not depend
on batch composition, worker count or the number of DDP ranks: a 2-rank run sees exactly the masks of a
single-process run over the same global batches, and validation masks (``epoch`` fixed) never change.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from eeg_io import ChannelSequenceDataset, collate_sequences
from eeg_ssl import MaskingConfig, mask_tokens


def sequence_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (``numpy.random.SeedSequence``)."""
    return int(
        np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint64)[0] >> 1
    )


class MaskedSequences(Dataset):
    """Adds ``inputs`` (masked windows ``[L, W]``) and ``mask`` (bool ``[L]``) to each eeg-io sample."""

    def __init__(self, base: ChannelSequenceDataset, masking: MaskingConfig, seed: int, fixed: bool = False):
        self.base = base
        self.masking = masking
        self.seed = seed
        self.fixed = fixed  # validation: the same masks every epoch
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.base.set_epoch(0 if self.fixed else epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = dict(self.base[index])
        windows = sample["windows"]  # (L, W)
        epoch = 0 if self.fixed else self.epoch
        generator = torch.Generator().manual_seed(sequence_seed(self.seed, epoch, index))
        valid = torch.ones(1, windows.shape[0], dtype=torch.bool)
        with warnings.catch_warnings():  # the config already warned about leaky BERT ratios once
            warnings.simplefilter("ignore", UserWarning)
            inputs, mask = mask_tokens(
                windows[None],
                valid,
                self.masking.ratio,
                self.masking.style,
                generator,
                self.masking.noise_std,
            )
        sample["inputs"], sample["mask"] = inputs[0], mask[0]
        return sample


def collate_masked(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """eeg-io's collate plus right-padded ``inputs [B, L_max, W]`` and ``mask [B, L_max]`` (False on padding)."""
    batch = collate_sequences(list(samples))
    B, L, W = batch["windows"].shape
    inputs = torch.zeros(B, L, W, dtype=batch["windows"].dtype)
    mask = torch.zeros(B, L, dtype=torch.bool)
    for b, sample in enumerate(samples):
        n = sample["inputs"].shape[0]
        inputs[b, :n] = sample["inputs"]
        mask[b, :n] = sample["mask"]
    batch["inputs"], batch["mask"] = inputs, mask
    return batch


class EpochSampler(Sampler[int]):
    """A :class:`DistributedSampler` (one replica when not distributed) that can skip the samples of the
    batches already done in an interrupted epoch, so a resumed run continues exactly where it stopped."""

    def __init__(
        self, dataset: Dataset, world_size: int, rank: int, shuffle: bool, seed: int, batch_size: int
    ):
        self.inner = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=False
        )
        self.batch_size = batch_size
        self.skip_batches = 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.inner.set_epoch(epoch)
        self.skip_batches = skip_batches

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.inner)[self.skip_batches * self.batch_size :])

    def __len__(self) -> int:
        return max(0, len(self.inner) - self.skip_batches * self.batch_size)

    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.inner) / self.batch_size)


class ShardSampler(Sampler[int]):
    """Validation: rank ``r`` of ``n`` takes items ``r, r + n, ...`` in order, no padding or repeats."""

    def __init__(self, length: int, world_size: int, rank: int):
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
