"""Stage 2 of a job: train and test every fold, the fine-tuned classifier and (with ``compare_baselines``)
the baselines on the same samples, each fold in a nested MLflow run, its model saved as soon as it is
done (with a frozen encoder, as soon as all folds' heads, trained together, are done).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from eeg_eval import METRICS, RANDOM, Fold, Predictions, unit_metrics
from eeg_finetune import heads_together
from eeg_finetune.baselines import (
    CLASSIC,
    classic_window_features,
    logistic_predictions,
    probe_embeddings,
    sample_features,
)
from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.data import LabelledData, Sample, make_samples
from eeg_finetune.embeddings import SpanCache
from eeg_finetune.inputs import Inputs, data_sampling_rate
from eeg_finetune.model import EncoderClassifier, save_finetuned
from eeg_finetune.training import FoldOutcome, FoldTrainer
from eeg_ssm import EEGModel
from eeg_train import Tracker, child_tracker

__all__ = [
    "BaselineFeatures",
    "FoldRuns",
    "FoldWork",
    "baseline_features",
    "baseline_predictions",
    "fold_trainers",
    "fold_view",
    "model_path",
    "run_folds",
]

log = logging.getLogger("eeg_finetune")


@attrs.frozen(kw_only=True)
class BaselineFeatures:
    """Every sample of every sequence (``samples``, ``rows[sample]`` its row) and each frozen feature
    set's ``[N, F]`` matrix over them (``matrices``: the classic features and the linear probe's
    embeddings), computed once for all folds."""

    samples: list[Sample]
    rows: dict[Sample, int]
    matrices: dict[str, np.ndarray]


@attrs.define
class FoldRuns:
    """What the folds leave: test predictions and metrics per model (``variant``), the model files."""

    predictions: dict[str, list[Predictions]] = attrs.Factory(dict)
    metrics: dict[str, list[dict[str, Any]]] = attrs.Factory(dict)
    model_files: list[Path] = attrs.Factory(list)
    best_epochs: list[int] = attrs.Factory(list)


def fold_view(config: FinetuneConfig, data: LabelledData, fold: Fold) -> LabelledData:
    """The data as the fold's models see it: with ``data.normalization: channel_train`` each channel
    standardised with the mean and standard deviation of the fold's training and validation samples only
    (float64 sums; the test groups never inform it); otherwise ``data`` itself."""
    if config.data.normalization != "channel_train":
        return data
    seen = [*fold.train, *fold.val]
    total = sum(float(data.windows[s][0].size) for s in seen)  # samples per channel
    mean = sum(data.windows[s].sum(axis=(1, 2), dtype=np.float64) for s in seen) / total  # (C,)
    square = sum(np.square(data.windows[s] - mean[:, None, None]).sum(axis=(1, 2)) for s in seen) / total
    std = np.sqrt(square)
    std[std < np.finfo(np.float32).tiny] = 1.0  # a flat channel stays as it is
    scaled = tuple(((w - mean[:, None, None]) / std[:, None, None]).astype(np.float32) for w in data.windows)
    return attrs.evolve(data, windows=scaled)


def model_path(output_dir: Path, name: str, fold: Fold, several: bool) -> Path:
    return output_dir / (f"{name}_fold{fold.index:02d}.pt" if several else f"{name}.pt")


def baseline_features(
    config: FinetuneConfig,
    encoder: EEGModel,
    data: LabelledData,
    device: torch.device,
    span_cache: SpanCache | None = None,
) -> BaselineFeatures:
    """The classic features of every sample and the frozen encoder's embedding of it (its span features
    kept in ``span_cache``, which the folds' frozen heads then read)."""
    cfg = config.model
    samples = make_samples(data, range(len(data)), cfg.mode, cfg.window_group, cfg.window_context)
    rate = data_sampling_rate(config, encoder)
    matrices = {
        name: sample_features(data, samples, classic_window_features(data, name, config.evaluation, rate))
        for name in CLASSIC
    }
    probe = EncoderClassifier(encoder, data.channels, data.num_classes)
    matrices["linear_probe"] = probe_embeddings(
        probe, data, samples, device, config.train.batch_size, span_cache
    )
    return BaselineFeatures(samples=samples, rows={s: i for i, s in enumerate(samples)}, matrices=matrices)


@attrs.define
class FoldWork:
    """One fold while it runs: its data (as its models see it), baseline features, nested MLflow run and
    the trainers of its heads (``finetuned`` and, with baselines, the random encoder's)."""

    fold: Fold
    data: LabelledData
    features: BaselineFeatures | None
    tracker: Tracker
    trainers: dict[str, FoldTrainer]


def fold_trainers(
    config: FinetuneConfig,
    fold: Fold,
    encoder: EEGModel,
    data: LabelledData,
    device: torch.device,
    tracker: Tracker,
    with_random: bool,
    n_folds: int,
    span_cache: SpanCache | None = None,
) -> dict[str, FoldTrainer]:
    """The fold's fine-tuned classifier's trainer and, ``with_random``, the trainer of the same head on a
    randomly initialised encoder (the same seed: the same head initialisation and dropout draws).
    ``span_cache`` holds the frozen pretrained encoder's features across folds (encoded once); a frozen
    encoder is shared by the folds' classifiers, one that trains is copied."""
    cfg, seed = config.model, config.train.seed * 1_000_003 + fold.index
    classifier_args = (data.channels, data.num_classes, cfg.hidden, cfg.pooling, cfg.dropout)
    frozen = cfg.freeze_backbone and cfg.unfreeze_epoch is None
    description = f"fold {fold.index}/{n_folds}"
    torch.manual_seed(seed)  # head initialisation and dropout
    classifier = EncoderClassifier(encoder if frozen else copy.deepcopy(encoder), *classifier_args)
    trainers = {
        "finetuned": FoldTrainer(
            classifier, data, fold, config, device, tracker, "", seed=seed, description=description,
            span_cache=span_cache if frozen else None,
        )
    }  # fmt: skip
    if with_random:
        torch.manual_seed(seed)  # the same draws as the pretrained run's head
        baseline = EncoderClassifier(EEGModel(encoder.config).to(device), *classifier_args)
        trainers[RANDOM] = FoldTrainer(
            baseline, data, fold, config, device, tracker, "random_encoder.", seed=seed,
            description=f"{description} (random encoder)",
        )  # fmt: skip
    return trainers


def baseline_predictions(
    config: FinetuneConfig, work: FoldWork, trainer: FoldTrainer
) -> dict[str, Predictions]:
    """The logistic-regression baselines (classic features, the linear probe) on the fold's samples."""
    features = work.features
    if features is None:
        return {}
    fit_on = [features.rows[s] for s in trainer.train_samples + trainer.val_samples]
    test = [features.rows[s] for s in trainer.test_samples]
    rules = (config.train.class_weights, config.model.aggregation, config.train.seed)
    return {
        name: logistic_predictions(matrix, features.samples, work.data, work.fold, fit_on, test, *rules)
        for name, matrix in features.matrices.items()
    }


def run_folds(
    config: FinetuneConfig, name: str, inputs: Inputs, device: torch.device, tracker: Tracker
) -> FoldRuns:
    """Train and test every fold in a nested MLflow run; save each fold's fine-tuned model as it is done.

    With a frozen, mean-pooled encoder every fold's heads train at once (:mod:`eeg_finetune.heads_together`);
    otherwise the folds run one after another."""
    data, folds, encoder = inputs.data, inputs.folds, inputs.encoder.to(device)
    per_fold = config.data.normalization == "channel_train"  # the data differ per fold: so do the features
    span_cache: SpanCache = {}  # the pretrained encoder's span features, for the probe and every fold's head
    features = (
        baseline_features(config, encoder, data, device, span_cache)
        if config.compare_baselines and not per_fold
        else None
    )
    cfg = config.model
    together = heads_together.HEADS_TOGETHER and cfg.freeze_backbone and cfg.unfreeze_epoch is None
    chunks = [list(folds)] if together else [[fold] for fold in folds]
    runs = FoldRuns()
    for chunk in chunks:
        works: list[FoldWork] = []
        try:
            for fold in chunk:
                fold_data, fold_features = data, features
                if per_fold:
                    span_cache = {}
                    fold_data = fold_view(config, inputs.data, fold)
                    if config.compare_baselines:
                        fold_features = baseline_features(config, encoder, fold_data, device, span_cache)
                child = child_tracker(tracker, f"fold_{fold.index:02d}")
                works.append(FoldWork(fold, fold_data, fold_features, child, {}))
                split = {part: _ids(fold_data, fold, part) for part in ("train", "val", "test")}
                child.log_params(
                    {"fold": fold.index}
                    | {f"{part}_participants": ",".join(ids) for part, ids in split.items()}
                )
                works[-1].trainers = fold_trainers(
                    config, fold, encoder, fold_data, device, child,
                    config.compare_baselines, len(folds), span_cache,
                )  # fmt: skip
            trainers = [t for work in works for t in work.trainers.values()]
            outcomes = dict(zip(map(id, trainers), heads_together.fit_heads(trainers), strict=True))
            while works:
                _record(config, name, inputs, works[0], outcomes, runs, tracker, len(folds))
                works.pop(0).tracker.close("FINISHED")
        except BaseException as exc:
            for work in works:
                work.tracker.close("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
            raise
    return runs


def _record(
    config: FinetuneConfig,
    name: str,
    inputs: Inputs,
    work: FoldWork,
    outcomes: dict[int, FoldOutcome],
    runs: FoldRuns,
    tracker: Tracker,
    n_folds: int,
) -> None:
    """A trained fold: its baselines, every model's test metrics (in its nested run), its model file."""
    fold, data, trainer = work.fold, work.data, work.trainers["finetuned"]
    outcome = outcomes[id(trainer)]
    predictions = baseline_predictions(config, work, trainer)
    if RANDOM in work.trainers:
        predictions[RANDOM] = outcomes[id(work.trainers[RANDOM])].predictions
    predictions["finetuned"] = outcome.predictions
    for variant, p in predictions.items():
        scores = unit_metrics(p.targets, p.predicted, p.probabilities, data.num_classes)
        runs.predictions.setdefault(variant, []).append(p)
        runs.metrics.setdefault(variant, []).append({"fold": fold.index, **scores})
        prefix = "" if variant == "finetuned" else f"{variant}."
        work.tracker.log_metrics({f"{prefix}test_{m}": scores[m] for m in METRICS}, step=0)
    test_metrics = runs.metrics["finetuned"][-1]
    extra = {
        "classes": list(data.classes),
        "fold": fold.index,
        "split": {part: _ids(data, fold, part) for part in ("train", "val", "test")},
        "best_epoch": outcome.best_epoch,
        "val_metrics": outcome.val_metrics,
        "test_metrics": {m: test_metrics[m] for m in METRICS},
        "finetune_config": config_to_dict(config),
        "pretrained_checkpoint": str(inputs.source.checkpoint.resolve()),
        "pretrain_run_name": inputs.source.run_name,
        "pretrain_mlflow_run_id": inputs.source.mlflow_run_id,
        "mlflow_run_id": tracker.run_id,
    }
    path = model_path(Path(config.output_dir), name, fold, n_folds > 1)
    runs.model_files.append(save_finetuned(path, trainer.classifier, extra))
    runs.best_epochs.append(outcome.best_epoch)
    log.info(
        "fold %d/%d: best epoch %d of %d; test %s",
        fold.index, n_folds, outcome.best_epoch, outcome.epochs_run,
        ", ".join(f"{m} {test_metrics[m]:.3f}" for m in ("accuracy", "auroc")),
    )  # fmt: skip


def _ids(data: LabelledData, fold: Fold, part: str) -> list[str]:
    """The participant ids of a fold's part (each once)."""
    return sorted({data.participants[s] for s in getattr(fold, part)})
