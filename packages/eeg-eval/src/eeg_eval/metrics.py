"""Predictions per unit (a participant, or a window) and their metrics (all computed with scikit-learn).

Binary tasks: the positive class is the larger label (e.g. ``1`` = remission), sensitivity is its
recall, specificity the recall of the other class, F1 and AUROC are those of the positive class.
More than two classes: F1, sensitivity and specificity are macro averages over one-vs-rest classes and
AUROC is one-vs-rest macro AUROC. A metric that is undefined for the participants given (AUROC with a
single class present, e.g. one left-out participant) is NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import attrs
import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    recall_score,
    roc_auc_score,
)

from eeg_eval.units import groups_of

__all__ = [
    "METRICS",
    "Predictions",
    "aggregate",
    "aggregate_predictions",
    "auroc",
    "concatenate",
    "fold_spread",
    "unit_metrics",
    "validation_scores",
]

#: Scalar metrics, in report order (the confusion matrix is reported beside them).
METRICS = ("accuracy", "balanced_accuracy", "auroc", "f1", "sensitivity", "specificity")


@attrs.frozen(kw_only=True)
class Predictions:
    """One row per unit (a participant, or a window with window labels): ``targets`` and ``predicted``
    class indices ``[N]``, ``probabilities`` ``[N, K]`` (rows sum to 1), ``folds`` the fold each unit was
    tested in; ``runs`` (``""`` when not known) and ``windows`` (the window's position in its run, -1 for
    participant units) say where the unit is; ``groups`` the group each unit belongs to (default: its
    participant, :func:`eeg_eval.units.groups_of`)."""

    participants: tuple[str, ...]
    targets: np.ndarray = attrs.field(eq=False)
    predicted: np.ndarray = attrs.field(eq=False)
    probabilities: np.ndarray = attrs.field(eq=False)
    folds: np.ndarray = attrs.field(eq=False)
    groups: tuple[str, ...] = attrs.field(default=None)
    runs: tuple[str, ...] = attrs.field(default=None)
    windows: np.ndarray = attrs.field(default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        n = len(self.participants)
        if self.groups is None:
            object.__setattr__(self, "groups", groups_of(self.participants))
        if self.runs is None:
            object.__setattr__(self, "runs", ("",) * n)
        if self.windows is None:
            object.__setattr__(self, "windows", np.full(n, -1, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.participants)

    def take(self, rows: np.ndarray) -> Predictions:
        """The rows ``rows`` (int indices, repeats allowed), in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return Predictions(
            participants=tuple(self.participants[i] for i in rows),
            targets=self.targets[rows],
            predicted=self.predicted[rows],
            probabilities=self.probabilities[rows],
            folds=self.folds[rows],
            groups=tuple(self.groups[i] for i in rows),
            runs=tuple(self.runs[i] for i in rows),
            windows=self.windows[rows],
        )


def aggregate_predictions(predictions: Predictions, level: str) -> Predictions | None:
    """Window predictions averaged per ``run`` (participant-run) or per ``participant`` (mean probability),
    where the label is constant in every such unit; None where it is not (or nothing to aggregate)."""
    keys = [
        (p, r) if level == "run" else (p,)
        for p, r in zip(predictions.participants, predictions.runs, strict=True)
    ]
    index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    owners = np.asarray([index[k] for k in keys])
    for i in range(len(index)):
        if len(np.unique(predictions.targets[owners == i])) > 1:
            return None
    order, probs, predicted = aggregate(owners.tolist(), predictions.probabilities, "mean_probability")
    first = [int(np.flatnonzero(owners == i)[0]) for i in order]
    return Predictions(
        participants=tuple(predictions.participants[i] for i in first),
        targets=predictions.targets[first],
        predicted=predicted,
        probabilities=probs,
        folds=predictions.folds[first],
        groups=tuple(predictions.groups[i] for i in first),
        runs=tuple(predictions.runs[i] if level == "run" else "" for i in first),
    )


def aggregate(
    sample_participants: Sequence[int], probabilities: np.ndarray, how: str
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Participant predictions from sample predictions (window groups).

    Args:
        sample_participants: participant index of each sample ``[N]``.
        probabilities: float ``[N, K]`` class probabilities per sample.
        how: ``"mean_probability"`` (average the probabilities, predict the most probable class) or
            ``"majority_vote"`` (each sample votes for its most probable class; the participant's
            probabilities are the vote fractions; ties go to the class of higher mean probability).

    Returns:
        (participant indices in first-seen order, probabilities ``[P, K]``, predicted class ``[P]``).
    """
    order = list(dict.fromkeys(int(p) for p in sample_participants))
    owners = np.asarray(sample_participants)
    probs, predicted = [], []
    for p in order:
        rows = probabilities[owners == p]  # (n_p, K)
        mean = rows.mean(axis=0)
        if how == "majority_vote":
            votes = np.bincount(rows.argmax(axis=1), minlength=rows.shape[1]) / len(rows)
            tied = np.flatnonzero(votes == votes.max())
            probs.append(votes)
            predicted.append(int(tied[np.argmax(mean[tied])]))
        elif how == "mean_probability":
            probs.append(mean)
            predicted.append(int(mean.argmax()))
        else:
            raise ValueError(f"unknown aggregation {how!r}")
    return order, np.asarray(probs, dtype=np.float64), np.asarray(predicted, dtype=np.int64)


def unit_metrics(
    targets: np.ndarray,
    predicted: np.ndarray,
    probabilities: np.ndarray,
    num_classes: int,
    confusion: bool = True,
) -> dict[str, object]:
    """Accuracy, balanced accuracy, AUROC, F1, sensitivity, specificity (floats, NaN when undefined),
    the confusion matrix (``confusion_matrix[i][j]``: units of class i predicted as j) and the number of
    units (``units``).

    Args:
        targets, predicted: int ``[N]`` class indices in ``0..num_classes-1``.
        probabilities: float ``[N, num_classes]``.
    """
    with warnings.catch_warnings():
        # A fold with one participant (LOSO) makes sklearn warn that some classes are absent; the
        # affected metrics are NaN or computed over the classes present, as documented above.
        warnings.simplefilter("ignore")
        return _metrics(np.asarray(targets), np.asarray(predicted), probabilities, num_classes, confusion)


def validation_scores(
    targets: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray, num_classes: int
) -> tuple[float, float]:
    """(AUROC, balanced accuracy) as in :func:`unit_metrics`, without the rest (run every epoch)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = np.asarray(targets)
        return auroc(y, probabilities, num_classes), float(balanced_accuracy_score(y, np.asarray(predicted)))


def auroc(y: np.ndarray, probabilities: np.ndarray, num_classes: int) -> float:
    """Positive-class AUROC (binary) or one-vs-rest macro AUROC of class probabilities ``[N, K]``; NaN
    unless every class is present."""
    y = np.asarray(y)
    if len(np.unique(y)) < num_classes:
        return float("nan")
    if num_classes == 2:
        return float(roc_auc_score(y, probabilities[:, 1]))
    return float(roc_auc_score(y, probabilities, multi_class="ovr", labels=list(range(num_classes))))


def _metrics(
    y: np.ndarray, pred: np.ndarray, probabilities: np.ndarray, num_classes: int, confusion: bool = True
) -> dict[str, object]:
    labels = list(range(num_classes))
    out: dict[str, object] = {
        "accuracy": float(accuracy_score(y, pred)),
        # balanced accuracy is the mean recall over the classes present in y (sklearn's definition).
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "auroc": auroc(y, probabilities, num_classes),
    }
    if num_classes == 2:
        out["f1"] = float(f1_score(y, pred, pos_label=1, zero_division=np.nan))
        out["sensitivity"] = float(recall_score(y, pred, pos_label=1, zero_division=np.nan))
        out["specificity"] = float(recall_score(y, pred, pos_label=0, zero_division=np.nan))
    else:
        out["f1"] = float(f1_score(y, pred, labels=labels, average="macro", zero_division=np.nan))
        out["sensitivity"] = float(
            recall_score(y, pred, labels=labels, average="macro", zero_division=np.nan)
        )
        specificities = [
            recall_score(y != k, pred != k, pos_label=True, zero_division=np.nan) for k in labels
        ]
        finite = [s for s in specificities if np.isfinite(s)]
        out["specificity"] = float(np.mean(finite)) if finite else float("nan")
    if confusion:
        out["confusion_matrix"] = confusion_matrix(y, pred, labels=labels).tolist()
    out["units"] = len(y)
    return out


def fold_spread(per_fold: Sequence[dict[str, object]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation (population, ``ddof=0``) of each scalar metric over folds, ignoring
    folds where it is undefined (NaN); NaN when no fold defines it."""
    mean, std = {}, {}
    for name in METRICS:
        values = np.asarray([float(m[name]) for m in per_fold], dtype=np.float64)
        values = values[np.isfinite(values)]
        mean[name] = float(values.mean()) if len(values) else float("nan")
        std[name] = float(values.std()) if len(values) else float("nan")
    return mean, std


def concatenate(parts: Sequence[Predictions]) -> Predictions:
    """Pool the test predictions of several folds (out-of-fold predictions), sorted by participant id,
    run and window."""
    participants = tuple(p for part in parts for p in part.participants)
    runs = tuple(r for part in parts for r in part.runs)
    groups = tuple(g for part in parts for g in part.groups)
    windows = np.concatenate([p.windows for p in parts])
    order = sorted(range(len(participants)), key=lambda i: (participants[i], runs[i], int(windows[i])))
    return Predictions(
        participants=tuple(participants[i] for i in order),
        targets=np.concatenate([p.targets for p in parts])[order],
        predicted=np.concatenate([p.predicted for p in parts])[order],
        probabilities=np.concatenate([p.probabilities for p in parts])[order],
        folds=np.concatenate([p.folds for p in parts])[order],
        groups=tuple(groups[i] for i in order),
        runs=tuple(runs[i] for i in order),
        windows=windows[order],
    )
