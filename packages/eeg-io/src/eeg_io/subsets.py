"""Data size as a setting: a reproducible, nested subset of the participants a run trains on.

``data.participants`` is a count (``4``) or a fraction (``0.25``) of the training participants. The
validation split is made first, on the whole corpus, exactly as without a subset
(:func:`~eeg_io.split_by_group`), so every data size is validated on the same held-out people and nobody
validated in one run is trained on in a run of another size. The training participants are then the first
``k`` of one seeded permutation of the sorted ids of the participants left for training: for one seed (and
one corpus and split) the 8-participant subset holds the 4-participant one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from eeg_io.errors import EEGDataError
from eeg_io.index import SequenceItem
from eeg_io.splits import split_by_group

if TYPE_CHECKING:
    from eeg_io.config import DataConfig

__all__ = ["participant_amount", "participant_subset", "pretraining_split", "subset_size"]


def participant_amount(value: Any) -> int | float:
    """A ``data.participants`` value: a count (an int >= 1) or a fraction (a float in (0, 1]; 1.0 is all).
    Counts and fractions are told apart by type, as YAML reads them: ``4`` is four people, ``0.5`` half.

    Raises:
        ValueError: anything else, starting ``participants must be``.
    """
    expected = "participants must be a number of participants (an integer >= 1) or a fraction in (0, 1]"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{expected}, got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{expected}, got {value!r}")
        return value
    if not 0.0 < value <= 1.0:  # also refuses nan
        hint = (
            f" (write {int(value)} for {int(value)} participants)" if value.is_integer() and value > 1 else ""
        )
        raise ValueError(f"{expected}, got {value!r}{hint}")
    return float(value)


def subset_size(amount: int | float, available: int) -> int:
    """How many of ``available`` participants ``amount`` keeps: a count as it is, a fraction rounded half up
    (at least 1). A larger amount never keeps fewer, so the subsets of growing amounts are nested.

    Raises:
        EEGDataError: a count above ``available``.
    """
    amount = participant_amount(amount)
    if isinstance(amount, int):
        if amount > available:
            raise EEGDataError(f"{amount} participants asked for, only {available} available")
        return amount
    return min(available, max(1, math.floor(amount * available + 0.5)))


def participant_subset(participants: Iterable[str], amount: int | float, seed: int) -> list[str]:
    """The participants (sorted) of a seeded subset of ``participants``: the first :func:`subset_size` of
    one permutation (``numpy.random.default_rng(seed)``) of the sorted distinct ids.

    The same ids, amount and seed give the same subset anywhere, and a larger amount keeps every
    participant of a smaller one."""
    ids = sorted(set(participants))
    count = subset_size(amount, len(ids))
    order = np.random.default_rng(seed).permutation(len(ids))
    return sorted(ids[i] for i in order[:count])


def pretraining_split(
    items: Sequence[SequenceItem], data: DataConfig, seed: int, where: str | None = None
) -> tuple[list[SequenceItem], list[SequenceItem]]:
    """Training and validation items of a pretraining run: the split of ``data.val_ratio`` by
    ``data.split_group`` (seeded with ``seed``), then, with ``data.participants``, the training items of
    the subset of the training participants (seeded with ``data.participants_seed``, else ``seed``).
    Validation is the same with or without a subset. ``where`` names the corpus in messages (default
    ``data.dataset_path``; :func:`eeg_io.pool.pooled_split` splits each corpus of a pool with this).

    Raises:
        EEGDataError: too few groups for the split, or more participants asked for than there are for
            training (naming the setting, the corpus and the counts).
    """
    train, val = split_by_group(items, data.val_ratio, group=data.split_group, seed=seed)
    if data.participants is None:
        return train, val
    available = sorted({item.participant for item in train})
    try:
        chosen = set(
            participant_subset(
                available,
                data.participants,
                seed if data.participants_seed is None else data.participants_seed,
            )
        )
    except EEGDataError:
        everyone = len({item.participant for item in items})
        held_out = f"; data.val_ratio {data.val_ratio:g} holds out {everyone - len(available)}" if val else ""
        raise EEGDataError(
            f"data.participants: {data.participants} training participants asked for, but "
            f"{where or data.dataset_path} has {len(available)} ({everyone} in all{held_out}); ask for at most "
            f"{len(available)}, or a fraction"
        ) from None
    return [item for item in train if item.participant in chosen], val
