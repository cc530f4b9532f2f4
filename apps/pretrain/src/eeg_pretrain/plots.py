"""A PNG of a few masked windows in the target's space: the target, the model's prediction and the
context-mean baseline (for raw samples also what the model saw; with a learned local context, that context)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from eeg_ssl import context_mean


def plot_reconstructions(
    path: str | os.PathLike[str],
    target: Mapping[str, torch.Tensor],
    inputs: torch.Tensor,
    pred: Mapping[str, torch.Tensor],
    mask: torch.Tensor | Mapping[str, torch.Tensor],
    valid: torch.Tensor | Mapping[str, torch.Tensor],
    channels: list[str],
    limit: int = 4,
    sfreq: float | None = None,
    band_edges: np.ndarray | None = None,
    context: Mapping[str, torch.Tensor] | None = None,
) -> bool:
    """Plot up to ``limit`` masked windows, one from each of the first sequences that have one.

    ``target``/``pred``: ``{part: [B, L, D]}`` with parts ``raw`` (samples, normalised units) and/or
    ``spectrum`` (standardised log band power; drawn against the bands' centre frequencies when
    ``band_edges`` are given); one column per part. inputs: ``[B, L, W]`` what the model saw; mask, valid:
    bool ``[B, L]``, or one per part. ``context``: the model's own context of some parts (``{part: [B, L,
    D]}``, e.g. a learned local spectral context), drawn beside the context mean. Returns False when nothing
    in the batch was masked (no file is written then).
    """
    parts = list(target)
    masks = mask if isinstance(mask, Mapping) else dict.fromkeys(parts, mask)
    valids = valid if isinstance(valid, Mapping) else dict.fromkeys(parts, valid)
    scored = masks[parts[-1]]  # windows scored by every part (the spectrum skips flat dropouts)
    picks = [(b, int(scored[b].nonzero()[0])) for b in range(scored.shape[0]) if scored[b].any()][:limit]
    if not picks:
        return False
    baseline = {part: context_mean(target[part].float(), masks[part], valids[part]) for part in parts}
    fig, axes = plt.subplots(
        len(picks), len(parts), figsize=(10 if len(parts) == 1 else 14, 2.2 * len(picks)), squeeze=False
    )
    for row, (b, t) in enumerate(picks):
        for col, part in enumerate(parts):
            ax = axes[row, col]
            series = {
                "target": target[part][b, t],
                "prediction": pred[part][b, t],
                "context mean": baseline[part][b, t],
            }
            if context and part in context:
                series["model's context"] = context[part][b, t]
            if part == "raw":
                width = target[part].shape[-1]
                x = np.arange(width) / sfreq if sfreq else np.arange(width)
                ax.plot(x, series["target"].float().cpu(), lw=0.8, label="target")
                ax.plot(x, inputs[b, t].float().cpu(), lw=0.6, alpha=0.6, label="model input (masked)")
                ax.plot(x, series["prediction"].float().cpu(), lw=0.8, label="reconstruction")
                ax.plot(x, series["context mean"].float().cpu(), lw=0.6, ls="--", label="context mean")
                ax.set_xlabel("seconds" if sfreq else "sample", fontsize=7)
            else:
                bands = target[part].shape[-1]
                if band_edges is not None and len(band_edges) == bands + 1:
                    x = np.sqrt(band_edges[:-1] * band_edges[1:])
                    ax.set_xscale("log")
                    ax.set_xlabel("Hz (band centre)", fontsize=7)
                else:
                    x = np.arange(bands)
                    ax.set_xlabel("band", fontsize=7)
                for label, values in series.items():
                    ax.plot(x, values.float().cpu(), marker="o", ms=2, lw=0.8, label=label)
                ax.set_ylabel("log power (std. units)", fontsize=7)
            ax.set_title(f"{channels[b]}, window {t}: {part}", fontsize=9)
            ax.tick_params(labelsize=7)
    for col in range(len(parts)):
        axes[0, col].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
