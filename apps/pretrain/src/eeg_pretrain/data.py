"""The pretraining data pipeline: eeg-io sequences, masks drawn per batch in the loader, applied on device.

Each sequence's mask comes from its own key ``(seed, epoch, index)``, so masks do not depend on batch
composition, worker count or the number of DDP ranks: a 2-rank run sees exactly the masks of a
single-process run over the same global batches, and validation masks (``epoch`` fixed) never change.
The loader draws only the masks (:class:`~eeg_ssl.MaskPlan`); the trainer hides the windows on the training
device (:func:`~eeg_ssl.apply_mask`), so a batch carries its windows once, not a masked copy beside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from torch.utils.data import Dataset, DistributedSampler, Sampler

from eeg_io import ChannelSequenceDataset, collate_sequences
from eeg_ssl import MaskingConfig, draw_masks


class MaskedSequences(Dataset):
    """eeg-io samples plus ``mask_key = (seed, epoch, index)``, the key of the sequence's mask (drawn later,
    for the whole batch, by :class:`MaskingCollate`)."""

    def __init__(self, base: ChannelSequenceDataset, seed: int, fixed: bool = False):
        self.base = base
        self.seed = seed
        self.fixed = fixed  # validation: the same masks every epoch
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.base.set_epoch(0 if self.fixed else epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """A batch's samples, read by eeg-io straight into one batch tensor (the DataLoader calls this)."""
        epoch = 0 if self.fixed else self.epoch
        samples = self.base.__getitems__(indices)
        for index, sample in zip(indices, samples, strict=True):
            sample["mask_key"] = (self.seed, epoch, index)
        return samples


class MaskingCollate:
    """Collate :class:`MaskedSequences` samples: eeg-io's batch plus ``mask_plan`` (a
    :class:`~eeg_ssl.MaskPlan`) and its ``mask [B, L_max]`` (False on padding), drawn for the whole batch."""

    def __init__(self, masking: MaskingConfig):
        self.masking = masking

    def __call__(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch = collate_sequences(list(samples))
        _, length, width = batch["windows"].shape
        plan = draw_masks(
            [s["mask_key"] for s in samples],
            batch["lengths"].tolist(),
            self.masking.ratio,
            self.masking.style,
            width=width,
            noise_std=self.masking.noise_std,
            max_length=length,
        )
        batch["mask_plan"], batch["mask"] = plan, plan.mask
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
