"""Accumulates the model's loss and both baselines over an epoch, exactly (sums, not means of means)."""

from __future__ import annotations

import attrs
import torch

from eeg_ssl.losses import interpolate_masked, masked_sse, reconstruction_r2


@attrs.define
class ReconstructionMeter:
    """Sums squared errors of the model, the zero baseline and the interpolation baseline on the same masks.

    ``totals()`` returns a float64 tensor ``[4]`` (model SSE, zero SSE, interpolation SSE, count) so DDP
    ranks can all-reduce it in one call; ``summary(totals)`` turns it into losses and ``r2``.
    """

    sums: torch.Tensor = attrs.field(factory=lambda: torch.zeros(4, dtype=torch.float64))

    def update(
        self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor
    ) -> None:
        with torch.no_grad():
            sse, count = masked_sse(pred, target, mask)
            zero_sse, _ = masked_sse(torch.zeros_like(target), target, mask)
            interp_sse, _ = masked_sse(interpolate_masked(target, mask, valid), target, mask)
        step = torch.tensor(
            [float(sse), float(zero_sse), float(interp_sse), float(count)], dtype=torch.float64
        )
        self.sums += step

    def totals(self) -> torch.Tensor:
        return self.sums.clone()

    @staticmethod
    def summary(totals: torch.Tensor) -> dict[str, float]:
        sse, zero_sse, interp_sse, count = (float(v) for v in totals)
        if count == 0:
            nan = float("nan")
            return {"loss": nan, "zero_baseline": nan, "interp_baseline": nan, "r2": nan}
        loss, zero, interp = sse / count, zero_sse / count, interp_sse / count
        return {
            "loss": loss,
            "zero_baseline": zero,
            "interp_baseline": interp,
            "r2": reconstruction_r2(loss, zero),
        }
