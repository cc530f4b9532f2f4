"""Stage 2 of a job: train and test every fold, the fine-tuned classifier and (with ``compare_baselines``)
the baselines on the same samples, each fold in a nested MLflow run, its model saved as soon as it is done.
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
from eeg_finetune.baselines import (
    CLASSIC,
    classic_window_features,
    logistic_predictions,
    probe_embeddings,
    sample_features,
)
from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.data import LabelledData, Sample, make_samples
from eeg_finetune.inputs import Inputs, data_sampling_rate
from eeg_finetune.model import EncoderClassifier, save_finetuned
from eeg_finetune.training import FoldOutcome, FoldTrainer
from eeg_ssm import EEGModel
from eeg_train import Tracker, child_tracker

__all__ = [
    "BaselineFeatures",
    "FoldRuns",
    "baseline_features",
    "fold_view",
    "model_path",
    "run_folds",
    "train_fold",
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
    config: FinetuneConfig, encoder: EEGModel, data: LabelledData, device: torch.device
) -> BaselineFeatures:
    """The classic features of every sample and the frozen encoder's embedding of it."""
    cfg = config.model
    samples = make_samples(data, range(len(data)), cfg.mode, cfg.window_group, cfg.window_context)
    rate = data_sampling_rate(config, encoder)
    matrices = {
        name: sample_features(data, samples, classic_window_features(data, name, config.evaluation, rate))
        for name in CLASSIC
    }
    probe = EncoderClassifier(encoder, data.channels, data.num_classes)
    matrices["linear_probe"] = probe_embeddings(probe, data, samples, device, config.train.batch_size)
    return BaselineFeatures(samples=samples, rows={s: i for i, s in enumerate(samples)}, matrices=matrices)


def train_fold(
    config: FinetuneConfig,
    fold: Fold,
    encoder: EEGModel,
    data: LabelledData,
    device: torch.device,
    tracker: Tracker,
    features: BaselineFeatures | None,
    n_folds: int,
    span_cache: dict | None = None,
) -> tuple[EncoderClassifier, FoldOutcome, dict[str, Predictions]]:
    """The fine-tuned classifier and, with ``features`` (``compare_baselines``), the baselines on one fold;
    ``span_cache`` holds the frozen pretrained encoder's features across folds (encoded once)."""
    cfg, seed = config.model, config.train.seed * 1_000_003 + fold.index
    classifier_args = (data.channels, data.num_classes, cfg.hidden, cfg.pooling, cfg.dropout)
    torch.manual_seed(seed)  # head initialisation and dropout
    classifier = EncoderClassifier(copy.deepcopy(encoder), *classifier_args)
    description = f"fold {fold.index}/{n_folds}"
    trainer = FoldTrainer(
        classifier, data, fold, config, device, tracker, "", seed=seed, description=description
    )
    outcome = trainer.fit()
    predictions = {}
    if features is not None:
        fit_on = [features.rows[s] for s in trainer.train_samples + trainer.val_samples]
        test = [features.rows[s] for s in trainer.test_samples]
        for name, matrix in features.matrices.items():
            predictions[name] = logistic_predictions(
                matrix, features.samples, data, fold, fit_on, test,
                config.train.class_weights, cfg.aggregation, config.train.seed,
            )  # fmt: skip
        torch.manual_seed(seed)  # the same draws as the pretrained run's head
        baseline = EncoderClassifier(EEGModel(encoder.config).to(device), *classifier_args)
        predictions[RANDOM] = FoldTrainer(
            baseline, data, fold, config, device, tracker, "random_encoder.", seed=seed,
            description=f"{description} (random encoder)",
        ).fit().predictions  # fmt: skip
    predictions["finetuned"] = outcome.predictions
    return classifier, outcome, predictions


def run_folds(
    config: FinetuneConfig, name: str, inputs: Inputs, device: torch.device, tracker: Tracker
) -> FoldRuns:
    """Train and test every fold in a nested MLflow run; save each fold's fine-tuned model as it is done."""
    data, folds, encoder = inputs.data, inputs.folds, inputs.encoder.to(device)
    output_dir = Path(config.output_dir)
    per_fold = config.data.normalization == "channel_train"  # the data differ per fold: so do the features
    features = (
        baseline_features(config, encoder, data, device)
        if config.compare_baselines and not per_fold
        else None
    )
    runs = FoldRuns()
    span_cache: dict = {}  # the pretrained encoder's features, shared by the folds (its weights never change)
    for fold in folds:
        if per_fold:
            span_cache = {}
            data = fold_view(config, inputs.data, fold)
            features = baseline_features(config, encoder, data, device) if config.compare_baselines else None
        child = child_tracker(tracker, f"fold_{fold.index:02d}")
        split = {part: _ids(data, fold, part) for part in ("train", "val", "test")}
        child.log_params(
            {"fold": fold.index} | {f"{part}_participants": ",".join(ids) for part, ids in split.items()}
        )
        try:
            classifier, outcome, predictions = train_fold(
                config, fold, encoder, data, device, child, features, len(folds), span_cache
            )
            for variant, p in predictions.items():
                scores = unit_metrics(p.targets, p.predicted, p.probabilities, data.num_classes)
                runs.predictions.setdefault(variant, []).append(p)
                runs.metrics.setdefault(variant, []).append({"fold": fold.index, **scores})
                prefix = "" if variant == "finetuned" else f"{variant}."
                child.log_metrics({f"{prefix}test_{m}": scores[m] for m in METRICS}, step=0)
            test_metrics = runs.metrics["finetuned"][-1]
            extra = {
                "classes": list(data.classes),
                "fold": fold.index,
                "split": split,
                "best_epoch": outcome.best_epoch,
                "val_metrics": outcome.val_metrics,
                "test_metrics": {m: test_metrics[m] for m in METRICS},
                "finetune_config": config_to_dict(config),
                "pretrained_checkpoint": str(inputs.source.checkpoint.resolve()),
                "pretrain_run_name": inputs.source.run_name,
                "pretrain_mlflow_run_id": inputs.source.mlflow_run_id,
                "mlflow_run_id": tracker.run_id,
            }
            path = model_path(output_dir, name, fold, len(folds) > 1)
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
