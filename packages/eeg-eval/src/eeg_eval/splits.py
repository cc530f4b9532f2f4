"""Group-level splits: no group (by default a participant) ever appears in two of train, validation and
test.

Methods: ``auto`` (the default: every group is tested exactly once, by leaving one group out when there
are at most :data:`LOGO_MAX_GROUPS` groups and by stratified group k-fold otherwise), ``logo``/``loso``,
``group_kfold``, ``kfold`` and ``random`` (one stratified train/test split: a few test groups, so its
verdict is usually undecided).

Everything here works on group indices ``0..G-1`` and their strata (a group's stratum is the set of
classes its windows hold: one class for participant labels); sequences and samples (participants, window
groups, windows) are derived from the groups afterwards (:func:`sequence_folds`), so leakage is
impossible by construction. Every split is stratified and a pure function of the labels, the settings
and the seed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import attrs
import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from eeg_eval.errors import EvalError
from eeg_eval.units import Units, group_name

__all__ = [
    "LOGO_MAX_GROUPS",
    "SPLIT_METHODS",
    "Fold",
    "group_strata",
    "make_folds",
    "random_split",
    "resolve_method",
    "sequence_folds",
    "unit_folds",
    "validation_split",
]

log = logging.getLogger("eeg_eval")

#: Every split method; ``auto`` resolves to ``logo`` or ``group_kfold`` (:func:`resolve_method`).
SPLIT_METHODS = ("auto", "random", "kfold", "group_kfold", "loso", "logo")
#: ``auto`` leaves one group out up to this many groups (each fold then trains on all but one), and uses
#: stratified group k-fold above it (training cost grows with the folds, the test coverage does not).
LOGO_MAX_GROUPS = 10


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
    """A stratum's name: ``class 0`` (or, for strata of mixed groups, ``groups holding classes 0, 1``)."""
    value = classes[c]
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"class {value[0]!r}"
        return f"groups holding classes {', '.join(map(repr, value))}"
    return f"class {value!r}"


def group_strata(
    unit_targets: np.ndarray, unit_groups: np.ndarray, num_groups: int, classes: Sequence[object]
) -> tuple[np.ndarray, list[tuple[object, ...]]]:
    """Each group's stratum: the set of classes among its units (windows or sequences).

    Returns:
        (stratum index per group ``[G]``, the strata as tuples of label values, in index order).
    """
    members = [tuple(sorted(set(unit_targets[unit_groups == g].tolist()))) for g in range(num_groups)]
    strata = sorted(set(members))
    index = {m: i for i, m in enumerate(strata)}
    return np.asarray([index[m] for m in members], dtype=np.int64), [
        tuple(classes[c] for c in m) for m in strata
    ]


def sequence_folds(folds: Sequence[Fold], sequence_group: np.ndarray) -> list[Fold]:
    """Group folds -> the same folds over sequence indices (every sequence of a group goes with it)."""
    out = []
    for fold in folds:
        parts = [
            tuple(int(s) for s in np.flatnonzero(np.isin(sequence_group, list(part))))
            for part in (fold.train, fold.val, fold.test)
        ]
        out.append(Fold(fold.index, *parts))
    return out


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
        EvalError: a class with too few participants for three (or two) non-empty parts.
    """
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    needed = 2 + (val_ratio > 0)
    for c in range(len(classes)):
        members = np.flatnonzero(targets == c)
        size = len(members)
        if size < needed:
            raise EvalError(
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
        EvalError: a class with a single participant in ``pool`` while a validation set is asked for.
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
            raise EvalError(
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
    units: tuple[np.ndarray, np.ndarray] | None = None,
    group_column: str | None = None,
) -> list[Fold]:
    """The folds of ``method`` over groups (``random``: one; ``kfold``, ``group_kfold``: ``folds``;
    ``loso``, ``logo``: one per group; ``auto``: see :func:`resolve_method`).

    Args:
        targets: int ``[G]`` stratum (class, or class set) index per group, every stratum present.
        classes: the value of each stratum (for messages).
        units: ``(unit targets [N], unit groups [N])`` for ``group_kfold``, which stratifies the units
            (windows or participants) while keeping groups whole; default: one unit per group.
        group_column: names the groups in messages (``None``: they are participants).

    Raises:
        EvalError: too few groups of some stratum, or in all, for the split asked for (the message
            names the column or class, the count and what would work).
    """
    targets = np.asarray(targets, dtype=np.int64)
    method = resolve_method(method, len(targets))
    counts = np.bincount(targets, minlength=len(classes))
    if method in ("kfold", "group_kfold") and len(targets) < folds:
        raise EvalError(
            f"split.folds: {folds} folds need at least {folds} groups in column "
            f"{group_name(group_column)!r}; it has {len(targets)} (lower split.folds, or use split.method: logo)"
        )
    if method in ("loso", "logo") and len(targets) < 2 + (val_ratio > 0):
        raise EvalError(
            f"split.method {method}: column {group_name(group_column)!r} has {len(targets)} group(s); "
            f"leaving one out needs at least {2 + (val_ratio > 0)}"
            f"{' (training and validation groups)' if val_ratio > 0 else ''}"
        )
    if method == "group_kfold":
        unit_targets, unit_groups = units if units is not None else (targets, np.arange(len(targets)))
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        tests = [
            np.unique(unit_groups[test])
            for _, test in splitter.split(np.zeros((len(unit_targets), 1)), unit_targets, unit_groups)
        ]
        return _with_validation(tests, targets, classes, val_ratio, seed)
    if method == "random":
        return [random_split(targets, classes, val_ratio, test_ratio, seed)]
    if method == "kfold":
        smallest = int(np.argmin(counts))
        if counts[smallest] < folds:
            raise EvalError(
                f"split.folds: stratified {folds}-fold cross-validation needs at least {folds} participants "
                f"of every class; {_describe(classes, smallest)} has {int(counts[smallest])} "
                f"(lower split.folds, or use split.method: loso)"
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        tests = [test for _, test in splitter.split(np.zeros((len(targets), 1)), targets)]
    elif method in ("loso", "logo") and group_column is not None:
        tests = [np.array([g]) for g in range(len(targets))]
    elif method in ("loso", "logo"):
        needed = 2 + (val_ratio > 0)
        smallest = int(np.argmin(counts))
        if counts[smallest] < needed:
            raise EvalError(
                f"split.method loso: {_describe(classes, smallest)} has {int(counts[smallest])} participant(s); "
                f"leaving one out must keep {needed - 1} of every class for training"
                f"{' and validation' if val_ratio > 0 else ''}, so each class needs at least {needed}"
                f"{' (or set split.val_ratio: 0)' if val_ratio > 0 else ''}"
            )
        tests = [np.array([p]) for p in range(len(targets))]
    else:
        raise ValueError(f"unknown split method {method!r}")
    return _with_validation(tests, targets, classes, val_ratio, seed)


def _with_validation(
    tests: Sequence[np.ndarray], targets: np.ndarray, classes: Sequence[object], val_ratio: float, seed: int
) -> list[Fold]:
    """Folds from their test groups: the other groups, less a stratified validation share."""
    result = []
    everyone = set(range(len(targets)))
    for index, test in enumerate(tests, start=1):
        pool = sorted(everyone - set(test.tolist()))
        train, val = validation_split(
            pool, targets, classes, val_ratio, seed=seed * 1_000_003 + index, where=f"split fold {index}"
        )
        result.append(Fold(index, train, val, tuple(sorted(test.tolist()))))
    return result


def resolve_method(method: str, groups: int) -> str:
    """``auto`` -> ``logo`` for at most :data:`LOGO_MAX_GROUPS` groups, ``group_kfold`` above; any other
    method as given."""
    if method != "auto":
        return method
    return "logo" if groups <= LOGO_MAX_GROUPS else "group_kfold"


def unit_folds(
    units: Units,
    method: str = "auto",
    *,
    val_ratio: float = 0.0,
    test_ratio: float = 0.1,
    folds: int = 5,
    seed: int = 0,
) -> list[Fold]:
    """Folds over unit indices (rows of ``units``), groups kept whole: :func:`make_folds` on the groups,
    stratified by the classes each group holds."""
    group_index = units.group_index()
    strata, values = group_strata(units.targets, group_index, len(units.group_ids), units.classes)
    group_level = make_folds(
        strata,
        values,
        method,
        val_ratio=val_ratio,
        test_ratio=test_ratio,
        folds=folds,
        seed=seed,
        units=(units.targets, group_index),
        group_column=units.group_column or ("group" if units.groups != units.participants else None),
    )
    return sequence_folds(group_level, group_index)
