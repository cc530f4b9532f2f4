"""Masked reconstruction loss and the baselines that make it interpretable."""

from __future__ import annotations

import torch


def masked_sse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum of squared errors over masked windows and the number of scored samples.

    pred, target: ``[B, L, W]``; mask: bool ``[B, L]``. Returns ``(sse, count)`` with ``count = masked
    windows * W``; sums over batches (and DDP ranks) then give the exact mean over all masked samples.
    """
    diff = pred[mask].float() - target[mask].float()  # (M, W)
    return diff.pow(2).sum(), diff.numel()


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over masked positions only (mean over masked windows × samples).

    A batch with nothing masked gives 0 that still carries a gradient path to ``pred``.
    """
    sse, count = masked_sse(pred, target, mask)
    if count == 0:
        return pred.sum() * 0.0
    return sse / count


def interpolate_masked(target: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Linear interpolation baseline: each masked window from the nearest unmasked windows on each side.

    Between a known window at ``l`` and one at ``r`` a masked window at ``t`` becomes
    ``w_l + (t - l) / (r - l) * (w_r - w_l)``; with only one side known it copies that side; with none
    (cannot happen for sequences that have a mask) it predicts zeros. Unmasked positions keep ``target``.

    target: ``[B, L, W]``; mask, valid: bool ``[B, L]``. Returns ``[B, L, W]``.
    """
    B, L, D = target.shape
    known = valid & ~mask  # (B, L)
    pos = torch.arange(L, device=target.device).expand(B, L)
    left = torch.where(known, pos, torch.full_like(pos, -1)).cummax(dim=1).values  # (B, L) last known <= t
    right_rev = torch.where(known, pos, torch.full_like(pos, L)).flip(1).cummin(dim=1).values
    right = right_rev.flip(1)  # (B, L) first known >= t
    # only the masked windows are predicted: gather their two neighbours as rows (N, D) of (B * L, D)
    left, right, at = left[mask], right[mask], pos[mask]  # (N,)
    first_row = torch.arange(B, device=target.device)[:, None].expand(B, L)[mask] * L
    rows = target.reshape(B * L, D)
    w_left = rows.index_select(0, first_row + left.clamp(0, L - 1))
    w_right = rows.index_select(0, first_row + right.clamp(0, L - 1))
    has_left, has_right = (left >= 0)[:, None], (right < L)[:, None]
    span = (right - left).clamp(min=1).to(target.dtype)
    frac = ((at - left).to(target.dtype) / span)[:, None]
    both = w_left + frac * (w_right - w_left)
    pred = torch.where(has_left & has_right, both, torch.zeros_like(both))
    pred = torch.where(has_left & ~has_right, w_left, pred)
    pred = torch.where(~has_left & has_right, w_right, pred)
    out = target.clone()
    out[mask] = pred
    return out


def context_mean(target: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Context-mean baseline: each masked window predicted by the mean of its own sequence's unmasked
    real windows (padding never enters the mean). The strongest trivial predictor of a window's spectrum.

    A sequence with no unmasked real window (cannot happen when masks leave context) predicts zeros.
    Unmasked positions keep ``target``. target: ``[B, L, D]``; mask, valid: bool ``[B, L]``. Returns ``[B, L, D]``.
    """
    known = (valid & ~mask).to(target.dtype)  # (B, L)
    count = known.sum(dim=1)  # (B,)
    total = torch.einsum(
        "bl,bld->bd", known, torch.where(known[..., None] > 0, target, torch.zeros_like(target))
    )
    mean = total / count.clamp(min=1)[:, None]  # (B, D)
    return torch.where(mask[..., None], mean[:, None, :].expand_as(target), target)


#: Neighbours the local-mean baseline averages.
LOCAL_K = 4


def local_mean(
    target: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor, k: int = LOCAL_K
) -> torch.Tensor:
    """Local-mean baseline: each masked window predicted by the mean of the ``k`` unmasked real windows of
    its own sequence nearest to it (at equal distance the earlier window first; fewer than ``k`` in the
    sequence: all of them; none: zeros). Padding never enters. Where a signal drifts slowly (real EEG with
    a multitaper spectrum) it can beat the context mean; where single windows are noisy it loses to it.

    Unmasked positions keep ``target``. target: ``[B, L, D]``; mask, valid: bool ``[B, L]``. Returns
    ``[B, L, D]``. Cost ``O(B L k)`` to find the neighbours (only the ``k`` nearest on each side are
    candidates) and ``O(N k D)`` to average them over the ``N`` masked windows.
    """
    B, L, D = target.shape
    known = valid & ~mask  # (B, L)
    pos = torch.arange(L, device=target.device).expand(B, L)
    # known positions first, in order: known_pos[b, j] is the j-th known position of row b
    known_pos = torch.where(known, pos, pos + L).sort(dim=1).values  # (B, L); >= L past the known ones
    count = known.sum(dim=1, keepdim=True)  # (B, 1)
    rank = known.long().cumsum(dim=1) - known.long()  # (B, L): known positions before t
    offsets = torch.arange(k, device=target.device)
    left = rank.unsqueeze(-1) - 1 - offsets  # (B, L, k): the k nearest known on the left, nearest first
    right = rank.unsqueeze(-1) + known.long().unsqueeze(-1) + offsets  # the k nearest on the right
    candidates = torch.cat([left, right], dim=-1)  # (B, L, 2k) indices into known_pos
    usable = (candidates >= 0) & (candidates < count.unsqueeze(-1))
    where = known_pos.gather(1, candidates.clamp(0, L - 1).reshape(B, -1)).reshape(B, L, 2 * k)
    # sort key: distance, then left before right (the earlier window first at a tie); unusable last
    is_right = torch.cat([torch.zeros_like(left), torch.ones_like(right)], dim=-1)
    key = (where - pos.unsqueeze(-1)).abs() * 2 + is_right
    key = torch.where(usable, key, torch.full_like(key, 4 * L + 2))
    chosen = key.argsort(dim=-1)[..., :k]  # (B, L, k)
    # only the masked windows are predicted: gather their k neighbours' rows (N, k, D) from (B * L, D)
    first_row = torch.arange(B, device=target.device)[:, None, None] * L  # row b starts at b * L
    rows = where.gather(-1, chosen).clamp(0, L - 1) + first_row  # (B, L, k)
    rows, weight = rows[mask], usable.gather(-1, chosen)[mask].to(target.dtype)  # (N, k)
    neighbours = target.reshape(B * L, D).index_select(0, rows.reshape(-1)).reshape(*rows.shape, D)
    pred = (neighbours * weight[..., None]).sum(dim=1) / weight.sum(dim=1, keepdim=True).clamp(min=1.0)
    out = target.clone()
    out[mask] = pred
    return out


def reconstruction_r2(loss: float, zero_baseline_loss: float) -> float:
    """``1 - loss / zero_baseline_loss``: 0 means no better than predicting the mean, 1 is perfect."""
    if zero_baseline_loss <= 0.0:
        return float("nan")
    return 1.0 - loss / zero_baseline_loss


def skill(loss: float, context_mean_loss: float) -> float:
    """``1 - loss / context_mean_loss``: > 0 means the model knows more than the sequence's own average."""
    if context_mean_loss <= 0.0:
        return float("nan")
    return 1.0 - loss / context_mean_loss
