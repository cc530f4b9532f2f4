"""One fine-tuning job, top to bottom: check every input, split groups, train per fold (and the
baselines: band power, waveform, random encoder, linear probe), pool the out-of-fold predictions, compute
metrics with bootstrap intervals over groups, paired differences and the verdict, write the model(s) and
the report, track it in MLflow.

Every check a user can fail (pretrained checkpoint, data, labels, groups, channels, split, class weights,
``--strict-disjoint``) runs before anything is written or an MLflow run is started.
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
import numpy as np
import torch

from eeg_config import atomic_write_text, dump_yaml, flatten
from eeg_finetune.baselines import (
    CLASSIC,
    band_power_edges,
    classic_window_features,
    logistic_predictions,
    probe_embeddings,
    sample_features,
)
from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.data import LabelledData, load_labelled, make_samples
from eeg_finetune.errors import FinetuneError
from eeg_finetune.intervals import CLASSIC as CLASSIC_MODELS
from eeg_finetune.intervals import PRETRAINED, RANDOM, bootstrap, verdict_for
from eeg_finetune.metrics import (
    METRICS,
    Predictions,
    aggregate_predictions,
    concatenate,
    fold_spread,
    participant_metrics,
)
from eeg_finetune.model import ParticipantClassifier, save_finetuned
from eeg_finetune.pretrained import PretrainedSource, resolve_pretrained
from eeg_finetune.report import (
    MODEL_ORDER,
    plot_confusion_matrix,
    plot_roc,
    predictions_csv,
    summary_csv,
    summary_table,
)
from eeg_finetune.splits import Fold, group_strata, make_folds, sequence_folds
from eeg_finetune.training import FoldTrainer
from eeg_io import EEGDataError, check_sampling_rate
from eeg_ssm import EEGModel, load_pretrained
from eeg_train import MlflowTracker, NullTracker, Tracker, child_tracker, pick_device

__all__ = [
    "baseline_features",
    "data_sampling_rate",
    "leakage_report",
    "level_results",
    "output_files",
    "pick_device",
    "run_job",
    "split_data",
    "train_fold",
]

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


def _load_inputs(
    config: FinetuneConfig,
) -> tuple[PretrainedSource, EEGModel, LabelledData, list[Fold], dict[str, Any] | None]:
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
        label_level=config.data.label_level,
        group_column=config.data.group_column,
        normalization=config.data.normalization,
        scale=config.data.scale,
        nan_policy=config.data.nan_policy,
        checkpoint=str(source.checkpoint),
    )
    encoder.spatial(list(data.channels))  # a channel the montage lacks raises MontageError, naming it
    _check_sampling_rate(config, encoder, data)
    weights = config.train.class_weights
    if isinstance(weights, tuple) and len(weights) != data.num_classes:
        raise FinetuneError(
            f"train.class_weights: {len(weights)} weights for {data.num_classes} classes "
            f"(labels {', '.join(map(str, data.classes))} in {data.path}); give one weight per class"
        )
    folds = split_data(config, data)
    leakage = leakage_report(source, data, folds)
    if config.evaluation.strict_disjoint:
        if leakage is None:
            raise FinetuneError(
                f"--strict-disjoint: {source.checkpoint} does not record the participants it was pretrained "
                "on (written before pretrain recorded them); cannot show the test groups are unseen"
            )
        if leakage["test_groups_seen"]:
            raise FinetuneError(
                f"--strict-disjoint: the encoder {source.checkpoint} was pretrained on {leakage['test_groups_seen']} "
                f"of the {leakage['test_groups']} test groups ({', '.join(leakage['seen'][:5])}"
                f"{', ...' if leakage['test_groups_seen'] > 5 else ''}); pretrain without them or drop the flag"
            )
    return source, encoder, data, folds, leakage


def data_sampling_rate(config: FinetuneConfig, encoder: EEGModel) -> float:
    """Hz of the primary dataset: ``data.sampling_rate``, or (null) the checkpoint's ``model.sampling_rate``
    (what pretraining's ``data.sampling_rate`` was)."""
    rate = config.data.sampling_rate
    return float(encoder.config.sampling_rate if rate is None else rate)


def _check_sampling_rate(config: FinetuneConfig, encoder: EEGModel, data: LabelledData) -> None:
    """Where the rate matters (the band-power baseline, or a rate the user set), check it against the
    file's window times as pretraining does, and the baseline's bands against the windows; a rate other
    than the encoder's is a warning."""
    rate, pretrained_rate = data_sampling_rate(config, encoder), float(encoder.config.sampling_rate)
    if rate != pretrained_rate:
        log.warning(
            "data.sampling_rate %g Hz differs from the checkpoint's model.sampling_rate %g Hz: the encoder's "
            "%d-sample windows then hold other frequencies than in pretraining",
            rate, pretrained_rate, encoder.config.window_length,
        )  # fmt: skip
    if not config.compare_baselines and config.data.sampling_rate is None:
        return
    try:
        check_sampling_rate([data.path], rate, window_times=config.data.window_times)
    except EEGDataError as exc:
        if config.data.sampling_rate is not None:
            raise
        raise EEGDataError(
            f"{exc} (data.sampling_rate: null took the checkpoint's model.sampling_rate)"
        ) from None
    if config.compare_baselines:
        edges = band_power_edges(config.evaluation, encoder.config.window_length, rate)
        log.info(
            "band_power baseline: %d log-spaced bands from %.3g to %.3g Hz (%g Hz data)",
            len(edges) - 1, edges[0], edges[-1], rate,
        )  # fmt: skip


def split_data(config: FinetuneConfig, data: LabelledData) -> list[Fold]:
    """The folds over sequence indices: groups split by ``config.split``, sequences following their group."""
    sequence_group = data.sequence_group()
    if data.label_level == "window":
        unit_targets = np.concatenate(data.window_targets)
        unit_groups = np.concatenate(
            [np.full(len(t), g) for t, g in zip(data.window_targets, sequence_group, strict=True)]
        )
    else:
        unit_targets, unit_groups = data.targets, sequence_group
    strata, values = group_strata(unit_targets, unit_groups, len(data.group_ids), data.classes)
    if data.label_level == "window" and config.split.method in ("loso", "logo", "group_kfold"):
        single = [g for g, v in zip(data.group_ids, strata, strict=True) if len(values[v]) == 1]
        if single:
            log.warning(
                "group(s) %s of column %r hold a single class: a stratified split cannot balance their "
                "classes, and a fold testing only them has no AUROC of its own (pooled metrics still count them)",
                ", ".join(single[:10]) + (", ..." if len(single) > 10 else ""),
                data.group_column,
            )
    folds = make_folds(
        strata,
        values,
        config.split.method,
        val_ratio=config.split.val_ratio,
        test_ratio=config.split.test_ratio,
        folds=config.split.folds,
        seed=config.split_seed,
        units=(unit_targets, unit_groups),
        group_column=config.data.group_column,
    )
    return sequence_folds(folds, sequence_group)


def leakage_report(source: PretrainedSource, data: LabelledData, folds: list[Fold]) -> dict[str, Any] | None:
    """How many test groups hold a participant the encoder was pretrained on; None when the checkpoint
    does not record its participants."""
    seen = source.pretraining_participants
    if seen is None:
        log.warning(
            "%s does not record its pretraining participants: overlap with the test groups is unknown",
            source.checkpoint,
        )
        return None
    tested = sorted({s for fold in folds for s in fold.test})
    groups = sorted({data.groups[s] for s in tested})
    seen_groups = sorted({data.groups[s] for s in tested if data.participants[s] in seen})
    participants = sorted({data.participants[s] for s in tested})
    report = {
        "test_groups": len(groups),
        "test_groups_seen": len(seen_groups),
        "test_participants": len(participants),
        "test_participants_seen": sum(p in seen for p in participants),
        "seen": seen_groups,
    }
    log.info(
        "leakage guard: the encoder was pretrained on %d of %d test group(s) (%d of %d test participants)%s",
        report["test_groups_seen"],
        report["test_groups"],
        report["test_participants_seen"],
        report["test_participants"],
        f": {', '.join(seen_groups[:10])}" if seen_groups else "",
    )
    return report


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
            "data.participants": len(set(data.participants)),
            "data.groups": len(data.group_ids),
            "data.classes": list(data.classes),
            "data.channels_used": list(data.channels),
            "split.num_folds": folds,
        }
    )
    tracker.log_params(params)
    return tracker


def run_job(config: FinetuneConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the job described by ``config`` and return its summary (also written as ``{name}_summary.json``)."""
    source, encoder, data, folds, leakage = _load_inputs(config)
    name = config.tracking.run_name or f"{source.run_name}_finetuned"
    device = pick_device(config.train.device)
    output_dir = Path(config.output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FinetuneError(f"output_dir: cannot create {output_dir}: {exc.strerror}") from None
    counts = np.bincount(np.concatenate(data.window_targets), minlength=data.num_classes)
    log.info(
        "%d participants, %d groups (%s), %d sequences, %s labels (windows per class %s), channels %s, "
        "%s split: %d fold(s); device %s",
        len(set(data.participants)),
        len(data.group_ids),
        data.group_column,
        len(data),
        data.label_level,
        dict(zip(data.classes, counts.tolist(), strict=True)),
        ", ".join(data.channels),
        config.split.method,
        len(folds),
        device,
    )
    tracker = _tracker(config, name, source, data, len(folds))
    status = "FAILED"
    try:
        runs = _run_folds(config, name, source, encoder.to(device), data, folds, device, tracker)
        summary = _report(config, name, source, data, folds, tracker, echo, runs, leakage)
        status = "FINISHED"
        return summary
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        tracker.close(status)


def train_fold(config, fold, encoder, data, device, tracker, features, n_folds):
    """The fine-tuned classifier and, with ``compare_baselines``, the baselines on one fold."""
    cfg, seed = config.model, config.train.seed
    classifier_args = (data.channels, data.num_classes, cfg.hidden, cfg.pooling, cfg.dropout)
    torch.manual_seed(seed * 1_000_003 + fold.index)  # head initialisation and dropout
    classifier = ParticipantClassifier(copy.deepcopy(encoder), *classifier_args)
    trainer = FoldTrainer(
        classifier, data, fold, config, device, tracker, "", seed=seed * 1_000_003 + fold.index,
        description=f"fold {fold.index}/{n_folds}",
    )  # fmt: skip
    outcome = trainer.fit()
    predictions = {}
    if config.compare_baselines:
        samples, rows = features["samples"], features["rows"]
        fit_on = [rows[s] for s in trainer.train_samples + trainer.val_samples]
        test = [rows[s] for s in trainer.test_samples]
        for name in (*CLASSIC, "linear_probe"):
            predictions[name] = logistic_predictions(
                features[name], samples, data, fold, fit_on, test,
                config.train.class_weights, cfg.aggregation, seed,
            )  # fmt: skip
        torch.manual_seed(seed * 1_000_003 + fold.index)  # the same draws as the pretrained run's head
        random_encoder = EEGModel(encoder.config).to(device)
        baseline = ParticipantClassifier(random_encoder, *classifier_args)
        predictions[RANDOM] = FoldTrainer(
            baseline, data, fold, config, device, tracker, "random_encoder.", seed=seed * 1_000_003 + fold.index,
            description=f"fold {fold.index}/{n_folds} (random encoder)",
        ).fit().predictions  # fmt: skip
    predictions["finetuned"] = outcome.predictions
    return classifier, outcome, predictions


def baseline_features(config, encoder, data, device) -> dict[str, Any]:
    """Every sample of every sequence with its row, and each baseline's feature matrix over them."""
    cfg = config.model
    samples = make_samples(data, range(len(data)), cfg.mode, cfg.window_group, cfg.window_context)
    out: dict[str, Any] = {"samples": samples, "rows": {s: i for i, s in enumerate(samples)}}
    rate = data_sampling_rate(config, encoder)
    for name in CLASSIC:
        out[name] = sample_features(
            data, samples, classic_window_features(data, name, config.evaluation, rate)
        )
    probe = ParticipantClassifier(encoder, data.channels, data.num_classes)
    out["linear_probe"] = probe_embeddings(probe, data, samples, device, config.train.batch_size)
    return out


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
    features = baseline_features(config, encoder, data, device) if config.compare_baselines else None
    runs = _FoldRuns()
    for fold in folds:
        child = child_tracker(tracker, f"fold_{fold.index:02d}")
        child.log_params(
            {"fold": fold.index}
            | {f"{part}_participants": ",".join(_ids(data, fold, part)) for part in ("train", "val", "test")}
        )
        try:
            classifier, outcome, predictions = train_fold(
                config, fold, encoder, data, device, child, features, len(folds)
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
    """The participant ids of a fold's part (each once)."""
    return sorted({data.participants[s] for s in getattr(fold, part)})


def level_results(
    config, combined: dict[str, Predictions], per_fold, num_classes: int, pairs
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
            "metrics": participant_metrics(
                everyone.targets, everyone.predicted, everyone.probabilities, num_classes
            ),
            "interval": intervals[variant],
        }
        if per_fold is not None:
            mean, std = fold_spread(per_fold[variant])
            results[variant].update(fold_mean=mean, fold_std=std, per_fold=per_fold[variant])
    return results, differences


def _report(config, name, source, data, folds, tracker, echo, runs: _FoldRuns, leakage) -> dict[str, Any]:
    """Pool the folds, compute the metrics and intervals, write the report files, log them, register the
    model."""
    output_dir = Path(config.output_dir)
    several = len(folds) > 1
    model_files, best_epochs = runs.model_files, runs.best_epochs
    order = [m for m in MODEL_ORDER if m in runs.predictions]
    combined = {variant: concatenate(runs.predictions[variant]) for variant in order}
    pairs = [(a, b) for a in PRETRAINED if a in combined for b in (RANDOM, *CLASSIC_MODELS) if b in combined]
    unit = "window" if data.label_level == "window" else "participant"
    results, differences = level_results(config, combined, runs.metrics, data.num_classes, pairs)
    verdict, verdict_models = verdict_for({m: r["metrics"] for m, r in results.items()}, differences)
    levels: dict[str, Any] = {}
    if data.label_level == "window":  # also per run and per participant, where the label is constant there
        for level in ("run", "participant"):
            aggregated = {m: aggregate_predictions(p, level) for m, p in combined.items()}
            if all(p is not None for p in aggregated.values()) and len(next(iter(aggregated.values()))) > 1:
                per_level, _ = level_results(config, aggregated, None, data.num_classes, ())
                levels[level] = per_level
    files = output_files(output_dir, name)
    _remove_stale(output_dir, name, model_files)
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
        "verdict": verdict,
        "verdict_models": verdict_models,
        "differences": differences,
        "best_epochs": best_epochs,
        "model_files": [str(p) for p in model_files],
        "models": results,
        "levels": levels,
    }
    atomic_write_text(files["summary_json"], json.dumps(_json_safe(summary), indent=2) + "\n")

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
    tracker.log_params({"verdict": verdict})
    tracker.set_tags({"verdict": verdict})
    for key, path in files.items():
        if key != "roc" or plotted:
            tracker.log_artifact(path, "plots" if path.suffix == ".png" else None)
    _publish_model(config, tracker, name, model_files, files["config"])

    echo(summary_table(results, config.split.method, unit, config.evaluation.confidence, levels))
    if leakage is not None:
        echo(
            f"leakage guard: the encoder was pretrained on {leakage['test_groups_seen']} of the "
            f"{leakage['test_groups']} test groups ({data.group_column})"
        )
    else:
        echo("leakage guard: the checkpoint does not record its pretraining participants (overlap unknown)")
    echo(f"verdict: {verdict}")
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
