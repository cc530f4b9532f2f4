"""Which Mamba-2 implementation runs: mamba_ssm's Triton kernels or the pure-PyTorch block.

Both run the parameters of one :class:`eeg_ssm.Mamba2` module, so the state_dict never depends on the
backend. For the kernels, a ``mamba_ssm.modules.mamba2.Mamba2`` is built once per set of constructor
arguments on the meta device (no memory, no random draws) and called with the pure-PyTorch module's own
parameters through :func:`torch.func.functional_call`. Nothing is copied or re-attached: gradients,
optimisers and DDP see one set of weights, and ``.to()`` or ``load_state_dict(assign=True)`` replacing
tensors changes nothing.

Where the kernels run is decided per call from the tensors' device: on CUDA tensors, and on CPU tensors
when Triton runs its interpreter (``TRITON_INTERPRET=1``, set before triton is first imported; slow, the
same arithmetic; this is how the tests run them). Backend ``"auto"`` uses the kernels for CUDA tensors
only. Importability alone decides nothing: released mamba_ssm needs compiled CUDA extensions just to
import, and its Triton kernels need a GPU or the interpreter.

What is said: a run that does not use the kernels says nothing about them (the reasons are logged at DEBUG,
and ``auto`` does not even import mamba_ssm without CUDA); where they run, the choice is logged once at INFO,
and a head count they may reject (:data:`~eeg_ssm.config.HEAD_ALIGNMENT`) is one WARNING line. Warnings
mamba_ssm raises while it is imported (deprecated torch APIs it calls) are its own business: DEBUG.

The fused path (``use_mem_eff_path``: conv, scan, gated norm and output projection in one autograd
function) needs the ``causal-conv1d`` CUDA extension; where that is absent the block runs its unfused path
(the conv in PyTorch, the scan and the gated RMSNorm in Triton), with the same parameters and results.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings

import torch
from torch import nn

from eeg_ssm.config import HEAD_ALIGNMENT, ModelConfigError
from eeg_ssm.mamba2 import Mamba2

logger = logging.getLogger(__name__)


@functools.cache
def _import_mamba_ssm() -> tuple[type[nn.Module] | None, str | None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            from mamba_ssm.modules.mamba2 import Mamba2 as KernelMamba2
        except Exception as error:  # ImportError, or OSError/RuntimeError from missing compiled extensions
            KernelMamba2, reason = None, f"{type(error).__name__}: {error}"
        else:
            reason = None
    for warning in caught:
        logger.debug("importing mamba_ssm: %s: %s", warning.category.__name__, warning.message)
    return KernelMamba2, reason


def triton_interprets() -> bool:
    """Whether Triton runs kernels in its interpreter (``TRITON_INTERPRET=1``), on CPU tensors."""
    try:
        from triton import knobs  # triton >= 3.4 reads the variable through its knobs
    except ImportError:
        return os.environ.get("TRITON_INTERPRET", "0").lower() in {"1", "true", "on", "yes"}
    return bool(knobs.runtime.interpret)


def mamba_ssm_status(device: str | torch.device = "cuda") -> tuple[bool, str]:
    """``(usable, reason)``: whether the mamba_ssm kernels can run on ``device``'s kind of tensors here.

    ``"cuda"``: the package imports and CUDA is available. ``"cpu"``: the package imports and Triton runs
    its interpreter. Any other device: never.
    """
    kind = torch.device(device).type
    if kind == "cuda" and not torch.cuda.is_available():
        return False, "CUDA is not available"  # without importing mamba_ssm: nothing here could run it
    kernel_class, error = _import_mamba_ssm()
    if kernel_class is None:
        return False, f"the mamba_ssm package does not import ({error})"
    if kind == "cuda":
        return True, "mamba_ssm imports and CUDA is available"
    if kind == "cpu" and triton_interprets():
        return True, "mamba_ssm imports and Triton runs its interpreter on CPU tensors (TRITON_INTERPRET=1)"
    return False, (
        f"Triton compiles its kernels for CUDA tensors only; {kind} tensors need its interpreter "
        "(TRITON_INTERPRET=1 set before triton is imported; CPU only)"
    )


def check_backend(backend: str) -> None:
    """Fail early, with the reason, when ``backend`` is ``"mamba_ssm"`` and the kernels run nowhere here."""
    if backend == "mamba_ssm":
        usable, reason = mamba_ssm_status("cuda")
        if not usable and not mamba_ssm_status("cpu")[0]:
            if _import_mamba_ssm()[0] is None:  # the package is the first thing to fix: say why it fails
                reason = mamba_ssm_status("cpu")[1]
            else:
                reason += (
                    " and Triton's interpreter is off (TRITON_INTERPRET=1 runs the kernels on CPU tensors)"
                )
            raise ModelConfigError(
                f"ModelConfig.backend: 'mamba_ssm' cannot run here: {reason}. "
                "Use backend 'auto' (kernels on CUDA when available, pure PyTorch otherwise) or 'torch'"
            )
    elif backend == "auto":
        usable, reason = mamba_ssm_status("cuda")
        choice = "mamba_ssm kernels for CUDA tensors" if usable else "the pure-PyTorch Mamba-2"
        # the pure-PyTorch Mamba-2 is the normal case, not news: only a run that gets the kernels hears of them
        logger.log(
            logging.INFO if usable else logging.DEBUG,
            "Mamba-2 backend 'auto': %s, so it will use %s (CPU tensors always use pure PyTorch)",
            reason,
            choice,
        )


def fused_path_available(device: torch.device) -> bool:
    """Whether mamba_ssm's fused path can run on ``device``: it calls causal-conv1d's CUDA extension."""
    if device.type != "cuda":
        return False
    from mamba_ssm.ops.triton import ssd_combined

    return getattr(ssd_combined, "causal_conv1d_fwd_function", None) is not None


class MambaRunner:
    """Runs a :class:`Mamba2` mixer with the implementation ``backend`` asks for on the input's device."""

    def __init__(self, backend: str) -> None:
        check_backend(backend)
        self.backend = backend
        # mamba_ssm blocks on the meta device, one per (constructor arguments, fused path): stateless
        # templates, so every mixer with those arguments shares one.
        self._blocks: dict[tuple, nn.Module] = {}
        self._announced: set[str] = set()
        self._warned_heads: set[int] = set()

    def implementation(self, device: torch.device, strict: bool = True) -> str:
        """``"mamba_ssm"`` or ``"torch"``: what runs for tensors on ``device``.

        With ``strict``, backend ``"mamba_ssm"`` and tensors where the kernels cannot run raise
        :class:`ModelConfigError`; without, the answer is ``"mamba_ssm"`` (what will run once the tensors
        are where the kernels run).
        """
        if self.backend == "torch":
            return "torch"
        if self.backend == "auto":
            return "mamba_ssm" if device.type == "cuda" and mamba_ssm_status("cuda")[0] else "torch"
        usable, reason = mamba_ssm_status(device)
        if usable or not strict:
            return "mamba_ssm"
        raise ModelConfigError(
            f"ModelConfig.backend: 'mamba_ssm' cannot run on tensors on {device}: {reason}; "
            "move the model to a GPU, or use backend 'auto' or 'torch'"
        )

    def kernel_block(self, mixer: Mamba2, device: torch.device) -> nn.Module:
        """The meta-device mamba_ssm block that runs ``mixer``'s parameters on ``device``."""
        kwargs = mixer.init_kwargs | {
            "chunk_size": mixer.chunk_size,  # a speed knob that may be changed after construction
            "use_mem_eff_path": fused_path_available(device),
            "layer_idx": None,  # only names the slot of a generation cache
        }
        key = tuple(sorted(kwargs.items()))
        block = self._blocks.get(key)
        if block is None:
            kernel_class, _ = _import_mamba_ssm()
            assert kernel_class is not None
            if mixer.nheads % HEAD_ALIGNMENT and mixer.nheads not in self._warned_heads:
                self._warned_heads.add(mixer.nheads)
                logger.warning(
                    "ModelConfig.headdim: %d heads (expand * d_model / headdim) is not a multiple of %d; the "
                    "mamba_ssm kernels may reject this layout or run it slowly (backend 'torch' runs any)",
                    mixer.nheads,
                    HEAD_ALIGNMENT,
                )
            block = self._blocks[key] = kernel_class(**kwargs, device="meta")
        return block

    def __call__(self, mixer: Mamba2, u: torch.Tensor) -> torch.Tensor:
        """``u``: ``(B, L, d_model)`` -> ``(B, L, d_model)``."""
        choice = self.implementation(u.device)
        if self.backend == "auto" and u.device.type not in self._announced:
            self._announced.add(u.device.type)
            level = logging.INFO if choice == "mamba_ssm" else logging.DEBUG
            logger.log(level, "Mamba-2 backend 'auto' runs %s for %s tensors", choice, u.device.type)
        if choice == "torch":
            return mixer(u)
        params = dict(mixer.named_parameters())
        return torch.func.functional_call(self.kernel_block(mixer, u.device), params, (u,), strict=True)
