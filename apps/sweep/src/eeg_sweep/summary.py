"""The sweep's summary: one row per run (table, CSV) and a plot of loss, r2 and skill against the mask ratio.

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
    """One plain row per run, in plan order, with the :data:`COLUMNS` keys (None where unknown)."""
    rows = []
    for result in results:
        summary = result.summary or {}
        finished = result.status == FINISHED
        rows.append(
            {
                "run_name": result.run.name,
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


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """Write the rows as CSV (header :data:`COLUMNS`, empty cells for unknown values), atomically."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    atomic_write_text(path, buffer.getvalue())


def format_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A fixed-width text table: ratio, style, status, best val loss, r2 (vs zero baseline), skill (vs
    the context mean), encoder skill (vs the model's own context), train-val r2 gap, interpolation-baseline
    loss, epochs, wall time, checkpoint."""
    header = (
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


def plot_summary(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> bool:
    """Best val loss (with the interpolation baseline dashed), r2 and skill against the mask ratio, one
    line per style, saved as PNG atomically. Returns False (no file written) when no run has finished."""
    done = [r for r in rows if r["status"] == FINISHED and r["best_val_loss"] is not None]
    if not done:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_r2, ax_skill) = plt.subplots(1, 3, figsize=(14, 4))
    for style in dict.fromkeys(r["mask_style"] for r in done):
        points = sorted((r for r in done if r["mask_style"] == style), key=lambda r: r["mask_ratio"])
        ratios = [r["mask_ratio"] for r in points]
        (line,) = ax_loss.plot(ratios, [r["best_val_loss"] for r in points], marker="o", label=style)
        interp = [
            (r["mask_ratio"], r["val_interp_baseline"])
            for r in points
            if r["val_interp_baseline"] is not None
        ]
        if interp:
            ax_loss.plot(
                *zip(*interp, strict=True),
                ls="--",
                lw=0.9,
                color=line.get_color(),
                label=f"{style}: interpolation baseline",
            )
        r2 = [(r["mask_ratio"], r["val_r2"]) for r in points if r["val_r2"] is not None]
        if r2:
            ax_r2.plot(*zip(*r2, strict=True), marker="o", color=line.get_color(), label=style)
        skill = [(r["mask_ratio"], r.get("val_skill")) for r in points if r.get("val_skill") is not None]
        if skill:
            ax_skill.plot(*zip(*skill, strict=True), marker="o", color=line.get_color(), label=style)
    ax_loss.set(xlabel="mask ratio", ylabel="best val loss (MSE on masked windows)")
    ax_loss.set_title("loss (not comparable across ratios)", fontsize=9)
    ax_r2.set(xlabel="mask ratio", ylabel="r2 vs zero baseline")
    ax_r2.set_title("r2 at the best epoch (comparable)", fontsize=9)
    ax_r2.axhline(0.0, color="grey", lw=0.6)
    ax_skill.set(xlabel="mask ratio", ylabel="skill = 1 - loss / context-mean loss")
    ax_skill.set_title("skill at the best epoch (> 0: beats the sequence's mean)", fontsize=9)
    ax_skill.axhline(0.0, color="grey", lw=0.6)
    for ax in (ax_loss, ax_r2, ax_skill):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # summaries from before skill existed draw no skill line
            ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return True
