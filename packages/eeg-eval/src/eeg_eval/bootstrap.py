"""Bootstrap confidence intervals over groups and paired differences between models.

The units of a metric (participants, or windows) are not independent: windows of one person share that
person. So the bootstrap resamples **groups** (by default participants) with replacement and recomputes
each metric (scikit-learn, :func:`eeg_eval.metrics.unit_metrics`) on every row of the drawn groups. Paired
differences use the same draws for both models. Intervals are percentile intervals; a resample where a
metric is undefined (AUROC with one class drawn) is left out of that metric's interval
(``scipy.stats.bootstrap`` would return NaN for the whole interval instead), and the share of such
resamples is reported with every difference (``undefined``), with the number of distinct resamples
(``distinct``) and of groups (``groups``): the verdict (:mod:`eeg_eval.verdict`) refuses to conclude from
intervals that rest on too little.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from eeg_eval.metrics import METRICS, Predictions, auroc, unit_metrics

__all__ = ["bootstrap"]


def _scalars(
    predictions: Predictions, rows: np.ndarray, num_classes: int, metrics: Sequence[str]
) -> dict[str, float]:
    if tuple(metrics) == ("auroc",):  # the verdict's metric alone: skip the others (10x faster)
        return {"auroc": auroc(predictions.targets[rows], predictions.probabilities[rows], num_classes)}
    scores = unit_metrics(
        predictions.targets[rows],
        predictions.predicted[rows],
        predictions.probabilities[rows],
        num_classes,
        confusion=False,
    )
    return {m: float(scores[m]) for m in metrics}


#: Up to this many units the binary AUROC of all resamples is computed at once (an N_pos x N_neg matrix).
_FAST_AUROC_UNITS = 6000


def _weighted_binary_auroc(targets: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC ``[B]`` of ``scores`` ``[N]`` for binary ``targets`` ``[N]`` when unit ``i`` appears
    ``weights[b, i]`` times in resample ``b`` (``[B, N]``): the Mann-Whitney statistic with ties counted
    one half, which is what ``roc_auc_score`` computes on the repeated rows (checked in the tests);
    NaN where a resample lacks a class."""
    positive, negative = targets == 1, targets == 0
    s_pos, s_neg = scores[positive], scores[negative]
    wins = (s_pos[:, None] > s_neg[None, :]) + 0.5 * (s_pos[:, None] == s_neg[None, :])  # (N_pos, N_neg)
    w_pos, w_neg = weights[:, positive].astype(np.float64), weights[:, negative].astype(np.float64)
    pairs = w_pos.sum(axis=1) * w_neg.sum(axis=1)  # (B,)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.einsum("bp,pn,bn->b", w_pos, wins, w_neg) / pairs
    return np.where(pairs > 0, auc, math.nan)


#: Binary metrics computed from the confusion counts of all resamples at once.
_COUNT_METRICS = {"accuracy", "balanced_accuracy", "f1", "sensitivity", "specificity"}


def _weighted_binary_counts(
    targets: np.ndarray, predicted: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy, F1, sensitivity and specificity ``[B]`` of binary predictions when unit
    ``i`` appears ``weights[b, i]`` times in resample ``b``: the confusion counts of each resample, and
    :func:`eeg_eval.unit_metrics`'s definitions on them (balanced accuracy: the mean recall over the classes
    present; NaN where a metric divides by zero). Checked against it in the tests."""
    w = weights.astype(np.float64)
    y, p = np.asarray(targets) == 1, np.asarray(predicted) == 1
    tp, fn = w @ (y & p), w @ (y & ~p)
    tn, fp = w @ (~y & ~p), w @ (~y & p)
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = np.where(tp + fn > 0, tp / (tp + fn), math.nan)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), math.nan)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), math.nan)
        accuracy = (tp + tn) / (tp + tn + fp + fn)
    with warnings.catch_warnings():  # a resample without units: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        balanced = np.nanmean(np.stack([sensitivity, specificity]), axis=0)  # classes present only
    return {
        "accuracy": accuracy,
        "balanced_accuracy": balanced,
        "f1": f1,
        "sensitivity": sensitivity,
        "specificity": specificity,
    }


def _interval(values: np.ndarray, confidence: float) -> list[float]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return [math.nan, math.nan]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]


def bootstrap(
    by_model: Mapping[str, Predictions],
    num_classes: int,
    *,
    resamples: int,
    confidence: float,
    seed: int,
    pairs: Sequence[tuple[str, str]] = (),
    metrics: Sequence[str] = METRICS,
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, dict[str, float]]]]:
    """Percentile intervals of every metric of every model, and of paired differences, over groups.

    Args:
        by_model: predictions of the same units, in the same order, per model (``groups`` set).
        pairs: ``(a, b)`` model pairs whose difference ``a - b`` gets an interval.
        metrics: the metrics to resample (default all of :data:`~eeg_eval.metrics.METRICS`).

    Returns:
        ``intervals[model][metric] = [low, high]`` and ``differences["a - b"][metric] = {"estimate",
        "low", "high", "undefined", "distinct", "groups"}``: the point difference, the interval, the share
        of resamples where the difference is undefined, the number of distinct resamples (multisets of
        groups) and of groups. With ``resamples == 0`` every bound is NaN.
    """
    models = list(by_model)
    first = by_model[models[0]]
    for name in models[1:]:
        other = by_model[name]
        if other.participants != first.participants or not np.array_equal(other.windows, first.windows):
            raise ValueError(f"models {models[0]} and {name} predict different units")
    groups = np.asarray(first.groups, dtype=object).astype(str)
    ids, unit_group = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(unit_group == g) for g in range(len(ids))]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), size=(resamples, len(ids)))
    distinct = len(np.unique(np.sort(draws, axis=1), axis=0)) if resamples else 0
    samples = {m: {k: np.full(resamples, math.nan) for k in metrics} for m in models}
    binary = num_classes == 2 and resamples > 0
    fast = set(metrics) & _COUNT_METRICS if binary else set()
    if binary and "auroc" in metrics and len(first) <= _FAST_AUROC_UNITS:
        fast.add("auroc")
    if fast:  # every resample at once: each unit weighted by how often its group was drawn
        weights = np.stack([np.bincount(d, minlength=len(ids)) for d in draws])[:, unit_group]  # (B, N)
        for m in models:
            if "auroc" in fast:
                samples[m]["auroc"] = _weighted_binary_auroc(
                    first.targets, by_model[m].probabilities[:, 1], weights
                )
            counted = _weighted_binary_counts(first.targets, by_model[m].predicted, weights)
            for k in fast - {"auroc"}:
                samples[m][k] = counted[k]
    rest = [k for k in metrics if k not in fast]
    if rest:
        for b, draw in enumerate(draws):
            rows = np.concatenate([rows_of[g] for g in draw])
            for m in models:
                for k, value in _scalars(by_model[m], rows, num_classes, rest).items():
                    samples[m][k][b] = value
    intervals = {m: {k: _interval(samples[m][k], confidence) for k in metrics} for m in models}
    everyone = np.arange(len(first))
    points = {m: _scalars(by_model[m], everyone, num_classes, metrics) for m in models}
    differences = {}
    for a, b in pairs:
        differences[f"{a} - {b}"] = {}
        for k in metrics:
            delta = samples[a][k] - samples[b][k]
            low, high = _interval(delta, confidence)
            differences[f"{a} - {b}"][k] = {
                "estimate": points[a][k] - points[b][k],
                "low": low,
                "high": high,
                "undefined": float(np.mean(~np.isfinite(delta))) if resamples else math.nan,
                "distinct": float(distinct),
                "groups": float(len(ids)),
            }
    return intervals, differences
