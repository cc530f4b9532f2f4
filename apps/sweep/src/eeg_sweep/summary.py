"""The sweep's summary: one row per run (table, CSV) and a plot of loss, r2 and skill against the swept key
(the mask ratio by default; the first axis of a grid, with one line per value of the others).

Losses at different mask ratios are not directly comparable (a higher ratio hides more context, so the
task itself is harder); r2 against the zero baseline, skill against the context-mean baseline (the mean
of the sequence's unmasked windows: > 0 means the model knows more than the sequence's own average) and
the baselines are, so every row carries them, with the train-validation r2 gap (overfitting).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from eeg_config import atomic_write_bytes, atomic_write_text
from eeg_sweep.axes import RATIO, STYLE, labels, value_text
from eeg_sweep.plan import PlannedRun

SUMMARY_CSV = "sweep_summary.csv"
SUMMARY_PNG = "sweep_summary.png"

FINISHED, FAILED, INTERRUPTED, NOT_RUN = "finished", "failed", "interrupted", "not run"

COLUMNS = (
    "run_name",
    "mask_ratio",
    "mask_style",
    "status",
    "best_val_loss",
    "val_r2",
    "val_skill",
    "val_zero_baseline",
    "val_interp_baseline",
    "val_context_mean_baseline",
    "val_local_mean_baseline",
    "val_encoder_skill",
    "context_rate",
    "train_r2",
    "r2_gap",
    "target",
    "input",
    "epochs",
    "best_epoch",
    "wall_seconds",
    "checkpoint",
    "mlflow_run_id",
    "log",
)


@attrs.frozen
class SummaryAxes:
    """The swept keys of a sweep, in axis order: the first is the plot's x-axis, the others make its
    lines. ``extra``: the keys the rows add to :data:`COLUMNS` (not the mask ratio and style, which
    every row has)."""

    keys: tuple[str, ...] = (RATIO, STYLE)

    @classmethod
    def of(cls, runs: Sequence[PlannedRun]) -> SummaryAxes:
        """The keys the runs were planned with (a sweep folder from before any key could be swept
        records none: ratio by style)."""
        keys = tuple(key for key, _ in runs[0].values) if runs and runs[0].values else ()
        return cls(keys or (RATIO, STYLE))

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(key for key in self.keys if key not in (RATIO, STYLE))

    @property
    def sweep_name(self) -> str:
        """``mask`` for the mask-ratio sweep, else the short labels of the other keys (``participants``)."""
        return "_".join(labels(self.extra).values()) if self.extra else "mask"

    def value(self, row: Mapping[str, Any], key: str) -> Any:
        return row["mask_ratio"] if key == RATIO else row["mask_style"] if key == STYLE else row.get(key)

    def columns(self) -> tuple[str, ...]:
        return (COLUMNS[0], *self.extra, *COLUMNS[1:])


@attrs.frozen
class RunResult:
    """How one run of the sweep ended in this session. ``summary`` is its ``summary.json`` when it has
    one; ``exit_code`` is None when no process was started (skipped, conflict, not reached)."""

    run: PlannedRun
    status: str
    summary: Mapping[str, Any] | None = None
    exit_code: int | None = None
    message: str | None = None
    skipped: bool = False


def summary_rows(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """One plain row per run, in plan order, with the :data:`COLUMNS` keys (None where unknown) and the
    run's swept keys (``data.participants``: 8)."""
    rows = []
    for result in results:
        summary = result.summary or {}
        finished = result.status == FINISHED
        rows.append(
            {
                "run_name": result.run.name,
                **{k: v for k, v in result.run.values if k not in (RATIO, STYLE)},
                "mask_ratio": result.run.ratio,
                "mask_style": result.run.style,
                "status": result.status,
                "best_val_loss": _number(summary.get("best_val_loss")) if finished else None,
                "val_r2": _number(summary.get("val_r2")) if finished else None,
                "val_skill": _number(summary.get("val_skill")) if finished else None,
                "val_zero_baseline": _number(summary.get("val_zero_baseline")) if finished else None,
                "val_interp_baseline": _number(summary.get("val_interp_baseline")) if finished else None,
                "val_context_mean_baseline": _number(summary.get("val_context_mean_baseline"))
                if finished
                else None,
                # summaries written before the local mean existed have none
                "val_local_mean_baseline": _number(summary.get("val_local_mean_baseline"))
                if finished
                else None,
                # against the model's own spectral context; the learned rate only with model.local_context
                "val_encoder_skill": _number(summary.get("val_encoder_skill")) if finished else None,
                "context_rate": _number(summary.get("context_rate")) if finished else None,
                "train_r2": _number(summary.get("train_r2")) if finished else None,
                "r2_gap": _number(summary.get("r2_gap")) if finished else None,
                # summaries written before targets existed were raw/raw
                "target": summary.get("target", "raw") if finished else None,
                "input": summary.get("input", "raw") if finished else None,
                "epochs": summary.get("epochs") if finished else None,
                "best_epoch": summary.get("best_epoch") if finished else None,
                "wall_seconds": _number(summary.get("wall_seconds")) if finished else None,
                "checkpoint": summary.get("checkpoint") if finished else None,
                "mlflow_run_id": summary.get("mlflow_run_id") if finished else None,
                "log": str(result.run.log_path),
            }
        )
    return rows


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def write_csv(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], axes: SummaryAxes = SummaryAxes()
) -> None:
    """Write the rows as CSV (header :data:`COLUMNS` with the swept keys after ``run_name``, empty cells
    for unknown values), atomically."""
    buffer = io.StringIO()
    columns = axes.columns()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in columns})
    atomic_write_text(path, buffer.getvalue())


def _cell(value: Any) -> Any:
    return "" if value is None else value_text(value) if isinstance(value, list | tuple | dict) else value


def format_table(rows: Sequence[Mapping[str, Any]], axes: SummaryAxes = SummaryAxes()) -> str:
    """A fixed-width text table: the swept keys (beyond ratio and style), ratio, style, status, best val
    loss, r2 (vs zero baseline), skill (vs the context mean), encoder skill (vs the model's own context),
    train-val r2 gap, interpolation-baseline loss, epochs, wall time, checkpoint."""
    short = labels(axes.extra)
    header = (
        *(short[key] for key in axes.extra),
        "ratio",
        "style",
        "status",
        "best val loss",
        "r2",
        "skill",
        "encoder skill",
        "r2 gap",
        "interp loss",
        "epochs",
        "wall time",
        "checkpoint",
    )
    lines = [header]
    for row in rows:
        lines.append(
            (
                *("-" if row.get(key) is None else value_text(row[key]) for key in axes.extra),
                f"{row['mask_ratio']:.2f}",
                row["mask_style"],
                row["status"],
                _fmt(row["best_val_loss"], ".4f"),
                _fmt(row["val_r2"], ".3f"),
                _fmt(row.get("val_skill"), ".3f"),
                _fmt(row.get("val_encoder_skill"), ".3f"),
                _fmt(row.get("r2_gap"), ".3f"),
                _fmt(row["val_interp_baseline"], ".4f"),
                "-" if row["epochs"] is None else str(row["epochs"]),
                _duration(row["wall_seconds"]),
                row["checkpoint"] or "-",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def plot_lines(
    rows: Sequence[Mapping[str, Any]], axes: SummaryAxes = SummaryAxes()
) -> list[tuple[str | None, list[tuple[Any, Mapping[str, Any]]]]]:
    """The finished rows as the plot's lines: ``(label, [(x, row), ...])``, one line per value of the
    other swept keys (label ``mae`` for the masking style of a mask-ratio sweep, ``participants=8`` in
    general; None when only one key is swept), points by increasing x (numbers) or in plan order."""
    done = [r for r in rows if r["status"] == FINISHED and r["best_val_loss"] is not None]
    x_key, line_keys = axes.keys[0], axes.keys[1:]
    short = labels(axes.keys)
    lines: dict[str, list[tuple[Any, Mapping[str, Any]]]] = {}
    for row in done:
        parts = [(short[key], value_text(axes.value(row, key))) for key in line_keys]
        label = parts[0][1] if line_keys == (STYLE,) else ", ".join(f"{k}={v}" for k, v in parts)
        lines.setdefault(label, []).append((axes.value(row, x_key), row))
    if _numeric(x for points in lines.values() for x, _ in points):
        lines = {label: sorted(points, key=lambda point: point[0]) for label, points in lines.items()}
    return [(label or None, points) for label, points in lines.items()]


def _numeric(values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def plot_summary(
    path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]], axes: SummaryAxes = SummaryAxes()
) -> bool:
    """Best val loss (with the interpolation baseline dashed), r2 and skill against the first swept key
    (the mask ratio by default), one line per value of the others (:func:`plot_lines`), saved as PNG
    atomically. Returns False (no file written) when no run has finished."""
    lines = plot_lines(rows, axes)
    if not lines:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [x for _, points in lines for x, _ in points]
    numeric = _numeric(xs)
    categories = {value_text(x): i for i, x in enumerate(dict.fromkeys(map(value_text, xs)))}

    def at(x: Any) -> Any:  # where a value sits on the x-axis: itself, or its category's position
        return x if numeric else categories[value_text(x)]

    fig, (ax_loss, ax_r2, ax_skill) = plt.subplots(1, 3, figsize=(14, 4))
    for label, points in lines:
        (line,) = ax_loss.plot(
            [at(x) for x, _ in points], [r["best_val_loss"] for _, r in points], marker="o", label=label
        )
        interp = [
            (at(x), r["val_interp_baseline"]) for x, r in points if r["val_interp_baseline"] is not None
        ]
        if interp:
            ax_loss.plot(
                *zip(*interp, strict=True),
                ls="--",
                lw=0.9,
                color=line.get_color(),
                label=f"{label}: interpolation baseline" if label else "interpolation baseline",
            )
        r2 = [(at(x), r["val_r2"]) for x, r in points if r["val_r2"] is not None]
        if r2:
            ax_r2.plot(*zip(*r2, strict=True), marker="o", color=line.get_color(), label=label)
        skill = [(at(x), r.get("val_skill")) for x, r in points if r.get("val_skill") is not None]
        if skill:
            ax_skill.plot(*zip(*skill, strict=True), marker="o", color=line.get_color(), label=label)
    x_label = "mask ratio" if axes.keys[0] == RATIO else axes.keys[0]
    ax_loss.set(xlabel=x_label, ylabel="best val loss (MSE on masked windows)")
    ax_loss.set_title(
        "loss (not comparable across ratios)" if axes.keys[0] == RATIO else "best val loss", fontsize=9
    )
    ax_r2.set(xlabel=x_label, ylabel="r2 vs zero baseline")
    ax_r2.set_title("r2 at the best epoch (comparable)", fontsize=9)
    ax_r2.axhline(0.0, color="grey", lw=0.6)
    ax_skill.set(xlabel=x_label, ylabel="skill = 1 - loss / context-mean loss")
    ax_skill.set_title("skill at the best epoch (> 0: beats the sequence's mean)", fontsize=9)
    ax_skill.axhline(0.0, color="grey", lw=0.6)
    for ax in (ax_loss, ax_r2, ax_skill):
        ax.grid(alpha=0.3)
        if not numeric:
            ax.set_xticks(list(categories.values()), list(categories))
        if ax.get_legend_handles_labels()[0]:  # summaries from before skill existed draw no skill line
            ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return True
