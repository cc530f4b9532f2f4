"""Which Mamba-2 implementation runs: mamba_ssm's CUDA kernels or the pure-PyTorch block.

Both run the parameters of one :class:`eeg_ssm.Mamba2` module, so the state_dict never depends on the
backend. For the kernels, a ``mamba_ssm.modules.mamba2.Mamba2`` is built on the meta device with the same
arguments and its parameters are pointed at the pure-PyTorch module's before each call (shared tensors,
so gradients, optimisers and DDP see one set of weights).

The choice is made per call from the tensors' device: released mamba_ssm needs compiled CUDA extensions
just to import and its Triton kernels fail on CPU tensors, so importability alone decides nothing.
"""

from __future__ import annotations

import functools
import logging

import torch
from torch import nn

from eeg_ssm.config import ModelConfigError
from eeg_ssm.mamba2 import Mamba2

logger = logging.getLogger(__name__)


@functools.cache
def _import_mamba_ssm() -> tuple[type[nn.Module] | None, str | None]:
    try:
        from mamba_ssm.modules.mamba2 import Mamba2 as KernelMamba2
    except Exception as error:  # ImportError, or OSError/RuntimeError from missing compiled extensions
        return None, f"{type(error).__name__}: {error}"
    return KernelMamba2, None


def mamba_ssm_status() -> tuple[bool, str]:
    """``(usable, reason)``: whether the mamba_ssm kernels can run here, and why not when they cannot."""
    kernel_class, error = _import_mamba_ssm()
    if kernel_class is None:
        return False, f"the mamba_ssm package does not import ({error})"
    if not torch.cuda.is_available():
        return False, "CUDA is not available"
    return True, "mamba_ssm imports and CUDA is available"


def check_backend(backend: str) -> None:
    """Fail early, with the reason, when ``backend`` is ``"mamba_ssm"`` and the kernels cannot run here."""
    if backend == "mamba_ssm":
        usable, reason = mamba_ssm_status()
        if not usable:
            raise ModelConfigError(
                f"ModelConfig.backend: 'mamba_ssm' cannot run here: {reason}. "
                "Use backend 'auto' (kernels on CUDA when available, pure PyTorch otherwise) or 'torch'"
            )
    elif backend == "auto":
        usable, reason = mamba_ssm_status()
        choice = "mamba_ssm kernels for CUDA tensors" if usable else "the pure-PyTorch Mamba-2"
        logger.info(
            "Mamba-2 backend 'auto': %s, so it will use %s (CPU tensors always use pure PyTorch)",
            reason,
            choice,
        )


class _KernelBlock:
    """A mamba_ssm Mamba2 whose parameters are those of a pure-PyTorch :class:`Mamba2` (not a submodule)."""

    def __init__(self, mixer: Mamba2) -> None:
        kernel_class, _ = _import_mamba_ssm()
        assert kernel_class is not None
        # Meta device: no memory and no random draws; the real tensors are attached in __call__.
        self.block = kernel_class(**mixer.init_kwargs, device="meta")
        self.names = [name for name, _ in mixer.named_parameters()]

    def __call__(self, mixer: Mamba2, u: torch.Tensor) -> torch.Tensor:
        # Re-attach every call: .to(), load_state_dict(assign=True) or FSDP may have replaced tensors.
        params = dict(mixer.named_parameters())
        for name in self.names:
            owner_path, _, leaf = name.rpartition(".")
            owner = self.block.get_submodule(owner_path) if owner_path else self.block
            setattr(owner, leaf, params[name])
        self.block.chunk_size = mixer.chunk_size  # a speed knob that may be changed after construction
        return self.block(u)


class MambaRunner:
    """Runs a :class:`Mamba2` mixer with the implementation ``backend`` asks for on the input's device."""

    def __init__(self, backend: str) -> None:
        check_backend(backend)
        self.backend = backend
        self._kernels: dict[int, _KernelBlock] = {}
        self._announced: set[str] = set()

    def implementation(self, device: torch.device, strict: bool = True) -> str:
        """``"mamba_ssm"`` or ``"torch"``: what runs for tensors on ``device``.

        With ``strict``, backend ``"mamba_ssm"`` and non-CUDA tensors raise :class:`ModelConfigError`;
        without, the answer is ``"mamba_ssm"`` (what will run once the tensors are on a GPU).
        """
        if self.backend == "torch":
            return "torch"
        if device.type == "cuda" and mamba_ssm_status()[0]:
            return "mamba_ssm"
        if self.backend == "mamba_ssm" and not strict:
            return "mamba_ssm"
        if self.backend == "mamba_ssm":
            raise ModelConfigError(
                f"ModelConfig.backend: 'mamba_ssm' needs CUDA tensors, got tensors on {device}; "
                "move the model to a GPU, or use backend 'auto' or 'torch'"
            )
        return "torch"

    def __call__(self, mixer: Mamba2, u: torch.Tensor) -> torch.Tensor:
        """``u``: ``(B, L, d_model)`` -> ``(B, L, d_model)``."""
        choice = self.implementation(u.device)
        if self.backend == "auto" and u.device.type not in self._announced:
            self._announced.add(u.device.type)
            logger.info("Mamba-2 backend 'auto' runs %s for %s tensors", choice, u.device.type)
        if choice == "torch":
            return mixer(u)
        kernel = self._kernels.get(id(mixer))
        if kernel is None:
            kernel = self._kernels[id(mixer)] = _KernelBlock(mixer)
        return kernel(mixer, u)
