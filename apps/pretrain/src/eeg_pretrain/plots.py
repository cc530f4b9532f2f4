"""A PNG of a few masked windows: the target, what the model saw, and its reconstruction."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch


def plot_reconstructions(
    path: str | os.PathLike[str],
    target: torch.Tensor,
    inputs: torch.Tensor,
    pred: torch.Tensor,
    mask: torch.Tensor,
    channels: list[str],
    limit: int = 4,
    sfreq: float | None = None,
) -> bool:
    """Plot up to ``limit`` masked windows, one from each of the first sequences that have one.

    target, inputs, pred: ``[B, L, W]`` (normalised units); mask: bool ``[B, L]``. Returns False when
    nothing in the batch was masked (no file is written then).
    """
    picks = [(b, int(mask[b].nonzero()[0])) for b in range(mask.shape[0]) if mask[b].any()][:limit]
    if not picks:
        return False
    fig, axes = plt.subplots(len(picks), 1, figsize=(10, 2.2 * len(picks)), squeeze=False)
    width = target.shape[-1]
    x = torch.arange(width) / sfreq if sfreq else torch.arange(width)
    for ax, (b, t) in zip(axes[:, 0], picks, strict=True):
        ax.plot(x, target[b, t].float().cpu(), lw=0.8, label="target")
        ax.plot(x, inputs[b, t].float().cpu(), lw=0.6, alpha=0.6, label="model input (masked)")
        ax.plot(x, pred[b, t].float().cpu(), lw=0.8, label="reconstruction")
        ax.set_title(f"{channels[b]}, window {t}", fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("seconds" if sfreq else "sample")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
