"""The pretraining loop: masked reconstruction of whole windows, on CPU, one GPU or DDP.

Read top to bottom: ``Trainer.__init__`` composes the run from its parts (data from
:mod:`eeg_pretrain.data`, the optimiser and mixed precision from :mod:`eeg_pretrain.optim`, tracking from
:mod:`eeg_pretrain.reporting`); ``fit`` runs epochs of ``train_epoch`` (``train_step`` per optimiser step)
and ``evaluate``; ``state_dict`` / ``save`` / ``restore`` are what resume uses (:mod:`eeg_pretrain.checkpoint`),
``summary`` what the finished run reports (:mod:`eeg_pretrain.run_folder`), ``close`` ends the MLflow run.
Rank 0 alone writes files and talks to MLflow.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from torch.nn.parallel import DistributedDataParallel

from eeg_config import atomic_write_text, dump_yaml
from eeg_config.progress import progress
from eeg_io import ResultCache
from eeg_pretrain.checkpoint import TrainState, load_resume, rng_state, save_keeping_last, set_rng_state
from eeg_pretrain.config import PretrainConfig, config_to_dict
from eeg_pretrain.data import build_data, corpus_shares, fit_band_statistics
from eeg_pretrain.optim import build_optimizer, mixed_precision
from eeg_pretrain.pool import ValidationMeters
from eeg_pretrain.reporting import (
    STEP_PREFIX,
    best_so_far,
    corpus_dataset,
    describe_run,
    epoch_metrics,
    log_epoch,
    log_start,
    open_tracker,
    run_facts,
)
from eeg_pretrain.resume import follow_new_schedule, log_plan, plan_resume
from eeg_pretrain.run_files import CHECKPOINT_BEST, CHECKPOINT_LAST, RESOLVED_CONFIG
from eeg_pretrain.run_folder import run_summary
from eeg_pretrain.stopping import Interrupted, StopRequest, TrainingDiverged
from eeg_ssl import (
    ReconstructionMeter,
    apply_mask,
    make_targets,
    scored_windows,
    split_prediction,
    weighted_sse,
)
from eeg_ssm import EEGModel
from eeg_ssm.checkpoint import check_weights
from eeg_train import DistInfo, Tracker, all_reduce_sum, any_rank, barrier

# Interrupted and TrainingDiverged (now in eeg_pretrain.stopping) and TrainState (eeg_pretrain.checkpoint)
# stay importable from here
__all__ = ["Interrupted", "TrainState", "Trainer", "TrainingDiverged"]

log = logging.getLogger("eeg_pretrain")


class Trainer:
    """One pretraining run: ``__init__`` composes it (or resumes it from a checkpoint), the methods act."""

    def __init__(
        self,
        config: PretrainConfig,
        dist_info: DistInfo,
        device: torch.device,
        resume: str | None = None,
        tracker: Tracker | None = None,
        tracking_away: str | None = None,
        command: str | None = None,
    ) -> None:
        self.config, self.dist, self.device = config, dist_info, device
        self.command = command
        self.save_dir = Path(config.train.save_dir)
        self.stop = StopRequest()
        train_cfg = config.train

        # --- data: split by participant, masks fixed per (seed, epoch, index) ---
        # what the start computes from the corpus (data checks, band statistics) is kept between runs
        result_cache = ResultCache.default()
        self.data = build_data(config, dist_info, device, result_cache)
        self.train_set, self.val_set = self.data.train_set, self.data.val_set
        self.train_sampler, self.collate = self.data.train_sampler, self.data.collate
        self.train_loader, self.val_loader = self.data.train_loader, self.data.val_loader

        # --- model: the seed drives initialisation ---
        torch.manual_seed(train_cfg.seed)
        self.model = EEGModel(config.model).to(device)
        self.parts, self.weights = config.objective.parts, config.objective.weights
        self.forward_model: torch.nn.Module = self.model
        if train_cfg.compile:
            self.forward_model = torch.compile(self.forward_model)
        if dist_info.enabled:
            self.forward_model = DistributedDataParallel(
                self.forward_model, device_ids=[device.index] if device.type == "cuda" else None
            )

        # --- optimiser, schedule, mixed precision ---
        self.optimizer, self.scheduler = build_optimizer(
            self.model, train_cfg, self.train_sampler.batches_per_epoch()
        )
        self.amp_dtype, self.scaler = mixed_precision(train_cfg.precision, device)

        # --- state, resume, tracking ---
        self.state = TrainState()
        self._config_written = False
        mlflow_run_id = None
        if resume is not None:
            mlflow_run_id = self.restore(resume)  # band statistics come back with the weights
        elif self.model.band_power is not None:
            fit_band_statistics(
                self.model.band_power, self.train_set.base, config.objective.stats_sequences,
                config.data.batch_size, device, corpus_shares(self.data),
                quiet=train_cfg.quiet or not dist_info.is_main, cache=result_cache,
            )  # fmt: skip
        facts = run_facts(self.data, self.model, dist_info)
        self.dataset = corpus_dataset(config, self.data) if dist_info.is_main else None
        self.resumed_at = self.state.epoch if resume is not None else None
        if tracker is None:  # tracking_away: the start-up check found the store away (a resumed run)
            tracker = open_tracker(
                config, facts, dist_info, mlflow_run_id, tracking_away,
                dataset=self.dataset, description=self.description(),
            )  # fmt: skip
        self.tracker = tracker
        log_start(config, facts, self.model, device)

    def _meter(self) -> ReconstructionMeter:
        return ReconstructionMeter(parts=self.parts, weights=self.weights)

    # ------------------------------------------------------------------ training
    def fit(self, stop_after_epochs: int | None = None) -> dict[str, float]:
        """Train until ``train.epochs`` (or ``stop_after_epochs`` more epochs in this session)."""
        cfg = self.config.train
        last_epoch = (
            cfg.epochs if stop_after_epochs is None else min(cfg.epochs, self.state.epoch + stop_after_epochs)
        )
        summary: dict[str, float] = {}
        with self.stop.listening():
            while self.state.epoch < last_epoch:
                epoch_start = time.perf_counter()
                train_metrics = self.train_epoch()
                val_metrics = self.evaluate() if self.val_loader is not None else {}
                summary = self._end_epoch(train_metrics, val_metrics, time.perf_counter() - epoch_start)
                if cfg.patience is not None and self.state.epochs_since_best >= cfg.patience:
                    log.info("early stopping: no validation improvement for %d epochs", cfg.patience)
                    self.state.early_stopped = True
                    break
        return summary

    def train_epoch(self) -> dict[str, float]:
        cfg = self.config.train
        epoch = self.state.epoch
        self.train_set.set_epoch(epoch)
        self.train_sampler.set_epoch(epoch, skip_batches=self.state.batches_done)
        self.model.train()
        meter = self._meter()
        batches = iter(self.train_loader)
        total = self.train_sampler.batches_per_epoch()
        bar = progress(  # a bar on a terminal; plain lines in a log file or under CI
            total=total,
            initial=self.state.batches_done,
            description=f"epoch {epoch + 1}/{cfg.epochs}",
            unit="batch",
            log=log,
            disable=cfg.quiet or not self.dist.is_main,
        )
        window_start, seqs_in_window = time.perf_counter(), 0
        while True:
            group = [b for _, b in zip(range(cfg.grad_accum_steps), batches, strict=False)]
            if not group:
                break
            step_metrics = self.train_step(group, meter)
            self.state.batches_done += len(group)
            seqs_in_window += sum(len(b["channels"]) for b in group) * self.dist.world_size
            bar.update(len(group))
            bar.set_postfix(loss=f"{step_metrics['loss']:.4f}", lr=f"{step_metrics['lr']:.2e}")
            if self.state.step % cfg.log_every == 0:
                elapsed = time.perf_counter() - window_start
                rate = seqs_in_window / elapsed if elapsed > 0 else 0.0
                tokens = rate * (group[0]["lengths"].float().mean().item())
                logged = {**step_metrics, "sequences_per_s": rate, "tokens_per_s": tokens}
                self.tracker.log_metrics(
                    {f"{STEP_PREFIX}{k}": v for k, v in logged.items()}, step=self.state.step
                )
                window_start, seqs_in_window = time.perf_counter(), 0
            if any_rank(self.stop.requested, self.dist):
                bar.close()
                self._interrupt()
        bar.close()
        self.state.batches_done = 0
        return meter.summary(all_reduce_sum(meter.totals(), self.dist))

    def train_step(self, group: list[dict[str, Any]], meter: ReconstructionMeter) -> dict[str, float]:
        """One optimiser step over ``group`` (gradient accumulation). The loss is the mean over every masked
        sample of the global batch (all micro-batches, all ranks), so DDP equals one big batch. With two
        target parts the loss is their weighted sum, each part's mean taken over its own global count."""
        cfg = self.config.train
        # scored windows per part (the spectrum skips flat dropout windows), summed over micro-batches and
        # ranks; found once per batch, on the loader's CPU tensors, and reused by _forward
        for b in group:
            b["scored"] = scored_windows(b["windows"], b["mask"], b["valid"], self.parts)
        masked = torch.tensor([float(sum(int(b["scored"][0][p].sum()) for b in group)) for p in self.parts])
        global_masked = all_reduce_sum(masked, self.dist).tolist()
        sizes = {"raw": self.config.model.window_length, "spectrum": self.config.model.bands}
        counts = {p: n * sizes[p] for p, n in zip(self.parts, global_masked, strict=True)}  # scored values
        # DDP averages gradients over ranks, hence world_size in each part's weight
        weights = {part: w * self.dist.world_size for part, w in zip(self.parts, self.weights, strict=True)}
        part_sums = dict.fromkeys(self.parts, 0.0)
        for i, batch in enumerate(group):
            sync = i == len(group) - 1 or not isinstance(self.forward_model, DistributedDataParallel)
            ctx = contextlib.nullcontext() if sync else self.forward_model.no_sync()
            with ctx:
                pred, target, mask, valid, context = self._forward(self.forward_model, batch)
                scaled, sses = weighted_sse(pred, target, mask, weights, counts)
                self.scaler.scale(scaled).backward()
            for part, sse in sses.items():
                part_sums[part] += float(sse.detach())
            meter.update({k: v.detach() for k, v in pred.items()}, target, mask, valid, context)
        self.scaler.unscale_(self.optimizer)
        max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        global_sums = all_reduce_sum(torch.tensor([part_sums[p] for p in self.parts]), self.dist)
        loss = sum(
            w * float(total) / max(counts[p], 1.0)
            for p, w, total in zip(self.parts, self.weights, global_sums, strict=True)
        )
        if not (math.isfinite(grad_norm) and math.isfinite(loss)):
            self._skip_nonfinite(loss, grad_norm)
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.state.consecutive_nonfinite = 0
        self.optimizer.zero_grad(set_to_none=True)
        self.state.step += 1
        return {
            "loss": loss,
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": grad_norm,
            "nonfinite_steps": float(self.state.nonfinite_steps),
        }

    def _skip_nonfinite(self, loss: float, grad_norm: float) -> None:
        self.state.nonfinite_steps += 1
        self.state.consecutive_nonfinite += 1
        if self.scaler.is_enabled():
            self.scaler.update()  # lets fp16 lower its scale
        log.warning(
            "non-finite loss %.4g / gradient norm %.4g at step %d: step skipped (%d in a row)",
            loss,
            grad_norm,
            self.state.step,
            self.state.consecutive_nonfinite,
        )
        limit = self.config.train.max_nonfinite_steps
        if self.state.consecutive_nonfinite >= limit:
            raise TrainingDiverged(
                f"training stopped: {limit} consecutive non-finite losses (train.max_nonfinite_steps); "
                f"the last good checkpoint in {self.save_dir} was kept. Lower train.lr or check the data."
            )

    def _forward(self, model: torch.nn.Module, batch: dict[str, Any]):
        """Hide the batch's masked windows on the device (the loader sends only the mask plan), run the model.

        Returns ``(pred, target, mask, valid, context)`` on the device; ``pred`` and ``target`` are ``{part:
        (B, L, D_part)}`` in the target's space (raw samples; standardised log band power of the unmasked
        windows), ``mask`` and ``valid`` ``{part: (B, L)}`` (:func:`eeg_ssl.scored_windows`), ``context``
        ``{"spectrum": (B, L, n_bands)}``, the model's spectral context (detached), or ``{}`` without one.
        """
        target = batch["windows"].to(self.device, non_blocking=True)
        plan = batch["mask_plan"].to(self.device, non_blocking=True)
        valid = batch["valid"].to(self.device, non_blocking=True)
        lengths = batch["lengths"].to(self.device, non_blocking=True)
        inputs = apply_mask(target, plan)
        targets = make_targets(target, self.parts, self.model.band_power)
        # MAE hides windows as zeros: the target's band power is the input's on every window left visible,
        # so the model need not compute it again (BERT's noise windows would differ)
        known = targets.get("spectrum") if self.config.masking.style == "mae" else None
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            pred, prior = model(inputs, batch["channels"], lengths, return_context=True, spectrum=known)
        preds = split_prediction(pred.float(), self.parts, self.config.model.window_length)
        context = {} if prior is None else {"spectrum": prior.detach().float()}
        if "scored" in batch:  # train_step found them already
            masks, valids = (
                {p: m.to(self.device, non_blocking=True) for p, m in d.items()} for d in batch["scored"]
            )
        else:
            masks, valids = scored_windows(target, plan.mask, valid, self.parts)
        return preds, targets, masks, valids, context

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Validation loss and baselines on fixed masks, summed over ranks; a pool's also per corpus
        (``{name}/loss``, ``{name}/skill``, ...)."""
        assert self.val_loader is not None and self.val_set is not None
        self.model.eval()
        self.val_set.set_epoch(0)
        meters = ValidationMeters(self.data.corpora, self._meter)
        batches = progress(
            self.val_loader,
            description=f"validation {self.state.epoch + 1}/{self.config.train.epochs}",
            unit="batch",
            log=log,
            disable=self.config.train.quiet or not self.dist.is_main,
        )
        for batch in batches:
            meters.update(batch.get("corpora"), *self._forward(self.model, batch))
        self.model.train()
        return meters.summary(self.dist)

    def _end_epoch(self, train: dict[str, float], val: dict[str, float], seconds: float) -> dict[str, float]:
        state = self.state
        state.epoch += 1
        state.train_seconds += seconds
        score = val.get("loss", train["loss"])  # best by val loss, or train loss without validation
        improved = math.isfinite(score) and score < state.best_val_loss
        if improved:
            state.best_val_loss, state.epochs_since_best = score, 0
        else:
            state.epochs_since_best += 1
        metrics = epoch_metrics(train, val, state.epoch, seconds, self.model.context_rate)
        if improved:
            state.best_metrics = {**metrics, "best_epoch": float(state.epoch)}
        metrics.update(best_so_far(state.best_metrics, state.best_val_loss))
        self.tracker.log_metrics(metrics, step=state.epoch)  # per-epoch metrics: x = epoch
        log_epoch(state.epoch, self.config.train.epochs, train, val, seconds, metrics.get("context_rate"))
        if self.dist.is_main:
            self.save(self.save_dir / CHECKPOINT_LAST)
            if improved:
                self.save(self.save_dir / CHECKPOINT_BEST)
                if self.config.tracking.log_checkpoint:
                    self.tracker.log_artifact(self.save_dir / CHECKPOINT_BEST, "checkpoints")
                self._plot_examples()
        barrier(self.dist)
        return metrics

    def _plot_examples(self) -> None:
        limit = self.config.train.num_plot_examples
        loader = self.val_loader or self.train_loader
        if limit == 0 or len(loader.dataset) == 0:
            return
        from eeg_pretrain.plots import plot_reconstructions  # matplotlib: not before the first step

        batch = self.collate([loader.dataset[i] for i in range(min(limit, len(loader.dataset)))])
        self.model.eval()
        with torch.no_grad():
            pred, target, mask, valid, context = self._forward(self.model, batch)
        self.model.train()
        path = self.save_dir / "reconstructions.png"
        inputs = apply_mask(batch["windows"], batch["mask_plan"])
        edges = self.model.band_power.edges if self.model.band_power is not None else None
        if plot_reconstructions(
            path, target, inputs, pred, mask, valid, batch["channels"], limit,
            sfreq=self.config.data.sampling_rate, band_edges=edges,
            context=context if self.config.model.local_context else None,
        ):  # fmt: skip
            self.tracker.log_artifact(path, "plots")

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "model_config": self.config.model.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.state.epoch,
            "step": self.state.step,
            "best_val_loss": self.state.best_val_loss,
            "train_state": attrs.asdict(self.state),
            "rng": rng_state(),
            "run_config": config_to_dict(self.config),
            "mlflow_run_id": getattr(self.tracker, "run_id", None),
            "pretraining_data": self.data.record,
        }

    def save(self, path: Path) -> None:
        """Write a checkpoint; the first one of this session writes the resolved config before it, so a run
        that fails before its first checkpoint (bad data in epoch 1) leaves no run-like folder behind."""
        if not self._config_written:
            atomic_write_text(self.save_dir / RESOLVED_CONFIG, dump_yaml(config_to_dict(self.config)))
            self.tracker.log_artifact(self.save_dir / RESOLVED_CONFIG)
            self._config_written = True
        save_keeping_last(path, self.state_dict(), self.save_dir / CHECKPOINT_LAST)  # a full disk: one line

    def restore(self, path: str) -> str | None:
        payload = load_resume(path, self.config.model.to_dict())
        plan = plan_resume(path, payload.get("run_config"), self.config, payload.get("mlflow_run_id"))
        self.model.load_state_dict(check_weights(path, payload["model"], self.model), strict=True)
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if plan.extended_from is not None:
            follow_new_schedule(self.scheduler)
        if payload["scaler"]:
            self.scaler.load_state_dict(payload["scaler"])
        self.state = TrainState.from_checkpoint(payload)
        set_rng_state(payload["rng"])
        log.info("resumed from %s at epoch %d, step %d", path, self.state.epoch, self.state.step)
        log_plan(plan, self.config.train.epochs)
        return payload.get("mlflow_run_id")

    # ------------------------------------------------------------------ stopping
    def _interrupt(self) -> None:
        if self.dist.is_main:
            self.save(self.save_dir / CHECKPOINT_LAST)
        barrier(self.dist)
        raise Interrupted(str(self.save_dir / CHECKPOINT_LAST))

    @property
    def finished(self) -> bool:
        return self.state.epoch >= self.config.train.epochs or self.state.early_stopped

    def summary(self) -> dict[str, Any]:
        """What a finished run reports (``summary.json``, :func:`~eeg_pretrain.run_folder.run_summary`)."""
        return run_summary(
            self.config,
            self.state,
            finished=self.finished,
            checkpoint=self.save_dir / CHECKPOINT_BEST,
            mlflow_run_id=getattr(self.tracker, "run_id", None),
            participants=self.data.record,
        )

    def description(self, result: str | None = None) -> str:
        """The run's description in MLflow (:func:`~eeg_pretrain.reporting.describe_run`)."""
        return describe_run(self.config, self.dataset, self.command, self.resumed_at, result)

    def close(self, status: str = "FINISHED") -> None:
        self.tracker.close(status)
