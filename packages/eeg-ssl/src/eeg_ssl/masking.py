"""Whole-window masking for masked reconstruction (MAE and BERT styles), vectorised over the batch."""

from __future__ import annotations

import torch

from eeg_ssl.config import BERT_PROPORTIONS, MASKING_STYLES, MaskingError, check_ratio, warn_if_leaky


def masked_counts(lengths: torch.Tensor, ratio: float) -> torch.Tensor:
    """Number of windows masked in each sequence: ``round(ratio * length)`` clamped to ``[1, length - 1]``.

    Rounding is half-up (``floor(ratio * n + 0.5)``), not Python's banker's rounding. A sequence of one
    window (or none) gets 0: there would be no context left, so it is excluded from the loss.

    lengths: long ``[B]``. Returns long ``[B]``.
    """
    n = lengths.to(torch.float64)
    k = torch.floor(ratio * n + 0.5).to(torch.long)
    k = torch.minimum(torch.clamp(k, min=1), lengths - 1)
    return torch.clamp(k, min=0)


def select_tokens(
    valid: torch.Tensor, ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Choose ``masked_counts`` real tokens per sequence uniformly at random; padding is never chosen.

    valid: bool ``[B, L]`` (True on real tokens, right-padded). Returns bool ``[B, L]``.
    Random numbers are drawn on the generator's device, so a seed gives the same masks on CPU and GPU.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    scores = torch.rand(valid.shape, generator=generator, device=gen_device).to(valid.device)
    scores = scores.masked_fill(~valid, 2.0)  # padding sorts last and is never among the k smallest
    ranks = scores.argsort(dim=1).argsort(dim=1)  # (B, L): rank of each token's score within its sequence
    k = masked_counts(valid.sum(dim=1), ratio)  # (B,)
    return (ranks < k[:, None]) & valid


def mask_tokens(
    windows: torch.Tensor,
    valid: torch.Tensor,
    ratio: float,
    style: str = "mae",
    generator: torch.Generator | None = None,
    noise_std: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide whole windows for masked reconstruction.

    windows: float ``[B, L, W]`` (normalised units); valid: bool ``[B, L]``.
    Returns ``(masked_windows [B, L, W], mask [B, L])`` where ``mask`` marks the selected windows, the ones
    the loss scores. MAE style zeros every selected window. BERT style draws one uniform number per selected
    window: below 0.8 it is zeroed, below 0.9 replaced with Gaussian noise of std ``noise_std``, otherwise
    left unchanged; the 80/10/10 split is therefore exact in expectation, not per batch.
    """
    if style not in MASKING_STYLES:
        raise MaskingError(f"expected style in {MASKING_STYLES}, got {style!r}")
    ratio = check_ratio(ratio)
    warn_if_leaky(style, ratio)
    if windows.shape[:2] != valid.shape:
        raise ValueError(f"windows {tuple(windows.shape)} and valid {tuple(valid.shape)} disagree on [B, L]")

    mask = select_tokens(valid, ratio, generator)
    # Multiplying by a 0/1 keep-mask is several times faster than masked_fill with a broadcast mask
    # (this runs per sequence in the data loader); inputs are finite (eeg-io enforces it).
    if style == "mae":
        return windows * (~mask)[..., None].to(windows.dtype), mask

    gen_device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(mask.shape, generator=generator, device=gen_device).to(mask.device)
    p_zero, p_noise, _ = BERT_PROPORTIONS
    zero = mask & (u < p_zero)
    noise = mask & (u >= p_zero) & (u < p_zero + p_noise)
    masked = windows * (~zero)[..., None].to(windows.dtype)
    n_noise = int(noise.sum())
    if n_noise:
        draws = torch.randn((n_noise, windows.shape[-1]), generator=generator, device=gen_device)
        masked[noise] = (noise_std * draws).to(device=windows.device, dtype=windows.dtype)
    return masked, mask
