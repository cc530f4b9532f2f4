"""Training one classifier on one fold: AdamW, warmup + cosine schedule, class weights, early stopping on
validation, the best validation state reloaded before the test participants are predicted.

While the encoder is frozen it runs once per sample (eval mode, no gradients) and its features are
cached, so the epochs that train only the head cost almost nothing; once unfrozen, every step runs the
whole model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np
import torch
import torch.nn.functional as F

from eeg_config.progress import progress as show_progress
from eeg_eval import Fold, Predictions, validation_scores
from eeg_finetune.config import FinetuneConfig, FinetuneTrainConfig
from eeg_finetune.data import LabelledData, Sample, collate_windows, make_samples, sample_target
from eeg_finetune.embeddings import SpanCache, encode_spans
from eeg_finetune.model import EncoderClassifier
from eeg_finetune.units import unit_predictions
from eeg_ssm import param_groups
from eeg_train import Tracker, adamw_with_schedule

__all__ = [
    "DENSE_FROZEN_FEATURES",
    "BestEpoch",
    "FoldOutcome",
    "FoldTrainer",
    "class_weight_vector",
    "progress",
]

log = logging.getLogger("eeg_finetune")

#: With an encoder that never trains, the head reads each split's features from one dense tensor
#: ``[N, C, l_max, d]`` built once per split (a batch is then one index), instead of assembling every batch
#: from the span cache in Python (``benchmarks/finetune_speed.py`` compares the two).
DENSE_FROZEN_FEATURES = True
#: Above this many feature values a split stays on the per-batch path (memory).
DENSE_LIMIT = 64_000_000


def class_weight_vector(
    setting: str | tuple[float, ...], targets: Sequence[int], num_classes: int
) -> torch.Tensor | None:
    """Cross-entropy class weights ``[K]``: None for ``"none"``; ``N / (K * n_k)`` over the training samples
    for ``"balanced"``; the given list otherwise (its length is checked by the caller)."""
    if setting == "none":
        return None
    if setting == "balanced":
        counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_classes).astype(np.float64)
        weights = len(targets) / (num_classes * np.maximum(counts, 1.0))
        return torch.tensor(weights, dtype=torch.float32)
    return torch.tensor(setting, dtype=torch.float32)


@attrs.define
class FoldOutcome:
    """Test predictions of one fold, with the epoch whose validation score was best and its metrics."""

    predictions: Predictions
    best_epoch: int
    epochs_run: int
    val_metrics: dict[str, float]


@attrs.define
class BestEpoch:
    """Early stopping's bookkeeping for one model: the epoch with the best validation score so far and how
    many epochs have passed without a better one. Larger scores are better: the validation AUROC, ties
    (frequent with few validation participants) to the lower loss, an undefined AUROC below any defined
    one; with ``early_stopping: loss``, the loss alone."""

    config: FinetuneTrainConfig
    key: tuple[float, ...] | None = None
    epoch: int = 0
    since: int = 0
    metrics: dict[str, float] = attrs.Factory(dict)

    @property
    def seen(self) -> bool:
        return self.key is not None

    @property
    def exhausted(self) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        return self.config.patience is not None and self.since >= self.config.patience

    def observe(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Score one epoch's validation ``metrics``; True when it is the best so far (keep its state)."""
        key = self._score(metrics["val_loss"], metrics["val_auroc"])
        if self.key is not None and key <= self.key:
            self.since += 1
            return False
        self.key, self.epoch, self.since = key, epoch, 0
        self.metrics = {k: float(metrics[k]) for k in ("val_loss", "val_auroc", "val_balanced_accuracy")}
        return True

    def _score(self, val_loss: float, val_auroc: float) -> tuple[float, ...]:
        if self.config.early_stopping == "loss":
            return (-val_loss,)
        return (val_auroc if math.isfinite(val_auroc) else -math.inf, -val_loss)


def progress(epochs: range, description: str, quiet: bool) -> Any:
    """The epochs with a progress display: a bar on a terminal, plain lines in a log file or under CI, none
    with ``train.quiet`` (:func:`eeg_config.progress.progress`)."""
    return show_progress(epochs, description=description, unit="epoch", log=log, disable=quiet)


class FoldTrainer:
    """Train ``classifier`` on ``fold.train``, stop early on ``fold.val``, predict ``fold.test``.

    Metrics go to ``tracker`` per epoch (step = epoch), named ``{prefix}train_loss``, ``{prefix}val_loss``,
    ``{prefix}val_auroc``, ``{prefix}val_balanced_accuracy``, ``{prefix}lr``.
    """

    def __init__(
        self,
        classifier: EncoderClassifier,
        data: LabelledData,
        fold: Fold,
        config: FinetuneConfig,
        device: torch.device,
        tracker: Tracker,
        prefix: str = "",
        seed: int = 0,
        description: str = "",
        span_cache: SpanCache | None = None,
    ) -> None:
        self.classifier, self.data, self.fold, self.config = classifier.to(device), data, fold, config
        self.device, self.tracker, self.prefix, self.seed = device, tracker, prefix, seed
        self.description = description
        model_cfg, train_cfg = config.model, config.train
        self.train_samples, self.val_samples, self.test_samples = (
            make_samples(data, part, model_cfg.mode, model_cfg.window_group, model_cfg.window_context)
            for part in (fold.train, fold.val, fold.test)
        )
        targets = [sample_target(data, s) for s in self.train_samples]
        weights = class_weight_vector(train_cfg.class_weights, targets, data.num_classes)
        self.class_weights = None if weights is None else weights.to(device)

        # the head at lr, the backbone (if it ever trains) at backbone_lr: AdamW built when training starts
        self.ever_trainable = not model_cfg.freeze_backbone or model_cfg.unfreeze_epoch is not None
        classifier.set_backbone_trainable(self.trainable_at(1))
        self.steps_per_epoch = math.ceil(len(self.train_samples) / train_cfg.batch_size)
        # a frozen encoder's span features; ``span_cache`` shares them between folds (the same encoder)
        self._cache: SpanCache = {} if span_cache is None else span_cache
        self._dense: dict[int, tuple[str, tuple[torch.Tensor, ...]] | None] = {}  # id(split) -> inputs
        self._standardise_features()
        #: the global RNG state this trainer's training starts from (its dropout draws continue it)
        self.rng_state = torch.get_rng_state()

    @torch.no_grad()
    def _standardise_features(self) -> None:
        """The head's input standardisation, from the training samples' pooled features of the encoder as
        it starts (pretrained, eval mode): saved with the model, used for every later prediction."""
        size = self.config.train.batch_size
        self._span_features(list(dict.fromkeys(s.span for s in self.train_samples)), False)  # all at once
        pooled = [
            self.classifier.pooled(*self._sample_features(self.train_samples[i : i + size], False))
            for i in range(0, len(self.train_samples), size)
        ]
        self.classifier.set_feature_norm(torch.cat(pooled))

    def _make_optimiser(self) -> None:
        train_cfg = self.config.train
        groups = [
            {**g, "lr": train_cfg.lr} for g in param_groups(self.classifier.head, train_cfg.weight_decay)
        ]
        if self.ever_trainable:  # every encoder parameter, also while it is still frozen
            trainable = self.classifier.backbone_trainable
            self.classifier.set_backbone_trainable(True)
            groups += [
                {**g, "lr": train_cfg.backbone_lr}
                for g in param_groups(self.classifier.encoder, train_cfg.weight_decay)
            ]
            self.classifier.set_backbone_trainable(trainable)
        self.optimizer, self.scheduler = adamw_with_schedule(
            [g for g in groups if g["params"]],
            lr=train_cfg.lr,
            total_steps=self.steps_per_epoch * train_cfg.epochs,
            warmup_fraction=train_cfg.warmup_fraction,
            min_lr_ratio=train_cfg.min_lr_ratio,
        )

    def trainable_at(self, epoch: int) -> bool:
        """Whether the backbone trains in (1-based) ``epoch``."""
        model_cfg = self.config.model
        if not model_cfg.freeze_backbone:
            return True
        return model_cfg.unfreeze_epoch is not None and epoch >= model_cfg.unfreeze_epoch

    # ------------------------------------------------------------------ forward passes
    def _span_features(
        self, spans: Sequence[tuple[int, int, int]], trainable: bool
    ) -> dict[tuple[int, int, int], torch.Tensor]:
        """Encoder features ``(C, l, d)`` of each ``(sequence, start, stop)`` span. A frozen encoder's are
        computed once (eval mode, no gradients) and cached; a trainable one runs on every call."""
        if trainable:
            windows, lengths = collate_windows(self.data, spans)
            features = self.classifier.features(windows.to(self.device), lengths.to(self.device))
            return {span: features[b, :, : span[2] - span[1]] for b, span in enumerate(spans)}
        return encode_spans(
            self.classifier, self.data, list(spans), self.device, self._cache, self.config.train.batch_size
        )

    def _sample_features(
        self, samples: Sequence[Sample], trainable: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``[B, C, l_max, d]`` (zero padding) and lengths ``[B]`` of ``samples``: a span's tokens,
        or the one token of a window classified in its context."""
        spans = self._span_features(list(dict.fromkeys(s.span for s in samples)), trainable)
        parts = []
        for s in samples:
            features = spans[s.span]
            if s.token is not None:
                features = features[:, s.token - s.start : s.token - s.start + 1]  # (C, 1, d)
            parts.append(features)
        lengths = torch.tensor([p.shape[1] for p in parts], dtype=torch.int64)
        first = parts[0]
        out = first.new_zeros(len(parts), first.shape[0], int(lengths.max()), first.shape[-1])
        for b, p in enumerate(parts):
            out[b, :, : p.shape[1]] = p
        return out, lengths.to(self.device)

    def _logits(self, samples: Sequence[Sample], trainable: bool) -> torch.Tensor:
        return self.classifier.classify(*self._sample_features(samples, trainable))

    def dense_inputs(self, split: Sequence[Sample]) -> tuple[str, tuple[torch.Tensor, ...]] | None:
        """A whole split's inputs to the head, built once from the frozen encoder: ``("pooled", (P,))``
        with ``P`` ``[N, d]`` when the pooling has no parameters (mean pooling: then a step is the MLP
        alone), else ``("tokens", (features [N, C, l_max, d], lengths [N]))``; None when the encoder may
        train, the switch is off, or the split is too large."""
        if self.ever_trainable or not DENSE_FROZEN_FEATURES or not split:
            return None
        key = id(split)
        if key not in self._dense:
            features, lengths = self._sample_features(split, False)
            if features.numel() > DENSE_LIMIT:
                self._dense[key] = None
            elif self.classifier.head.score is None:  # mean pooling: the pooled features never change
                with torch.no_grad():
                    self._dense[key] = ("pooled", (self.classifier.pooled(features, lengths),))
            else:
                self._dense[key] = ("tokens", (features, lengths))
        return self._dense[key]

    def _split_logits(self, split: Sequence[Sample], rows: np.ndarray, trainable: bool) -> torch.Tensor:
        """Logits of ``split[rows]``: an index into the split's dense inputs when there are any."""
        dense = None if trainable else self.dense_inputs(split)
        if dense is None:
            return self._logits([split[i] for i in rows], trainable)
        kind, tensors = dense
        index = torch.as_tensor(rows, dtype=torch.int64, device=tensors[0].device)
        if kind == "pooled":
            return self.classifier.classify_pooled(tensors[0].index_select(0, index))
        features, lengths = tensors[0].index_select(0, index), tensors[1].index_select(0, index)
        width = int(lengths.max())  # the batch's own padding, as on the per-batch path
        return self.classifier.classify(features[:, :, :width], lengths)

    def targets(self, samples: Sequence[Sample]) -> torch.Tensor:
        return torch.as_tensor([sample_target(self.data, s) for s in samples], device=self.device)

    # ------------------------------------------------------------------ epochs
    def train_epoch(self, epoch: int) -> float:
        """One pass over the training samples in a seeded order; returns the mean training loss."""
        cfg = self.config.train
        trainable = self.trainable_at(epoch)
        self.classifier.set_backbone_trainable(trainable)
        self.classifier.train()
        order = np.random.default_rng((self.seed, epoch)).permutation(len(self.train_samples))
        targets = self.targets(self.train_samples)  # (N,)
        total, count = 0.0, 0
        for i in range(0, len(order), cfg.batch_size):
            rows = order[i : i + cfg.batch_size]
            logits = self._split_logits(self.train_samples, rows, trainable)
            loss = F.cross_entropy(logits, targets[rows], weight=self.class_weights)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(
                    [p for p in self.classifier.parameters() if p.requires_grad], cfg.grad_clip
                )
            self.optimizer.step()
            self.scheduler.step()
            total += float(loss.detach()) * len(rows)
            count += len(rows)
        return total / max(count, 1)

    @torch.no_grad()
    def predict(self, samples: Sequence[Sample], use_cache: bool) -> tuple[float, Predictions]:
        """Weighted cross-entropy over ``samples`` and their units' (participants' or windows')
        predictions."""
        self.classifier.eval()
        size = self.config.train.batch_size
        logits = torch.cat(
            [
                self._split_logits(samples, np.arange(i, min(i + size, len(samples))), not use_cache)
                for i in range(0, len(samples), size)
            ]
        )
        return self.predictions_of(samples, logits)

    def predictions_of(self, samples: Sequence[Sample], logits: torch.Tensor) -> tuple[float, Predictions]:
        """Weighted cross-entropy of ``logits`` ``[len(samples), K]`` and the units' predictions."""
        loss = float(F.cross_entropy(logits, self.targets(samples), weight=self.class_weights))
        probabilities = torch.softmax(logits.double(), dim=-1).cpu().numpy()
        predictions = unit_predictions(
            self.data, samples, probabilities, self.config.model.aggregation, self.fold.index
        )
        return loss, predictions

    def fit(self) -> FoldOutcome:
        """Train for ``train.epochs`` (or until early stopping), reload the best state, predict the test set."""
        cfg = self.config.train
        self._make_optimiser()
        torch.set_rng_state(self.rng_state)  # dropout draws continue this trainer's seed, whatever ran since
        has_val = bool(self.val_samples)
        best = BestEpoch(cfg)
        best_state: dict[str, torch.Tensor] | None = None
        epochs = progress(range(1, cfg.epochs + 1), self.description, cfg.quiet)
        epoch = 0
        for epoch in epochs:
            train_loss = self.train_epoch(epoch)
            metrics = {"train_loss": train_loss, "lr": self.optimizer.param_groups[0]["lr"]}
            if has_val:
                val_loss, val = self.predict(self.val_samples, use_cache=not self.trainable_at(epoch))
                metrics.update(self.validation_metrics(val_loss, val))
                if best.observe(epoch, metrics):
                    best_state = {k: v.detach().clone() for k, v in self.classifier.state_dict().items()}
            self.log_epoch(epoch, metrics)
            epochs.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k != "lr"})
            if has_val and best.exhausted:
                log.info(
                    "%s: early stopping after epoch %d (best epoch %d)", self.description, epoch, best.epoch
                )
                break
        epochs.close()
        if best_state is not None:
            self.classifier.load_state_dict(best_state)
        return self.finish(best, epoch)

    def validation_metrics(self, val_loss: float, val: Predictions) -> dict[str, float]:
        """An epoch's validation loss, AUROC and balanced accuracy over the validation units."""
        auroc, balanced = validation_scores(
            val.targets, val.predicted, val.probabilities, self.data.num_classes
        )
        return {"val_loss": val_loss, "val_auroc": auroc, "val_balanced_accuracy": balanced}

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.tracker.log_metrics({f"{self.prefix}{k}": float(v) for k, v in metrics.items()}, step=epoch)

    def finish(self, best: BestEpoch, last_epoch: int) -> FoldOutcome:
        """After training (the best state already loaded): predict the test samples."""
        best_epoch = best.epoch if best.seen else last_epoch  # no validation: the last epoch is the model
        self.classifier.set_backbone_trainable(
            False if not self.ever_trainable else self.trainable_at(best_epoch)
        )
        # The cache holds the features of the untouched pretrained encoder: valid only if it never trained.
        _, test = self.predict(self.test_samples, use_cache=not self.ever_trainable)
        return FoldOutcome(
            predictions=test, best_epoch=best_epoch, epochs_run=last_epoch, val_metrics=best.metrics
        )
