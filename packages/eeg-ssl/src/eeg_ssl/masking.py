"""Whole-window masking for masked reconstruction (MAE and BERT styles), vectorised over the batch.

Two ways to draw the same kind of masks:

* :func:`mask_tokens` draws a whole batch from one ``torch.Generator`` and returns the masked windows.
* :func:`draw_masks` draws each sequence from its own integer key, so a sequence's mask depends on its key
  and length alone (not on the batch it lands in, its padding, the worker that loads it or the DDP rank).
  It returns a :class:`MaskPlan`, small enough to build in a data loader and apply with :func:`apply_mask`
  on the training device, so the batch carries its windows once instead of twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from eeg_ssl.config import BERT_PROPORTIONS, MASKING_STYLES, MaskingError, check_ratio, warn_if_leaky

#: Score given to padding before ranking: above every uniform draw, so it is never among the k smallest.
_PADDING_SCORE = 2.0


class MaskPlan(NamedTuple):
    """Which windows the loss scores and what the encoder sees in their place.

    Attributes:
        mask: bool ``[B, L]``, the selected windows (the ones the loss scores).
        hidden: bool ``[B, L]``, selected windows whose content is replaced: every one for MAE; the zeroed
            and the noise ones for BERT (its unchanged 10 % are selected but not hidden).
        noise: bool ``[B, L]``, hidden windows replaced with Gaussian noise (BERT; all False for MAE).
        noise_values: float ``[noise.sum(), W]``, the noise windows in row-major order of ``noise``.
    """

    mask: torch.Tensor
    hidden: torch.Tensor
    noise: torch.Tensor
    noise_values: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> MaskPlan:
        """The same plan on ``device``."""
        return MaskPlan(*(t.to(device, non_blocking=non_blocking) for t in self))


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


def _masked_counts_np(lengths: np.ndarray, ratio: float) -> np.ndarray:
    """:func:`masked_counts` for a numpy array (a few times cheaper for a batch's worth of lengths)."""
    k = np.floor(ratio * lengths.astype(np.float64) + 0.5).astype(np.int64)
    return np.maximum(np.minimum(np.maximum(k, 1), lengths - 1), 0)


def _select_by_scores(scores: torch.Tensor, valid: torch.Tensor, ratio: float) -> torch.Tensor:
    """The ``masked_counts`` real tokens of each row with the smallest scores: bool ``[B, L]``."""
    scores = scores.masked_fill(~valid, _PADDING_SCORE)
    ranks = scores.argsort(dim=1, stable=True).argsort(dim=1)  # (B, L): rank of each token's score in its row
    k = masked_counts(valid.sum(dim=1), ratio)  # (B,)
    return (ranks < k[:, None]) & valid


def _bert_split(mask, u):
    """Selected tokens that BERT zeroes (``u < 0.8``) and replaces with noise (``0.8 <= u < 0.9``).

    ``mask`` bool and ``u`` uniforms ``[B, L]``, both torch tensors or both numpy arrays.
    """
    p_zero, p_noise, _ = BERT_PROPORTIONS
    zero = mask & (u < p_zero)
    noise = mask & (u >= p_zero) & (u < p_zero + p_noise)
    return zero, noise


def _check_style(style: str) -> None:
    if style not in MASKING_STYLES:
        raise MaskingError(f"expected style in {MASKING_STYLES}, got {style!r}")


def select_tokens(
    valid: torch.Tensor, ratio: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Choose ``masked_counts`` real tokens per sequence uniformly at random; padding is never chosen.

    valid: bool ``[B, L]`` (True on real tokens, right-padded). Returns bool ``[B, L]``.
    Random numbers are drawn on the generator's device, so a seed gives the same masks on CPU and GPU.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    scores = torch.rand(valid.shape, generator=generator, device=gen_device).to(valid.device)
    return _select_by_scores(scores, valid, ratio)


def apply_mask(windows: torch.Tensor, plan: MaskPlan) -> torch.Tensor:
    """What the encoder sees: ``windows [B, L, W]`` with the plan's hidden windows replaced (a new tensor).

    Multiplying by a 0/1 keep-mask is several times faster than ``masked_fill`` with a broadcast mask;
    inputs are finite (eeg-io enforces it), so ``0 * x`` is 0.
    """
    keep = (~plan.hidden).unsqueeze(-1).to(windows.dtype)  # (B, L, 1)
    masked = windows * keep
    if plan.noise_values.numel():
        masked[plan.noise] = plan.noise_values.to(device=windows.device, dtype=windows.dtype)
    return masked


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
    _check_style(style)
    ratio = check_ratio(ratio)
    warn_if_leaky(style, ratio)
    if windows.shape[:2] != valid.shape:
        raise ValueError(f"windows {tuple(windows.shape)} and valid {tuple(valid.shape)} disagree on [B, L]")

    mask = select_tokens(valid, ratio, generator)
    if style == "mae":
        plan = MaskPlan(mask, mask, torch.zeros_like(mask), windows.new_zeros(0, windows.shape[-1]))
        return apply_mask(windows, plan), mask

    gen_device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(mask.shape, generator=generator, device=gen_device).to(mask.device)
    zero, noise = _bert_split(mask, u)
    draws = torch.randn((int(noise.sum()), windows.shape[-1]), generator=generator, device=gen_device)
    plan = MaskPlan(mask, zero | noise, noise, noise_std * draws)
    return apply_mask(windows, plan), mask


def draw_masks(
    keys: Sequence[int | Sequence[int]],
    lengths: Sequence[int] | torch.Tensor,
    ratio: float,
    style: str = "mae",
    width: int = 0,
    noise_std: float = 1.0,
    max_length: int | None = None,
) -> MaskPlan:
    """Masks for a right-padded batch, each sequence drawn from its own key (on the CPU).

    Args:
        keys: per sequence, an integer or a tuple of integers in ``[0, 2**64)`` (e.g. ``(seed, epoch,
            index)``); sequence ``b``'s mask is a function of ``(keys[b], lengths[b], ratio, style)`` alone.
        lengths: real windows per sequence.
        ratio, style, noise_std: as in :func:`mask_tokens` (counts, rounding and the 80/10/10 split are the
            same). No leaky-ratio warning here: :class:`~eeg_ssl.MaskingConfig` gives it once per run.
        width: samples per window ``W``; needed for BERT's noise windows.
        max_length: ``L`` of the batch (default: the longest sequence).

    Returns:
        A :class:`MaskPlan` with ``[B, L]`` masks; pass it to :func:`apply_mask` with the batch's windows.

    The uniform numbers come from a counter-based generator: SplitMix64 seeded by a hash of the key, one
    stream for the selection and one for BERT's split, numbered by position, so a sequence's draws
    never depend on the padding of its batch. A BERT noise window is drawn from a ``torch.Generator``
    seeded from ``(key, position)``. The whole batch costs a few dozen vectorised operations, less than
    seeding one generator per sequence.
    """
    _check_style(style)
    ratio = check_ratio(ratio)
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    batch = lengths.shape[0]
    if len(keys) != batch:
        raise ValueError(f"expected one key per sequence ({batch}), got {len(keys)}")
    length = int(lengths.max(initial=0)) if max_length is None else int(max_length)
    if batch and (lengths.min() < 0 or lengths.max() > length):
        raise ValueError(f"lengths must lie in 0..{length}, got {lengths.tolist()}")
    bert = style == "bert"
    if bert and width <= 0:
        raise ValueError("draw_masks: BERT style needs the window width W for its noise windows")
    if batch == 0:
        empty = torch.zeros(0, length, dtype=torch.bool)
        return MaskPlan(empty, empty, empty, torch.zeros(0, width))

    sequence_hash = _hash_keys(keys)  # (B,) uint64
    positions = np.arange(length)
    valid = positions[None, :] < lengths[:, None]  # (B, L)
    scores = np.where(valid, _keyed_uniform(sequence_hash, length, stream=1), _PADDING_SCORE)
    ranks = scores.argsort(axis=1, kind="stable").argsort(axis=1, kind="stable")
    counts = _masked_counts_np(lengths, ratio)  # (B,)
    mask = (ranks < counts[:, None]) & valid
    if not bert:
        mask_t = torch.from_numpy(mask)
        return MaskPlan(mask_t, mask_t, torch.zeros_like(mask_t), torch.zeros(0, width))

    zero, noise = _bert_split(mask, _keyed_uniform(sequence_hash, length, stream=2))
    rows, positions = np.nonzero(noise)  # row-major, as boolean indexing with ``noise`` orders them
    seeds = _mix64(sequence_hash[rows] ^ _mix64(positions.astype(np.uint64) + _STREAM_NOISE))
    generator = torch.Generator()
    draws = []
    for seed in seeds.tolist():
        generator.manual_seed(seed)
        draws.append(torch.randn(width, generator=generator))
    values = noise_std * torch.stack(draws) if draws else torch.zeros(0, width)
    noise_t = torch.from_numpy(noise)
    return MaskPlan(torch.from_numpy(mask), torch.from_numpy(zero | noise), noise_t, values)


# SplitMix64 (Steele, Lea & Flood 2014): additive counter, then a bijective 64-bit mix.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_STREAM_NOISE = np.uint64(3 << 56)  # counters of the noise seeds, far from any position


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function: a bijective mix of uint64 arrays (array arithmetic wraps silently)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def _hash_keys(keys: Sequence[int | Sequence[int]]) -> np.ndarray:
    """One well-mixed uint64 per key (a key is an int or a tuple of ints in ``[0, 2**64)``)."""
    try:
        parts = np.array(keys, dtype=np.uint64).reshape(len(keys), -1)  # (B, parts)
    except (OverflowError, ValueError, TypeError):
        raise ValueError(
            f"keys must be integers (or equal-length tuples of integers) in [0, 2**64), got {list(keys)[:4]}..."
        ) from None
    state = np.zeros(len(keys), dtype=np.uint64)
    for column in parts.T:
        state = _mix64(state ^ (column + _GOLDEN))
    return state


def _keyed_uniform(sequence_hash: np.ndarray, length: int, stream: int) -> np.ndarray:
    """``[B, length]`` float64 uniforms in [0, 1): the SplitMix64 stream of each sequence for ``stream``."""
    seed = _mix64(sequence_hash + np.uint64(stream * int(_GOLDEN) % (1 << 64)))  # (B,)
    counters = seed[:, None] + (np.arange(1, length + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    return (_mix64(counters) >> np.uint64(11)) * (1.0 / (1 << 53))
