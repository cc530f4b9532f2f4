"""The state space dual (SSD) math of Mamba-2 as pure functions.

The recurrence, per head h, with a scalar decay per step (time t, state size N, head width P)::

    state_t = exp(dt_t * A_h) * state_{t-1} + dt_t * x_t B_t^T      # (P, N)
    y_t     = state_t C_t                                            # (P,)

:func:`ssd_chunked` computes it for a whole sequence with the chunked algorithm of the Mamba-2 paper
(matrix products inside chunks, a short recurrence across chunks), which is what makes it fast on CPU.
:func:`ssd_sequential` is the token-by-token loop: the naive baseline of the benchmark.

Heads are split into ``G`` groups; head ``h`` reads ``B``/``C`` of group ``h // (H // G)``, as the
mamba_ssm kernels do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


class _DiagonalBlocks(torch.autograd.Function):
    """Step 1 of the SSD, ``y = (CB * exp(cs_l - cs_s), lower triangle) @ xdt``, with a hand-written backward.

    Inputs: ``CB`` ``(b,c,g,q,q)`` (C_l . B_s), ``cs`` ``(b,c,g,r,q)`` cumulative log decays inside each
    chunk, ``xdt`` ``(b,c,g,r,q,p)``. The (Q, Q) tensors per head are the bulk of the SSD's work; autograd
    would keep three of them and make about ten passes over them in backward, this keeps one (the decays)
    and makes five. Inside one chunk the cumulative sums stay small, so their difference is accurate.
    """

    @staticmethod
    def forward(ctx, CB: torch.Tensor, cs: torch.Tensor, xdt: torch.Tensor) -> torch.Tensor:
        # exp of the upper triangle may overflow to inf; tril_ overwrites it with zeros (no inf * 0 anywhere).
        decay = torch.exp(cs.unsqueeze(-1) - cs.unsqueeze(-2)).tril_()  # (b,c,g,r,q,q)
        ctx.save_for_backward(CB, decay, xdt)
        return (CB.unsqueeze(3) * decay) @ xdt

    @staticmethod
    @once_differentiable
    def backward(ctx, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        CB, decay, xdt = ctx.saved_tensors
        dy = dy.contiguous()  # arrives as a permuted view; strided batches make bmm copy matrix by matrix
        d_xdt = (CB.unsqueeze(3) * decay).transpose(-1, -2) @ dy  # (b,c,g,r,q,p)
        grad = dy @ xdt.transpose(-1, -2)  # d scores, (b,c,g,r,q,q)
        grad.mul_(decay)  # d CB per head; zero above the diagonal
        d_CB = grad.sum(dim=3)  # heads of a group share CB
        grad.mul_(CB.unsqueeze(3))  # d log-decay[l, s] = d scores * scores
        d_cs = grad.sum(dim=-1) - grad.sum(dim=-2)  # log-decay[l, s] = cs_l - cs_s
        return d_CB, d_cs, d_xdt


class _ChunkRecurrence(torch.autograd.Function):
    """Step 3 of the SSD: ``E_0 = 0``, ``E_z = decay_{z-1} * E_{z-1} + S_{z-1}`` over chunks, with a hand-written
    backward (the same recurrence, reversed).

    Inputs: ``S`` ``(b,k,g,r,p,n)`` the states chunks ``0..k-1`` leave behind, ``decay`` ``(b,k,g,r)`` their
    total decays (in (0, 1]). Output ``E`` ``(b,k+1,g,r,p,n)``, the state entering each chunk. Autograd over a
    Python loop would keep and walk several tensors per chunk; this keeps the output alone.
    """

    @staticmethod
    def forward(ctx, states: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
        steps = states.shape[1]
        entering = states.new_empty(states.shape[0], steps + 1, *states.shape[2:])
        entering[:, 0] = 0.0
        scale = decay[..., None, None]  # (b,k,g,r,1,1)
        for z in range(steps):
            torch.addcmul(states[:, z], entering[:, z], scale[:, z], out=entering[:, z + 1])
        ctx.save_for_backward(entering, decay)
        return entering

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        entering, decay = ctx.saved_tensors
        steps = decay.shape[1]
        scale = decay[..., None, None]
        d_states = torch.empty_like(entering[:, 1:])
        d_decay = torch.empty_like(decay)
        total = grad[:, steps]  # d loss / d E_z, walking z down from the last chunk
        for z in range(steps, 0, -1):
            d_states[:, z - 1] = total
            d_decay[:, z - 1] = (total * entering[:, z - 1]).sum(dim=(-2, -1))
            total = torch.addcmul(grad[:, z - 1], total, scale[:, z - 1])
        return d_states, d_decay


def ssd_chunked(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int,
) -> torch.Tensor:
    """Run the SSD recurrence over whole sequences with the chunked algorithm; zero initial state.

    Args:
        x: ``(batch, length, heads, headdim)`` inputs.
        dt: ``(batch, length, heads)`` step sizes, already positive (softplus applied).
        A: ``(heads,)`` negative decay rates.
        B: ``(batch, length, groups, d_state)`` input projections.
        C: ``(batch, length, groups, d_state)`` output projections.
        chunk_size: chunk length Q; only changes speed and memory, not the result (up to rounding).

    Returns:
        ``(batch, length, heads, headdim)``, without the ``D`` skip term.
    """
    batch, length, nheads, headdim = x.shape
    ngroups, d_state = B.shape[-2:]
    per_group = nheads // ngroups
    q = min(chunk_size, length)
    pad = (-length) % q
    if pad:
        # Zero steps at the end: no input, no decay; causality keeps them away from real outputs.
        x, dt, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, dt, B, C))
    nchunks = (length + pad) // q

    # Layout (batch, chunk, group, head-in-group, time-in-chunk, ...): every (chunk, head) is a matrix.
    xh = x.reshape(batch, nchunks, q, ngroups, per_group, headdim).permute(0, 1, 3, 4, 2, 5)  # (b,c,g,r,q,p)
    dth = dt.reshape(batch, nchunks, q, ngroups, per_group).permute(0, 1, 3, 4, 2)  # (b,c,g,r,q)
    Bg = B.reshape(batch, nchunks, q, ngroups, d_state).transpose(2, 3)  # (b,c,g,q,n)
    Cg = C.reshape(batch, nchunks, q, ngroups, d_state).transpose(2, 3)  # (b,c,g,q,n)

    dA_cumsum = (dth * A.view(ngroups, per_group, 1)).cumsum(dim=-1)  # (b,c,g,r,q)
    xdt = (xh * dth.unsqueeze(-1)).contiguous()  # (b,c,g,r,q,p); contiguous once, for every matmul

    # 1. Within chunks (diagonal blocks): y_l = sum_{s<=l} (C_l . B_s) exp(cs_l - cs_s) dt_s x_s.
    y = _DiagonalBlocks.apply(Cg @ Bg.transpose(-1, -2), dA_cumsum, xdt)  # (b,c,g,r,q,p)

    if nchunks > 1:
        # 2. State each chunk but the last leaves behind, from its own inputs only.
        cumsum_head = dA_cumsum[:, :-1]  # (b,c-1,g,r,q)
        decay_to_end = torch.exp(cumsum_head[..., -1:] - cumsum_head)  # (b,c-1,g,r,q)
        weighted = xdt[:, :-1] * decay_to_end.unsqueeze(-1)  # (b,c-1,g,r,q,p)
        # The heads of a group share B: one (r*p, q) @ (q, n) product per chunk and group, not r small ones.
        weighted = weighted.transpose(-1, -2).reshape(batch, nchunks - 1, ngroups, per_group * headdim, q)
        states = (weighted @ Bg[:, :-1]).view(batch, nchunks - 1, ngroups, per_group, headdim, d_state)

        # 3. Across chunks, a short recurrence: the state entering chunk z is the one entering chunk z-1,
        # decayed through chunk z-1, plus what chunk z-1 left behind. (A (c, c) transfer matrix does it in
        # one product, but an O(c^2), badly shaped one: its inner dimension is the chunk count.)
        chunk_decay = torch.exp(cumsum_head[..., -1])  # (b,c-1,g,r)
        entering = _ChunkRecurrence.apply(states, chunk_decay)  # (b,c,g,r,p,n)

        # 4. Entering state -> outputs, decayed to each position inside the chunk; again one (q, n) @
        # (n, r*p) product per chunk and group.
        flat = entering.view(batch, nchunks, ngroups, per_group * headdim, d_state)
        from_state = (Cg @ flat.transpose(-1, -2)).view(batch, nchunks, ngroups, q, per_group, headdim)
        y = y + from_state.transpose(3, 4) * torch.exp(dA_cumsum).unsqueeze(-1)  # (b,c,g,r,q,p)

    y = y.permute(0, 1, 4, 2, 3, 5).reshape(batch, nchunks * q, nheads, headdim)
    return y[:, :length]


def ssd_sequential(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
) -> torch.Tensor:
    """The same recurrence as :func:`ssd_chunked`, one token at a time (the naive scan).

    Shapes as in :func:`ssd_chunked`. Slow (a Python loop over time) and memory-hungry under autograd
    (one ``(batch, heads, headdim, d_state)`` state saved per step); kept as the benchmark baseline.
    """
    batch, _, nheads, headdim = x.shape
    ngroups, d_state = B.shape[-2:]
    per_group = nheads // ngroups
    Bh = B.repeat_interleave(per_group, dim=2)  # (b,l,h,n)
    Ch = C.repeat_interleave(per_group, dim=2)  # (b,l,h,n)
    decay = torch.exp(dt * A)  # (b,l,h)
    state = x.new_zeros(batch, nheads, headdim, d_state)
    outputs = []
    # unbind, not x[:, t]: indexing in a loop makes autograd build a full-size gradient per step (O(L^2)).
    for x_t, dt_t, decay_t, B_t, C_t in zip(*(t.unbind(1) for t in (x, dt, decay, Bh, Ch)), strict=True):
        update = (dt_t[..., None] * x_t).unsqueeze(-1) * B_t.unsqueeze(-2)  # (b,h,p,n)
        state = decay_t[..., None, None] * state + update
        outputs.append((state @ C_t.unsqueeze(-1)).squeeze(-1))  # (b,h,p)
    return torch.stack(outputs, dim=1)
