"""Stages 3 and 4 of a job: evaluate the pooled out-of-fold predictions with :mod:`eeg_eval` (metrics,
bootstrap intervals over groups, paired differences, the verdict) and write the report (predictions,
summary JSON/CSV, plots, resolved config), log it to MLflow and register the model
(:func:`eeg_finetune.mlflow_run.finish_run`)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eeg_config import atomic_write_text, dump_yaml
from eeg_eval import (
    CLASSIC,
    METRICS,
    PRETRAINED,
    RANDOM,
    Predictions,
    Verdict,
    aggregate_predictions,
    bootstrap,
    concatenate,
    fold_spread,
    judge,
    unit_metrics,
)
from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.folds import FoldRuns
from eeg_finetune.inputs import Inputs
from eeg_finetune.mlflow_run import RunPage, finish_run
from eeg_finetune.report import (
    MODEL_ORDER,
    plot_confusion_matrix,
    plot_roc,
    predictions_csv,
    summary_csv,
    summary_table,
)
from eeg_train import Tracker

__all__ = ["evaluate", "level_results", "output_files", "write_report"]

log = logging.getLogger("eeg_finetune")


def output_files(output_dir: Path, name: str) -> dict[str, Path]:
    """Where a job named ``name`` writes its report files (model files: ``name.pt`` / ``name_foldNN.pt``)."""
    return {
        "predictions": output_dir / f"{name}_predictions.csv",
        "summary_json": output_dir / f"{name}_summary.json",
        "summary_csv": output_dir / f"{name}_summary.csv",
        "roc": output_dir / f"{name}_roc_curve.png",
        "confusion": output_dir / f"{name}_confusion_matrix.png",
        "config": output_dir / f"{name}_config.yaml",
    }


def level_results(
    config: FinetuneConfig,
    combined: dict[str, Predictions],
    per_fold: dict[str, list[dict[str, Any]]] | None,
    num_classes: int,
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Pooled metrics, their bootstrap intervals over groups, fold spread, and paired differences."""
    intervals, differences = bootstrap(
        combined,
        num_classes,
        resamples=config.evaluation.bootstrap_resamples,
        confidence=config.evaluation.confidence,
        seed=config.train.seed,
        pairs=pairs,
    )
    results: dict[str, dict[str, Any]] = {}
    for variant, everyone in combined.items():
        results[variant] = {
            "metrics": unit_metrics(
                everyone.targets, everyone.predicted, everyone.probabilities, num_classes
            ),
            "interval": intervals[variant],
        }
        if per_fold is not None:
            mean, std = fold_spread(per_fold[variant])
            results[variant].update(fold_mean=mean, fold_std=std, per_fold=per_fold[variant])
    return results, differences


def evaluate(config: FinetuneConfig, inputs: Inputs, runs: FoldRuns) -> dict[str, Any]:
    """The pooled predictions per model, their results, the judged model's paired differences, the
    verdict, and (window labels) the results per run and per participant where the label is constant."""
    data, leakage = inputs.data, inputs.leakage
    combined = {
        variant: concatenate(runs.predictions[variant])
        for variant in MODEL_ORDER
        if variant in runs.predictions
    }
    judged = config.evaluation.judged_model  # the verdict's; both pretrained models' differences are reported
    pairs = [(a, b) for a in PRETRAINED for b in (RANDOM, *CLASSIC) if a in combined and b in combined]
    results, differences = level_results(config, combined, runs.metrics, data.num_classes, pairs)
    if not config.compare_baselines:
        verdict = Verdict(
            decision="undecided", line="no verdict: the baselines were not run (compare_baselines: false)"
        )
    else:
        verdict = judge(
            {m: r["metrics"] for m, r in results.items()},
            differences,
            judged=judged,
            seen_groups=None if leakage is None else leakage["test_groups_seen"],
            transductive=config.evaluation.transductive,
        )
    levels: dict[str, Any] = {}
    if data.label_level == "window":
        for level in ("run", "participant"):
            aggregated = {m: aggregate_predictions(p, level) for m, p in combined.items()}
            if all(p is not None for p in aggregated.values()) and len(next(iter(aggregated.values()))) > 1:
                levels[level], _ = level_results(config, aggregated, None, data.num_classes, ())
    return {
        "combined": combined,
        "results": results,
        "differences": differences,
        "verdict": verdict,
        "levels": levels,
    }


def write_report(
    config: FinetuneConfig,
    name: str,
    inputs: Inputs,
    runs: FoldRuns,
    evaluation: dict[str, Any],
    tracker: Tracker,
    echo: Callable[[str], None],
    page: RunPage | None = None,
) -> dict[str, Any]:
    """Write the report files, log them, register the model, print the table and the verdict; returns the
    summary (also ``{name}_summary.json``). ``page``: what the MLflow run's description says besides the
    results (:func:`eeg_finetune.mlflow_run.open_run`)."""
    data, source, folds, leakage = inputs.data, inputs.source, inputs.folds, inputs.leakage
    combined, results, levels = evaluation["combined"], evaluation["results"], evaluation["levels"]
    verdict: Verdict = evaluation["verdict"]
    output_dir = Path(config.output_dir)
    unit = "window" if data.label_level == "window" else "participant"
    files = output_files(output_dir, name)
    _remove_stale(output_dir, name, runs.model_files)
    predictions_csv(files["predictions"], combined, data.classes)
    summary_csv(files["summary_csv"], results, levels)
    atomic_write_text(files["config"], dump_yaml(config_to_dict(config)))
    plotted = plot_roc(files["roc"], combined, data.classes)
    plot_confusion_matrix(
        files["confusion"], results["finetuned"]["metrics"]["confusion_matrix"], data.classes,
        f"{name}\n{config.split.method}: {len(data.group_ids)} groups, {unit}s",
    )  # fmt: skip
    summary = {
        "name": name,
        "split": config.split.method,
        "folds": len(folds),
        "label_level": data.label_level,
        "unit": unit,
        "units": len(combined["finetuned"]),
        "group_column": data.group_column,
        "groups": len(data.group_ids),
        "participants": len(set(data.participants)),
        "classes": list(data.classes),
        "channels": list(data.channels),
        "mode": config.model.mode,
        "window_context": config.model.window_context if data.label_level == "window" else None,
        "freeze_backbone": config.model.freeze_backbone,
        "pretrained_checkpoint": str(source.checkpoint.resolve()),
        "pretrain_run_name": source.run_name,
        "pretrain_mlflow_run_id": source.mlflow_run_id,
        "mlflow_run_id": tracker.run_id,
        "leakage": leakage,
        "confidence": config.evaluation.confidence,
        "bootstrap_resamples": config.evaluation.bootstrap_resamples,
        "verdict": verdict.line,
        "decision": verdict.decision,
        "verdict_models": {
            "judged": verdict.judged,
            "reference": verdict.reference,
            "classic": verdict.classic,
        },
        "verdict_reasons": list(verdict.reasons),
        "transductive": config.evaluation.transductive,
        "differences": evaluation["differences"],
        "best_epochs": runs.best_epochs,
        "model_files": [str(p) for p in runs.model_files],
        "models": results,
        "levels": levels,
    }
    atomic_write_text(files["summary_json"], json.dumps(_json_safe(summary), indent=2) + "\n")
    _log_to_tracker(tracker, results, evaluation["differences"], verdict, len(folds) > 1)
    for key, path in files.items():
        if key != "roc" or plotted:
            tracker.log_artifact(path, "plots" if path.suffix == ".png" else None)
    page = page or RunPage(command=None, pretrained=f"`{source.run_name}`", data="")
    finish_run(config, tracker, name, page, results, verdict, runs.model_files, files["config"])

    echo(summary_table(results, config.split.method, unit, config.evaluation.confidence, levels))
    if leakage is not None:
        echo(
            f"leakage guard: the encoder was pretrained on {leakage['test_groups_seen']} of the "
            f"{leakage['test_groups']} test groups ({data.group_column})"
        )
    else:
        echo("leakage guard: the checkpoint does not record its pretraining participants (overlap unknown)")
    echo(f"verdict: {verdict.line}")
    echo(f"wrote {', '.join(str(p) for p in runs.model_files)} and the report {files['summary_json']}")
    return summary


def _log_to_tracker(
    tracker: Tracker, results: dict[str, Any], differences: dict[str, Any], verdict: Verdict, several: bool
) -> None:
    for variant, result in results.items():
        prefix = "" if variant == "finetuned" else f"{variant}."
        scores = {f"{prefix}test_{m}": result["metrics"][m] for m in METRICS}
        scores.update({f"{prefix}test_{m}_ci_low": result["interval"][m][0] for m in METRICS})
        scores.update({f"{prefix}test_{m}_ci_high": result["interval"][m][1] for m in METRICS})
        if several:
            scores.update({f"{prefix}test_{m}_fold_mean": result["fold_mean"][m] for m in METRICS})
            scores.update({f"{prefix}test_{m}_fold_std": result["fold_std"][m] for m in METRICS})
        tracker.log_metrics(scores, step=0)
    for pair, values in differences.items():
        a, b = pair.split(" - ")
        tracker.log_metrics(
            {
                f"diff.{a}-{b}.auroc{k}": values["auroc"][v]
                for k, v in (("", "estimate"), ("_ci_low", "low"), ("_ci_high", "high"))
            },
            step=0,
        )
    tracker.log_params({"verdict": verdict.line})
    tracker.set_tags({"verdict": verdict.line, "decision": verdict.decision})


def _json_safe(value: Any) -> Any:
    """Undefined metrics (NaN) become null: strict JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _remove_stale(output_dir: Path, name: str, written: list[Path]) -> None:
    """Model files of an earlier job of the same name with another split would mix with this one's."""
    for path in [output_dir / f"{name}.pt", *output_dir.glob(f"{name}_fold[0-9][0-9]*.pt")]:
        if path.is_file() and path not in written:
            path.unlink()
            log.info("removed %s, left by an earlier job with another split", path)
