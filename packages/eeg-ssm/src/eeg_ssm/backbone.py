"""The sequence backbones: residual pre-norm Mamba-2 layers, or the Transformer fallback.

Both map ``(B, L, d_model)`` plus valid lengths ``(B,)`` to ``(B, L, d_model)``, end with a final RMSNorm,
and give outputs at real tokens that do not depend on the right padding (its length or content).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eeg_ssm.backends import MambaRunner
from eeg_ssm.config import ModelConfig
from eeg_ssm.mamba2 import Mamba2

NORM_EPS = 1e-5


def lengths_to_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """``(B,)`` valid lengths -> ``(B, L)`` bool, True on real tokens (right padding)."""
    return torch.arange(max_length, device=lengths.device) < lengths.unsqueeze(1)


def reverse_within_length(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Index ``(B, L)`` that reverses each sequence's first ``lengths[b]`` tokens and keeps padding in place.

    ``x.gather(1, index)`` puts token ``T-1-t`` at ``t`` for ``t < T``; the map is its own inverse, so the
    same gather undoes it. Padding stays at the end, where a causal scan cannot carry it into real tokens.
    """
    steps = torch.arange(max_length, device=lengths.device).expand(lengths.shape[0], max_length)
    lengths = lengths.unsqueeze(1)
    return torch.where(steps < lengths, lengths - 1 - steps, steps)


def mamba_kwargs(config: ModelConfig, layer_idx: int) -> dict:
    """Constructor arguments of the :class:`Mamba2` mixers for ``config``."""
    return {
        "d_model": config.d_model,
        "d_state": config.d_state,
        "d_conv": config.d_conv,
        "expand": config.expand,
        "headdim": config.headdim,
        "ngroups": config.ngroups,
        "dt_min": config.dt_min,
        "dt_max": config.dt_max,
        "chunk_size": config.chunk_size,
        "layer_idx": layer_idx,
    }


class MambaLayer(nn.Module):
    """``h + dropout(mixer(norm(h)) [+ reversed-direction mixer])``: one residual pre-norm Mamba-2 block."""

    def __init__(self, config: ModelConfig, layer_idx: int) -> None:
        super().__init__()
        self.norm = nn.RMSNorm(config.d_model, eps=NORM_EPS)
        self.mixer = Mamba2(**mamba_kwargs(config, layer_idx))
        # Reads each sequence from its last real token to its first; summed with the forward direction.
        self.mixer_reverse = Mamba2(**mamba_kwargs(config, layer_idx)) if config.bidirectional else None
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, h: torch.Tensor, run: MambaRunner, reverse_index: torch.Tensor | None) -> torch.Tensor:
        """``h``: ``(B, L, d)``; ``reverse_index``: ``(B, L, d)`` gather index, needed when bidirectional."""
        x = self.norm(h)
        y = run(self.mixer, x)
        if self.mixer_reverse is not None:
            assert reverse_index is not None
            y = y + run(self.mixer_reverse, x.gather(1, reverse_index)).gather(1, reverse_index)
        return h + self.dropout(y)


class MambaBackbone(nn.Module):
    """``num_layers`` :class:`MambaLayer` then a final RMSNorm."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(MambaLayer(config, i) for i in range(config.num_layers))
        self.norm_f = nn.RMSNorm(config.d_model, eps=NORM_EPS)
        self.runner = MambaRunner(config.backend)
        # GPT-2 / mamba_ssm residual scaling: keep the residual stream's variance from growing with depth.
        branches = config.num_layers * (2 if config.bidirectional else 1)
        with torch.no_grad():
            for layer in self.layers:
                for mixer in (layer.mixer, layer.mixer_reverse):
                    if mixer is not None:
                        mixer.out_proj.weight.div_(math.sqrt(branches))

    def implementation(self, device: torch.device, strict: bool = True) -> str:
        """``"mamba_ssm"`` or ``"torch"`` for tensors on ``device`` (see :meth:`MambaRunner.implementation`)."""
        return self.runner.implementation(device, strict)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``h``: ``(B, L, d)``; ``lengths``: ``(B,)``. Returns ``(B, L, d)``."""
        reverse_index = None
        if self.layers[0].mixer_reverse is not None:
            reverse_index = reverse_within_length(lengths, h.shape[1]).unsqueeze(-1).expand_as(h)
        for layer in self.layers:
            h = layer(h, self.runner, reverse_index)
        return self.norm_f(h)


class TransformerLayer(nn.Module):
    """Pre-norm self-attention then pre-norm feed-forward (GELU), both residual."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        d_model = config.d_model
        self.heads = config.transformer_heads
        self.dropout_p = config.dropout
        self.norm_attn = nn.RMSNorm(d_model, eps=NORM_EPS)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attn_out = nn.Linear(d_model, d_model)
        self.norm_ff = nn.RMSNorm(d_model, eps=NORM_EPS)
        self.ff_in = nn.Linear(d_model, config.transformer_ff_mult * d_model)
        self.ff_out = nn.Linear(config.transformer_ff_mult * d_model, d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, h: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        """``h``: ``(B, L, d)``; ``attend``: bool ``(B, 1, L|1, L)``, True where a query may see a key."""
        batch, length, d_model = h.shape
        q, k, v = self.qkv(self.norm_attn(h)).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attend, dropout_p=self.dropout_p if self.training else 0.0
        )  # (B, heads, L, d_head)
        h = h + self.dropout(self.attn_out(a.transpose(1, 2).reshape(batch, length, d_model)))
        return h + self.dropout(self.ff_out(F.gelu(self.ff_in(self.norm_ff(h)))))


class TransformerBackbone(nn.Module):
    """``num_layers`` :class:`TransformerLayer` then a final RMSNorm.

    Keys that are padding are never attended to. Causal unless ``bidirectional``, so the Transformer sees
    the same context as the Mamba-2 backbone with the same flag.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.causal = not config.bidirectional
        self.layers = nn.ModuleList(TransformerLayer(config) for _ in range(config.num_layers))
        self.norm_f = nn.RMSNorm(config.d_model, eps=NORM_EPS)
        with torch.no_grad():
            for layer in self.layers:
                for linear in (layer.attn_out, layer.ff_out):
                    linear.weight.div_(math.sqrt(2 * config.num_layers))

    def implementation(self, device: torch.device, strict: bool = True) -> str:
        return "transformer"

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``h``: ``(B, L, d)``; ``lengths``: ``(B,)`` with every length >= 1. Returns ``(B, L, d)``."""
        length = h.shape[1]
        attend = lengths_to_mask(lengths, length)[:, None, None, :]  # (B, 1, 1, L): real keys only
        if self.causal:
            # Every query keeps key 0 (a real token), so no row is fully masked and softmax stays finite.
            causal = torch.ones(length, length, dtype=torch.bool, device=h.device).tril()
            attend = attend & causal
        for layer in self.layers:
            h = layer(h, attend)
        return self.norm_f(h)
