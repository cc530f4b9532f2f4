"""What pooling several corpora (``data.corpora``) adds to a run: the weighted training order, validation
figures per corpus, and band statistics of the training mixture.

- :class:`WeightedEpochSampler`: each epoch is :func:`eeg_io.weighted_epoch`'s order (as many sequences as
  the pooled training split, each corpus's share proportional to its weight), sharded over DDP ranks as
  :class:`~torch.utils.data.DistributedSampler` shards, and skipping what an interrupted epoch did.
- :class:`ValidationMeters`: one :class:`~eeg_ssl.ReconstructionMeter` per corpus; the pooled figures are
  their sums (every held-out masked window of every corpus counts once), the corpus's own are prefixed
  ``{name}/`` (``blink/skill``).
- :func:`mixture_statistics`: the band-power standardisation of a pool is one (the model's, stored in the
  checkpoint and applied by finetune to any data), estimated on the mixture an epoch draws: each corpus's
  band moments weighted by its share of the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

from eeg_io import epoch_quotas, weighted_epoch
from eeg_ssl import ReconstructionMeter
from eeg_train import DistInfo, all_reduce_sum

__all__ = ["ValidationMeters", "WeightedEpochSampler", "mixture_statistics", "spread"]


class WeightedEpochSampler(Sampler[int]):
    """Draw indices (:mod:`eeg_io.pool`) of the pooled training set, corpus by weight; the interface of
    :class:`~eeg_pretrain.data.EpochSampler` (``set_epoch(epoch, skip_batches)``, ``batches_per_epoch``).

    ``sizes``: training sequences per corpus, in the order the pooled training set holds them."""

    def __init__(
        self,
        sizes: Sequence[int],
        weights: Sequence[float],
        world_size: int,
        rank: int,
        seed: int,
        batch_size: int,
    ):
        self.sizes, self.weights = list(sizes), list(weights)
        self.quotas = epoch_quotas(self.sizes, self.weights)  # sequences of each corpus per epoch
        self.world_size, self.rank, self.seed, self.batch_size = world_size, rank, seed, batch_size
        self.per_rank = math.ceil(sum(self.sizes) / world_size)
        self.epoch, self.skip_batches = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip_batches = epoch, skip_batches

    def rank_order(self) -> list[int]:
        """This rank's draws of the epoch: the global order padded by its own start to a multiple of the world
        size (as DistributedSampler pads), then every ``world_size``-th from ``rank``."""
        order = weighted_epoch(self.sizes, self.weights, self.seed, self.epoch).tolist()
        padding = self.per_rank * self.world_size - len(order)
        if padding and order:
            order += (order * math.ceil(padding / len(order)))[:padding]
        return order[self.rank :: self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.rank_order()[self.skip_batches * self.batch_size :])

    def __len__(self) -> int:
        return max(0, self.per_rank - self.skip_batches * self.batch_size)

    def batches_per_epoch(self) -> int:
        return math.ceil(self.per_rank / self.batch_size)


class ValidationMeters:
    """Validation meters: one for the run, or, with corpus ``names`` (a pool), one per corpus.

    :meth:`update` takes a batch's corpus names (``batch["corpora"]``; None without a pool) and the
    trainer's ``(pred, target, mask, valid, context)``; :meth:`summary` all-reduces over ranks and returns
    the pooled figures, plus each corpus's prefixed ``{name}/`` in a pool."""

    def __init__(self, names: Sequence[str], make_meter: Callable[[], ReconstructionMeter]):
        self.names = tuple(names)
        self.meters = {name: make_meter() for name in self.names} if self.names else {"": make_meter()}

    def update(self, corpora: Sequence[str] | None, *outputs: Any) -> None:
        if not self.names:
            self.meters[""].update(*outputs)
            return
        assert corpora is not None, "a pooled batch carries its samples' corpora"
        for name in dict.fromkeys(corpora):  # the batch's corpora, in order of appearance
            rows = torch.tensor([b for b, c in enumerate(corpora) if c == name])
            self.meters[name].update(*(_rows(part, rows) for part in outputs))

    def summary(self, dist: DistInfo) -> dict[str, float]:
        meters = list(self.meters.values())
        totals = all_reduce_sum(torch.cat([m.totals() for m in meters]), dist).reshape(len(meters), -1)
        out = meters[0].summary(totals.sum(dim=0))
        for name, row in zip(self.names, totals, strict=False):
            out.update({f"{name}/{key}": value for key, value in meters[0].summary(row).items()})
        return out


def _rows(part: Any, rows: torch.Tensor) -> Any:
    """``part`` (a ``{name: tensor (B, ...)}`` mapping, possibly empty) at batch rows ``rows``."""
    assert isinstance(part, Mapping)
    return {key: value.index_select(0, rows.to(value.device)) for key, value in part.items()}


def spread(count: int, limit: int) -> list[int]:
    """At most ``limit`` indices of ``range(count)``, spread evenly, sorted."""
    limit = min(count, limit)
    return sorted({int(i * count / limit) for i in range(limit)}) if limit else []


def mixture_statistics(totals: Sequence[torch.Tensor], shares: Sequence[float]) -> torch.Tensor:
    """:class:`~eeg_ssm.BandStatistics` totals (``(3, n_bands)``: count, sum, sum of squares) of a mixture:
    each corpus's mean and mean square weighted by its ``share`` (summing to 1), as totals of count 1, so
    :meth:`~eeg_ssm.BandStatistics.mean_std` gives the mixture's mean and std."""
    mixed = torch.zeros_like(totals[0])
    mixed[0] = 1.0
    for total, share in zip(totals, shares, strict=True):
        count = total[0].clamp(min=1.0)
        mixed[1] += share * total[1] / count
        mixed[2] += share * total[2] / count
    return mixed
