from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_io import EEGDataError, SequenceItem, build_index, split_by_group


def make_items(spec: list[tuple[str, str]]) -> list[SequenceItem]:
    return [
        SequenceItem(file=f"{p}_{r}.parquet", channel=f"C{i}", num_windows=4, participant=p, run=r)
        for i, (p, r) in enumerate(spec)
    ]


@settings(max_examples=25, deadline=None)
@given(
    participants=st.lists(st.sampled_from("abcdefghij"), min_size=1, max_size=40),
    val_ratio=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**31),
)
def test_no_participant_on_both_sides(participants, val_ratio, seed):
    items = make_items([(p, "1") for p in participants])
    groups = len(set(participants))
    try:
        train, val = split_by_group(items, val_ratio, seed=seed)
    except EEGDataError as exc:
        assert groups < 2 or max(1, round(val_ratio * groups)) >= groups
        assert "too few" in str(exc)
        return
    assert not {i.participant for i in train} & {i.participant for i in val}
    assert sorted(train + val, key=items.index) == items  # a partition, input order kept
    assert [i for i in items if i in train] == train
    assert len({i.participant for i in val}) == max(1, round(val_ratio * groups))


def test_split_is_deterministic_and_seeded(corpus):
    items = build_index(corpus)
    train, val = split_by_group(items, 0.25, seed=0)
    assert split_by_group(items, 0.25, seed=0) == (train, val)
    assert len({i.participant for i in val}) == 1 and len({i.participant for i in train}) == 3
    held_out = {split_by_group(items, 0.25, seed=s)[1][0].participant for s in range(10)}
    assert len(held_out) > 1


def test_zero_ratio_keeps_everything_for_training(corpus):
    items = build_index(corpus)
    assert split_by_group(items, 0.0) == (items, [])


def test_other_groups():
    items = make_items([("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")])
    train, val = split_by_group(items, 0.5, group="run", seed=1)
    assert len(train) == len(val) == 2
    assert not {(i.participant, i.run) for i in train} & {(i.participant, i.run) for i in val}
    train, val = split_by_group(items, 0.25, group="file")
    assert len(val) == 1


def test_too_few_participants():
    items = make_items([("a", "1"), ("a", "2"), ("b", "1")])
    with pytest.raises(EEGDataError, match=r"val_ratio=0.9: 2 participant\(s\) in the index are too few"):
        split_by_group(items, 0.9)
    with pytest.raises(EEGDataError, match="too few"):
        split_by_group(make_items([("a", "1")]), 0.2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_ratio": 1.0}, "val_ratio must be in"),
        ({"val_ratio": 0.2, "group": "channel"}, "group must be one of"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_by_group(make_items([("a", "1")]), **kwargs)
