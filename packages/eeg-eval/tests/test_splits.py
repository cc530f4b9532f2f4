"""Participant splits: never a participant on two sides, stratified, every participant tested once in
cross-validation, and clear errors when a class is too small."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_eval import EvalError
from eeg_eval.splits import make_folds, random_split

RATIOS = st.sampled_from([0.0, 0.1, 0.2, 0.3])


@st.composite
def labelled_participants(draw, min_per_class: int = 3):
    """Class indices of 2..3 classes, each with ``min_per_class``..12 participants, in a shuffled order."""
    counts = draw(st.lists(st.integers(min_per_class, 12), min_size=2, max_size=3))
    targets = np.repeat(np.arange(len(counts)), counts)
    order = draw(st.permutations(range(len(targets))))
    return targets[list(order)]


def classes_of(targets):
    return tuple(range(int(targets.max()) + 1))


def check_partition(fold, targets, classes_needed_in_test=True):
    train, val, test = set(fold.train), set(fold.val), set(fold.test)
    assert not train & val and not train & test and not val & test, "a participant on two sides"
    assert train | val | test == set(range(len(targets))), "every participant is used"
    for c in np.unique(targets):
        assert (targets[list(fold.train)] == c).any(), f"class {c} absent from training"
        if classes_needed_in_test:
            assert (targets[list(fold.test)] == c).any(), f"class {c} absent from test"
        if fold.val:
            assert (targets[list(fold.val)] == c).any(), f"class {c} absent from validation"


@settings(max_examples=60, deadline=None)
@given(
    targets=labelled_participants(),
    val_ratio=RATIOS,
    test_ratio=st.sampled_from([0.1, 0.2, 0.4]),
    seed=st.integers(0, 99),
)
def test_random_split_is_a_stratified_partition(targets, val_ratio, test_ratio, seed):
    (fold,) = make_folds(
        targets, classes_of(targets), "random", val_ratio=val_ratio, test_ratio=test_ratio, folds=5, seed=seed
    )
    check_partition(fold, targets)
    assert bool(fold.val) == (val_ratio > 0)
    for c in np.unique(targets):  # stratified: test share per class follows the ratio (at least one)
        size = int((targets == c).sum())
        in_test = int((targets[list(fold.test)] == c).sum())
        assert 1 <= in_test <= max(1, round(test_ratio * size) + 1)
    again = make_folds(
        targets, classes_of(targets), "random", val_ratio=val_ratio, test_ratio=test_ratio, folds=5, seed=seed
    )
    assert again == [fold], "the same labels and seed give the same split"


@settings(max_examples=40, deadline=None)
@given(
    targets=labelled_participants(min_per_class=4),
    folds=st.integers(2, 4),
    val_ratio=RATIOS,
    seed=st.integers(0, 99),
)
def test_kfold_tests_every_participant_exactly_once(targets, folds, val_ratio, seed):
    result = make_folds(
        targets, classes_of(targets), "kfold", val_ratio=val_ratio, test_ratio=0.1, folds=folds, seed=seed
    )
    assert [f.index for f in result] == list(range(1, folds + 1))
    tested = [p for fold in result for p in fold.test]
    assert sorted(tested) == list(range(len(targets)))
    for fold in result:
        check_partition(fold, targets)


@settings(max_examples=25, deadline=None)
@given(targets=labelled_participants(), val_ratio=RATIOS, seed=st.integers(0, 99))
def test_loso_leaves_out_one_participant_per_fold(targets, val_ratio, seed):
    result = make_folds(
        targets, classes_of(targets), "loso", val_ratio=val_ratio, test_ratio=0.1, folds=5, seed=seed
    )
    assert [fold.test for fold in result] == [(p,) for p in range(len(targets))]
    for fold in result:
        check_partition(fold, targets, classes_needed_in_test=False)


def test_random_split_sizes_follow_the_ratios_per_class():
    targets = np.array([0] * 10 + [1] * 5)
    fold = random_split(targets, (0, 1), val_ratio=0.2, test_ratio=0.2, seed=3)
    counts = {
        part: np.bincount(targets[list(getattr(fold, part))], minlength=2).tolist()
        for part in ("train", "val", "test")
    }
    assert counts == {"train": [6, 3], "val": [2, 1], "test": [2, 1]}


@pytest.mark.parametrize(
    ("counts", "method", "options", "message"),
    [
        ([6, 2], "random", {}, r"class 'yes' has 2 participant\(s\); .* needs at least 3 per class"),
        ([6, 1], "random", {"val_ratio": 0.0}, r"class 'yes' has 1 participant\(s\); .* needs at least 2"),
        ([6, 3], "kfold", {"folds": 4}, r"split\.folds: stratified 4-fold .* class 'yes' has 3"),
        (
            [6, 2],
            "loso",
            {},
            r"split\.method loso: class 'yes' has 2 .* at least 3 \(or set split\.val_ratio: 0\)",
        ),
        ([3, 2], "kfold", {"folds": 2}, r"split fold \d: class .* too few to hold one out for validation"),
    ],
)
def test_too_few_participants_of_a_class_is_a_clear_error(counts, method, options, message):
    targets = np.repeat([0, 1], counts)
    settings_ = {"val_ratio": 0.2, "test_ratio": 0.1, "folds": 5, "seed": 0, **options}
    with pytest.raises(EvalError, match=message):
        make_folds(targets, ("no", "yes"), method, **settings_)


def test_loso_without_validation_needs_two_per_class():
    targets = np.array([0, 0, 0, 1, 1])
    result = make_folds(targets, (0, 1), "loso", val_ratio=0.0, test_ratio=0.1, folds=5, seed=0)
    assert len(result) == 5 and all(not fold.val for fold in result)


@st.composite
def grouped_windows(draw):
    """Windows with labels and groups: 3..9 groups of 1..3 sequences of 2..6 windows; labels per window."""
    groups = draw(st.integers(3, 9))
    sequence_group, window_targets = [], []
    for g in range(groups):
        for _ in range(draw(st.integers(1, 3))):
            sequence_group.append(g)
            length = draw(st.integers(2, 6))
            window_targets.append(
                np.asarray(draw(st.lists(st.integers(0, 1), min_size=length, max_size=length)))
            )
    return np.asarray(sequence_group), window_targets


@settings(max_examples=80, deadline=None)
@given(
    data=grouped_windows(),
    method=st.sampled_from(["auto", "random", "kfold", "group_kfold", "logo", "loso"]),
    folds=st.integers(2, 4),
    val_ratio=RATIOS,
    seed=st.integers(0, 99),
)
def test_no_group_ever_straddles_train_validation_and_test(data, method, folds, val_ratio, seed):
    from hypothesis import assume

    from eeg_eval.splits import group_strata, sequence_folds

    sequence_group, window_targets = data
    unit_targets = np.concatenate(window_targets)
    assume(len(np.unique(unit_targets)) == 2)
    unit_groups = np.concatenate(
        [np.full(len(t), g) for t, g in zip(window_targets, sequence_group, strict=True)]
    )
    groups = int(sequence_group.max()) + 1
    strata, values = group_strata(unit_targets, unit_groups, groups, (0, 1))
    try:
        result = make_folds(
            strata, values, method, val_ratio=val_ratio, test_ratio=0.3, folds=folds, seed=seed,
            units=(unit_targets, unit_groups), group_column="Person",
        )  # fmt: skip
    except EvalError:
        assume(False)  # too few groups of some stratum for this split: a clear error, tested elsewhere
    for fold in sequence_folds(result, sequence_group):
        sides = [set(sequence_group[list(part)].tolist()) for part in (fold.train, fold.val, fold.test)]
        assert not sides[0] & sides[1] and not sides[0] & sides[2] and not sides[1] & sides[2], sides
        assert set().union(*sides) == set(range(groups)), "every group is used in every fold"
        assert fold.test, "every fold tests someone"
    if method != "random":
        tested = sorted(g for fold in result for g in fold.test)
        assert tested == sorted(set(tested)), "a group is tested once"


def test_too_few_groups_names_the_column_and_counts():
    strata = np.zeros(4, dtype=np.int64)
    with pytest.raises(
        EvalError, match=r"split\.folds: 5 folds need at least 5 groups in column 'Person'; it has 4"
    ):
        make_folds(
            strata,
            [(0, 1)],
            "group_kfold",
            val_ratio=0.0,
            test_ratio=0.1,
            folds=5,
            seed=0,
            group_column="Person",
        )
    with pytest.raises(
        EvalError, match=r"split\.method logo: column 'Person' has 2 group\(s\); .* at least 3"
    ):
        make_folds(
            strata[:2],
            [(0, 1)],
            "logo",
            val_ratio=0.2,
            test_ratio=0.1,
            folds=5,
            seed=0,
            group_column="Person",
        )


def test_auto_tests_every_group_exactly_once():
    from eeg_eval import LOGO_MAX_GROUPS, Units, resolve_method, unit_folds

    assert resolve_method("auto", LOGO_MAX_GROUPS) == "logo"
    assert resolve_method("auto", LOGO_MAX_GROUPS + 1) == "group_kfold"
    assert resolve_method("random", 3) == "random"
    for people in (4, LOGO_MAX_GROUPS + 6):
        participants = [f"P{i:03d}" for i in range(people) for _ in range(3)]  # 3 units each
        labels = [i % 2 for i in range(people) for _ in range(3)]
        units = Units.build(participants, labels)
        folds = unit_folds(units, seed=1)
        assert len(folds) == (people if people <= LOGO_MAX_GROUPS else 5)
        tested = sorted(u for fold in folds for u in fold.test)
        assert tested == list(range(len(units))), "every unit (so every group) tested exactly once"
        for fold in folds:
            train = {units.groups[u] for u in fold.train}
            assert not train & {units.groups[u] for u in fold.test}
