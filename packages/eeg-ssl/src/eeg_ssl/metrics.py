"""Accumulates the model's loss and the baselines over an epoch, exactly (sums, not means of means)."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import torch

from eeg_ssl.losses import (
    LOCAL_K,
    context_mean,
    interpolate_masked,
    local_mean,
    masked_sse,
    reconstruction_r2,
    skill,
)

#: Per part, the sums ``totals()`` carries: model, zero, interpolation, context-mean, local-mean and the
#: model's own context SSE, scored count.
_COLUMNS = 7
#: The baselines' summary keys, in the order of their columns.
BASELINES = (
    "zero_baseline",
    "interp_baseline",
    "context_mean_baseline",
    "local_mean_baseline",
    "model_context_baseline",
)


def _sums(parts: tuple[str, ...]) -> torch.Tensor:
    return torch.zeros(len(parts), _COLUMNS, dtype=torch.float64)


@attrs.define
class ReconstructionMeter:
    """Sums squared errors of the model and four baselines on the same masks, in the target's space.

    Baselines: **zero** (the normalised / standardised mean), **interp** (linear between the nearest
    unmasked windows), **context_mean** (the mean of the sequence's unmasked windows) and **local_mean**
    (the mean of the ``LOCAL_K`` = 4 nearest unmasked windows, :func:`~eeg_ssl.losses.local_mean`). ``parts`` are
    the target's parts (``("raw",)``, ``("spectrum",)`` or ``("raw", "spectrum")``) with ``weights``.
    ``totals()`` is one float64 tensor to all-reduce; ``summary(totals)`` gives ``loss``, ``zero_baseline``,
    ``interp_baseline``, ``context_mean_baseline``, ``local_mean_baseline``, ``model_context_baseline``,
    ``r2 = 1 - loss / zero_baseline``, ``skill = 1 - loss / context_mean_baseline`` and ``encoder_skill =
    1 - loss / model_context_baseline``; with two parts also each part's, prefixed (``raw_r2``,
    ``spectrum_skill``, ...), while the unprefixed ones are the weighted sums.

    ``model_context_baseline`` is what the model predicts before its encoder adds anything (``context`` in
    :meth:`update`: e.g. :class:`eeg_ssm.EEGModel`'s learned, distance-weighted spectral context); for a part
    without one it is the context mean, so ``encoder_skill`` equals ``skill`` there.
    """

    parts: tuple[str, ...] = ("raw",)
    weights: tuple[float, ...] = (1.0,)
    sums: torch.Tensor = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if len(self.parts) != len(self.weights):
            raise ValueError(f"one weight per part: {self.parts} vs {self.weights}")
        if self.sums is None:
            self.sums = _sums(self.parts)

    def update(
        self,
        pred: torch.Tensor | Mapping[str, torch.Tensor],
        target: torch.Tensor | Mapping[str, torch.Tensor],
        mask: torch.Tensor | Mapping[str, torch.Tensor],
        valid: torch.Tensor | Mapping[str, torch.Tensor],
        context: Mapping[str, torch.Tensor] | None = None,
    ) -> None:
        """``pred``/``target``: ``[B, L, D]`` tensors (one part) or ``{part: [B, L, D_part]}``; ``mask`` and
        ``valid``: bool ``[B, L]``, or one per part (:func:`~eeg_ssl.scored_windows`); ``context``: the
        model's own context prediction of some parts, ``{part: [B, L, D_part]}``."""
        if isinstance(pred, torch.Tensor):
            pred, target = {self.parts[0]: pred}, {self.parts[0]: target}
        assert isinstance(target, Mapping)
        step = _sums(self.parts)
        with torch.no_grad():
            for row, name in enumerate(self.parts):
                p, t = pred[name].float(), target[name].float()
                mask_p = mask[name] if isinstance(mask, Mapping) else mask
                valid_p = valid[name] if isinstance(valid, Mapping) else valid
                sse, count = masked_sse(p, t, mask_p)
                zero_sse, _ = masked_sse(torch.zeros_like(t), t, mask_p)
                interp_sse, _ = masked_sse(interpolate_masked(t, mask_p, valid_p), t, mask_p)
                context_sse, _ = masked_sse(context_mean(t, mask_p, valid_p), t, mask_p)
                local_sse, _ = masked_sse(local_mean(t, mask_p, valid_p, LOCAL_K), t, mask_p)
                own_sse = context_sse
                if context is not None and name in context:
                    own_sse, _ = masked_sse(context[name].float(), t, mask_p)
                sums = (sse, zero_sse, interp_sse, context_sse, local_sse, own_sse, count)
                step[row] = torch.tensor([float(v) for v in sums], dtype=torch.float64)
        self.sums += step

    def totals(self) -> torch.Tensor:
        return self.sums.clone().reshape(-1)

    def summary(self, totals: torch.Tensor) -> dict[str, float]:
        rows = totals.reshape(len(self.parts), _COLUMNS)
        per_part = {name: _part_summary(row) for name, row in zip(self.parts, rows, strict=True)}
        if len(self.parts) == 1:
            return per_part[self.parts[0]]
        out = {
            key: sum(w * per_part[name][key] for name, w in zip(self.parts, self.weights, strict=True))
            for key in ("loss", *BASELINES)
        }
        out["r2"] = reconstruction_r2(out["loss"], out["zero_baseline"])
        out["skill"] = skill(out["loss"], out["context_mean_baseline"])
        out["encoder_skill"] = skill(out["loss"], out["model_context_baseline"])
        for name in self.parts:
            out.update({f"{name}_{key}": value for key, value in per_part[name].items()})
        return out


def _part_summary(row: torch.Tensor) -> dict[str, float]:
    *sses, count = (float(v) for v in row)
    if count == 0:
        return dict.fromkeys(("loss", *BASELINES, "r2", "skill", "encoder_skill"), float("nan"))
    out = dict(zip(("loss", *BASELINES), (value / count for value in sses), strict=True))
    out["r2"] = reconstruction_r2(out["loss"], out["zero_baseline"])
    out["skill"] = skill(out["loss"], out["context_mean_baseline"])
    out["encoder_skill"] = skill(out["loss"], out["model_context_baseline"])
    return out
