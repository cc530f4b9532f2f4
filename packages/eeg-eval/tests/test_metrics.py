"""Participant-level aggregation and metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from eeg_eval.metrics import (
    Predictions,
    aggregate,
    concatenate,
    fold_spread,
    unit_metrics,
    validation_scores,
)


def test_mean_probability_and_majority_vote_aggregate_window_groups():
    owners = [2, 2, 2, 0, 0]
    probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.2, 0.8], [0.7, 0.3]])
    order, mean, predicted = aggregate(owners, probabilities, "mean_probability")
    assert order == [2, 0]
    assert_allclose(mean, [[0.5833333, 0.4166667], [0.45, 0.55]], rtol=1e-6)
    assert predicted.tolist() == [0, 1]
    order, votes, predicted = aggregate(owners, probabilities, "majority_vote")
    assert_allclose(votes, [[1 / 3, 2 / 3], [0.5, 0.5]])
    # participant 2: two of three windows vote 1 although the mean probability favours 0;
    # participant 0: a tie, broken by the higher mean probability (class 1: 0.55)
    assert predicted.tolist() == [1, 1]


def test_binary_metrics_by_hand():
    targets = np.array([0, 0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 1, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.6, 0.3, 0.9, 0.8, 0.4, 0.7])
    m = unit_metrics(targets, predicted, np.stack([1 - scores, scores], axis=1), 2)
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["sensitivity"] == pytest.approx(3 / 4)  # recall of class 1
    assert m["specificity"] == pytest.approx(2 / 3)  # recall of class 0
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 2 / 3) / 2)
    assert m["f1"] == pytest.approx(2 * (3 / 4) * (3 / 4) / (3 / 4 + 3 / 4))  # precision 3/4, recall 3/4
    # AUROC: pairs (positive, negative) ranked correctly: 0.4 loses to 0.6 only -> 11/12
    assert m["auroc"] == pytest.approx(11 / 12)
    assert m["confusion_matrix"] == [[2, 1], [1, 3]]
    assert m["units"] == 7
    probabilities = np.stack([1 - scores, scores], axis=1)
    assert validation_scores(targets, predicted, probabilities, 2) == (m["auroc"], m["balanced_accuracy"])


def test_undefined_metrics_are_nan_for_a_single_participant():
    m = unit_metrics(np.array([1]), np.array([1]), np.array([[0.2, 0.8]]), 2)
    assert m["accuracy"] == 1.0 and m["sensitivity"] == 1.0
    assert math.isnan(m["auroc"]) and math.isnan(m["specificity"])


def test_multiclass_metrics_are_macro_one_vs_rest():
    targets = np.array([0, 1, 2, 0, 1, 2])
    predicted = np.array([0, 1, 1, 0, 2, 2])
    probabilities = np.eye(3)[predicted] * 0.7 + 0.1
    m = unit_metrics(targets, predicted, probabilities, 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["sensitivity"] == pytest.approx(np.mean([1.0, 0.5, 0.5]))
    # specificity of class k: recall of "not k"; class 0: 4/4, class 1: 3/4, class 2: 3/4
    assert m["specificity"] == pytest.approx(np.mean([1.0, 0.75, 0.75]))
    assert 0.0 <= m["auroc"] <= 1.0 and m["confusion_matrix"][2] == [0, 1, 1]


def test_fold_spread_skips_undefined_values():
    folds = [
        {
            "accuracy": 1.0,
            "balanced_accuracy": 1.0,
            "auroc": float("nan"),
            "f1": 1.0,
            "sensitivity": 1.0,
            "specificity": float("nan"),
        },
        {
            "accuracy": 0.0,
            "balanced_accuracy": 0.0,
            "auroc": float("nan"),
            "f1": 0.0,
            "sensitivity": 0.0,
            "specificity": 0.5,
        },
    ]
    mean, std = fold_spread(folds)
    assert mean["accuracy"] == 0.5 and std["accuracy"] == 0.5
    assert mean["specificity"] == 0.5 and std["specificity"] == 0.0
    assert math.isnan(mean["auroc"]) and math.isnan(std["auroc"])


def test_concatenate_pools_folds_sorted_by_participant():
    def part(ids, fold):
        n = len(ids)
        return Predictions(
            participants=tuple(ids),
            targets=np.arange(n) % 2,
            predicted=np.zeros(n, dtype=int),
            probabilities=np.full((n, 2), 0.5),
            folds=np.full(n, fold),
        )

    pooled = concatenate([part(["P03", "P01"], 1), part(["P02"], 2)])
    assert pooled.participants == ("P01", "P02", "P03")
    assert pooled.folds.tolist() == [1, 2, 1] and pooled.targets.tolist() == [1, 0, 0]
