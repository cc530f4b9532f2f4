"""mamba_ssm's own Triton kernels, run on CPU tensors by Triton's interpreter: layer parity with the
pure-PyTorch block, and the project's ``backend: mamba_ssm`` path on a whole model.

Needs the optional ``kernels`` group (mamba-ssm built without CUDA; see packages/eeg-ssm/README.md);
skipped with the reason without it, and on machines with a GPU (test_mamba_ssm_parity.py runs there).
The interpreter executes the kernels' arithmetic in NumPy, one program instance at a time: slow, so the
shapes are tiny. All comparisons are in float32 against the pure-PyTorch block on the same weights.

TRITON_INTERPRET=1 is set by this folder's conftest.py, before anything imports triton (see there). If
triton was imported earlier anyway, the tests fail and say so.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types

import pytest
import torch

import eeg_ssm.backends
from eeg_ssm import Mamba2, load_pretrained, mamba_ssm_status, save_checkpoint
from eeg_ssm.backends import MambaRunner

INSTALLED = importlib.util.find_spec("mamba_ssm") is not None
GPU = torch.cuda.is_available()

pytestmark = [
    pytest.mark.skipif(
        not INSTALLED, reason="needs mamba-ssm (the optional 'kernels' group; see packages/eeg-ssm/README.md)"
    ),
    pytest.mark.skipif(GPU, reason="a GPU is present: test_mamba_ssm_parity.py checks the kernels on it"),
]

#: relative difference (max |a - b| / max |b|) allowed between the kernels and pure PyTorch in float32;
#: measured: 1e-7 .. 2e-6
TOLERANCE = 2e-5


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


def _forget_mamba_ssm() -> None:
    """Drop mamba_ssm's modules (and a failed import's leftovers) and the backend's memory of them."""
    for name in [name for name in sys.modules if name == "mamba_ssm" or name.startswith("mamba_ssm.")]:
        del sys.modules[name]
    eeg_ssm.backends._import_mamba_ssm.cache_clear()


@pytest.fixture(scope="module")
def kernel_mamba2() -> type[torch.nn.Module]:
    """``mamba_ssm.modules.mamba2.Mamba2``, its kernels running in Triton's interpreter on CPU tensors.

    The stand-ins, every one outside the kernels' arithmetic, live only while this module's tests run:

    - ``selective_scan_cuda``: the Mamba-1 CUDA extension that ``mamba_ssm/__init__.py`` imports; a
      build without CUDA lacks it and Mamba-2 never calls it. An empty module.
    - ``torch.cuda.device(index)``: each kernel launch selects the GPU of its tensors; for CPU tensors
      (index None) a CUDA build of torch without a GPU raises. A null context.
    - ``torch.cuda.get_device_properties(...).multi_processor_count``: the SM count that sizes the grid
      of a few backward kernels (gated RMSNorm, chunk scan). 4.
    - ``triton.autotune``: times every config on the GPU to pick one; cut to its first config (one config
      is not timed). Applied before mamba_ssm's kernel modules are imported, where the decorators run.

    ``causal_conv1d`` stays absent, so the blocks run their unfused path (what backends.py chooses
    without it): the conv in PyTorch, the chunked scan and the gated RMSNorm in Triton.
    """
    import triton
    from triton.runtime.interpreter import InterpretedFunction

    if not isinstance(triton.language.standard.sigmoid, InterpretedFunction):  # loud: it would hide the tests
        pytest.fail(
            "Triton is not interpreting: TRITON_INTERPRET was not 1 when triton was imported (see "
            "tests/conftest.py); run with TRITON_INTERPRET=1 in the environment"
        )
    autotune = triton.autotune

    def first_config(configs, *args, **kwargs):
        return autotune(configs[:1], *args, **kwargs)

    def properties(device=None):
        return types.SimpleNamespace(multi_processor_count=4)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "selective_scan_cuda", types.ModuleType("selective_scan_cuda"))
        patch.setattr(torch.cuda, "device", lambda index: contextlib.nullcontext())
        patch.setattr(torch.cuda, "get_device_properties", properties)
        patch.setattr(triton, "autotune", first_config)
        _forget_mamba_ssm()
        from mamba_ssm.modules.mamba2 import Mamba2 as KernelMamba2

        assert mamba_ssm_status("cpu")[0], mamba_ssm_status("cpu")[1]
        yield KernelMamba2
        _forget_mamba_ssm()  # later tests see mamba_ssm as it is without the stand-ins


# Shapes that stress the kernels' bookkeeping while the interpreter stays quick.
LAYERS = {
    # L 13, chunk 8: a partial last chunk; 4 heads in 2 groups of B/C; D per channel; gated RMSNorm per group
    "groups-Dhdim-rmsnorm": {
        "d_model": 16,
        "d_state": 8,
        "headdim": 8,
        "ngroups": 2,
        "chunk_size": 8,
        "D_has_hdim": True,
        "rmsnorm": True,
        "length": 13,
    },
    # L 11, chunk 4: three chunks, the last of 3; no norm (y * silu(z)); 2 heads in one group
    "no-rmsnorm": {
        "d_model": 16,
        "d_state": 8,
        "headdim": 16,
        "ngroups": 1,
        "chunk_size": 4,
        "rmsnorm": False,
        "length": 11,
    },
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_kernel_layer_matches_pure_pytorch_forward_and_every_gradient(kernel_mamba2, case: str) -> None:
    kwargs = dict(LAYERS[case])
    length = kwargs.pop("length")
    torch.manual_seed(0)
    kernel = kernel_mamba2(**kwargs, use_mem_eff_path=False)
    ours = Mamba2(**kwargs)
    ours.load_state_dict(kernel.state_dict(), strict=True)  # and back: the layouts are one
    kernel.load_state_dict(ours.state_dict(), strict=True)
    u = torch.randn(2, length, kwargs["d_model"], requires_grad=True)
    results = {}
    for name, block in (("kernel", kernel), ("torch", ours)):
        out = block(u)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads = {"input": u.grad} | {n: p.grad for n, p in block.named_parameters()}
        results[name] = (out.detach(), grads)
        u.grad = None
    (out_k, grads_k), (out_t, grads_t) = results["kernel"], results["torch"]
    assert _rel(out_k, out_t) <= TOLERANCE
    assert grads_k.keys() == grads_t.keys()
    for name, grad in grads_t.items():
        assert _rel(grads_k[name], grad) <= TOLERANCE, name


# A tiny bidirectional model: 8 heads of 4 in 2 groups, chunk 8, sequences spanning 1 or 2 chunks.
MODEL = {"d_model": 16, "num_layers": 1, "headdim": 4, "ngroups": 2, "d_state": 8, "chunk_size": 8,
         "bidirectional": True}  # fmt: skip
LENGTHS = [13, 9, 4]
CHANNELS = ["FZ", "cz", "AF7"]


@pytest.fixture(scope="module")
def backends_run(kernel_mamba2, make_model, make_batch) -> dict:
    """One model's weights under both backends: outputs and every gradient on one padded batch."""
    models = {name: make_model(dtype=torch.float32, backend=name, **MODEL) for name in ("mamba_ssm", "torch")}
    models["torch"].load_state_dict(models["mamba_ssm"].state_dict(), strict=True)
    windows, lengths = make_batch(LENGTHS, dtype=torch.float32, padding="noise")
    valid = torch.arange(windows.shape[1]) < lengths[:, None]
    run = {"models": models, "windows": windows, "lengths": lengths, "channels": CHANNELS}
    for name, model in models.items():
        out = model(windows, run["channels"], lengths)
        out[valid].square().mean().backward()
        run[name] = (
            out.detach(),
            {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
        )
        model.zero_grad(set_to_none=True)
    return run


def _real(out: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
    return [out[row, :length] for row, length in enumerate(lengths.tolist())]


def test_model_backends_give_the_same_outputs_and_gradients(backends_run) -> None:
    assert backends_run["models"]["mamba_ssm"].backend_name == "mamba_ssm"
    (out_k, grads_k), (out_t, grads_t) = backends_run["mamba_ssm"], backends_run["torch"]
    assert not torch.equal(out_k, out_t)  # two implementations ran: their rounding differs
    for got, expected in zip(
        _real(out_k, backends_run["lengths"]), _real(out_t, backends_run["lengths"]), strict=True
    ):
        assert _rel(got, expected) <= TOLERANCE
    assert grads_k.keys() == grads_t.keys() and any(".mixer_reverse." in name for name in grads_t)
    for name, grad in grads_t.items():
        assert _rel(grads_k[name], grad) <= TOLERANCE, name


def test_padding_never_changes_real_tokens_under_the_kernels(backends_run, make_batch) -> None:
    model, lengths, names = (
        backends_run["models"]["mamba_ssm"],
        backends_run["lengths"],
        backends_run["channels"],
    )
    reference = _real(backends_run["mamba_ssm"][0], lengths)  # huge random padding
    zeros, _ = make_batch(LENGTHS, dtype=torch.float32, padding="zeros")
    longer, _ = make_batch(LENGTHS, max_length=20, dtype=torch.float32, padding="noise")  # a third chunk
    with torch.no_grad():
        for variant in (zeros, longer):
            for got, expected in zip(_real(model(variant, names, lengths), lengths), reference, strict=True):
                assert (got - expected).abs().max().item() <= 1e-6


def test_checkpoints_move_between_backends(backends_run, tmp_path) -> None:
    trained = backends_run["models"]["mamba_ssm"]
    payload = {"model": trained.state_dict(), "model_config": trained.config.to_dict()}
    path = save_checkpoint(tmp_path / "kernels.pt", payload)
    windows, lengths, names = backends_run["windows"], backends_run["lengths"], backends_run["channels"]
    on_torch = load_pretrained(path, backend="torch")
    assert on_torch.backend_name == "torch" and on_torch.config.backend == "torch"
    for key, value in trained.state_dict().items():
        assert torch.equal(on_torch.state_dict()[key], value), key
    back = load_pretrained(save_checkpoint(tmp_path / "torch.pt", {**payload, "model": on_torch.state_dict()}),
                           backend="mamba_ssm")  # fmt: skip
    assert back.backend_name == "mamba_ssm"
    with torch.no_grad():
        # the same backend on the same weights: identical, bit for bit
        assert torch.equal(back(windows, names, lengths), backends_run["mamba_ssm"][0])
        assert torch.equal(on_torch(windows, names, lengths), backends_run["torch"][0])


def test_the_runner_calls_the_kernels_with_the_mixers_own_parameters(kernel_mamba2) -> None:
    torch.manual_seed(1)
    mixer = Mamba2(d_model=16, d_state=8, headdim=16, chunk_size=8)
    runner = MambaRunner("mamba_ssm")
    u = torch.randn(1, 10, 16)
    with torch.no_grad():
        assert _rel(runner(mixer, u), mixer(u)) <= TOLERANCE
        # New tensors in place of the old (what .to() or load_state_dict(assign=True) do): used at once.
        fresh = {name: torch.randn_like(value) * 0.3 for name, value in mixer.state_dict().items()}
        fresh["A_log"] = mixer.A_log.detach().clone()
        before = runner(mixer, u)
        mixer.load_state_dict(fresh, assign=True)
        after = runner(mixer, u)
        assert _rel(after, mixer(u)) <= TOLERANCE and _rel(after, before) > 0.1
        mixer.chunk_size = 4  # changed after construction: another template, the same results
        assert _rel(runner(mixer, u), after) <= TOLERANCE
    assert len(runner._blocks) == 2
    for block in runner._blocks.values():  # templates only: no memory, no weights of their own
        assert all(p.is_meta for p in block.parameters()) and not block.use_mem_eff_path


def test_auto_keeps_pure_pytorch_on_cpu_under_the_interpreter(kernel_mamba2, make_model) -> None:
    assert mamba_ssm_status("cpu")[0]  # the kernels could run here, slowly ...
    assert make_model(backend="auto").backend_name == "torch"  # ... but 'auto' never picks them on CPU
