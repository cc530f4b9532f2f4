"""The summary table, CSV and plot, from hand-written run results."""

import csv
import math
from pathlib import Path

import pytest

from eeg_sweep.plan import PlannedRun
from eeg_sweep.summary import (
    COLUMNS,
    FAILED,
    FINISHED,
    NOT_RUN,
    RunResult,
    SummaryAxes,
    format_table,
    plot_lines,
    plot_summary,
    summary_rows,
    write_csv,
)


def _run(tmp_path: Path, ratio: float, style: str = "mae") -> PlannedRun:
    name = f"mamba2_eeg_d16_l1_m{round(ratio * 100)}_{style}"
    return PlannedRun(ratio=ratio, style=style, name=name, folder=tmp_path / name)


def _summary(loss: float, r2: float) -> dict:
    return {
        "finished": True,
        "best_val_loss": loss,
        "val_r2": r2,
        "val_skill": r2 - 0.5,
        "val_context_mean_baseline": 1.2,
        "val_encoder_skill": r2 - 0.6,
        "context_rate": 0.25,
        "train_r2": r2 + 0.25,
        "r2_gap": 0.25,
        "target": "spectrum",
        "input": "raw+spectrum",
        "val_zero_baseline": 1.0,
        "val_interp_baseline": 1.5,
        "epochs": 3,
        "best_epoch": 2,
        "wall_seconds": 3725.4,
        "checkpoint": "/runs/x/mamba2_eeg_pretrained.pt",
        "mlflow_run_id": "abc",
    }


def _results(tmp_path):
    return [
        RunResult(_run(tmp_path, 0.2), FINISHED, summary=_summary(0.8, 0.2), exit_code=0),
        RunResult(_run(tmp_path, 0.4), FAILED, exit_code=2, message="error: boom"),
        RunResult(_run(tmp_path, 0.6), FINISHED, summary=_summary(0.9, 0.1), skipped=True),
        RunResult(_run(tmp_path, 0.2, "bert"), FINISHED, summary={**_summary(0.7, math.nan)}),
        RunResult(_run(tmp_path, 0.4, "bert"), NOT_RUN),
    ]


def test_rows_csv_and_table(tmp_path):
    rows = summary_rows(_results(tmp_path))
    assert [r["status"] for r in rows] == ["finished", "failed", "finished", "finished", "not run"]
    assert rows[0]["best_val_loss"] == 0.8 and rows[0]["wall_seconds"] == 3725.4
    assert rows[1]["best_val_loss"] is None and rows[1]["log"].endswith("m40_mae/pretrain.log")
    assert rows[3]["val_r2"] is None  # a non-finite number is unknown, not "nan" in the CSV

    path = tmp_path / "sweep_summary.csv"
    write_csv(path, rows)
    with path.open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        read = list(reader)
    assert [(r["mask_ratio"], r["mask_style"], r["status"]) for r in read] == [
        ("0.2", "mae", "finished"),
        ("0.4", "mae", "failed"),
        ("0.6", "mae", "finished"),
        ("0.2", "bert", "finished"),
        ("0.4", "bert", "not run"),
    ]
    assert read[1]["best_val_loss"] == "" and float(read[0]["val_interp_baseline"]) == 1.5
    assert not list(tmp_path.glob(".*.tmp"))

    table = format_table(rows).splitlines()
    assert table[0].split()[:4] == ["ratio", "style", "status", "best"]
    assert "interp loss" in table[0] and "wall time" in table[0] and "checkpoint" in table[0]
    first = table[1].split()
    assert "skill" in table[0] and "r2 gap" in table[0]
    assert first[:10] == [
        "0.20",
        "mae",
        "finished",
        "0.8000",
        "0.200",
        "-0.300",
        "-0.400",
        "0.250",
        "1.5000",
        "3",
    ]
    assert rows[0]["val_skill"] == -0.3 and rows[0]["target"] == "spectrum" and rows[0]["r2_gap"] == 0.25
    assert float(read[0]["val_skill"]) == -0.3 and read[0]["input"] == "raw+spectrum"
    assert (
        float(read[0]["val_encoder_skill"]) == pytest.approx(-0.4) and float(read[0]["context_rate"]) == 0.25
    )
    assert table[2].split()[:4] == ["0.40", "mae", "failed", "-"]
    assert table[5].split()[2:4] == ["not", "run"]


def test_summaries_from_before_skill_read_as_raw_with_unknown_skill(tmp_path):
    old = {k: v for k, v in _summary(0.8, 0.2).items() if k not in ("val_skill", "target", "input", "r2_gap")}
    (row,) = summary_rows([RunResult(_run(tmp_path, 0.2), FINISHED, summary=old, exit_code=0)])
    assert row["val_skill"] is None and row["target"] == "raw" and row["input"] == "raw"
    assert format_table([row]).splitlines()[1].split()[5] == "-"


def test_plot_has_one_line_per_style_and_needs_a_finished_run(tmp_path):
    rows = summary_rows(_results(tmp_path))
    png = tmp_path / "sweep_summary.png"
    assert plot_summary(png, rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    nothing = summary_rows([RunResult(_run(tmp_path, 0.2), FAILED, message="x")])
    other = tmp_path / "none.png"
    assert not plot_summary(other, nothing) and not other.exists()


def _grid_results(tmp_path):
    """data.participants (x) by train.lr (lines), plan order: the first axis fastest."""
    results = []
    for lr in (0.001, 0.01):
        for participants, loss in ((8, 0.7), (2, 0.9), (4, 0.8)):
            name = f"mamba2_eeg_d16_l1_m40_mae_participants-{participants}_lr-{lr}"
            values = (("data.participants", participants), ("train.lr", lr))
            run = PlannedRun(0.4, "mae", name, tmp_path / name, values)
            status = NOT_RUN if (participants, lr) == (4, 0.01) else FINISHED
            results.append(RunResult(run, status, summary=_summary(loss + lr, 0.3 - loss / 10)))
    return results


def test_a_grid_summary_has_a_column_per_swept_key_and_a_line_per_value_of_the_second(tmp_path):
    runs = [r.run for r in _grid_results(tmp_path)]
    axes = SummaryAxes.of(runs)
    assert axes.keys == ("data.participants", "train.lr") and axes.sweep_name == "participants_lr"
    rows = summary_rows(_grid_results(tmp_path))
    path = tmp_path / "grid.csv"
    write_csv(path, rows, axes)
    with path.open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == ("run_name", "data.participants", "train.lr", *COLUMNS[1:])
        assert [(r["data.participants"], r["train.lr"]) for r in reader][:2] == [
            ("8", "0.001"),
            ("2", "0.001"),
        ]
    table = format_table(rows, axes).splitlines()
    assert table[0].split()[:4] == ["participants", "lr", "ratio", "style"]
    assert table[1].split()[:3] == ["8", "0.001", "0.40"]

    lines = plot_lines(rows, axes)
    assert [label for label, _ in lines] == ["lr=0.001", "lr=0.01"]
    assert [[x for x, _ in points] for _, points in lines] == [
        [2, 4, 8],
        [2, 8],
    ]  # by size; not run: left out
    assert [r["best_val_loss"] for _, r in lines[0][1]] == [0.901, 0.801, 0.701]
    png = tmp_path / "grid.png"
    assert plot_summary(png, rows, axes) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_one_swept_key_draws_one_line_and_text_values_sit_in_plan_order(tmp_path):
    results = [
        RunResult(
            PlannedRun(0.4, "mae", f"r-{norm}", tmp_path / norm, (("data.normalization", norm),)),
            FINISHED,
            summary=_summary(loss, 0.1),
        )
        for norm, loss in (("window", 0.8), ("sequence", 0.7), ("none", 0.9))
    ]
    axes = SummaryAxes.of([r.run for r in results])
    (line,) = plot_lines(summary_rows(results), axes)
    assert line[0] is None and [x for x, _ in line[1]] == ["window", "sequence", "none"]
    assert plot_summary(tmp_path / "n.png", summary_rows(results), axes)
    # the mask-ratio sweep, recorded with or without its values: one line per style, by ratio
    legacy = plot_lines(summary_rows(_results(tmp_path)))
    assert [(label, [x for x, _ in points]) for label, points in legacy] == [
        ("mae", [0.2, 0.6]),
        ("bert", [0.2]),
    ]
