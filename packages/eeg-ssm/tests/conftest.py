"""Tiny models and right-padded batches shared by the eeg_ssm tests (2 shared cores: keep them small)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
import torch

from eeg_ssm import EEGModel, ModelConfig

# mamba_ssm's Triton kernels run on CPU tensors in Triton's interpreter (test_mamba_ssm_kernels.py). Triton
# decides when it is first imported whether it interprets (its own standard library, tl.sigmoid and the
# like, is wrapped then), so TRITON_INTERPRET must be set before anything imports triton. This conftest is
# imported before any test module of this folder is collected (test_mamba_ssm_parity.py imports mamba_ssm,
# and so triton, while it is collected), and nothing in the workspace imports triton at import time, so
# here is early enough, in a whole-suite run too. Only where mamba_ssm is installed and there is no GPU:
# there Triton has nothing else to run on, so the variable changes nothing else.
if (
    importlib.util.find_spec("mamba_ssm") is not None
    and not torch.cuda.is_available()
    and "triton" not in sys.modules
):
    os.environ.setdefault("TRITON_INTERPRET", "1")

WINDOW = 16
# 8 heads of 4 (expand 2 * d_model 16 = 32): no head-alignment warning; chunk 8 so sequences span chunks.
TINY = {"window_length": WINDOW, "d_model": 16, "num_layers": 2, "headdim": 4, "d_state": 8, "chunk_size": 8,
        "transformer_heads": 4, "transformer_ff_mult": 2}  # fmt: skip
CHANNELS = ["FZ", "cz", "AF7", "T3"]


def tiny_config(**changes) -> ModelConfig:
    return ModelConfig(**(TINY | changes))


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float64, **changes) -> EEGModel:
    torch.manual_seed(seed)
    return EEGModel(tiny_config(**changes)).to(dtype).eval()


def padded_batch(lengths: list[int], max_length: int | None = None, seed: int = 0, dtype=torch.float64,
                 padding: str = "zeros") -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Windows ``(B, L, WINDOW)`` with real data up to each length and ``padding`` (zeros|noise) after."""
    g = torch.Generator().manual_seed(seed)
    pad_g = torch.Generator().manual_seed(seed + 1000)
    max_length = max_length or max(lengths)
    windows = torch.zeros(len(lengths), max_length, WINDOW, dtype=dtype)
    for row, length in enumerate(lengths):
        # Drawn row by row so the real data does not depend on max_length.
        windows[row, :length] = torch.randn(length, WINDOW, generator=g, dtype=dtype)
        if padding == "noise":
            windows[row, length:] = 50.0 * torch.randn(
                max_length - length, WINDOW, generator=pad_g, dtype=dtype
            )
    return windows, torch.tensor(lengths)


@pytest.fixture
def channels() -> list[str]:
    return list(CHANNELS)


@pytest.fixture
def make_config():
    """``make_config(**changes)`` -> a tiny :class:`ModelConfig`."""
    return tiny_config


@pytest.fixture(scope="session")  # plain factories: module-scoped fixtures may use them too
def make_model():
    """``make_model(seed=0, dtype=float64, **config_changes)`` -> a tiny :class:`EEGModel` in eval mode."""
    return tiny_model


@pytest.fixture(scope="session")
def make_batch():
    """``make_batch(lengths, max_length=None, seed=0, dtype=float64, padding="zeros"|"noise")``."""
    return padded_batch


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):
    """``full_disk(folder, free=0) -> FullDisk``: files opened with ``os.fdopen`` under ``folder`` (every
    atomic write) live on a device with ``free`` bytes left (see :mod:`eeg_config.testing`). Linux only."""
    from eeg_config.testing import full_disks

    try:
        return full_disks(monkeypatch)
    except NotImplementedError as reason:
        pytest.skip(str(reason))
