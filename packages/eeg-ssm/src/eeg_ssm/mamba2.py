"""A pure-PyTorch Mamba-2 block with the parameters of ``mamba_ssm.modules.mamba2.Mamba2``.

Same constructor arguments and defaults, same parameter names, shapes, dtypes and initialisation (drawn in
the same order, so one seed gives the same weights), so a state_dict moves between this block and the CUDA
one with ``strict=True``. The forward pass runs anywhere: the causal conv is a few shifted products and the
scan is :func:`eeg_ssm.ssd.ssd_chunked`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from eeg_ssm.ssd import ssd_chunked


class RMSNormGated(nn.Module):
    """RMSNorm with an optional SiLU gate, normalised per group of ``group_size`` features.

    With ``norm_before_gate=False`` (Mamba-2's choice): ``out = rmsnorm(x * silu(z)) * weight``; with
    ``True``: ``out = rmsnorm(x) * weight * silu(z)``. Computed in at least float32, returned in x's dtype.
    Parameters: ``weight`` ``(hidden_size,)``; no bias (like ``mamba_ssm.ops.triton.layernorm_gated.RMSNorm``).
    """

    def __init__(
        self,
        hidden_size: int,
        eps: float = 1e-5,
        group_size: int | None = None,
        norm_before_gate: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        group_size = hidden_size if group_size is None else group_size
        assert hidden_size % group_size == 0, "hidden_size must be divisible by group_size"
        self.eps = eps
        self.group_size = group_size
        self.norm_before_gate = norm_before_gate
        self.weight = nn.Parameter(torch.ones(hidden_size, device=device, dtype=dtype))
        self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``x``, ``z``: ``(..., hidden_size)`` -> ``(..., hidden_size)``."""
        dtype = x.dtype
        compute = torch.promote_types(dtype, torch.float32)
        x = x.to(compute)
        if z is not None and not self.norm_before_gate:
            x = x * F.silu(z.to(compute))
        grouped = x.unflatten(-1, (-1, self.group_size))  # (..., groups, group_size)
        normed = F.rms_norm(grouped, (self.group_size,), eps=self.eps)  # x / sqrt(mean(x^2) + eps) per group
        out = normed.flatten(-2) * self.weight.to(compute)
        if z is not None and self.norm_before_gate:
            out = out * F.silu(z.to(compute))
        return out.to(dtype)


class _CausalConvSiLU(torch.autograd.Function):
    """Causal depthwise conv (+ optional SiLU) in the ``(B, L, D)`` layout, with a hand-written backward.

    With width <= 4 the conv is a few shifted multiply-adds; doing them directly (and the SiLU with them)
    avoids the transposes and the slow depthwise ``conv1d`` backward on CPU.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: bool):
        length, width = x.shape[1], weight.shape[-1]
        taps = weight[:, 0, :]  # (D, width); tap width-1 multiplies the current token
        padded = F.pad(x, (0, 0, width - 1, 0))  # (B, width - 1 + L, D): zeros before the start
        pre = padded[:, width - 1 :] * taps[:, -1]
        for k in range(width - 1):
            pre.addcmul_(padded[:, k : k + length], taps[:, k])
        if bias is not None:
            pre.add_(bias)
        ctx.activation = activation
        ctx.has_bias = bias is not None
        ctx.save_for_backward(padded, weight, pre if activation else None)
        return F.silu(pre) if activation else pre

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        padded, weight, pre = ctx.saved_tensors
        length, width = grad.shape[1], weight.shape[-1]
        grad = torch.ops.aten.silu_backward(grad, pre) if ctx.activation else grad.contiguous()
        taps = weight[:, 0, :]
        # Input t feeds outputs t .. t+width-1 through taps width-1 .. 0.
        grad_padded = F.pad(grad, (0, 0, 0, width - 1))  # (B, L + width - 1, D)
        d_x = grad * taps[:, -1]
        for k in range(width - 1):
            d_x.addcmul_(grad_padded[:, width - 1 - k : width - 1 - k + length], taps[:, k])
        d_weight = torch.stack(
            [(grad * padded[:, k : k + length]).sum(dim=(0, 1)) for k in range(width)], dim=-1
        ).unsqueeze(1)  # (D, 1, width)
        d_bias = grad.sum(dim=(0, 1)) if ctx.has_bias else None
        return d_x, d_weight, d_bias, None


def causal_depthwise_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, activation: bool = False
) -> torch.Tensor:
    """What ``nn.Conv1d(groups=channels, padding=width-1)`` truncated to the input length computes.

    ``x``: ``(batch, length, channels)``; ``weight``: ``(channels, 1, width)``; ``bias``: ``(channels,)``.
    Output ``(batch, length, channels)``; position ``t`` sees inputs ``t-width+1 .. t`` only, so right
    padding never reaches real tokens. ``activation`` applies SiLU to the result.
    """
    return _CausalConvSiLU.apply(x, weight, bias, activation)


class Mamba2(nn.Module):
    """Mamba-2 mixer: ``(batch, length, d_model) -> (batch, length, d_model)``, causal in time.

    Arguments and defaults are those of ``mamba_ssm.modules.mamba2.Mamba2``. ``chunk_size`` only changes
    speed and memory. ``use_mem_eff_path``, ``layer_idx`` and ``sequence_parallel`` are kept for signature
    compatibility; tensor parallelism (``process_group``) is not supported here.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 128,
        d_conv: int = 4,
        conv_init: float | None = None,
        expand: int = 2,
        headdim: int = 64,
        d_ssm: int | None = None,
        ngroups: int = 1,
        A_init_range: tuple[float, float] = (1, 16),
        D_has_hdim: bool = False,
        rmsnorm: bool = True,
        norm_before_gate: bool = False,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dt_limit: tuple[float, float] = (0.0, float("inf")),
        bias: bool = False,
        conv_bias: bool = True,
        chunk_size: int = 256,
        use_mem_eff_path: bool = True,
        layer_idx: int | None = None,
        process_group=None,
        sequence_parallel: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        if process_group is not None:
            raise NotImplementedError("the pure-PyTorch Mamba2 does not support tensor parallelism")
        # Kept so the mamba_ssm block can be built with the very same arguments (see backends.py).
        self.init_kwargs = {
            "d_model": d_model, "d_state": d_state, "d_conv": d_conv, "conv_init": conv_init,
            "expand": expand, "headdim": headdim, "d_ssm": d_ssm, "ngroups": ngroups,
            "A_init_range": A_init_range, "D_has_hdim": D_has_hdim, "rmsnorm": rmsnorm,
            "norm_before_gate": norm_before_gate, "dt_min": dt_min, "dt_max": dt_max,
            "dt_init_floor": dt_init_floor, "dt_limit": dt_limit, "bias": bias, "conv_bias": conv_bias,
            "chunk_size": chunk_size, "use_mem_eff_path": use_mem_eff_path, "layer_idx": layer_idx,
        }  # fmt: skip
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.conv_init = conv_init
        self.expand = expand
        self.world_size = 1
        self.d_inner = expand * d_model
        self.headdim = headdim
        self.d_ssm = self.d_inner if d_ssm is None else d_ssm
        self.ngroups = ngroups
        assert self.d_ssm <= self.d_inner, "d_ssm must not exceed expand * d_model"
        assert self.d_ssm % headdim == 0, "d_ssm (default expand * d_model) must be divisible by headdim"
        self.nheads = self.d_ssm // headdim
        assert self.nheads % ngroups == 0, "the head count must be divisible by ngroups"
        self.D_has_hdim = D_has_hdim
        self.rmsnorm = rmsnorm
        self.norm_before_gate = norm_before_gate
        self.dt_limit = dt_limit
        self.activation = "silu"
        self.chunk_size = chunk_size
        self.use_mem_eff_path = use_mem_eff_path
        self.layer_idx = layer_idx
        self.sequence_parallel = sequence_parallel

        # Fused input projection, rows in the order [z, x, B, C, dt] (plus [z0, x0] of the gated MLP part
        # in front when d_ssm < d_inner).
        d_in_proj = 2 * self.d_inner + 2 * ngroups * d_state + self.nheads
        self.in_proj = nn.Linear(d_model, d_in_proj, bias=bias, **factory_kwargs)

        conv_dim = self.d_ssm + 2 * ngroups * d_state  # the conv runs over x, B and C
        self.conv1d = nn.Conv1d(
            conv_dim, conv_dim, kernel_size=d_conv, groups=conv_dim, padding=d_conv - 1, bias=conv_bias,
            **factory_kwargs,
        )  # fmt: skip
        if conv_init is not None:
            nn.init.uniform_(self.conv1d.weight, -conv_init, conv_init)
        self.act = nn.SiLU()

        # dt_bias = softplus^-1(dt) with dt log-uniform in [dt_min, dt_max], so softplus(dt_bias) starts there.
        dt = torch.exp(
            torch.rand(self.nheads, **factory_kwargs) * (math.log(dt_max) - math.log(dt_min))
            + math.log(dt_min)
        )
        dt = torch.clamp(dt, min=dt_init_floor)
        inv_dt = dt + torch.log(-torch.expm1(-dt))
        self.dt_bias = nn.Parameter(inv_dt)
        self.dt_bias._no_weight_decay = True

        assert A_init_range[0] > 0 and A_init_range[1] >= A_init_range[0], "A_init_range must be positive"
        A = torch.empty(self.nheads, dtype=torch.float32, device=device).uniform_(*A_init_range)
        self.A_log = nn.Parameter(torch.log(A).to(dtype=dtype))
        self.A_log._no_weight_decay = True

        # D skip connection; like mamba_ssm, created in the default dtype whatever ``dtype`` says.
        self.D = nn.Parameter(torch.ones(self.d_ssm if D_has_hdim else self.nheads, device=device))
        self.D._no_weight_decay = True

        if rmsnorm:
            self.norm = RMSNormGated(
                self.d_ssm, eps=1e-5, norm_before_gate=norm_before_gate, group_size=self.d_ssm // ngroups,
                **factory_kwargs,
            )  # fmt: skip
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias, **factory_kwargs)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``u``: ``(batch, length, d_model)`` -> ``(batch, length, d_model)``; output t sees inputs <= t."""
        batch, length, _ = u.shape
        groups_state = self.ngroups * self.d_state
        zxbcdt = self.in_proj(u)  # (B, L, d_in_proj)
        d_mlp = (zxbcdt.shape[-1] - 2 * self.d_ssm - 2 * groups_state - self.nheads) // 2
        z0, x0, z, xBC, dt = torch.split(
            zxbcdt, [d_mlp, d_mlp, self.d_ssm, self.d_ssm + 2 * groups_state, self.nheads], dim=-1
        )
        xBC = causal_depthwise_conv(xBC, self.conv1d.weight, self.conv1d.bias, activation=True)  # SiLU
        x, B, C = torch.split(xBC, [self.d_ssm, groups_state, groups_state], dim=-1)

        # The scan runs in at least float32 (half-precision decays underflow), like the kernels.
        compute = torch.promote_types(u.dtype, torch.float32)
        A = -torch.exp(self.A_log.to(compute))  # (H,)
        dt = F.softplus(dt.to(compute) + self.dt_bias.to(compute))  # (B, L, H)
        if tuple(self.dt_limit) != (0.0, float("inf")):
            dt = dt.clamp(min=self.dt_limit[0], max=self.dt_limit[1])
        x_heads = x.reshape(batch, length, self.nheads, self.headdim).to(compute)  # (B, L, H, P)
        # Autocast off: its matmuls would drop the scan back to bfloat16, and the scan's hand-written
        # backwards would then meet float32 and bfloat16 tensors in one product.
        with torch.autocast(u.device.type, enabled=False):
            y = ssd_chunked(
                x_heads,
                dt,
                A,
                B.reshape(batch, length, self.ngroups, self.d_state).to(compute),
                C.reshape(batch, length, self.ngroups, self.d_state).to(compute),
                self.chunk_size,
            )  # (B, L, H, P)
        D = self.D.to(compute)
        y = y + x_heads * (D.view(self.nheads, self.headdim) if self.D_has_hdim else D.view(self.nheads, 1))
        y = y.reshape(batch, length, self.d_ssm).to(u.dtype)
        y = self.norm(y, z) if self.rmsnorm else y * self.act(z)
        if d_mlp > 0:
            y = torch.cat([F.silu(z0) * x0, y], dim=-1)
        return self.out_proj(y)
