"""The pure-PyTorch Mamba2 has the published mamba_ssm layout: signature, parameter table, initialisation.

The expected values are written out from ``mamba_ssm/modules/mamba2.py`` (state-spaces/mamba 2.x), so a
state_dict from either implementation loads into the other with ``strict=True``.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from eeg_ssm import EEGModel, Mamba2, ModelConfig

PUBLISHED_SIGNATURE = {
    "d_model": inspect.Parameter.empty,
    "d_state": 128,
    "d_conv": 4,
    "conv_init": None,
    "expand": 2,
    "headdim": 64,
    "d_ssm": None,
    "ngroups": 1,
    "A_init_range": (1, 16),
    "D_has_hdim": False,
    "rmsnorm": True,
    "norm_before_gate": False,
    "dt_min": 0.001,
    "dt_max": 0.1,
    "dt_init_floor": 1e-4,
    "dt_limit": (0.0, float("inf")),
    "bias": False,
    "conv_bias": True,
    "chunk_size": 256,
    "use_mem_eff_path": True,
    "layer_idx": None,
    "process_group": None,
    "sequence_parallel": True,
    "device": None,
    "dtype": None,
}

# (constructor arguments, {parameter name: shape}) with shapes worked out by hand from the published rules:
# in_proj rows = 2*d_inner + 2*ngroups*d_state + nheads; conv channels = d_ssm + 2*ngroups*d_state.
LAYOUTS = [
    (
        {"d_model": 128},  # d_inner 256, 4 heads of 64, d_state 128
        {
            "in_proj.weight": (772, 128),
            "conv1d.weight": (512, 1, 4),
            "conv1d.bias": (512,),
            "dt_bias": (4,),
            "A_log": (4,),
            "D": (4,),
            "norm.weight": (256,),
            "out_proj.weight": (128, 256),
        },
    ),
    (
        {"d_model": 128, "d_state": 64, "headdim": 32, "chunk_size": 64},  # ModelConfig's defaults: 8 heads
        {
            "in_proj.weight": (648, 128),
            "conv1d.weight": (384, 1, 4),
            "conv1d.bias": (384,),
            "dt_bias": (8,),
            "A_log": (8,),
            "D": (8,),
            "norm.weight": (256,),
            "out_proj.weight": (128, 256),
        },
    ),
    (
        {"d_model": 64, "d_state": 16, "headdim": 16, "ngroups": 2, "d_conv": 2},  # 8 heads, 2 groups
        {
            "in_proj.weight": (328, 64),
            "conv1d.weight": (192, 1, 2),
            "conv1d.bias": (192,),
            "dt_bias": (8,),
            "A_log": (8,),
            "D": (8,),
            "norm.weight": (128,),
            "out_proj.weight": (64, 128),
        },
    ),
    (
        # d_ssm 32 of d_inner 64: the other 32 are a gated MLP; D per channel; biases; no norm.
        {"d_model": 32, "d_state": 8, "headdim": 8, "d_ssm": 32, "D_has_hdim": True, "bias": True,
         "conv_bias": False, "rmsnorm": False},
        {
            "in_proj.weight": (148, 32),
            "in_proj.bias": (148,),
            "conv1d.weight": (48, 1, 4),
            "dt_bias": (4,),
            "A_log": (4,),
            "D": (32,),
            "out_proj.weight": (32, 64),
            "out_proj.bias": (32,),
        },
    ),
]  # fmt: skip


def test_constructor_signature_and_defaults_match_mamba_ssm() -> None:
    parameters = inspect.signature(Mamba2.__init__).parameters
    got = {name: p.default for name, p in parameters.items() if name != "self"}
    assert got == PUBLISHED_SIGNATURE


@pytest.mark.parametrize(
    ("kwargs", "expected"), LAYOUTS, ids=["defaults", "eeg-default", "groups", "variants"]
)
def test_state_dict_names_shapes_and_dtypes(kwargs: dict, expected: dict) -> None:
    state = Mamba2(**kwargs).state_dict()
    assert {name: tuple(t.shape) for name, t in state.items()} == expected
    assert all(t.dtype == torch.float32 for t in state.values())


def test_dtype_argument_follows_mamba_ssm_including_D_staying_in_default_dtype() -> None:
    m = Mamba2(16, d_state=8, headdim=8, dtype=torch.float64)
    dtypes = {name: t.dtype for name, t in m.state_dict().items()}
    assert dtypes.pop("D") == torch.float32  # published: torch.ones(..., device=device), no dtype
    assert set(dtypes.values()) == {torch.float64}


def _published_init(
    d_model: int, d_state: int, headdim: int, ngroups: int, dt_min: float, dt_max: float
) -> dict:
    """mamba_ssm's Mamba2.__init__ random draws, in its order (nn.Linear, nn.Conv1d, dt, A)."""
    d_inner = 2 * d_model
    nheads = d_inner // headdim
    conv_dim = d_inner + 2 * ngroups * d_state
    in_proj = nn.Linear(d_model, 2 * d_inner + 2 * ngroups * d_state + nheads, bias=False)
    conv1d = nn.Conv1d(conv_dim, conv_dim, kernel_size=4, groups=conv_dim, padding=3, bias=True)
    dt = torch.exp(torch.rand(nheads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = torch.clamp(dt, min=1e-4)
    dt_bias = dt + torch.log(-torch.expm1(-dt))
    A_log = torch.log(torch.empty(nheads, dtype=torch.float32).uniform_(1, 16))
    out_proj = nn.Linear(d_inner, d_model, bias=False)
    return {
        "in_proj.weight": in_proj.weight,
        "conv1d.weight": conv1d.weight,
        "conv1d.bias": conv1d.bias,
        "dt_bias": dt_bias,
        "A_log": A_log,
        "D": torch.ones(nheads),
        "norm.weight": torch.ones(d_inner),
        "out_proj.weight": out_proj.weight,
    }


@pytest.mark.parametrize("ngroups", [1, 2])
def test_initialisation_draws_the_published_values_for_one_seed(ngroups: int) -> None:
    torch.manual_seed(7)
    expected = _published_init(32, 16, 8, ngroups, 0.001, 0.1)
    torch.manual_seed(7)
    got = Mamba2(32, d_state=16, headdim=8, ngroups=ngroups).state_dict()
    assert set(got) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(got[name], tensor), name


def test_initial_ranges_and_no_weight_decay_flags() -> None:
    torch.manual_seed(0)
    m = Mamba2(64, d_state=16, headdim=4, dt_min=0.002, dt_max=0.05)  # 32 heads: a real spread
    A = torch.exp(m.A_log)
    assert A.min() >= 1.0 and A.max() <= 16.0
    dt = F.softplus(m.dt_bias)
    assert dt.min() >= 0.002 * (1 - 1e-5) and dt.max() <= 0.05 * (1 + 1e-5)
    assert torch.equal(m.D.detach(), torch.ones(32))
    for name in ("A_log", "D", "dt_bias"):
        assert getattr(m, name)._no_weight_decay is True
    assert not hasattr(m.in_proj.weight, "_no_weight_decay")


def test_model_state_dict_is_the_same_for_every_mamba_backend_setting() -> None:
    base = {"window_length": 16, "d_model": 16, "num_layers": 2, "headdim": 4, "d_state": 8}
    keys = {
        backend: {
            k: tuple(v.shape) for k, v in EEGModel(ModelConfig(**base, backend=backend)).state_dict().items()
        }
        for backend in ("auto", "torch")
    }
    assert keys["auto"] == keys["torch"]
    mixer_keys = {k.split("mixer.", 1)[1] for k in keys["torch"] if ".mixer." in k}
    assert mixer_keys == {
        "in_proj.weight", "conv1d.weight", "conv1d.bias", "dt_bias", "A_log", "D", "norm.weight", "out_proj.weight"
    }  # fmt: skip
