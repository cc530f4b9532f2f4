"""The pretraining data pipeline: eeg-io sequences, masks drawn per batch in the loader, applied on device.

Each sequence's mask comes from its own key ``(seed, epoch, index)``, so masks do not depend on batch
composition, worker count or the number of DDP ranks: a 2-rank run sees exactly the masks of a
single-process run over the same global batches, and validation masks (``epoch`` fixed) never change.
The loader draws only the masks (:class:`~eeg_ssl.MaskPlan`); the trainer hides the windows on the training
device (:func:`~eeg_ssl.apply_mask`), so a batch carries its windows once, not a masked copy beside them.

Several corpora (``data.corpora``) are indexed and split one by one (:func:`eeg_io.pooled_split`) and pooled
into one training and one validation set; training draws them by weight (:mod:`eeg_pretrain.pool`), each
validation sequence keeps the mask it would have in a run on its corpus alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from eeg_config.progress import progress
from eeg_io import (
    ChannelSequenceDataset,
    CorpusSplit,
    ResultCache,
    SequenceItem,
    check_sampling_rate,
    collate_sequences,
    file_fingerprints,
    file_key,
    index_corpora,
    pooled_split,
)
from eeg_io.result_cache import code_key
from eeg_pretrain import data_report
from eeg_pretrain.channels import check_channel_positions
from eeg_pretrain.data_report import log_data_checks
from eeg_pretrain.pool import WeightedEpochSampler, mixture_statistics, spread
from eeg_ssl import MaskingConfig, draw_masks
from eeg_ssm import BandStatistics
from eeg_train import DistInfo

if TYPE_CHECKING:
    from eeg_pretrain.config import PretrainConfig
    from eeg_ssm.spectral import BandPower

log = logging.getLogger("eeg_pretrain")


@attrs.frozen
class PretrainingData:
    """The split, datasets, samplers and loaders of a run (what :func:`build_data` makes)."""

    num_sequences: int
    train_set: MaskedSequences
    val_set: MaskedSequences | None
    train_sampler: EpochSampler | WeightedEpochSampler
    collate: MaskingCollate
    train_loader: DataLoader
    val_loader: DataLoader | None
    record: dict[str, list[str]]  # pretraining_data_record: what the checkpoint says it was trained on
    splits: tuple[CorpusSplit, ...]  # per corpus (one for data.dataset_path)
    channels: tuple[str, ...]  # the channels read (upper case, sorted)
    corpora: tuple[str, ...] = ()  # the pooled corpora's names, in data.corpora order; () for one corpus


def build_data(
    config: PretrainConfig, dist_info: DistInfo, device: torch.device, cache: ResultCache | None = None
) -> PretrainingData:
    """Index the corpus (or each of ``data.corpora``), check that the montage places every channel, split
    each corpus by ``data.split_group`` (seeded by ``train.seed``) and keep the ``data.participants`` subset
    of its training participants, check it once (sampling rate for spectral settings, the data checks on
    rank 0), and build the loaders. ``cache`` keeps each file's data-check findings and sample
    fingerprints between runs (:class:`eeg_io.ResultCache`, keyed by the file's content).

    Training masks are keyed ``(masking.seed or train.seed, epoch, index)`` (a pool: the draw index);
    validation masks are fixed (``masking.val_seed``, epoch 0; a pool: the index within the corpus). Each
    DDP rank reads its own shard of every global batch.
    """
    data, seed = config.data, config.train.seed
    indexed = index_corpora(data)  # EEGDataError names a missing or bad path
    items = [item for _, corpus_items in indexed for item in corpus_items]
    corpus_of = {item.file: corpus.name for corpus, corpus_items in indexed for item in corpus_items}
    check_channel_positions(  # before any statistics or tracking
        config.model, items, data.where, corpus_of if data.pooled else None
    )
    # per corpus: validation first, on the whole corpus; then data.participants' subset of the rest
    splits = tuple(pooled_split(indexed, data, seed))
    train_items = [item for split in splits for item in split.train]
    val_items = [item for split in splits for item in split.val]
    if data.participants is not None and dist_info.is_main:
        log_subset(config, train_items, val_items)
    if config.model.uses_spectrum:  # band edges depend on the rate: the data's window times must agree
        check_sampling_rate(
            dict.fromkeys(item.file for item in items), data.sampling_rate, window_times=data.window_times
        )
    if dist_info.is_main:  # counts once, leaks across the split named
        log_data_checks(data, train_items, val_items, quiet=config.train.quiet, cache=cache)
    names = tuple(split.corpus.name for split in splits) if data.pooled else ()
    mask_seed = config.masking.seed if config.masking.seed is not None else seed
    train_set = MaskedSequences(
        ChannelSequenceDataset.from_config(train_items, data, seed=seed),
        mask_seed,
        corpora=[(s.corpus.name, len(s.train)) for s in splits] if data.pooled else (),
    )
    val_set = (
        MaskedSequences(
            ChannelSequenceDataset.from_config(val_items, data, seed=seed),
            config.masking.val_seed,
            fixed=True,
            corpora=[(s.corpus.name, len(s.val)) for s in splits] if data.pooled else (),
        )
        if val_items
        else None
    )
    train_sampler: EpochSampler | WeightedEpochSampler = (
        WeightedEpochSampler(
            [len(split.train) for split in splits],
            [split.corpus.weight for split in splits],
            dist_info.world_size,
            dist_info.rank,
            seed,
            data.batch_size,
        )
        if data.pooled
        else EpochSampler(train_set, dist_info.world_size, dist_info.rank, True, seed, data.batch_size)
    )
    collate = MaskingCollate(config.masking)
    loader_kwargs = dict(
        batch_size=data.batch_size,
        collate_fn=collate,
        num_workers=data.num_workers,
        pin_memory=device.type == "cuda",
    )
    return PretrainingData(
        num_sequences=len(items),
        train_set=train_set,
        val_set=val_set,
        train_sampler=train_sampler,
        collate=collate,
        train_loader=DataLoader(train_set, sampler=train_sampler, **loader_kwargs),
        val_loader=(
            DataLoader(
                val_set,
                sampler=ShardSampler(len(val_set), dist_info.world_size, dist_info.rank),
                **loader_kwargs,
            )
            if val_set is not None
            else None
        ),
        record=pretraining_data_record(train_items, val_items, cache),
        splits=splits,
        channels=tuple(sorted({item.channel for item in items})),
        corpora=names,
    )


def corpus_shares(data: PretrainingData) -> list[tuple[str, int, float]]:
    """A pool's ``(name, training sequences, share of an epoch)`` per corpus, in the training set's order
    (what :func:`fit_band_statistics` weights the corpora by); ``[]`` for one corpus."""
    sampler = data.train_sampler
    if not isinstance(sampler, WeightedEpochSampler):
        return []
    total = sum(sampler.quotas)
    return [
        (name, size, quota / total)
        for name, size, quota in zip(data.corpora, sampler.sizes, sampler.quotas, strict=True)
    ]


def log_subset(
    config: PretrainConfig, train_items: Sequence[SequenceItem], val_items: Sequence[SequenceItem]
) -> None:
    data = config.data
    seed = config.train.seed if data.participants_seed is None else data.participants_seed
    train = sorted({item.participant for item in train_items})
    val = sorted({item.participant for item in val_items})
    log.info(
        "data.participants %s (seed %d): training on %d participant(s): %s; validating on %d held-out "
        "participant(s), the same for every subset",
        data.participants,
        seed,
        len(train),
        ", ".join(train),
        len(val),
    )


def pretraining_data_record(
    train_items: Sequence[SequenceItem],
    val_items: Sequence[SequenceItem],
    cache: ResultCache | None = None,
) -> dict[str, list[str]]:
    """Which participants and files the encoder was trained on (and validated on), and the fingerprints of
    their samples (:func:`eeg_io.file_fingerprints`: the first windows of every channel used; kept in
    ``cache`` between runs), for finetune's leakage guard: plain sorted string lists, so the checkpoint
    stays ``weights_only`` loadable."""
    channels: dict[str, set[str]] = {}
    for item in (*train_items, *val_items):
        channels.setdefault(item.file, set()).add(item.channel)
    return {
        "participants": sorted({item.participant for item in train_items}),
        "files": sorted({str(Path(item.file).resolve()) for item in train_items}),
        "val_participants": sorted({item.participant for item in val_items}),
        "val_files": sorted({str(Path(item.file).resolve()) for item in val_items}),
        "fingerprints": sorted(
            {
                d
                for file, names in channels.items()
                for d in file_fingerprints(file, sorted(names), cache=cache)
            }
        ),
    }


def fit_band_statistics(
    band_power: BandPower,
    dataset: ChannelSequenceDataset,
    limit: int,
    batch_size: int,
    device: torch.device,
    corpora: Sequence[tuple[str, int, float]] = (),
    quiet: bool = True,
    cache: ResultCache | None = None,
) -> None:
    """Per-band mean and std of the training split's log band power, into ``band_power``.

    At most ``limit`` (``objective.stats_sequences``) training sequences, spread evenly over the split, in
    a fixed order; every DDP rank computes the same numbers (no communication, identical on all ranks).
    A pool (``corpora``: ``(name, training sequences, share of an epoch)`` in the dataset's order) gets the
    statistics of its training mixture: ``limit`` divided by the shares, each corpus's moments weighted by
    its share (:func:`eeg_pretrain.pool.mixture_statistics`). Progress is shown unless ``quiet`` (a bar on
    a terminal, a line now and then in a log file). With a ``cache``, the two vectors are kept between runs
    under a key of everything they depend on (:func:`band_statistics_key`), so a run that reads the same
    sequences of the same files the same way loads them instead.
    """
    parts = corpora or [("", len(dataset), 1.0)]
    chosen, start = [], 0  # the training-set indices of each corpus's statistics sequences
    for _, size, share in parts:
        chosen.append([start + i for i in spread(size, max(1, round(limit * share)) if corpora else limit)])
        start += size
    key = None
    if cache is not None and cache.enabled:
        key = band_statistics_key(band_power, dataset, chosen, parts, batch_size, device)
    stored = cache.load(STATISTICS_CACHE, key) if cache is not None and key is not None else None
    if stored is not None:
        try:
            mean = torch.tensor(stored["mean"], dtype=torch.float32)
            std = torch.tensor(stored["std"], dtype=torch.float32)
            if mean.shape != (band_power.n_bands,) or std.shape != (band_power.n_bands,):
                raise ValueError("wrong shape")
        except (KeyError, TypeError, ValueError):
            stored = None  # a damaged entry: computed again below
    if stored is None:
        mean, std = _band_statistics(
            band_power, dataset, chosen, parts, batch_size, device, quiet, bool(corpora)
        )
        if key is not None and key == band_statistics_key(
            band_power, dataset, chosen, parts, batch_size, device
        ):  # stored only if no file changed while it was read
            assert cache is not None
            cache.store(STATISTICS_CACHE, key, {"mean": mean.tolist(), "std": std.tolist()})
    band_power.set_statistics(mean.to(device), std.to(device))
    used = [len(indices) for indices in chosen]
    log.info(
        "band-power standardisation from %d training sequences%s: %d bands %.3g-%.3g Hz, %s%s",
        sum(used),
        (
            " (the pool's mixture, each corpus weighted by its share of an epoch: "
            + ", ".join(f"{name} {n}" for (name, _, _), n in zip(parts, used, strict=True))
            + ")"
            if corpora
            else ""
        ),
        band_power.n_bands,
        band_power.edges[0],
        band_power.edges[-1],
        "Hann periodogram" if band_power.tapers == 1 else f"{band_power.tapers} DPSS tapers (multitaper)",
        " (kept from an earlier run: the same files and settings)" if stored is not None else "",
    )


#: The result-cache kind of the band-power statistics.
STATISTICS_CACHE = "band-statistics"


def _band_statistics(
    band_power: BandPower,
    dataset: ChannelSequenceDataset,
    chosen: Sequence[Sequence[int]],
    parts: Sequence[tuple[str, int, float]],
    batch_size: int,
    device: torch.device,
    quiet: bool,
    pooled: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 ``(n_bands,)`` mean and std of the log band power of the sequences ``chosen`` (one list per
    part of ``parts``; a pool: the parts' mixture, each weighted by its share)."""
    dataset.set_epoch(0)
    shown = progress(
        total=sum(map(len, chosen)),
        description="band-power statistics",
        unit="sequence",
        log=log,
        disable=quiet,
        every=data_report.STARTUP_PROGRESS_SECONDS,
    )
    totals = []
    for indices in chosen:
        stats = BandStatistics(band_power.n_bands)
        with torch.no_grad():
            for first in range(0, len(indices), batch_size):
                batch = collate_sequences(dataset.__getitems__(indices[first : first + batch_size]))
                windows = batch["windows"].to(device)
                stats.update(band_power.log_power(windows), batch["valid"].to(device))
                shown.update(len(batch["lengths"]))
        totals.append(stats.totals())
    shown.close()
    combined = mixture_statistics(totals, [share for _, _, share in parts]) if pooled else totals[0]
    mean, std = BandStatistics.mean_std(combined)
    return mean.cpu(), std.cpu()


def band_statistics_key(
    band_power: BandPower,
    dataset: ChannelSequenceDataset,
    chosen: Sequence[Sequence[int]],
    parts: Sequence[tuple[str, int, float]],
    batch_size: int,
    device: torch.device,
) -> str:
    """The result-cache key of :func:`fit_band_statistics`'s numbers: the sequences read (index, file,
    channel; per corpus of a pool, with its share) and each file's content (:func:`eeg_io.file_key`), how
    they are read (the dataset's decoding and crop settings and seed), the transform (rate, bands, tapers,
    floor), the batch size (the order of the sums), where it runs (device, threads) and the code and library
    versions that compute it."""
    read = [[[index, dataset.items[index].file, dataset.items[index].channel] for index in indices]
            for indices in chosen]  # fmt: skip
    files = sorted({dataset.items[index].file for indices in chosen for index in indices})
    where = device.type + (f":{torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    return ResultCache.key(
        read,
        [[name, size, share] for name, size, share in parts],
        [file_key(file) for file in files],
        {
            "window_length": dataset.window_length,
            "normalization": dataset.normalization,
            "scale": dataset.scale,
            "nan_policy": dataset.nan_policy,
            "max_windows": dataset.max_windows,
            "crop": dataset.crop,
            "seed": dataset.seed,
            "cache_dtype": dataset.cache.dtype if dataset.cache is not None else None,
        },
        {
            "window_length": band_power.window_length,
            "sampling_rate": band_power.sampling_rate,
            "edges": [float(edge) for edge in band_power.edges],
            "tapers": band_power.tapers,
            "floor": band_power.floor,
        },
        {"batch_size": batch_size, "device": where, "threads": torch.get_num_threads()},
        code_key(
            ("eeg_io", "eeg_ssm", "eeg_pretrain.data", "eeg_pretrain.pool"),
            ("torch", "numpy", "pyarrow", "scipy"),
        ),
    )


class MaskedSequences(Dataset):
    """eeg-io samples plus ``mask_key = (seed, epoch, index)``, the key of the sequence's mask (drawn later,
    for the whole batch, by :class:`MaskingCollate`).

    A pool's sets (``corpora``: ``(name, sequences)`` in order) also take draw indices (:mod:`eeg_io.pool`:
    ``pass * len(self) + i`` reads sequence ``i``, with the draw's own mask key) and label each sample with
    its ``corpus``; a fixed (validation) set keys a sequence's mask by its index within its corpus, so it
    is the mask a run on that corpus alone draws for it."""

    def __init__(
        self,
        base: ChannelSequenceDataset,
        seed: int,
        fixed: bool = False,
        corpora: Sequence[tuple[str, int]] = (),
    ):
        self.base = base
        self.seed = seed
        self.fixed = fixed  # validation: the same masks every epoch
        self.epoch = 0
        self.corpora = [name for name, size in corpora for _ in range(size)]  # corpus of each index
        self.starts: dict[str, int] = {}  # first index of each corpus
        for index, name in enumerate(self.corpora):
            self.starts.setdefault(name, index)

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
        count = len(self.base)
        sequences = [draw % count for draw in indices] if self.corpora else list(indices)
        samples = self.base.__getitems__(sequences)
        for draw, index, sample in zip(indices, sequences, samples, strict=True):
            key = draw
            if self.corpora:
                sample["corpus"] = self.corpora[index]
                if self.fixed:
                    key = index - self.starts[sample["corpus"]]
            sample["mask_key"] = (self.seed, epoch, key)
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
        if all("corpus" in s for s in samples):  # a pool: per-corpus validation figures
            batch["corpora"] = [s["corpus"] for s in samples]
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
