"""GPU-only: the mamba_ssm CUDA block and the pure-PyTorch block agree, and swap state_dicts strictly.

Skipped (with the reason) where CUDA or a working mamba_ssm is missing. Tolerances allow for TF32 in the
Triton kernels (1e-3 relative); set ``TRITON_F32_DEFAULT=ieee`` for a tighter comparison.
"""

from __future__ import annotations

import pytest
import torch

from eeg_ssm import EEGModel, Mamba2, ModelConfig, mamba_ssm_status

USABLE, REASON = mamba_ssm_status()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not USABLE, reason=f"needs CUDA and mamba_ssm: {REASON}")]


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("ngroups", [1, 2])
def test_kernel_block_and_torch_block_agree_and_swap_state_dicts(ngroups: int) -> None:
    from mamba_ssm.modules.mamba2 import Mamba2 as KernelMamba2

    kwargs = {"d_model": 128, "d_state": 64, "headdim": 32, "ngroups": ngroups, "chunk_size": 64}
    torch.manual_seed(0)
    kernel = KernelMamba2(**kwargs).cuda()
    ours = Mamba2(**kwargs).cuda()
    ours.load_state_dict(kernel.state_dict(), strict=True)
    kernel.load_state_dict(ours.state_dict(), strict=True)
    u = torch.randn(4, 300, 128, device="cuda", requires_grad=True)
    out_kernel = kernel(u)
    out_kernel.square().sum().backward()
    grad_kernel = u.grad.clone()
    u.grad = None
    out_ours = ours(u)
    out_ours.square().sum().backward()
    assert _rel(out_ours, out_kernel) <= 1e-3
    assert _rel(u.grad, grad_kernel) <= 1e-3
    for (name, p_ours), (_, p_kernel) in zip(ours.named_parameters(), kernel.named_parameters(), strict=True):
        assert _rel(p_ours.grad, p_kernel.grad) <= 1e-3, name


def test_model_backends_share_weights_and_outputs_on_cuda() -> None:
    base = {"window_length": 64, "d_model": 128, "num_layers": 2, "bidirectional": True}
    torch.manual_seed(0)
    kernel_model = EEGModel(ModelConfig(**base, backend="mamba_ssm")).cuda()
    torch_model = EEGModel(ModelConfig(**base, backend="torch")).cuda()
    torch_model.load_state_dict(kernel_model.state_dict(), strict=True)
    assert kernel_model.backend_name == "mamba_ssm" and torch_model.backend_name == "torch"
    windows = torch.randn(3, 200, 64, device="cuda")
    lengths = torch.tensor([200, 150, 7], device="cuda")
    channels = ["FZ", "CZ", "AF7"]
    with torch.no_grad():
        assert _rel(kernel_model(windows, channels, lengths), torch_model(windows, channels, lengths)) <= 1e-3
    # The same weights then run on the CPU with backend 'auto' (pure PyTorch there).
    cpu_model = EEGModel(ModelConfig(**base, backend="auto"))
    cpu_model.load_state_dict({k: v.cpu() for k, v in kernel_model.state_dict().items()}, strict=True)
    assert cpu_model.backend_name == "torch"
    with torch.no_grad():
        on_cpu = cpu_model(windows.cpu(), channels, lengths.cpu())
        assert _rel(on_cpu, kernel_model(windows, channels, lengths).cpu()) <= 1e-3
