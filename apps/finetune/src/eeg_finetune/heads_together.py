"""Every fold's heads trained at once, on a frozen encoder's pooled features.

With a frozen encoder and mean pooling a head is a small MLP on fixed features (``[N, d]`` per split, see
:meth:`FoldTrainer.dense_inputs`), and a leave-one-group-out job trains two of them per fold (on the
pretrained and on a random encoder): at 8 groups sixteen heads of ~7,000 optimiser steps each, every step
a few microseconds of arithmetic and about a millisecond of PyTorch's per-operation overhead. Here the
heads' parameters are stacked along a first axis, and one pass advances every head by one of its own
steps, exactly as :meth:`FoldTrainer.train_epoch` would take it: its own seeded batch order and batch
size, dropout drawn from a generator that continues the global RNG state its trainer would train from,
its class weights, its gradient clipping, AdamW (PyTorch's single-tensor update, operation for operation)
with its own warmup-cosine schedule, its validation, early stopping and best epoch. A head that has
finished its epoch, or stopped early, takes no step (its update is the identity). On CPU the results equal
one-at-a-time training up to the rounding of the batched matrix products
(``apps/finetune/tests/test_heads_together.py``); ``benchmarks/finetune_speed.py`` times both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eeg_finetune.training import BestEpoch, FoldOutcome, FoldTrainer, progress
from eeg_ssm import param_groups
from eeg_train import warmup_cosine

__all__ = ["HEADS_TOGETHER", "StackedAdamW", "fit_heads", "trainable_together"]

log = logging.getLogger("eeg_finetune")

#: Train the heads of a frozen, mean-pooled encoder all at once (``benchmarks/finetune_speed.py`` compares
#: it with one head at a time, the path of every other configuration).
HEADS_TOGETHER = True
BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.AdamW's defaults, as adamw_with_schedule builds it


def fit_heads(trainers: Sequence[FoldTrainer]) -> list[FoldOutcome]:
    """Each trainer's :class:`FoldOutcome`: all trained at once when :func:`trainable_together`, else one
    after another with :meth:`FoldTrainer.fit`."""
    if len(trainers) > 1 and trainable_together(trainers):
        return _Heads(trainers).fit()
    return [trainer.fit() for trainer in trainers]


def trainable_together(trainers: Sequence[FoldTrainer]) -> bool:
    """Whether every trainer trains only an MLP on fixed pooled features (a never-trained encoder, mean
    pooling, dense inputs that fit in memory) of one shape, on one device."""
    if not HEADS_TOGETHER or not trainers:
        return False
    first = _layers(trainers[0])
    for trainer in trainers:
        layers = _layers(trainer)
        if trainer.ever_trainable or layers is None or first is None or trainer.device != trainers[0].device:
            return False
        if [tuple(p.shape) for p in layers[0]] != [tuple(p.shape) for p in first[0]] or layers[1] != first[1]:
            return False
        for split in (trainer.train_samples, trainer.val_samples, trainer.test_samples):
            dense = trainer.dense_inputs(split)
            if split and (dense is None or dense[0] != "pooled"):
                return False
    return True


def _layers(trainer: FoldTrainer) -> tuple[list[nn.Parameter], float] | None:
    """The head MLP's parameters (weight, bias per linear layer) and its dropout, when it is
    ``Dropout -> Linear [-> GELU -> Dropout -> Linear]`` (:class:`eeg_ssm.ClassificationHead`); else None."""
    mlp = list(trainer.classifier.head.mlp)
    kinds = [type(m) for m in mlp]
    if kinds not in ([nn.Dropout, nn.Linear], [nn.Dropout, nn.Linear, nn.GELU, nn.Dropout, nn.Linear]):
        return None
    if any(m.approximate != "none" for m in mlp if isinstance(m, nn.GELU)):
        return None
    params = [p for m in mlp if isinstance(m, nn.Linear) for p in (m.weight, m.bias)]
    return params, float(mlp[0].p)


class StackedAdamW:
    """AdamW over parameters stacked along a first axis of ``K`` members (each ``params[i][k]`` belongs to
    member ``k``), each member with its own step count and learning rate ``lr * schedule_k(step)`` (a
    ``LambdaLR`` multiplier), stepped only where ``active``.

    An active member's update is ``torch.optim.AdamW``'s single-tensor update (the CPU default), the same
    operations in the same order and precision, so it equals AdamW with a LambdaLR on that member alone
    bit for bit (a test checks it); an inactive member's factors are the identity (decay 1, momentum
    weights 0, step size 0), so it does not change at all.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        weight_decays: Sequence[float],
        lr: float,
        schedules: Sequence[Callable[[int], float]],
        betas: tuple[float, float] = BETAS,
        eps: float = EPS,
    ) -> None:
        self.params, self.weight_decays, self.base_lr = list(params), list(weight_decays), lr
        self.schedules, self.betas, self.eps = list(schedules), betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = np.zeros(len(self.schedules), dtype=np.int64)

    def lr(self, k: int) -> float:
        """Member ``k``'s learning rate for its next step (what its LambdaLR holds now)."""
        return self.base_lr * self.schedules[k](int(self.steps[k]))

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor], active: np.ndarray) -> None:
        """One step of every ``active`` member (bool ``[K]``) with gradients ``grads`` (as ``params``)."""
        beta1, beta2 = self.betas
        active = np.asarray(active, dtype=bool)
        lr = np.asarray([self.lr(k) for k in range(len(active))])  # before this step: the LambdaLR's value
        self.steps += active
        step = np.maximum(self.steps, 1).astype(np.float64)
        bias1, bias2_sqrt = 1.0 - beta1**step, (1.0 - beta2**step) ** 0.5

        def factor(values: np.ndarray | float, idle: float, ndim: int) -> torch.Tensor:
            """A per-member float32 factor ``[K, 1, ...]``: ``values`` where active, ``idle`` elsewhere."""
            chosen = np.where(active, values, idle)
            return torch.as_tensor(chosen, dtype=torch.float32, device=self.params[0].device).view(
                -1, *[1] * (ndim - 1)
            )

        for p, g, m, v, decay in zip(
            self.params, grads, self.exp_avg, self.exp_avg_sq, self.weight_decays, strict=True
        ):
            if decay:
                p.mul_(factor(1.0 - lr * decay, 1.0, p.ndim))
            m.lerp_(g, factor(1.0 - beta1, 0.0, p.ndim))
            # addcmul_ as AdamW calls it (its kernel may fuse the multiply-add), the factor folded into t1
            v.mul_(factor(beta2, 1.0, p.ndim)).addcmul_(g * factor(1.0 - beta2, 0.0, p.ndim), g)
            denom = (v.sqrt() / factor(bias2_sqrt, 1.0, p.ndim)).add_(self.eps)
            p.add_(factor(-lr / bias1, 0.0, p.ndim) * m / denom)


class _Heads:
    """The stacked heads of ``trainers`` (``K`` of them) and their training state."""

    def __init__(self, trainers: Sequence[FoldTrainer]) -> None:
        self.trainers = list(trainers)
        first = trainers[0]
        self.cfg, self.device = first.config.train, first.device
        self.dropout = _layers(first)[1]
        heads = [_layers(t)[0] for t in trainers]
        # stacked leaves [K, ...]: weight, bias of each linear layer
        self.params = [
            torch.stack([h[i].detach() for h in heads]).clone().requires_grad_(True)
            for i in range(len(heads[0]))
        ]
        # param_groups' rule (no decay on biases), as FoldTrainer's AdamW has it
        groups = param_groups(first.classifier.head, self.cfg.weight_decay)
        decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
        self.decays = [decay[id(p)] for p in heads[0]]
        schedules = [
            warmup_cosine(
                t.steps_per_epoch * self.cfg.epochs,
                int(self.cfg.warmup_fraction * t.steps_per_epoch * self.cfg.epochs),
                self.cfg.min_lr_ratio,
            )
            for t in trainers
        ]
        self.optimiser = StackedAdamW(self.params, self.decays, self.cfg.lr, schedules)
        self.generators = []
        for t in trainers:
            generator = torch.Generator()
            generator.set_state(t.rng_state)
            self.generators.append(generator)
        self.train_x, self.train_y, self.train_n = self._stack([t.train_samples for t in trainers])
        self.val_x, self.val_y, self.val_n = self._stack([t.val_samples for t in trainers])
        num_classes = first.data.num_classes
        self.class_weights = torch.stack(
            [
                torch.ones(num_classes, device=self.device) if t.class_weights is None else t.class_weights
                for t in trainers
            ]
        )  # (K, classes)

    def _stack(self, splits: list[list]) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        """Standardised pooled features ``[K, N_max, d]`` (zero padding), targets ``[K, N_max]``, sizes."""
        sizes = np.asarray([len(s) for s in splits], dtype=np.int64)
        width = self.params[0].shape[-1]
        x = torch.zeros(len(splits), max(int(sizes.max()), 1), width, device=self.device)
        y = torch.zeros(len(splits), x.shape[1], dtype=torch.int64, device=self.device)
        for k, (trainer, split) in enumerate(zip(self.trainers, splits, strict=True)):
            if split:
                pooled = trainer.dense_inputs(split)[1][0]
                classifier = trainer.classifier
                x[k, : len(split)] = (pooled - classifier.feature_mean) / classifier.feature_std
                y[k, : len(split)] = trainer.targets(split)
        return x, y, sizes

    # ------------------------------------------------------------------ the model
    def _noise(self, active: np.ndarray, sizes: np.ndarray, features: int, batch: int) -> torch.Tensor:
        """Dropout's scaled keep-masks ``[K, batch, features]``, each head's drawn as ``nn.Dropout`` draws it
        (``bernoulli_(1 - p)`` on a ``[n, features]`` tensor, then ``/ (1 - p)``) from its own generator."""
        keep = 1.0 - self.dropout
        noise = torch.zeros(len(active), batch, features)
        for k in np.flatnonzero(active):
            n = int(sizes[k])
            noise[k, :n] = torch.empty(n, features).bernoulli_(keep, generator=self.generators[k]).div_(keep)
        return noise.to(self.device)

    def _logits(
        self, x: torch.Tensor, train: bool, active: np.ndarray | None = None, sizes: np.ndarray | None = None
    ) -> torch.Tensor:
        """The MLP of every head: ``x`` ``[K, B, d]`` -> logits ``[K, B, classes]``."""
        drop = train and self.dropout > 0
        h = x
        for layer in range(len(self.params) // 2):
            weight, bias = self.params[2 * layer], self.params[2 * layer + 1]
            if layer:
                h = F.gelu(h)
            if drop:
                h = h * self._noise(active, sizes, h.shape[-1], h.shape[1])
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
        return h

    def _losses(self, logits: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Each head's class-weighted mean cross-entropy over its valid rows (``F.cross_entropy``'s
        ``weight`` rule: the sum of weighted losses over the sum of weights); 0 for a head without rows."""
        nll = -torch.log_softmax(logits, dim=-1).gather(-1, y.unsqueeze(-1)).squeeze(-1)  # (K, B)
        weights = self.class_weights.gather(1, y) * valid
        return (weights * nll).sum(dim=1) / weights.sum(dim=1).clamp(min=torch.finfo(nll.dtype).tiny)

    # ------------------------------------------------------------------ one step
    def _step(self, rows: list[np.ndarray]) -> np.ndarray:
        """One optimiser step of each head with rows (heads with none take no step); returns each head's
        loss times its number of rows."""
        sizes = np.asarray([len(r) for r in rows], dtype=np.int64)
        active = sizes > 0
        batch = int(sizes.max())
        index = np.zeros((len(rows), batch), dtype=np.int64)
        for k, r in enumerate(rows):
            index[k, : len(r)] = r
        index_t = torch.as_tensor(index, device=self.device)
        heads = torch.arange(len(rows), device=self.device).unsqueeze(1)
        x, y = self.train_x[heads, index_t], self.train_y[heads, index_t]
        valid = torch.as_tensor(np.arange(batch)[None, :] < sizes[:, None], device=self.device)
        losses = self._losses(self._logits(x, True, active, sizes), y, valid)
        grads = torch.autograd.grad(losses.sum(), self.params)
        if self.cfg.grad_clip > 0:  # torch.nn.utils.clip_grad_norm_, per head
            norms = torch.stack([g.flatten(1).norm(dim=1) for g in grads], dim=1).norm(dim=1)  # (K,)
            coef = (self.cfg.grad_clip / (norms + 1e-6)).clamp(max=1.0)
            grads = [g * coef.view(-1, *([1] * (g.ndim - 1))) for g in grads]
        self.optimiser.step(grads, active)
        return losses.detach().cpu().numpy() * sizes

    # ------------------------------------------------------------------ training
    def fit(self) -> list[FoldOutcome]:
        """Train every head (tiny operations: one thread, no OpenMP hand-offs), then predict each test set."""
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            outcomes = self._train()
        finally:
            torch.set_num_threads(threads)
        return [
            trainer.finish(best, last) for trainer, (best, last) in zip(self.trainers, outcomes, strict=True)
        ]

    def _train(self) -> list[tuple[BestEpoch, int]]:
        """Every head's epochs; leaves each head's best (or last) parameters in its classifier."""
        cfg, count = self.cfg, len(self.trainers)
        best = [BestEpoch(cfg) for _ in self.trainers]
        best_params: list[list[torch.Tensor] | None] = [None] * count
        running = np.ones(count, dtype=bool)
        last_epoch = np.zeros(count, dtype=np.int64)
        epochs = progress(range(1, cfg.epochs + 1), f"{count} heads together", cfg.quiet)
        for epoch in epochs:
            orders = [
                np.random.default_rng((t.seed, epoch)).permutation(int(self.train_n[k]))
                if running[k]
                else None
                for k, t in enumerate(self.trainers)
            ]
            totals = np.zeros(count)
            for start in range(0, int(self.train_n[running].max()), cfg.batch_size):
                rows = [o[start : start + cfg.batch_size] if o is not None else o for o in orders]
                totals += self._step([np.empty(0, np.int64) if r is None else r for r in rows])
            val_logits = self._logits(self.val_x, False).detach() if self.val_n.max() else None
            for k in np.flatnonzero(running):
                trainer = self.trainers[k]
                last_epoch[k] = epoch
                metrics = {"train_loss": totals[k] / max(int(self.train_n[k]), 1), "lr": self.optimiser.lr(k)}
                if self.val_n[k]:
                    metrics.update(self._validation(k, val_logits[k, : self.val_n[k]]))
                    if best[k].observe(epoch, metrics):
                        best_params[k] = [p[k].detach().clone() for p in self.params]
                trainer.log_epoch(epoch, metrics)
                if self.val_n[k] and best[k].exhausted:
                    running[k] = False
                    log.info("%s: early stopping after epoch %d (best epoch %d)", trainer.description, epoch, best[k].epoch)  # fmt: skip
            if not running.any():
                break
        epochs.close()
        for k, trainer in enumerate(self.trainers):
            chosen = best_params[k] if best_params[k] is not None else [p[k].detach() for p in self.params]
            with torch.no_grad():
                for target, value in zip(_layers(trainer)[0], chosen, strict=True):
                    target.copy_(value)
        return [(best[k], int(last_epoch[k])) for k in range(count)]

    @torch.no_grad()
    def _validation(self, k: int, logits: torch.Tensor) -> dict[str, float]:
        """Head ``k``'s validation metrics from its validation logits (as :meth:`FoldTrainer.predict`)."""
        trainer = self.trainers[k]
        loss, predictions = trainer.predictions_of(trainer.val_samples, logits)
        return trainer.validation_metrics(loss, predictions)
