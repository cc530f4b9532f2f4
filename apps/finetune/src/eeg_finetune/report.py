"""What a fine-tuning job leaves for people: the per-participant predictions CSV, the summary table (text
and CSV) with the models side by side, and the ROC-curve and confusion-matrix PNGs."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from eeg_config import atomic_write_bytes, atomic_write_text
from eeg_eval import METRICS, Predictions

__all__ = [
    "MODEL_ORDER",
    "VARIANT_TITLES",
    "plot_confusion_matrix",
    "plot_roc",
    "predictions_csv",
    "summary_csv",
    "summary_table",
]

#: The models a job may compare, in report order: (a) to (e) of the evaluation.
VARIANT_TITLES = {
    "band_power": "log band power + logistic regression",
    "waveform": "downsampled waveform + logistic regression",
    "random_encoder": "same classifier, random encoder",
    "linear_probe": "logistic regression on frozen pretrained embeddings",
    "finetuned": "fine-tuned (pretrained encoder)",
}
MODEL_ORDER = tuple(VARIANT_TITLES)


def predictions_csv(
    path: str | os.PathLike[str], by_variant: Mapping[str, Predictions], classes: Sequence[int]
) -> None:
    """One row per model × unit: ``model, fold, group, participant, run, window, label, predicted,
    prob_<class>...`` (labels are the dataset's values; probabilities are the unit-level ones the metrics
    use; ``run`` and ``window`` are empty for participant units)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["model", "fold", "group", "participant", "run", "window", "label", "predicted"]
        + [f"prob_{c}" for c in classes]
    )
    for variant, predictions in by_variant.items():
        for i, participant in enumerate(predictions.participants):
            window = int(predictions.windows[i])
            writer.writerow(
                [
                    variant,
                    int(predictions.folds[i]),
                    predictions.groups[i],
                    participant,
                    predictions.runs[i],
                    "" if window < 0 else window,
                    classes[int(predictions.targets[i])],
                    classes[int(predictions.predicted[i])],
                    *(repr(float(p)) for p in predictions.probabilities[i]),
                ]
            )
    atomic_write_text(path, buffer.getvalue())


def _cell(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.3f}"


def _with_interval(value: float, interval) -> str:
    low, high = (float(x) for x in interval)
    if not math.isfinite(low):
        return _cell(value)
    return f"{_cell(value)} [{_cell(low)}, {_cell(high)}]"


def _table(results: Mapping[str, Mapping[str, object]], title: str) -> list[str]:
    variants = list(results)
    rows = []
    for name in METRICS:
        cells = [
            _with_interval(float(results[v]["metrics"][name]), results[v]["interval"][name]) for v in variants
        ]
        rows.append((name, cells))
    widths = [max(len(v), *(len(cells[i]) for _, cells in rows)) + 3 for i, v in enumerate(variants)]
    lines = [f"{title:<18}" + "".join(f"{v:>{w}}" for v, w in zip(variants, widths, strict=True))]
    lines += [
        f"{name:<18}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        for name, cells in rows
    ]
    return lines


def summary_table(
    results: Mapping[str, Mapping[str, object]],
    split: str,
    unit: str = "participant",
    confidence: float = 0.95,
    levels: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None,
) -> str:
    """Metrics (rows) × models (columns), each cell the pooled value and its bootstrap interval over
    groups; then the same per aggregated level (run, participant) where there is one."""
    lines = _table(results, f"per {unit}")
    several = any(len(results[v].get("per_fold", ())) > 1 for v in results)
    note = "pooled over the out-of-fold predictions" if several else "on the test units"
    lines.append(f"[{split}] {note}; [{confidence:.0%} bootstrap interval, resampling groups]")
    for level, level_results in (levels or {}).items():
        lines += ["", *_table(level_results, f"per {level}")]
    return "\n".join(lines)


def summary_csv(
    path: str | os.PathLike[str],
    results: Mapping[str, Mapping[str, object]],
    levels: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None,
) -> None:
    """``level, metric, <model>, <model>_ci_low, <model>_ci_high, <model>_fold_mean, <model>_fold_std, ...``
    one row per level (the unit, then aggregated levels) and metric."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["level", "metric"]
    for v in results:
        header += [v, f"{v}_ci_low", f"{v}_ci_high", f"{v}_fold_mean", f"{v}_fold_std"]
    writer.writerow(header)
    for level, level_results in [("unit", results), *(levels or {}).items()]:
        for name in METRICS:
            row: list[object] = [level, name]
            for v in results:
                r = level_results[v]
                row += [r["metrics"][name], *r["interval"][name]]
                row += [r["fold_mean"][name], r["fold_std"][name]] if "fold_mean" in r else ["", ""]
            writer.writerow(row)
    atomic_write_text(path, buffer.getvalue())


def _save(fig, path: str | os.PathLike[str]) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_roc(
    path: str | os.PathLike[str], by_variant: Mapping[str, Predictions], classes: Sequence[int]
) -> bool:
    """ROC curves of the pooled participant predictions: one per model (binary tasks) or one per class,
    one-vs-rest, for the first model (more classes). Returns False (no file) when a class is absent."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    drawn = False
    if len(classes) == 2:
        for variant, predictions in by_variant.items():
            y = predictions.targets
            if len(np.unique(y)) < 2:
                continue
            fpr, tpr, _ = roc_curve(y, predictions.probabilities[:, 1])
            auc = roc_auc_score(y, predictions.probabilities[:, 1])
            ax.plot(fpr, tpr, lw=1.5, label=f"{variant} (AUROC {auc:.3f})")
            drawn = True
        ax.set_title(f"ROC, positive class {classes[1]!r}", fontsize=10)
    else:
        variant, predictions = next(iter(by_variant.items()))
        for k, label in enumerate(classes):
            y = predictions.targets == k
            if y.all() or not y.any():
                continue
            fpr, tpr, _ = roc_curve(y, predictions.probabilities[:, k])
            ax.plot(
                fpr,
                tpr,
                lw=1.5,
                label=f"class {label!r} vs rest (AUROC {roc_auc_score(y, predictions.probabilities[:, k]):.3f})",
            )
            drawn = True
        ax.set_title(f"ROC of {variant}, one vs rest", fontsize=10)
    if not drawn:
        plt.close(fig)
        return False
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="chance")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _save(fig, path)
    return True


def plot_confusion_matrix(
    path: str | os.PathLike[str], matrix: Sequence[Sequence[int]], classes: Sequence[int], title: str
) -> None:
    """Participant counts: rows are true classes, columns predicted classes."""
    counts = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.2 * len(classes) + 2.5, 1.2 * len(classes) + 2))
    ax.imshow(counts, cmap="Blues")
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            dark = counts[i, j] > counts.max() / 2
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color="white" if dark else "black")
    ax.set_xticks(range(len(classes)), [str(c) for c in classes])
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
