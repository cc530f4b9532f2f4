"""Pooled corpora: several corpora (other headsets, montages, channel counts) in one pretraining run.

A corpus is indexed, split and subset exactly as it would be alone (:func:`pooled_split`), so each corpus
validates on the people a run on it alone would hold out; its participant ids are then prefixed with its
name (``blink/sub-001``), so two corpora that both call someone ``sub-001`` are two people everywhere
downstream (the split, the record of who was trained on, the leakage guard's ids).

An epoch of a pool (:func:`weighted_epoch`) holds as many sequences as the pooled training split (the sum
of every corpus's training sequences), so the steps per epoch and the schedule do not depend on the
weights; corpus ``c`` contributes ``N * w_c / sum(w)`` of them (:func:`epoch_quotas`, rounded to whole
sequences by largest remainders). A corpus whose share exceeds its size is drawn in whole passes (each of
its sequences once per pass) plus a random part of one more; one whose share is smaller contributes a
random subset without repeats, another one each epoch. The draws of all corpora are then shuffled
together. Everything is seeded by ``(seed, epoch)``.

A drawn sequence is named by a *draw index* ``pass * N + i`` (``i`` its index in the pooled training set,
``pass`` how many times it was drawn before in this epoch), so a sequence drawn twice in one epoch gets
two different masks (the masks are keyed by the draw index) while ``draw % N`` finds its data.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from eeg_io.config import CorpusConfig, DataConfig
from eeg_io.errors import EEGDataError
from eeg_io.index import SequenceItem, build_index
from eeg_io.subsets import pretraining_split

__all__ = ["CorpusSplit", "epoch_quotas", "index_corpora", "pooled_split", "weighted_epoch"]


@attrs.frozen
class CorpusSplit:
    """One corpus's part of a run: its training and validation items (participants namespaced in a pool)."""

    corpus: CorpusConfig
    train: list[SequenceItem]
    val: list[SequenceItem]


def index_corpora(data: DataConfig) -> list[tuple[CorpusConfig, list[SequenceItem]]]:
    """Every corpus of ``data`` (:attr:`DataConfig.corpus_list`) indexed with the run's channel settings
    (:func:`~eeg_io.build_index`), participant ids as the files hold them.

    Raises:
        EEGDataError: a corpus's index problem; in a pool the message starts with the corpus's name.
    """
    indexed = []
    for corpus in data.corpus_list:
        try:
            items = build_index(
                corpus.path,
                include_channels=data.include_channels,
                exclude_channels=data.exclude_channels,
                on_missing_channel=data.on_missing_channel,
            )
        except EEGDataError as exc:
            if not data.pooled:
                raise
            raise EEGDataError(f"data.corpora {corpus.name}: {exc}") from None
        indexed.append((corpus, items))
    return indexed


def pooled_split(
    indexed: Sequence[tuple[CorpusConfig, Sequence[SequenceItem]]], data: DataConfig, seed: int
) -> list[CorpusSplit]:
    """Each corpus's :func:`~eeg_io.pretraining_split` (``data.val_ratio``, ``data.split_group``,
    ``data.participants`` and its seed), made on that corpus alone, as a run on it alone would make it;
    in a pool (``data.corpora``) the participant ids then become ``{name}/{id}``.

    Raises:
        EEGDataError: a corpus with too few groups for the split or fewer training participants than
            ``data.participants`` asks for, naming the corpus.
    """
    splits = []
    for corpus, items in indexed:
        where = f"data.corpora {corpus.name} ({corpus.path})" if data.pooled else None
        try:
            train, val = pretraining_split(items, data, seed, where=where)
        except EEGDataError as exc:
            if not data.pooled or str(exc).startswith("data.participants"):
                raise
            raise EEGDataError(f"{where}: {exc}") from None
        if data.pooled:
            train, val = _namespaced(train, corpus.name), _namespaced(val, corpus.name)
        splits.append(CorpusSplit(corpus, train, val))
    return splits


def _namespaced(items: Sequence[SequenceItem], name: str) -> list[SequenceItem]:
    return [attrs.evolve(item, participant=f"{name}/{item.participant}") for item in items]


def epoch_quotas(sizes: Sequence[int], weights: Sequence[float]) -> list[int]:
    """How many of an epoch's ``sum(sizes)`` sequences each corpus gives: ``sum(sizes) * w / sum(weights)``,
    rounded by largest remainders (ties to the earlier corpus), so the quotas add up to ``sum(sizes)``."""
    if len(sizes) != len(weights) or not sizes:
        raise ValueError(f"one weight per corpus: {len(sizes)} sizes, {len(weights)} weights")
    if any(w <= 0 for w in weights) or any(n < 0 for n in sizes):
        raise ValueError(f"weights must be positive and sizes non-negative: {weights}, {sizes}")
    total, weight = sum(sizes), float(sum(weights))
    exact = [total * w / weight for w in weights]
    quotas = [int(np.floor(x)) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda c: (-(exact[c] - quotas[c]), c))
    for c in by_remainder[: total - sum(quotas)]:
        quotas[c] += 1
    return quotas


def weighted_epoch(sizes: Sequence[int], weights: Sequence[float], seed: int, epoch: int) -> np.ndarray:
    """The draw indices (module docstring) of one epoch, in training order: ``sum(sizes)`` of them, corpus
    ``c`` (indices ``sum(sizes[:c])`` to ``sum(sizes[:c+1]) - 1`` of the pooled training set) giving
    :func:`epoch_quotas`'s share. The same arguments give the same order anywhere."""
    total = sum(sizes)
    rng = np.random.default_rng((int(seed), int(epoch)))
    draws = []
    offset = 0
    for size, quota in zip(sizes, epoch_quotas(sizes, weights), strict=True):
        if quota and not size:
            raise ValueError("a corpus without training sequences cannot give any")
        passes, rest = divmod(quota, size) if size else (0, 0)
        for n in range(passes):
            draws.append(offset + rng.permutation(size) + n * total)
        if rest:
            draws.append(offset + rng.permutation(size)[:rest] + passes * total)
        offset += size
    order = np.concatenate(draws) if draws else np.zeros(0, dtype=np.int64)
    rng.shuffle(order)
    return order.astype(np.int64)
