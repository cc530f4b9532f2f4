"""One fine-tuning job, top to bottom: check every input, split participants, train per fold (and the
baselines), pool the out-of-fold predictions, write the model(s) and the report, track it in MLflow.

Every check a user can fail (pretrained checkpoint, data, labels, channels, split, class weights) runs
before anything is written or an MLflow run is started.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch

from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.data import LabelledData, load_labelled
from eeg_finetune.embeddings import logistic_regression_baseline, participant_embeddings
from eeg_finetune.errors import FinetuneError
from eeg_finetune.metrics import METRICS, Predictions, concatenate, fold_spread, participant_metrics
from eeg_finetune.model import ParticipantClassifier, save_finetuned
from eeg_finetune.pretrained import PretrainedSource, resolve_pretrained
from eeg_finetune.report import plot_confusion_matrix, plot_roc, predictions_csv, summary_csv, summary_table
from eeg_finetune.splits import Fold, make_folds
from eeg_finetune.tracking import child_tracker
from eeg_finetune.training import FoldTrainer
from eeg_pretrain.configuration import atomic_write_text, dump_yaml, flatten
from eeg_pretrain.distributed import pick_device
from eeg_pretrain.tracking import MlflowTracker, NullTracker, Tracker
from eeg_ssm import EEGModel, load_pretrained

__all__ = ["output_files", "pick_device", "run_job"]

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


def _model_path(output_dir: Path, name: str, fold: Fold, several: bool) -> Path:
    return output_dir / (f"{name}_fold{fold.index:02d}.pt" if several else f"{name}.pt")


def _load_inputs(config: FinetuneConfig) -> tuple[PretrainedSource, EEGModel, LabelledData, list[Fold]]:
    """Everything a user can get wrong, checked before anything is written."""
    source = resolve_pretrained(config.pretrained)
    encoder = load_pretrained(source.checkpoint, map_location="cpu", backend=config.pretrained.backend)
    if config.data.data_path is None:
        raise FinetuneError("no primary dataset: give --data-path (data.data_path)")
    data = load_labelled(
        config.data.data_path,
        channels=config.data.channels,
        window_length=encoder.config.window_length,
        participant_column=config.data.participant_column,
        label_column=config.data.label_column,
        normalization=config.data.normalization,
        scale=config.data.scale,
        nan_policy=config.data.nan_policy,
        checkpoint=str(source.checkpoint),
    )
    encoder.spatial(list(data.channels))  # a channel the montage lacks raises MontageError, naming it
    weights = config.train.class_weights
    if isinstance(weights, tuple) and len(weights) != data.num_classes:
        raise FinetuneError(
            f"train.class_weights: {len(weights)} weights for {data.num_classes} classes "
            f"(labels {', '.join(map(str, data.classes))} in {data.path}); give one weight per class"
        )
    folds = make_folds(
        data.targets,
        data.classes,
        config.split.method,
        val_ratio=config.split.val_ratio,
        test_ratio=config.split.test_ratio,
        folds=config.split.folds,
        seed=config.split_seed,
    )
    return source, encoder, data, folds


def _tracker(
    config: FinetuneConfig, name: str, source: PretrainedSource, data: LabelledData, folds: int
) -> Tracker:
    track = config.tracking
    if not track.enabled:
        return NullTracker()
    tracker = MlflowTracker(track.uri, track.experiment, name)
    params = flatten(config_to_dict(config))
    params.update(
        {
            "pretrained.checkpoint_path": str(source.checkpoint.resolve()),
            "pretrained.run_name": source.run_name,
            "pretrained.mlflow_run_id": source.mlflow_run_id,
            "data.participants": len(data),
            "data.classes": list(data.classes),
            "data.channels_used": list(data.channels),
            "split.num_folds": folds,
        }
    )
    tracker.log_params(params)
    return tracker


def run_job(config: FinetuneConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the job described by ``config`` and return its summary (also written as ``{name}_summary.json``)."""
    source, encoder, data, folds = _load_inputs(config)
    name = config.tracking.run_name or f"{source.run_name}_finetuned"
    device = pick_device(config.train.device)
    output_dir = Path(config.output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FinetuneError(f"output_dir: cannot create {output_dir}: {exc.strerror}") from None
    log.info(
        "%d participants (classes %s), channels %s, %s split: %d fold(s); device %s",
        len(data),
        dict(
            zip(data.classes, [int((data.targets == k).sum()) for k in range(data.num_classes)], strict=True)
        ),
        ", ".join(data.channels),
        config.split.method,
        len(folds),
        device,
    )
    tracker = _tracker(config, name, source, data, len(folds))
    status = "FAILED"
    try:
        summary = _train_and_report(
            config, name, source, encoder.to(device), data, folds, device, tracker, echo
        )
        status = "FINISHED"
        return summary
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.close(status)


def _train_fold(config, fold, encoder, data, device, tracker, embeddings, n_folds):
    """The fine-tuned classifier and, with ``compare_baselines``, the two baselines on one fold."""
    cfg, seed = config.model, config.train.seed
    classifier_args = (data.channels, data.num_classes, cfg.hidden, cfg.pooling, cfg.dropout)
    torch.manual_seed(seed * 1_000_003 + fold.index)  # head initialisation and dropout
    classifier = ParticipantClassifier(copy.deepcopy(encoder), *classifier_args)
    trainer = FoldTrainer(
        classifier, data, fold, config, device, tracker, "", seed=seed * 1_000_003 + fold.index,
        description=f"fold {fold.index}/{n_folds}",
    )  # fmt: skip
    outcome = trainer.fit()
    predictions = {"finetuned": outcome.predictions}
    if config.compare_baselines:
        torch.manual_seed(seed * 1_000_003 + fold.index)  # the same draws as the pretrained run's head
        random_encoder = EEGModel(encoder.config).to(device)
        baseline = ParticipantClassifier(random_encoder, *classifier_args)
        predictions["random_encoder"] = FoldTrainer(
            baseline, data, fold, config, device, tracker, "random_encoder.", seed=seed * 1_000_003 + fold.index,
            description=f"fold {fold.index}/{n_folds} (random encoder)",
        ).fit().predictions  # fmt: skip
        predictions["logistic_regression"] = logistic_regression_baseline(
            embeddings, data, fold, config.train.class_weights, seed
        )
    return classifier, outcome, predictions


def _train_and_report(config, name, source, encoder, data, folds, device, tracker, echo) -> dict[str, Any]:
    runs = _run_folds(config, name, source, encoder, data, folds, device, tracker)
    return _report(config, name, source, data, folds, tracker, echo, runs)


@attrs.define
class _FoldRuns:
    """What the folds leave: test predictions and metrics per model (``variant``), the model files."""

    predictions: dict[str, list[Predictions]] = attrs.Factory(dict)
    metrics: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)
    model_files: list[Path] = attrs.Factory(list)
    best_epochs: list[int] = attrs.Factory(list)


def _run_folds(config, name, source, encoder, data, folds, device, tracker) -> _FoldRuns:
    """Train and test every fold in a nested MLflow run; save each fold's fine-tuned model as it is done."""
    output_dir = Path(config.output_dir)
    embeddings = participant_embeddings(encoder, data, device) if config.compare_baselines else None
    runs = _FoldRuns()
    for fold in folds:
        child = child_tracker(tracker, f"fold_{fold.index:02d}")
        child.log_params(
            {"fold": fold.index}
            | {f"{part}_participants": ",".join(_ids(data, fold, part)) for part in ("train", "val", "test")}
        )
        try:
            classifier, outcome, predictions = _train_fold(
                config, fold, encoder, data, device, child, embeddings, len(folds)
            )
            for variant, p in predictions.items():
                scores = participant_metrics(p.targets, p.predicted, p.probabilities, data.num_classes)
                runs.predictions.setdefault(variant, []).append(p)
                runs.metrics.setdefault(variant, []).append({"fold": fold.index, **scores})
                prefix = "" if variant == "finetuned" else f"{variant}."
                child.log_metrics({f"{prefix}test_{m}": scores[m] for m in METRICS}, step=0)
            test_metrics = runs.metrics["finetuned"][-1]
            path = _model_path(output_dir, name, fold, len(folds) > 1)
            extra = {
                "classes": list(data.classes),
                "fold": fold.index,
                "split": {part: _ids(data, fold, part) for part in ("train", "val", "test")},
                "best_epoch": outcome.best_epoch,
                "val_metrics": outcome.val_metrics,
                "test_metrics": {m: test_metrics[m] for m in METRICS},
                "finetune_config": config_to_dict(config),
                "pretrained_checkpoint": str(source.checkpoint.resolve()),
                "pretrain_run_name": source.run_name,
                "pretrain_mlflow_run_id": source.mlflow_run_id,
                "mlflow_run_id": tracker.run_id,
            }
            runs.model_files.append(save_finetuned(path, classifier, extra))
            runs.best_epochs.append(outcome.best_epoch)
            log.info(
                "fold %d/%d: best epoch %d of %d; test %s",
                fold.index, len(folds), outcome.best_epoch, outcome.epochs_run,
                ", ".join(f"{m} {test_metrics[m]:.3f}" for m in ("accuracy", "auroc")),
            )  # fmt: skip
            child.close("FINISHED")
        except BaseException as exc:
            child.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            raise
    return runs


def _ids(data: LabelledData, fold: Fold, part: str) -> list[str]:
    return [data.participants[p] for p in getattr(fold, part)]


def _report(config, name, source, data, folds, tracker, echo, runs: _FoldRuns) -> dict[str, Any]:
    """Pool the folds, compute the metrics, write the report files, log them, register the model."""
    output_dir = Path(config.output_dir)
    several = len(folds) > 1
    per_fold, model_files, best_epochs = runs.metrics, runs.model_files, runs.best_epochs
    results: dict[str, dict[str, Any]] = {}
    combined: dict[str, Predictions] = {}
    for variant, parts in runs.predictions.items():
        everyone = combined[variant] = concatenate(parts)
        mean, std = fold_spread(per_fold[variant])
        results[variant] = {
            "metrics": participant_metrics(
                everyone.targets, everyone.predicted, everyone.probabilities, data.num_classes
            ),
            "fold_mean": mean,
            "fold_std": std,
            "per_fold": per_fold[variant],
        }
    files = output_files(output_dir, name)
    _remove_stale(output_dir, name, model_files)
    predictions_csv(files["predictions"], combined, data.classes)
    summary_csv(files["summary_csv"], results)
    atomic_write_text(files["config"], dump_yaml(config_to_dict(config)))
    plotted = plot_roc(files["roc"], combined, data.classes)
    plot_confusion_matrix(
        files["confusion"], results["finetuned"]["metrics"]["confusion_matrix"], data.classes,
        f"{name}\n{config.split.method}: {len(data)} participants",
    )  # fmt: skip
    summary = {
        "name": name,
        "split": config.split.method,
        "folds": len(folds),
        "participants": len(data),
        "classes": list(data.classes),
        "channels": list(data.channels),
        "mode": config.model.mode,
        "freeze_backbone": config.model.freeze_backbone,
        "pretrained_checkpoint": str(source.checkpoint.resolve()),
        "pretrain_run_name": source.run_name,
        "pretrain_mlflow_run_id": source.mlflow_run_id,
        "mlflow_run_id": tracker.run_id,
        "best_epochs": best_epochs,
        "model_files": [str(p) for p in model_files],
        "models": results,
    }
    atomic_write_text(files["summary_json"], json.dumps(_json_safe(summary), indent=2) + "\n")

    for variant, result in results.items():
        prefix = "" if variant == "finetuned" else f"{variant}."
        scores = {f"{prefix}test_{m}": result["metrics"][m] for m in METRICS}
        if several:
            scores.update({f"{prefix}test_{m}_fold_mean": result["fold_mean"][m] for m in METRICS})
            scores.update({f"{prefix}test_{m}_fold_std": result["fold_std"][m] for m in METRICS})
        tracker.log_metrics(scores, step=0)
    for key, path in files.items():
        if key != "roc" or plotted:
            tracker.log_artifact(path, "plots" if path.suffix == ".png" else None)
    _publish_model(config, tracker, name, model_files, files["config"])

    echo(summary_table(results, config.split.method))
    echo(f"wrote {', '.join(str(p) for p in model_files)} and the report {files['summary_json']}")
    return summary


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


def _publish_model(
    config: FinetuneConfig, tracker: Tracker, name: str, model_files: list[Path], resolved: Path
) -> None:
    """Register the model file(s) and the resolved config in MLflow as the model ``name`` (or log them
    as run artifacts when registering is off)."""
    if isinstance(tracker, NullTracker):
        return
    if not config.tracking.register_model:
        for path in model_files:
            tracker.log_artifact(path, "model")
        return
    with tempfile.TemporaryDirectory() as folder:
        for path in [*model_files, resolved]:
            shutil.copy2(path, folder)
        tracker.register_model(folder, name)
