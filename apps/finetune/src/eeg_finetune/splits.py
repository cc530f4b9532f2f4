"""Participant-level splits: no participant ever appears in two of train, validation and test.

Everything here works on participant indices ``0..P-1`` and their class indices; samples (participants
or window groups) are derived from the participants afterwards, so leakage is impossible by construction.
Every split is stratified (each class is spread over the parts in proportion) and a pure function of
the labels, the settings and the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
from sklearn.model_selection import StratifiedKFold

from eeg_finetune.errors import FinetuneError

__all__ = ["Fold", "make_folds", "random_split", "validation_split"]


@attrs.frozen
class Fold:
    """One train/validation/test partition of participant indices (sorted); ``index`` counts from 1."""

    index: int
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]


def _count(ratio: float, size: int) -> int:
    """``round(ratio * size)`` with halves rounded up, at least 1 for a positive ratio."""
    if ratio <= 0:
        return 0
    return max(1, int(np.floor(ratio * size + 0.5)))


def _describe(classes: Sequence[object], c: int) -> str:
    return f"class {classes[c]!r}"


def random_split(
    targets: np.ndarray, classes: Sequence[object], val_ratio: float, test_ratio: float, seed: int
) -> Fold:
    """One stratified split: per class, ``round(test_ratio * n)`` participants (at least one) go to test,
    ``round(val_ratio * n)`` (at least one when ``val_ratio > 0``) to validation, the rest (at least one)
    to training.

    Args:
        targets: int ``[P]`` class index of each participant.
        classes: the label value of each class index (for messages).

    Raises:
        FinetuneError: a class with too few participants for three (or two) non-empty parts.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    needed = 2 + (val_ratio > 0)
    for c in range(len(classes)):
        members = np.flatnonzero(targets == c)
        size = len(members)
        if size < needed:
            raise FinetuneError(
                f"split.method random: {_describe(classes, c)} has {size} participant(s); a stratified "
                f"train/{'validation/' if val_ratio > 0 else ''}test split needs at least {needed} per class "
                f"(add participants{', or set split.val_ratio: 0' if val_ratio > 0 else ''}, "
                "or use split.method: loso)"
            )
        n_test, n_val = _count(test_ratio, size), _count(val_ratio, size)
        while n_test + n_val > size - 1:  # keep one for training; shrink the larger part first
            if n_val >= n_test and n_val > 1:
                n_val -= 1
            else:
                n_test -= 1
        order = rng.permutation(members)
        parts["test"] += order[:n_test].tolist()
        parts["val"] += order[n_test : n_test + n_val].tolist()
        parts["train"] += order[n_test + n_val :].tolist()
    return Fold(1, *(tuple(sorted(parts[k])) for k in ("train", "val", "test")))


def validation_split(
    pool: Sequence[int],
    targets: np.ndarray,
    classes: Sequence[object],
    val_ratio: float,
    seed: int,
    where: str,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split training participants ``pool`` into (train, validation), stratified; ``val_ratio`` 0 gives no
    validation. Each class keeps at least one participant for training.

    Raises:
        FinetuneError: a class with a single participant in ``pool`` while a validation set is asked for.
    """
    pool = np.asarray(sorted(pool), dtype=np.int64)
    if val_ratio <= 0:
        return tuple(pool.tolist()), ()
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for c in range(len(classes)):
        members = pool[targets[pool] == c]
        if len(members) < 2:
            raise FinetuneError(
                f"{where}: {_describe(classes, c)} has {len(members)} training participant(s), too few to "
                "hold one out for validation (add participants, lower split.folds, or set split.val_ratio: 0)"
            )
        n_val = min(_count(val_ratio, len(members)), len(members) - 1)
        order = rng.permutation(members)
        val += order[:n_val].tolist()
        train += order[n_val:].tolist()
    return tuple(sorted(train)), tuple(sorted(val))


def make_folds(
    targets: np.ndarray,
    classes: Sequence[object],
    method: str,
    *,
    val_ratio: float,
    test_ratio: float,
    folds: int,
    seed: int,
) -> list[Fold]:
    """The folds of ``method`` (``random``: one; ``kfold``: ``folds``; ``loso``: one per participant).

    Args:
        targets: int ``[P]`` class index per participant, every class of ``classes`` present.

    Raises:
        FinetuneError: too few participants of some class for the split asked for (the message names the
            class, the count and what would work).
    """
    targets = np.asarray(targets, dtype=np.int64)
    counts = np.bincount(targets, minlength=len(classes))
    if method == "random":
        return [random_split(targets, classes, val_ratio, test_ratio, seed)]
    if method == "kfold":
        smallest = int(np.argmin(counts))
        if counts[smallest] < folds:
            raise FinetuneError(
                f"split.folds: stratified {folds}-fold cross-validation needs at least {folds} participants "
                f"of every class; {_describe(classes, smallest)} has {int(counts[smallest])} "
                f"(lower split.folds, or use split.method: loso)"
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        tests = [test for _, test in splitter.split(np.zeros((len(targets), 1)), targets)]
    elif method == "loso":
        needed = 2 + (val_ratio > 0)
        smallest = int(np.argmin(counts))
        if counts[smallest] < needed:
            raise FinetuneError(
                f"split.method loso: {_describe(classes, smallest)} has {int(counts[smallest])} participant(s); "
                f"leaving one out must keep {needed - 1} of every class for training"
                f"{' and validation' if val_ratio > 0 else ''}, so each class needs at least {needed}"
                f"{' (or set split.val_ratio: 0)' if val_ratio > 0 else ''}"
            )
        tests = [np.array([p]) for p in range(len(targets))]
    else:
        raise ValueError(f"unknown split method {method!r}")
    result = []
    everyone = set(range(len(targets)))
    for index, test in enumerate(tests, start=1):
        pool = sorted(everyone - set(test.tolist()))
        train, val = validation_split(
            pool, targets, classes, val_ratio, seed=seed * 1_000_003 + index, where=f"split fold {index}"
        )
        result.append(Fold(index, train, val, tuple(sorted(test.tolist()))))
    return result
