"""Pooled corpora: the data.corpora config form, per-corpus splits with namespaced participants, and the
weighted epoch (each corpus's share proportional to its weight, seeded)."""

from __future__ import annotations

import collections

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_config import ConfigError, structure
from eeg_io import (
    DataConfig,
    EEGDataError,
    epoch_quotas,
    index_corpora,
    pooled_split,
    pretraining_split,
    weighted_epoch,
    write_synthetic_corpus,
)


def data_config(**values) -> DataConfig:
    return structure(values, DataConfig)


def problem(values: dict) -> str:
    with pytest.raises(ConfigError) as info:
        data_config(**values)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def test_corpora_are_named_after_their_folders_and_weigh_one_by_default():
    data = data_config(corpora=[{"path": "data/processed/blink/"}, {"path": "x/eyes", "weight": 2}])
    assert [(c.name, c.weight) for c in data.corpora] == [("blink", 1.0), ("eyes", 2.0)]
    assert data.pooled and data.dataset_path is None
    single = data_config(dataset_path="data/processed/pretraining")
    assert not single.pooled and [c.path for c in single.corpus_list] == ["data/processed/pretraining"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"dataset_path": "a", "corpora": [{"path": "b"}]},
            "corpora and DataConfig.dataset_path are exclusive",
        ),
        ({}, "dataset_path is required"),
        ({"corpora": []}, "must list at least one corpus"),
        (
            {"corpora": [{"path": "a/blink"}, {"path": "b/blink"}]},
            "a/blink and b/blink are both named 'blink'",
        ),
        ({"corpora": [{"path": "a", "name": "x"}, {"path": "b", "name": "x"}]}, "both named 'x'"),
        ({"corpora": [{"path": "a"}, {"path": "a/b"}]}, "a (a) and b (a/b) share files"),
        ({"corpora": [{"path": "my data"}]}, "(the name of the folder my data): set a name"),
        ({"corpora": [{"path": "a", "name": "a/b"}]}, "name must be letters"),
        ({"corpora": [{"path": "a", "weight": 0}]}, "weight must be a positive number"),
        ({"corpora": [{"path": "a", "weight": True}]}, "expected float, got True @ $.corpora[0].weight"),
        ({"corpora": [{"path": "a", "wieght": 2}]}, "unknown key(s) wieght @ $.corpora[0]"),
    ],
)
def test_bad_corpora_are_one_problem_naming_the_key(values, expected):
    assert expected in problem(values)


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """Two corpora that both call their people sub-001...: 5 people x 4 channels, 4 people x 6 channels."""
    root = tmp_path_factory.mktemp("pool")
    small = {"runs": 1, "windows_per_run": 3, "window_length": 16, "sfreq": 16.0, "dynamics": False}
    write_synthetic_corpus(root / "blink", participants=5, channels=["FP1", "FP2", "C3", "C4"], **small)
    write_synthetic_corpus(
        root / "eyes", participants=4, channels=["FP1", "FP2", "C3", "C4", "O1", "O2"], seed=1, **small
    )
    return root


def test_each_corpus_is_split_as_alone_and_its_people_carry_its_name(two_corpora):
    pool = data_config(
        corpora=[{"path": str(two_corpora / "blink")}, {"path": str(two_corpora / "eyes")}], val_ratio=0.25
    )
    splits = pooled_split(index_corpora(pool), pool, seed=7)
    assert [s.corpus.name for s in splits] == ["blink", "eyes"]
    for split in splits:
        alone = data_config(dataset_path=split.corpus.path, val_ratio=0.25)
        train, val = pretraining_split(index_corpora(alone)[0][1], alone, seed=7)
        name = split.corpus.name
        assert [(i.file, i.channel) for i in split.val] == [(i.file, i.channel) for i in val]
        assert [i.participant for i in split.val] == [f"{name}/{i.participant}" for i in val]
        assert [i.participant for i in split.train] == [f"{name}/{i.participant}" for i in train]
    people = [{i.participant for i in s.train + s.val} for s in splits]
    assert len(people[0]) == 5 and len(people[1]) == 4 and not people[0] & people[1]  # both had sub-001
    # data.participants is per corpus: each keeps the subset a run on it alone keeps, validation unchanged
    subset = attrs.evolve(pool, participants=2)
    for full, part in zip(splits, pooled_split(index_corpora(subset), subset, seed=7), strict=True):
        assert len({i.participant for i in part.train}) == 2 and part.val == full.val
        assert {i.participant for i in part.train} < {i.participant for i in full.train}


def test_too_few_people_in_one_corpus_is_named(two_corpora):
    pool = data_config(
        corpora=[{"path": str(two_corpora / "blink")}, {"path": str(two_corpora / "eyes")}],
        val_ratio=0.25,
        participants=4,
    )
    with pytest.raises(
        EEGDataError, match=r"^data.participants: 4 training .* data.corpora eyes \(.*eyes\) has 3"
    ):
        pooled_split(index_corpora(pool), pool, seed=0)
    missing = data_config(corpora=[{"path": str(two_corpora / "blink")}, {"path": str(two_corpora / "gone")}])
    with pytest.raises(EEGDataError, match=r"^data.corpora gone: .*gone"):
        index_corpora(missing)


SIZES = st.lists(st.integers(1, 40), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(SIZES, st.data())
def test_quotas_fill_the_epoch_in_proportion_to_the_weights(sizes, data):
    weights = data.draw(st.lists(st.floats(0.01, 100.0), min_size=len(sizes), max_size=len(sizes)))
    quotas = epoch_quotas(sizes, weights)
    total = sum(sizes)
    assert sum(quotas) == total
    for quota, weight in zip(quotas, weights, strict=True):
        assert abs(quota - total * weight / sum(weights)) < 1.0


@settings(max_examples=100, deadline=None)
@given(SIZES, st.integers(0, 2**31), st.integers(0, 50), st.data())
def test_an_epoch_draws_each_corpus_its_quota_in_whole_passes(sizes, seed, epoch, data):
    weights = data.draw(st.lists(st.floats(0.1, 10.0), min_size=len(sizes), max_size=len(sizes)))
    order = weighted_epoch(sizes, weights, seed, epoch)
    total = sum(sizes)
    assert len(order) == total and len(set(order.tolist())) == total  # every draw index once
    assert np.array_equal(order, weighted_epoch(sizes, weights, seed, epoch))  # seeded
    starts = np.cumsum([0, *sizes])
    corpus = np.searchsorted(starts, order % total, side="right") - 1
    quotas = epoch_quotas(sizes, weights)
    assert np.bincount(corpus, minlength=len(sizes)).tolist() == quotas
    for c, (size, quota) in enumerate(zip(sizes, quotas, strict=True)):
        mine = order[corpus == c]
        times = collections.Counter((mine % total).tolist())
        assert all(quota // size <= times[i] <= -(-quota // size) for i in range(starts[c], starts[c + 1]))
        for whole in range(quota // size):  # every whole pass holds every sequence of the corpus once
            assert sorted((mine[mine // total == whole] % total).tolist()) == list(
                range(starts[c], starts[c + 1])
            )


def test_weights_change_the_composition_of_an_epoch():
    sizes = [10, 30]  # a small corpus beside one three times its size

    def shares(weights):
        order = weighted_epoch(sizes, weights, seed=0, epoch=0)
        return np.bincount((order % 40) >= 10, minlength=2).tolist()

    assert shares([1.0, 1.0]) == [20, 20]  # equal weights, equal shares: the small corpus twice over
    assert shares([1.0, 3.0]) == [10, 30]  # weights equal to the sizes: one plain pass over each
    assert shares([3.0, 1.0]) == [30, 10]  # the small one three times, a third of the large one
    first, second = weighted_epoch(sizes, [3.0, 1.0], 0, 0), weighted_epoch(sizes, [3.0, 1.0], 0, 1)
    assert not np.array_equal(first, second)  # another order, and another third of the large corpus
    assert set((first[first % 40 >= 10] % 40).tolist()) != set((second[second % 40 >= 10] % 40).tolist())
