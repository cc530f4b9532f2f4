"""One command for a CUDA machine: the mamba_ssm kernels against the pure-PyTorch Mamba-2, end to end.

    uv run --all-packages python benchmarks/gpu.py             # on a GPU, kernels installed (~3-5 min, one H100)
    uv run --all-packages python benchmarks/gpu.py --dry-run   # tiny sizes; the default without CUDA

Every figure is printed next to its baseline measured in the same run, on one device:

1. **Parity**: the same weights under backend ``mamba_ssm`` and ``torch``; max relative difference
   (``max |a - b| / max |b|``) of the output and of every gradient, in fp32 and under bf16 autocast, for
   one Mamba-2 layer of the ``configs/pretrain.yaml`` shape (L not a multiple of the chunk) and for the
   demo and pretrain models on a padded batch. Under bf16 both backends are also compared with the fp32
   pure-PyTorch reference, so the kernels' error reads against PyTorch's own.
2. **Throughput**: forward + backward of the ``configs/pretrain.yaml`` model (6 Mamba-2 layers, d_model
   128, window 2048, batch 8) at L = 512 / 2048 / 8192 under bf16 autocast (what training uses on CUDA):
   ms per step, tokens/s, peak memory, the ratio torch / mamba_ssm (``ssm_throughput.gpu_section``).
3. **Pretraining step**: ``Trainer.train_step`` (masking, band power, forward, loss, backward, AdamW) of
   the ``configs/demo.yaml`` and ``configs/pretrain.yaml`` runs on a synthetic corpus, batches collated in
   memory beforehand, the two backends alternated step by step (``pretrain_step.build_trainer``).

Triton compiles and autotunes each kernel on its first call (once per dtype; cached under ~/.triton for
later runs): the first parity lines wait for that. Each section prints its own time.
In fp32 the kernels' matrix products use TF32 on Ampere and newer (about 1e-3 relative); set
``TRITON_F32_DEFAULT=ieee`` to compare in full fp32. Without CUDA it does a dry run: tiny models and
lengths, pure PyTorch only unless the kernels can run on the CPU, every line marked as a dry run.
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from pretrain_step import REPO, build_trainer, timed_step
from ssm_throughput import gpu_section

from eeg_config import apply_overrides, read_yaml
from eeg_io import write_synthetic_corpus
from eeg_pretrain.config import build_config
from eeg_ssm import EEGModel, Mamba2, ModelConfig, mamba_ssm_status
from eeg_ssm.backends import fused_path_available

#: What the dry run changes in both configs: a model and windows small enough for a CPU in seconds.
DRY_MODEL = ("data.window_length=256", "data.batch_size=4", "model.d_model=16", "model.num_layers=1",
             "model.headdim=8", "model.d_state=8", "model.chunk_size=8")  # fmt: skip
CHANNELS = ["FZ", "CZ", "PZ", "OZ", "AF7", "AF8", "TP9", "TP10"]


def _dry(dry: bool) -> str:
    return f"DRY RUN ({', '.join(DRY_MODEL)}): " if dry else ""


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """``max |a - b| / max |b|`` (the absolute difference where ``b`` is all zeros)."""
    scale = b.float().abs().max()
    return ((a.float() - b.float()).abs().max() / torch.where(scale > 0, scale, 1.0)).item()


def model_config(name: str, dry: bool) -> ModelConfig:
    """The model section of ``configs/<name>``, as the pretrain command resolves it."""
    raw = read_yaml(REPO / "configs" / name)
    return build_config(apply_overrides(raw, list(DRY_MODEL) if dry else [])).model


def _run(block, inputs: tuple, amp_dtype: torch.dtype | None, real: torch.Tensor | None = None) -> dict:
    """Output and every gradient of ``block(*inputs)`` under autocast to ``amp_dtype`` (None: fp32)."""
    block.zero_grad(set_to_none=True)
    device = inputs[0].device
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        out = block(*inputs)
    out = out.float() if real is None else out.float()[real]
    weights = torch.linspace(-1, 1, out.numel(), device=device).view_as(out)
    (out * weights).sum().backward()
    return {"output": out.detach()} | {
        n: p.grad.float() for n, p in block.named_parameters() if p.grad is not None
    }


def _compare(label: str, kernel: dict, torch_run: dict, reference: dict | None) -> None:
    grads = {
        name: _rel(kernel[name], grad) for name, grad in torch_run.items() if name != "output" and grad.any()
    }
    worst = max(grads, key=grads.get)
    line = (f"  {label:34s} output {_rel(kernel['output'], torch_run['output']):.1e}   "
            f"gradients max {grads[worst]:.1e} ({worst})")  # fmt: skip
    if reference is not None:  # bf16: each backend against the fp32 pure-PyTorch run
        line += (f"   vs fp32: mamba_ssm {_rel(kernel['output'], reference['output']):.1e}, "
                 f"torch {_rel(torch_run['output'], reference['output']):.1e}")  # fmt: skip
    print(line, flush=True)


def parity(device: torch.device, dry: bool) -> None:
    print(f"\n1. {_dry(dry)}Parity, mamba_ssm vs pure PyTorch on the same weights: max relative difference")
    if not mamba_ssm_status(device)[0]:
        print(f"  not run: {mamba_ssm_status(device)[1]}")
        return
    from eeg_ssm.backends import MambaRunner

    config = model_config("pretrain.yaml", dry)
    torch.manual_seed(0)
    layer = Mamba2(config.d_model, d_state=config.d_state, headdim=config.headdim, ngroups=config.ngroups,
                   chunk_size=config.chunk_size).to(device)  # fmt: skip
    length = 5 * config.chunk_size - 3  # a partial last chunk
    u = torch.randn(2, length, config.d_model, device=device, requires_grad=True)
    on_torch, on_kernels = _Wrapped(layer, MambaRunner("torch")), _Wrapped(layer, MambaRunner("mamba_ssm"))
    cases = [(f"one layer (pretrain.yaml), L={length}", on_torch, on_kernels, (u,), None)]
    for name in ("demo.yaml", "pretrain.yaml"):
        model = EEGModel(model_config(name, dry).evolve(backend="torch")).to(device)
        twin = EEGModel(model.config.evolve(backend="mamba_ssm")).to(device)
        twin.load_state_dict(model.state_dict(), strict=True)
        window = model.config.window_length
        # the encoder's features: a new model's spectrum head starts at zero, so its output is the
        # context alone and would agree whatever the backbone did
        model, twin = _Encoder(model), _Encoder(twin)
        lengths = [5 * config.chunk_size - 3, 3 * config.chunk_size + 1, 4]
        windows = torch.randn(len(lengths), max(lengths), window, device=device)
        real = torch.arange(max(lengths), device=device) < torch.tensor(lengths, device=device)[:, None]
        windows[~real] = 0.0
        inputs = (windows, CHANNELS[: len(lengths)], torch.tensor(lengths, device=device))
        cases.append((f"{name} encoder, padded L={lengths}", model, twin, inputs, real))
    for precision in (None, torch.bfloat16):
        print(f"  {'fp32' if precision is None else 'bf16 autocast'}:")
        for label, ours, kernel, inputs, real in cases:
            reference = _run(ours, inputs, None, real) if precision is not None else None
            _compare(
                label, _run(kernel, inputs, precision, real), _run(ours, inputs, precision, real), reference
            )


class _Encoder(torch.nn.Module):
    """``EEGModel.encode`` as a module's forward."""

    def __init__(self, model: EEGModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs) -> torch.Tensor:
        return self.model.encode(*inputs)


class _Wrapped(torch.nn.Module):
    """A pure-PyTorch Mamba2 layer run through the mamba_ssm backend (its parameters, the kernels)."""

    def __init__(self, mixer: Mamba2, runner) -> None:
        super().__init__()
        self.mixer, self.runner = mixer, runner

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.runner(self.mixer, u)


def throughput(device: torch.device, dry: bool) -> None:
    print(f"\n2. {_dry(dry)}Throughput: forward + backward of the configs/pretrain.yaml model")
    sizes = {"lengths": [16, 32, 64], "batch": 2, "repeats": 2, "warmup": 1} if dry else {
        "lengths": [512, 2048, 8192], "batch": 8, "repeats": 10, "warmup": 3}  # fmt: skip
    config = model_config("pretrain.yaml", dry)
    args = argparse.Namespace(window=config.window_length, **sizes)
    gpu_section(args, device, torch.bfloat16, config)


def pretraining_step(device: torch.device, dry: bool, steps: int) -> None:
    print(f"\n3. {_dry(dry)}Pretraining step (Trainer.train_step, batches in memory, backends alternated)")
    usable, reason = mamba_ssm_status(device)
    backends = ["torch", "mamba_ssm"] if usable else ["torch"]
    if not usable:
        print(f"  mamba_ssm not run: {reason}")
    for name, corpus_size in (("demo.yaml", (8, 24)), ("pretrain.yaml", (4, 256))):
        config = model_config(name, dry)
        participants, windows_per_run = (2, 12) if dry else corpus_size
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            write_synthetic_corpus(corpus, participants=participants, windows_per_run=windows_per_run,
                                   channels=CHANNELS, window_length=config.window_length,
                                   sfreq=config.sampling_rate, seed=0)  # fmt: skip
            extra = DRY_MODEL if dry else ()
            trainers = {
                backend: build_trainer(corpus, Path(tmp) / backend, 0, None,
                                       (*extra, f"model.backend={backend}"), config=name, device=device)
                for backend in backends
            }  # fmt: skip
            first = trainers["torch"]
            batches = list(first.train_loader)
            meters = {backend: trainer._meter() for backend, trainer in trainers.items()}
            times: dict[str, list[float]] = {backend: [] for backend in backends}
            for i in range(steps + 2):  # two warm-up steps each (compilation, allocator)
                for backend in backends if i % 2 == 0 else backends[::-1]:
                    seconds, _ = timed_step(
                        trainers[backend], meters[backend], iter((batches[i % len(batches)],))
                    )
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    if i >= 2:
                        times[backend].append(seconds)
            batch = batches[0]
            tokens = int(batch["lengths"].sum())
            model = first.config.model
            print(f"  {name}: d_model {model.d_model}, {model.num_layers} layers, bidirectional "
                  f"{model.bidirectional}, batch {len(batch['channels'])} x L {batch['windows'].shape[1]} "
                  f"x window {model.window_length}, precision {first.config.train.precision} "
                  f"({first.amp_dtype or 'fp32'})")  # fmt: skip
            for backend in backends:
                median = statistics.median(times[backend])
                print(f"    {backend:9s} {median * 1000:9.2f} ms per step (median of {steps})  "
                      f"{tokens / median:10.0f} tokens/s")  # fmt: skip
            if len(backends) == 2:
                ratio = statistics.median(times["torch"]) / statistics.median(times["mamba_ssm"])
                print(f"    torch / mamba_ssm step time {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes (the default without CUDA)")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--steps", type=int, default=None, help="timed pretraining steps per backend")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.simplefilter("ignore", UserWarning)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dry = args.dry_run or device.type != "cuda"
    steps = args.steps or (3 if dry else 10)
    start = time.perf_counter()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    if dry:
        print("DRY RUN: tiny models and lengths; these figures say nothing about speed")
    usable, reason = mamba_ssm_status(device)
    fused = usable and fused_path_available(device)
    print(f"device {where}; torch {torch.__version__}; mamba_ssm on {device.type}: {reason}"
          + (f"; fused path (causal-conv1d): {'yes' if fused else 'no'}" if usable else ""))  # fmt: skip
    for section in (parity, throughput, functools.partial(pretraining_step, steps=steps)):
        begun = time.perf_counter()
        section(device, dry)
        print(f"  ({time.perf_counter() - begun:.0f} s)", flush=True)
    print(f"\n{'DRY RUN ' if dry else ''}total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
