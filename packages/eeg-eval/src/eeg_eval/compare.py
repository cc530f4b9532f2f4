"""Compare feature sets (any encoder's embeddings, a reference encoder's, classic features) on the same
group-disjoint folds, pool the out-of-fold predictions, put bootstrap intervals over groups on every
metric and paired difference, and judge: the whole evaluation in one call, for arrays from anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import numpy as np

from eeg_eval.baselines import logistic_probabilities
from eeg_eval.bootstrap import bootstrap
from eeg_eval.errors import EvalError
from eeg_eval.metrics import METRICS, Predictions, concatenate, unit_metrics
from eeg_eval.splits import Fold, unit_folds
from eeg_eval.units import Units
from eeg_eval.verdict import CLASSIC, RANDOM, Verdict, judge

__all__ = ["Comparison", "compare_features", "fold_predictions", "summarise"]


@attrs.frozen(kw_only=True)
class Comparison:
    """What :func:`compare_features` found: pooled ``metrics[model]``, ``intervals[model][metric] = [low,
    high]``, paired ``differences`` (see :func:`eeg_eval.bootstrap`), the out-of-fold ``predictions`` per
    model, the ``folds`` and the :class:`~eeg_eval.verdict.Verdict`."""

    metrics: dict[str, dict[str, object]]
    intervals: dict[str, dict[str, list[float]]]
    differences: dict[str, dict[str, dict[str, float]]]
    predictions: dict[str, Predictions]
    folds: list[Fold]
    verdict: Verdict


def fold_predictions(units: Units, rows: np.ndarray, probabilities: np.ndarray, fold: int) -> Predictions:
    """The :class:`Predictions` of the units ``rows`` given their class probabilities ``[len(rows), K]``."""
    rows = np.asarray(rows, dtype=np.int64)
    return Predictions(
        participants=tuple(units.participants[i] for i in rows),
        targets=units.targets[rows],
        predicted=probabilities.argmax(axis=1).astype(np.int64),
        probabilities=probabilities,
        folds=np.full(len(rows), fold, dtype=np.int64),
        groups=tuple(units.groups[i] for i in rows),
        runs=tuple(units.runs[i] for i in rows),
        windows=units.windows[rows],
    )


def summarise(
    predictions: Mapping[str, Predictions],
    num_classes: int,
    *,
    judged: str,
    reference: str = RANDOM,
    classics: Sequence[str] = CLASSIC,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    seen_groups: int | None = 0,
    transductive: bool = False,
    metric: str = "auroc",
    resample: Sequence[str] = METRICS,
) -> tuple[dict, dict, dict, Verdict]:
    """Pooled metrics, bootstrap intervals of the metrics ``resample`` (at least the verdict's ``metric``),
    the judged model's paired differences and the verdict."""
    pairs = [
        (judged, other) for other in (reference, *classics) if other in predictions and judged in predictions
    ]
    intervals, differences = bootstrap(
        predictions,
        num_classes,
        resamples=resamples,
        confidence=confidence,
        seed=seed,
        pairs=pairs,
        metrics=resample if metric in resample else (*resample, metric),
    )
    metrics = {
        name: unit_metrics(p.targets, p.predicted, p.probabilities, num_classes)
        for name, p in predictions.items()
    }
    verdict = judge(
        metrics,
        differences,
        judged=judged,
        reference=reference,
        classics=classics,
        metric=metric,
        seen_groups=seen_groups,
        transductive=transductive,
    )
    return metrics, intervals, differences, verdict


def compare_features(
    features: Mapping[str, np.ndarray],
    units: Units,
    *,
    judged: str,
    reference: str = RANDOM,
    classics: Sequence[str] = CLASSIC,
    folds: Sequence[Fold] | None = None,
    method: str = "auto",
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    seen_groups: int | None = 0,
    transductive: bool = False,
    weights: str | tuple[float, ...] | None = "balanced",
    resample: Sequence[str] = ("auroc",),
) -> Comparison:
    """Logistic regression on each feature set ``features[name]`` (``[N, F]``, one row per unit of
    ``units``) on the same folds (default: ``method`` over ``units``' groups, every group tested once), the
    out-of-fold predictions pooled, intervals over groups and the verdict for ``judged`` against
    ``reference`` and the best of ``classics`` (see :func:`eeg_eval.verdict.judge`); ``resample`` the
    metrics that get intervals (default the verdict's AUROC alone, all resamples at once; pass
    :data:`eeg_eval.METRICS` for every metric, about 100x slower)."""
    for name, array in features.items():
        if len(array) != len(units):
            raise EvalError(f"features[{name!r}]: {len(array)} rows for {len(units)} units")
    folds = list(folds) if folds is not None else unit_folds(units, method, seed=seed)
    parts: dict[str, list[Predictions]] = {name: [] for name in features}
    for fold in folds:
        fit_on = np.asarray(fold.train + fold.val, dtype=np.int64)
        test = np.asarray(fold.test, dtype=np.int64)
        for name, array in features.items():
            probabilities = logistic_probabilities(
                np.asarray(array, dtype=np.float64), units.targets, fit_on, test, units.num_classes,
                weights=weights, seed=seed,
            )  # fmt: skip
            parts[name].append(fold_predictions(units, test, probabilities, fold.index))
    predictions = {name: concatenate(p) for name, p in parts.items()}
    metrics, intervals, differences, verdict = summarise(
        predictions, units.num_classes, judged=judged, reference=reference, classics=classics,
        resamples=resamples, confidence=confidence, seed=seed, seen_groups=seen_groups, transductive=transductive,
        resample=resample,
    )  # fmt: skip
    return Comparison(
        metrics=metrics,
        intervals=intervals,
        differences=differences,
        predictions=predictions,
        folds=folds,
        verdict=verdict,
    )
