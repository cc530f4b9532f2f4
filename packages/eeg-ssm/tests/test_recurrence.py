"""The pure-PyTorch Mamba-2 equals the plain token-by-token recurrence, values and gradients.

The reference below is written from the Mamba-2 equations alone (it uses nothing of eeg_ssm's forward
code): fused projection, causal conv with a rolling window, per-step state update, gated group RMSNorm.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_ssm import Mamba2, ssd_chunked, ssd_sequential

LENGTHS = (1, 7, 64, 124, 300)
CHUNK = 32  # 1, 7, 124 and 300 are not multiples of it; 64 is exactly two chunks


def reference_mamba2(m: Mamba2, u: torch.Tensor) -> torch.Tensor:
    """Token-by-token Mamba-2 in the dtype of ``u`` (parameters cast to it). ``u``: (B, L, d_model)."""
    dtype = u.dtype
    p = {name: t.to(dtype) for name, t in m.named_parameters()}
    batch, length, _ = u.shape
    H, P, G, N, K = m.nheads, m.headdim, m.ngroups, m.d_state, m.d_conv
    d_ssm, d_mlp = m.d_ssm, m.d_inner - m.d_ssm
    proj = u @ p["in_proj.weight"].T
    if "in_proj.bias" in p:
        proj = proj + p["in_proj.bias"]
    z0, x0, z, xBC, dt_raw = torch.split(proj, [d_mlp, d_mlp, d_ssm, d_ssm + 2 * G * N, H], dim=-1)
    conv_w = p["conv1d.weight"][:, 0, :]  # (channels, K); tap K-1 multiplies the current token
    A = -torch.exp(p["A_log"])
    state = torch.zeros(batch, H, P, N, dtype=dtype)
    window = torch.zeros(batch, xBC.shape[-1], K, dtype=dtype)  # the last K inputs of the conv
    heads_per_group = H // G
    outputs = []
    for t in range(length):
        window = torch.cat([window[..., 1:], xBC[:, t, :, None]], dim=-1)
        conv = (window * conv_w).sum(-1)
        if "conv1d.bias" in p:
            conv = conv + p["conv1d.bias"]
        conv = F.silu(conv)
        x, B, C = torch.split(conv, [d_ssm, G * N, G * N], dim=-1)
        x = x.view(batch, H, P)
        B = B.view(batch, G, N).repeat_interleave(heads_per_group, dim=1)  # head h reads group h // (H/G)
        C = C.view(batch, G, N).repeat_interleave(heads_per_group, dim=1)
        dt = F.softplus(dt_raw[:, t] + p["dt_bias"])  # (B, H)
        lo, hi = m.dt_limit
        dt = dt.clamp(min=lo, max=hi)
        state = torch.exp(dt * A)[..., None, None] * state + torch.einsum("bh,bhp,bhn->bhpn", dt, x, B)
        y = torch.einsum("bhpn,bhn->bhp", state, C)
        D = p["D"].view(H, P) if m.D_has_hdim else p["D"].view(H, 1)
        outputs.append((y + D * x).reshape(batch, d_ssm))
    y = torch.stack(outputs, dim=1)  # (B, L, d_ssm)
    if m.rmsnorm:
        if not m.norm_before_gate:
            y = y * F.silu(z)
        grouped = y.view(batch, length, G, d_ssm // G)
        grouped = grouped / torch.sqrt(grouped.pow(2).mean(-1, keepdim=True) + m.norm.eps)
        y = grouped.reshape(batch, length, d_ssm) * p["norm.weight"]
        if m.norm_before_gate:
            y = y * F.silu(z)
    else:
        y = y * F.silu(z)
    if d_mlp:
        y = torch.cat([F.silu(z0) * x0, y], dim=-1)
    out = y @ p["out_proj.weight"].T
    if "out_proj.bias" in p:
        out = out + p["out_proj.bias"]
    return out


def make_block(dtype: torch.dtype, seed: int = 0, **kwargs) -> Mamba2:
    """A tiny block whose every parameter is randomised, so that each one matters to the comparison."""
    torch.manual_seed(seed)
    options = {"d_model": 16, "d_state": 8, "headdim": 8, "chunk_size": CHUNK} | kwargs
    m = Mamba2(**options).to(dtype)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in m.named_parameters():
            if name in ("D", "norm.weight"):
                param.copy_(1.0 + 0.5 * torch.randn(param.shape, generator=g, dtype=dtype))
            elif name == "dt_bias":  # dt up to ~1: fast decays
                param.copy_(torch.randn(param.shape, generator=g, dtype=dtype) - 1.0)
            elif name == "A_log":
                param.copy_(torch.rand(param.shape, generator=g, dtype=dtype) * 2.0)
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn(param.shape, generator=g, dtype=dtype))
    return m


def _max_rel(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max().clamp(min=1e-30)).item()


def _outputs_and_grads(m: Mamba2, u: torch.Tensor, fn) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    m.zero_grad(set_to_none=True)
    u = u.detach().clone().requires_grad_(True)
    out = fn(m, u)
    weights = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view_as(out)
    (out * weights).sum().backward()
    grads = {"input": u.grad.clone()} | {name: param.grad.clone() for name, param in m.named_parameters()}
    return out.detach(), grads


@pytest.mark.parametrize("ngroups", [1, 2])
@pytest.mark.parametrize("length", LENGTHS)
def test_float64_matches_recurrence_values_and_gradients(length: int, ngroups: int) -> None:
    m = make_block(torch.float64, ngroups=ngroups)
    u = torch.randn(2, length, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(length))
    out, grads = _outputs_and_grads(m, u, lambda block, x: block(x))
    ref_out, ref_grads = _outputs_and_grads(m, u, reference_mamba2)
    assert (out - ref_out).abs().max().item() <= 1e-10
    for name, grad in grads.items():
        assert (grad - ref_grads[name]).abs().max().item() <= 1e-10, name


@pytest.mark.parametrize("ngroups", [1, 2])
@pytest.mark.parametrize("length", LENGTHS)
def test_float32_matches_float64_recurrence_within_1e_4_relative(length: int, ngroups: int) -> None:
    m = make_block(torch.float32, ngroups=ngroups)
    u = torch.randn(2, length, 16, generator=torch.Generator().manual_seed(length))
    out, grads = _outputs_and_grads(m, u, lambda block, x: block(x))
    # The truth: the recurrence in float64 from the very same float32 parameters.
    ref_out, ref_grads = _outputs_and_grads(m, u.double(), reference_mamba2)
    assert _max_rel(out.double(), ref_out) <= 1e-4
    for name, grad in grads.items():
        assert _max_rel(grad.double(), ref_grads[name].double()) <= 1e-4, name


@pytest.mark.parametrize(
    "options",
    [
        {"D_has_hdim": True, "bias": True, "conv_bias": False},
        {"rmsnorm": False, "d_conv": 2},
        {"norm_before_gate": True, "ngroups": 2, "d_conv": 3},
        {"d_ssm": 16, "dt_limit": (0.05, 0.5)},  # half the inner width is a gated MLP; dt clamped
    ],
    ids=["D-per-channel+bias", "no-rmsnorm", "norm-before-gate", "d_ssm+dt_limit"],
)
def test_constructor_variants_match_recurrence(options: dict) -> None:
    m = make_block(torch.float64, **options)
    u = torch.randn(3, 45, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    out, grads = _outputs_and_grads(m, u, lambda block, x: block(x))
    ref_out, ref_grads = _outputs_and_grads(m, u, reference_mamba2)
    assert (out - ref_out).abs().max().item() <= 1e-10
    for name, grad in grads.items():
        assert (grad - ref_grads[name]).abs().max().item() <= 1e-10, name


@pytest.mark.parametrize("chunk_size", [1, 4, 16, 64, 256])
def test_output_does_not_depend_on_chunk_size(chunk_size: int) -> None:
    m = make_block(torch.float64, ngroups=2)
    u = torch.randn(2, 100, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = m(u)
    m.chunk_size = chunk_size
    assert (m(u) - expected).abs().max().item() <= 1e-12


def test_float32_chunk_sizes_agree_to_rounding_on_long_sequences() -> None:
    m = make_block(torch.float32)
    u = torch.randn(1, 1000, 16, generator=torch.Generator().manual_seed(1))
    m.chunk_size = 16
    small = m(u)
    m.chunk_size = 256
    assert _max_rel(m(u), small) <= 1e-4


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(1, 90),
    chunk_size=st.sampled_from([1, 2, 8, 32, 128]),
    ngroups=st.sampled_from([1, 2, 4]),
    seed=st.integers(0, 2**16),
)
def test_ssd_chunked_equals_sequential_scan(length: int, chunk_size: int, ngroups: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    batch, heads, headdim, d_state = 2, 4, 3, 5
    x = torch.randn(batch, length, heads, headdim, generator=g, dtype=torch.float64)
    dt = torch.rand(batch, length, heads, generator=g, dtype=torch.float64)
    A = -torch.rand(heads, generator=g, dtype=torch.float64) * 10
    B = torch.randn(batch, length, ngroups, d_state, generator=g, dtype=torch.float64)
    C = torch.randn(batch, length, ngroups, d_state, generator=g, dtype=torch.float64)
    chunked = ssd_chunked(x, dt, A, B, C, chunk_size)
    assert chunked.shape == x.shape
    assert (chunked - ssd_sequential(x, dt, A, B, C)).abs().max().item() <= 1e-11


def test_long_float32_sequence_stays_finite_and_accurate_with_fast_decay() -> None:
    """Large cumulative decays (thousands of nats) must neither overflow nor lose the recent past."""
    g = torch.Generator().manual_seed(0)
    batch, length, heads, headdim, d_state = 1, 2048, 2, 4, 4
    x = torch.randn(batch, length, heads, headdim, generator=g)
    dt = torch.full((batch, length, heads), 2.0)
    A = torch.tensor([-16.0, -0.5])
    B = torch.randn(batch, length, 1, d_state, generator=g)
    C = torch.randn(batch, length, 1, d_state, generator=g)
    x.requires_grad_(True)
    y = ssd_chunked(x, dt, A, B, C, 64)
    y.sum().backward()
    assert torch.isfinite(y).all() and torch.isfinite(x.grad).all()
    reference = ssd_sequential(x.double(), dt.double(), A.double(), B.double(), C.double())
    assert _max_rel(y.double(), reference) <= 1e-4


def test_bfloat16_autocast_trains_with_the_scan_in_float32() -> None:
    """Under autocast (training's bf16 on CUDA, here on CPU) the scan still runs in float32, forward and
    backward: its products are not cast down, and its hand-written backwards get float32 gradients."""
    torch.manual_seed(0)
    m = Mamba2(16, d_state=8, headdim=8, chunk_size=8)
    u = torch.randn(2, 21, 16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = m(u)
    y.float().square().sum().backward()
    grads = {"input": u.grad.clone()} | {name: p.grad.clone() for name, p in m.named_parameters()}
    u.grad = None
    m.zero_grad()
    exact = m(u)
    exact.square().sum().backward()
    assert _max_rel(y.float(), exact) <= 0.05  # bfloat16 projections around a float32 scan
    for name, grad in ({"input": u.grad} | {n: p.grad for n, p in m.named_parameters()}).items():
        assert torch.isfinite(grads[name]).all() and _max_rel(grads[name], grad) <= 0.1, name
