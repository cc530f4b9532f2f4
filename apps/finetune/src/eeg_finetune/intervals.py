"""Bootstrap confidence intervals over groups, paired differences between models, and the verdict.

The units of a metric (participants, or windows) are not independent: windows of one person share that
person. So the bootstrap resamples **groups** (``data.group_column``, by default participants) with
replacement and recomputes each metric (scikit-learn, :func:`eeg_finetune.metrics.participant_metrics`)
on every row of the drawn groups. Paired differences use the same draws for both models. Intervals are
percentile intervals; a resample where a metric is undefined (AUROC with one class drawn) is left out of
that metric's interval (``scipy.stats.bootstrap`` would return NaN for the whole interval instead).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from eeg_finetune.metrics import METRICS, Predictions, participant_metrics

__all__ = ["PRETRAINED", "bootstrap", "verdict", "verdict_for"]

#: Models whose encoder is the pretrained one (the verdict is about them).
PRETRAINED = ("finetuned", "linear_probe")
RANDOM = "random_encoder"
CLASSIC = ("band_power", "waveform")


def _scalars(predictions: Predictions, rows: np.ndarray, num_classes: int) -> dict[str, float]:
    part = predictions.take(rows)
    scores = participant_metrics(
        part.targets, part.predicted, part.probabilities, num_classes, confusion=False
    )
    return {m: float(scores[m]) for m in METRICS}


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
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, dict[str, float]]]]:
    """Percentile intervals of every metric of every model, and of paired differences, over groups.

    Args:
        by_model: predictions of the same units, in the same order, per model (``groups`` set).
        pairs: ``(a, b)`` model pairs whose difference ``a - b`` gets an interval.

    Returns:
        ``intervals[model][metric] = [low, high]`` and ``differences["a - b"][metric] = {"estimate",
        "low", "high"}``. With ``resamples == 0`` every bound is NaN.
    """
    models = list(by_model)
    first = by_model[models[0]]
    for name in models[1:]:
        other = by_model[name]
        if other.participants != first.participants or not np.array_equal(other.windows, first.windows):
            raise ValueError(f"models {models[0]} and {name} predict different units")
    groups = np.asarray(first.groups, dtype=object).astype(str)
    ids = np.unique(groups)
    rows_of = [np.flatnonzero(groups == g) for g in ids]
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), size=(resamples, len(ids)))
    samples = {m: {k: np.full(resamples, math.nan) for k in METRICS} for m in models}
    for b, draw in enumerate(draws):
        rows = np.concatenate([rows_of[g] for g in draw])
        for m in models:
            for k, value in _scalars(by_model[m], rows, num_classes).items():
                samples[m][k][b] = value
    intervals = {m: {k: _interval(samples[m][k], confidence) for k in METRICS} for m in models}
    everyone = np.arange(len(first))
    points = {m: _scalars(by_model[m], everyone, num_classes) for m in models}
    differences = {}
    for a, b in pairs:
        differences[f"{a} - {b}"] = {}
        for k in METRICS:
            low, high = _interval(samples[a][k] - samples[b][k], confidence)
            differences[f"{a} - {b}"][k] = {"estimate": points[a][k] - points[b][k], "low": low, "high": high}
    return intervals, differences


def _signed(d: Mapping[str, float]) -> str:
    def f(x: float) -> str:
        return "n/a" if not math.isfinite(x) else f"{x:+.3f}"

    return f"{f(d['estimate'])} [{f(d['low'])}, {f(d['high'])}]"


def verdict(
    candidate: str,
    versus_random: Mapping[str, float],
    classic: str,
    versus_classic: Mapping[str, float],
    metric: str = "auroc",
) -> str:
    """The one-line verdict. ``versus_*``: the paired difference ``candidate - other`` of ``metric``
    (``estimate``, ``low``, ``high``). "pretraining helped" only when both intervals lie above 0."""
    beats_random = math.isfinite(versus_random["low"]) and versus_random["low"] > 0
    beats_classic = math.isfinite(versus_classic["low"]) and versus_classic["low"] > 0
    random_text = f"the random encoder ({metric} {_signed(versus_random)})"
    classic_text = f"the best classic baseline, {classic} ({metric} {_signed(versus_classic)})"
    if beats_random and beats_classic:
        return f"pretraining helped: {candidate} beats {random_text} and {classic_text}"
    if not beats_random and not beats_classic:
        return f"pretraining did not help: {candidate} beats neither {random_text} nor {classic_text}"
    if not beats_random:
        return f"pretraining did not help: {candidate} did not beat {random_text}; it beats {classic_text}"
    return f"pretraining did not help: {candidate} did not beat {classic_text}; it beats {random_text}"


def verdict_for(
    metrics: Mapping[str, Mapping[str, float]],
    differences: Mapping[str, Mapping[str, Mapping[str, float]]],
    metric: str = "auroc",
) -> tuple[str, dict[str, str]]:
    """The verdict for the pretrained model (fine-tuned or linear probe) of higher point ``metric``,
    against the random encoder and the classic baseline of higher point ``metric``.

    Returns:
        (the line, ``{"candidate", "classic"}``); without baselines the line says so.
    """
    present = [m for m in PRETRAINED if m in metrics]
    classics = [m for m in CLASSIC if m in metrics]
    if RANDOM not in metrics or not classics or not present:
        return "no verdict: the baselines were not run (compare_baselines: false)", {}

    def score(m: str) -> float:
        value = float(metrics[m][metric])
        return value if math.isfinite(value) else -math.inf

    candidate = max(present, key=score)
    classic = max(classics, key=score)
    line = verdict(
        candidate,
        differences[f"{candidate} - {RANDOM}"][metric],
        classic,
        differences[f"{candidate} - {classic}"][metric],
        metric,
    )
    return line, {"candidate": candidate, "classic": classic}
