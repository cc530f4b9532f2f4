"""Bootstrap intervals over groups on constructed cases, and paired differences with their diagnostics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_eval import Predictions, bootstrap


def predictions(correct: np.ndarray, groups: list[str], targets: np.ndarray) -> Predictions:
    """Binary predictions that are right where ``correct``; probability 0.9 on the predicted class."""
    predicted = np.where(correct, targets, 1 - targets)
    p1 = np.where(predicted == 1, 0.9, 0.1)
    return Predictions(
        participants=tuple(f"u{i:04d}" for i in range(len(targets))),
        targets=targets,
        predicted=predicted,
        probabilities=np.stack([1 - p1, p1], axis=1),
        folds=np.ones(len(targets), dtype=np.int64),
        groups=tuple(groups),
    )


def test_intervals_contain_the_true_accuracy_and_resample_groups():
    rng = np.random.default_rng(0)
    groups = [f"g{i}" for i in range(150) for _ in range(4)]  # 150 groups of 4 units
    targets = np.tile([0, 1], 300)
    correct = rng.random(600) < 0.7  # true accuracy 0.7
    model = predictions(correct, groups, targets)
    intervals, _ = bootstrap({"m": model}, 2, resamples=200, confidence=0.95, seed=0)
    low, high = intervals["m"]["accuracy"]
    assert low < 0.7 < high and low < correct.mean() < high
    assert 0.03 < high - low < 0.2

    # The same units, but every group's units all right or all wrong: groups, not units, are the
    # independent draws, so the interval is wider than when correctness varies inside groups.
    clustered = np.repeat(rng.random(150) < 0.7, 4)
    wide, _ = bootstrap(
        {"m": predictions(clustered, groups, targets)}, 2, resamples=200, confidence=0.95, seed=0
    )
    assert wide["m"]["accuracy"][1] - wide["m"]["accuracy"][0] > 1.3 * (high - low)


def test_degenerate_intervals():
    groups = [f"g{i // 3}" for i in range(30)]
    targets = np.tile([0, 1, 1], 10)
    perfect = predictions(np.ones(30, dtype=bool), groups, targets)
    intervals, differences = bootstrap(
        {"a": perfect, "b": perfect}, 2, resamples=200, confidence=0.95, seed=1, pairs=[("a", "b")]
    )
    assert intervals["a"]["accuracy"] == [1.0, 1.0] and intervals["a"]["auroc"] == [1.0, 1.0]
    difference = differences["a - b"]["auroc"]
    assert {k: difference[k] for k in ("estimate", "low", "high")} == {
        "estimate": 0.0,
        "low": 0.0,
        "high": 0.0,
    }
    assert difference["groups"] == 10 and difference["undefined"] == 0.0 and 1 < difference["distinct"] <= 200
    # one group: every resample is the data itself
    single, _ = bootstrap(
        {"a": predictions(np.arange(6) % 3 > 0, ["g"] * 6, np.tile([0, 1], 3))},
        2,
        resamples=50,
        confidence=0.95,
        seed=0,
    )
    assert single["a"]["accuracy"] == pytest.approx([4 / 6, 4 / 6])
    none, _ = bootstrap({"a": perfect}, 2, resamples=0, confidence=0.95, seed=0)
    assert all(math.isnan(x) for x in none["a"]["auroc"])


def test_paired_difference_interval_excludes_zero_for_a_clearly_better_model():
    rng = np.random.default_rng(3)
    groups = [f"g{i // 5}" for i in range(400)]
    targets = rng.integers(0, 2, 400)
    good = predictions(rng.random(400) < 0.9, groups, targets)
    poor = predictions(rng.random(400) < 0.6, groups, targets)
    _, differences = bootstrap(
        {"good": good, "poor": poor}, 2, resamples=150, confidence=0.95, seed=0, pairs=[("good", "poor")]
    )
    difference = differences["good - poor"]["accuracy"]
    assert difference["low"] > 0 and difference["low"] < difference["estimate"] < difference["high"]


def test_few_groups_give_few_distinct_resamples_and_undefined_aurocs_are_counted():
    # 2 groups of one class each: a resample holds both classes only when it draws both groups
    targets = np.array([0, 0, 1, 1])
    groups = ["a", "a", "b", "b"]
    model = predictions(np.array([True, True, True, False]), groups, targets)
    _, differences = bootstrap(
        {"m": model, "n": model}, 2, resamples=400, confidence=0.95, seed=0, pairs=[("m", "n")]
    )
    auroc = differences["m - n"]["auroc"]
    assert auroc["distinct"] == 3  # {a, a}, {a, b}, {b, b}
    assert 0.35 < auroc["undefined"] < 0.65  # one class drawn half the time


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 40),
    groups=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    ties=st.booleans(),
)
def test_the_all_at_once_auroc_equals_sklearn_on_each_resample(n, groups, seed, ties):
    from sklearn.metrics import roc_auc_score

    from eeg_eval.bootstrap import _weighted_binary_auroc

    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 2, n)
    scores = rng.integers(0, 4, n) / 4 if ties else rng.random(n)  # many exact ties, or none
    unit_group = rng.integers(0, groups, n)
    draws = rng.integers(0, groups, size=(5, groups))
    weights = np.stack([np.bincount(d, minlength=groups) for d in draws])[:, unit_group]
    fast = _weighted_binary_auroc(targets, scores, weights)
    for b in range(len(draws)):
        rows = np.repeat(np.arange(n), weights[b])
        y = targets[rows]
        expected = roc_auc_score(y, scores[rows]) if len(np.unique(y)) == 2 else math.nan
        np.testing.assert_allclose(fast[b], expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 30), groups=st.integers(1, 6), seed=st.integers(0, 10_000))
def test_the_all_at_once_count_metrics_equal_unit_metrics_on_each_resample(n, groups, seed):
    from eeg_eval import unit_metrics
    from eeg_eval.bootstrap import _COUNT_METRICS, _weighted_binary_counts

    rng = np.random.default_rng(seed)
    targets, predicted = rng.integers(0, 2, n), rng.integers(0, 2, n)
    unit_group = rng.integers(0, groups, n)
    draws = rng.integers(0, groups, size=(6, groups))
    weights = np.stack([np.bincount(d, minlength=groups) for d in draws])[:, unit_group]
    fast = _weighted_binary_counts(targets, predicted, weights)
    for b in range(len(draws)):
        rows = np.repeat(np.arange(n), weights[b])
        if not len(rows):
            continue
        probabilities = np.stack([1.0 - predicted[rows], predicted[rows]], axis=1).astype(float)
        expected = unit_metrics(targets[rows], predicted[rows], probabilities, 2, confusion=False)
        for name in _COUNT_METRICS:
            np.testing.assert_allclose(fast[name][b], expected[name], rtol=1e-12, err_msg=name)
