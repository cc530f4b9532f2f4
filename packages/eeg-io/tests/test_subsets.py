"""Data size as a setting: nested, seeded subsets of the training participants, validation unchanged."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from eeg_config import ConfigError, structure
from eeg_io import (
    DataConfig,
    EEGDataError,
    SequenceItem,
    participant_subset,
    pretraining_split,
    split_by_group,
)
from eeg_io.subsets import participant_amount, subset_size

IDS = st.lists(st.text(alphabet="abcdefgh0123456789-", min_size=1, max_size=6), min_size=1, max_size=30)


def items_of(participants: list[str], runs: int = 2) -> list[SequenceItem]:
    return [
        SequenceItem(file=f"{p}_{r}.parquet", channel=c, num_windows=4, participant=p, run=str(r))
        for p in participants
        for r in range(runs)
        for c in ("FZ", "CZ")
    ]


@settings(max_examples=100, deadline=None)
@given(IDS, st.integers(0, 2**32 - 1), st.data())
def test_counts_are_nested_seeded_and_deterministic(ids, seed, data):
    everyone = sorted(set(ids))
    small = data.draw(st.integers(1, len(everyone)))
    large = data.draw(st.integers(small, len(everyone)))
    subset = participant_subset(ids, small, seed)
    assert len(subset) == small and set(subset) <= set(everyone) and subset == sorted(subset)
    assert set(subset) <= set(participant_subset(ids, large, seed))  # nested
    assert participant_subset(list(reversed(ids)), small, seed) == subset  # the ids' order does not matter
    assert participant_subset(ids, len(everyone), seed) == everyone


@settings(max_examples=100, deadline=None)
@given(IDS, st.integers(0, 2**32 - 1), st.floats(0.001, 1.0), st.floats(0.001, 1.0))
def test_fractions_are_nested_and_keep_at_least_one(ids, seed, a, b):
    small, large = sorted((a, b))
    everyone = sorted(set(ids))
    subset = participant_subset(ids, small, seed)
    assert 1 <= len(subset) == subset_size(small, len(everyone)) <= len(everyone)
    assert set(subset) <= set(participant_subset(ids, large, seed))
    assert participant_subset(ids, 1.0, seed) == everyone


def test_fractions_round_half_up_and_seeds_choose_different_people():
    assert [subset_size(f, 10) for f in (0.05, 0.1, 0.15, 0.25, 0.5, 0.99, 1.0)] == [1, 1, 2, 3, 5, 10, 10]
    ids = [f"p{i:02d}" for i in range(20)]
    assert len({tuple(participant_subset(ids, 4, seed)) for seed in range(10)}) > 1


def test_a_count_above_the_participants_is_an_error_naming_both():
    with pytest.raises(EEGDataError, match="5 participants asked for, only 4 available"):
        participant_subset(["a", "b", "c", "d"], 5, seed=0)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(4, 4), (1, 1), (0.25, 0.25), (1.0, 1.0), (0, None), (-3, None), (0.0, None), (1.5, None),
     (4.0, None), (float("nan"), None), (True, None), ("4", None)],
)  # fmt: skip
def test_counts_are_ints_and_fractions_are_floats(value, accepted):
    if accepted is None:
        with pytest.raises(ValueError, match="participants must be"):
            participant_amount(value)
    else:
        assert participant_amount(value) == accepted and type(participant_amount(value)) is type(accepted)


def test_the_config_names_the_key_and_one_point_zero_is_everyone():
    config = structure({"dataset_path": "x", "participants": 8, "participants_seed": 3}, DataConfig)
    assert (config.participants, config.participants_seed) == (8, 3)
    assert structure({"dataset_path": "x", "participants": 1.0}, DataConfig).participants is None
    with pytest.raises(ConfigError, match=r"write 4 for 4 participants\) @ \$\.participants"):
        structure({"dataset_path": "x", "participants": 4.0}, DataConfig)
    with pytest.raises(ConfigError, match=r"@ \$\.participants_seed"):
        structure({"dataset_path": "x", "participants_seed": -1}, DataConfig)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(3, 25),
    st.sampled_from([0.0, 0.2, 0.34]),
    st.integers(0, 1000),
    st.one_of(st.none(), st.integers(0, 1000)),
    st.data(),
)
def test_validation_is_the_same_for_every_subset_and_never_trained_on(
    people, val_ratio, seed, own_seed, data
):
    participants = [f"sub-{i:02d}" for i in range(people)]
    items = items_of(participants)
    full_train, full_val = split_by_group(items, val_ratio, seed=seed)
    trainable = sorted({i.participant for i in full_train})
    assume(trainable)
    sizes = sorted(data.draw(st.lists(st.integers(1, len(trainable)), min_size=2, max_size=4)))
    chosen = []
    for size in sizes:
        config = DataConfig(
            dataset_path="x", val_ratio=val_ratio, participants=size, participants_seed=own_seed
        )
        train, val = pretraining_split(items, config, seed)
        assert val == full_val  # the same held-out people for every size
        people_trained = {i.participant for i in train}
        assert len(people_trained) == size and not people_trained & {i.participant for i in val}
        assert train == [i for i in full_train if i.participant in people_trained]  # whole participants
        chosen.append(people_trained)
    assert all(a <= b for a, b in itertools.pairwise(chosen))  # nested
    subset_seed = seed if own_seed is None else own_seed
    assert chosen[0] == set(participant_subset(trainable, sizes[0], subset_seed))
    assert pretraining_split(items, DataConfig(dataset_path="x", val_ratio=val_ratio), seed) == (
        full_train,
        full_val,
    )


def test_too_many_for_the_training_split_names_the_setting_and_the_counts():
    items = items_of([f"sub-{i}" for i in range(10)])
    config = DataConfig(dataset_path="corpus/", val_ratio=0.2, participants=9)
    with pytest.raises(EEGDataError) as info:
        pretraining_split(items, config, seed=0)
    assert str(info.value) == (
        "data.participants: 9 training participants asked for, but corpus/ has 8 (10 in all; "
        "data.val_ratio 0.2 holds out 2); ask for at most 8, or a fraction"
    )
