"""Training-step time and peak memory of the eeg-ssm backbones, with ratios against baselines in one run.

    .venv/bin/python benchmarks/ssm_throughput.py                 # full run (several minutes on 2 cores)
    .venv/bin/python benchmarks/ssm_throughput.py --quick         # small shapes, to check the script

Model: the default ``ModelConfig`` (d_model 128, 6 layers, window 2048, d_state 64, headdim 32), batch 8,
L in {124, 512, 2048}. A step is forward + MSE reconstruction loss + backward (no optimiser). Variants:

* ``mamba``: the pure-PyTorch chunked SSD Mamba-2 (backend ``torch``);
* ``transformer``: the Transformer fallback at the same width and depth (causal, like ``mamba``);
* ``naive``: the same Mamba-2 model with its scan replaced by the token-by-token recurrence
  (``eeg_ssm.ssd_sequential``); everything else (projections, conv, norms, heads) is identical;
* ``free``: the same model with its scan replaced by one elementwise product, i.e. a step whose scan
  costs nothing. ``naive / free`` is the ceiling of ``naive / mamba``: no scan implementation, however
  fast, can beat it, because the rest of the step is the same work in both.

Each (variant, L) runs in a fresh child process so that its peak resident memory (``ru_maxrss`` minus the
resident size just before the first step) is its own. Time is the CPU time (``time.process_time``, one
thread) of the fastest of ``--repeats`` steps after one warm-up step; wall time is printed beside it. The
naive scan saves one ``(heads, headdim, d_state)`` state per token and layer for backward (about 20 GiB
at L=2048 and 6 layers), so it also runs at depth 1 and its 6-layer time is extrapolated where 6 layers
might not fit in ``--memory-budget-gib`` (default 60 % of the RAM; the layers are identical and only the
scan differs, so ``naive(6) = mamba(6) + 6 * (naive(1) - mamba(1))``); where both exist both are printed.
Also printed: the scan alone (``ssd_chunked`` vs ``ssd_sequential``) and a chunk-size sweep of one
Mamba-2 layer, which is how the default ``chunk_size`` was chosen. On a CUDA machine with mamba_ssm, a
GPU section compares the mamba_ssm kernels with the pure-PyTorch path (time, memory, agreement).

CPU threads default to 1: on a 2-core machine shared with other work, more threads oversubscribe the
cores and make timings erratic.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

import eeg_ssm.mamba2
from eeg_ssm import EEGModel, Mamba2, ModelConfig, mamba_ssm_status, ssd_chunked, ssd_sequential

CHANNELS = ["FZ", "CZ", "PZ", "OZ", "AF7", "AF8", "TP9", "TP10"]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _fastest(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of the fastest of ``repeats`` calls after ``warmup`` calls.

    CPU time (``time.process_time``) is what the ratios use: with one thread it counts the work done and
    barely moves when other jobs share the cores, while wall time can double under contention.
    """
    for _ in range(warmup):
        fn()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _use_sequential_scan() -> None:
    """Swap the chunked SSD for the token-by-token recurrence inside every pure-PyTorch Mamba2."""
    eeg_ssm.mamba2.ssd_chunked = lambda x, dt, A, B, C, chunk_size: ssd_sequential(x, dt, A, B, C)


def _use_free_scan() -> None:
    """Swap the chunked SSD for one elementwise product (no recurrence at all): what a step would cost if
    the scan were free. ``naive / free`` bounds the ``naive / mamba`` ratio any scan could reach."""
    eeg_ssm.mamba2.ssd_chunked = lambda x, dt, A, B, C, chunk_size: x * dt.unsqueeze(-1)


def _config(variant: str, window_length: int, layers: int) -> ModelConfig:
    backend = "transformer" if variant == "transformer" else "torch"
    return ModelConfig(backend=backend, window_length=window_length, num_layers=layers)


def child(variant: str, length: int, layers: int, args: argparse.Namespace) -> dict:
    """One (variant, L, depth) measurement in this process: step seconds and peak extra resident bytes."""
    torch.manual_seed(0)
    if variant == "naive":
        _use_sequential_scan()
    elif variant == "free":
        _use_free_scan()
    model = EEGModel(_config(variant, args.window, layers)).train()
    windows = torch.randn(args.batch, length, args.window)
    lengths = torch.full((args.batch,), length)
    channels = [CHANNELS[i % len(CHANNELS)] for i in range(args.batch)]

    def step() -> None:
        model.zero_grad(set_to_none=True)
        F.mse_loss(model(windows, channels, lengths), windows).backward()

    before = _rss_bytes()
    wall, seconds = _fastest(step, args.repeats, args.warmup)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {
        "variant": variant,
        "length": length,
        "layers": layers,
        "seconds": seconds,
        "wall": wall,
        "peak_bytes": max(peak, 0),
    }


def measure(variant: str, length: int, layers: int, args: argparse.Namespace, repeats: int, warmup: int):
    """Run :func:`child` in a fresh process (its own peak memory); print and return its result or None."""
    command = [
        sys.executable, __file__, "--child", variant, str(length), "--layers", str(layers),
        "--batch", str(args.batch), "--window", str(args.window), "--repeats", str(repeats),
        "--warmup", str(warmup), "--threads", str(args.threads),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    label = f"{variant} ({layers} layer{'s' if layers > 1 else ''})"
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        print(f"  {label:22s} L={length:5d}  FAILED: {reason}", flush=True)
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    per_token = result["peak_bytes"] / (args.batch * length)
    print(
        f"  {label:22s} L={length:5d}  step {result['seconds']:8.3f} s cpu {result['wall']:8.3f} s wall  "
        f"peak {result['peak_bytes'] / 2**20:8.1f} MiB  {per_token / 1024:7.1f} KiB/token",
        flush=True,
    )
    return result


def run_children(args: argparse.Namespace) -> dict:
    """Every variant at every length; the naive scan also at depth 1, to extrapolate where 6 layers do not fit.

    The naive scan keeps one (heads, headdim, d_state) state per token and layer for backward: at L=2048,
    batch 8, about 20 GiB for 6 layers. All layers cost the same and only the scan differs between
    ``mamba`` and ``naive``, so ``naive(6) = mamba(6) + 6 * (naive(1) - mamba(1))`` where 6 layers do not fit.
    """
    depth = ModelConfig().num_layers
    results: dict = {}
    for length in args.lengths:
        for variant in ("mamba", "transformer", "free"):
            results[(variant, length, depth)] = measure(variant, length, depth, args, args.repeats, 1)
        results[("mamba", length, 1)] = measure("mamba", length, 1, args, args.repeats, 1)
        shallow = measure("naive", length, 1, args, args.repeats, 1)
        results[("naive", length, 1)] = shallow
        # The depth-1 peak varies by up to 2x between runs and 6 layers have risen 8.8x above it (19.8 GiB
        # at L=2048): estimate with a margin, so that a default run is never killed for memory.
        estimate = shallow["peak_bytes"] * depth * 1.5 if shallow else None
        if estimate is not None and estimate <= args.memory_budget_gib * 2**30:
            results[("naive", length, depth)] = measure("naive", length, depth, args, 1, 1)
        elif estimate is not None:
            print(
                f"  naive ({depth} layers)       L={length:5d}  not run: up to ~{estimate / 2**30:.0f} GiB > "
                f"--memory-budget-gib {args.memory_budget_gib:g}; extrapolated below"
            )
    return results


def _scan_step(scan: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> None:
    scan(*inputs).sum().backward()


def scan_only(args: argparse.Namespace, results: dict) -> None:
    """The SSD alone: chunked vs sequential, forward + backward, at the model's scan shapes.

    Also a second estimate of the 6-layer naive step, independent of the depth-1 runs: the naive model is
    the mamba model with each layer's chunked scan swapped for the sequential one, so
    ``naive(6) = mamba(6) + 6 * (sequential scan - chunked scan)``.
    """
    config = ModelConfig()
    heads, headdim, d_state = config.nheads, config.headdim, config.d_state
    print(f"\nScan only (batch {args.batch}, {heads} heads x {headdim}, d_state {d_state}), fwd+bwd seconds:")
    for length in args.lengths:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(args.batch, length, heads, headdim, generator=g).requires_grad_()
        dt = (0.1 * torch.rand(args.batch, length, heads, generator=g)).requires_grad_()
        A = -(1 + 15 * torch.rand(heads, generator=g)).requires_grad_()
        B = torch.randn(args.batch, length, config.ngroups, d_state, generator=g).requires_grad_()
        C = torch.randn(args.batch, length, config.ngroups, d_state, generator=g).requires_grad_()
        chunked_scan = functools.partial(ssd_chunked, chunk_size=config.chunk_size)
        _, chunked = _fastest(functools.partial(_scan_step, chunked_scan, x, dt, A, B, C), args.repeats)
        _, naive = _fastest(functools.partial(_scan_step, ssd_sequential, x, dt, A, B, C), args.repeats)
        print(
            f"  L={length:5d}  chunked {chunked:7.3f}  sequential {naive:8.3f}  ratio {naive / chunked:6.1f}x"
        )
        mamba = results.get(("mamba", length, config.num_layers))
        if mamba:
            estimate = mamba["seconds"] + config.num_layers * (naive - chunked)
            print(
                f"  L={length:5d}  naive / mamba step time from the scan figures = "
                f"{estimate / mamba['seconds']:5.2f}x (naive {estimate:.2f} s)"
            )


def chunk_sweep(args: argparse.Namespace) -> None:
    """One default Mamba-2 layer at the longest length, fwd+bwd, for several chunk sizes."""
    config = ModelConfig()
    length = max(args.lengths)
    torch.manual_seed(0)
    block = Mamba2(config.d_model, d_state=config.d_state, headdim=config.headdim, ngroups=config.ngroups)
    u = torch.randn(args.batch, length, config.d_model, requires_grad=True)
    print(f"\nChunk-size sweep: one Mamba-2 layer, batch {args.batch}, L={length}, fwd+bwd seconds:")
    for chunk_size in (16, 32, 64, 128, 256):
        block.chunk_size = chunk_size
        _, seconds = _fastest(lambda: block(u).sum().backward(), args.repeats)
        marker = "  <- default" if chunk_size == config.chunk_size else ""
        print(f"  chunk_size {chunk_size:4d}  {seconds:7.3f}{marker}")


def summarise(results: dict, lengths: list[int]) -> None:
    depth = ModelConfig().num_layers
    print("\nRatios (same run, same machine; > 1 means mamba is faster):")
    for length in lengths:
        mamba = results.get(("mamba", length, depth))
        if mamba is None:
            continue
        transformer = results.get(("transformer", length, depth))
        if transformer:
            print(
                f"  L={length:5d}  transformer / mamba step time = {transformer['seconds'] / mamba['seconds']:6.2f}x"
            )
        naive_direct = results.get(("naive", length, depth))
        mamba1, naive1 = results.get(("mamba", length, 1)), results.get(("naive", length, 1))
        if naive_direct:
            print(
                f"  L={length:5d}  naive / mamba step time       = {naive_direct['seconds'] / mamba['seconds']:6.2f}x  (measured)"
            )
        if mamba1 and naive1:
            naive_extrapolated = mamba["seconds"] + depth * (naive1["seconds"] - mamba1["seconds"])
            print(
                f"  L={length:5d}  naive / mamba step time       = {naive_extrapolated / mamba['seconds']:6.2f}x  "
                f"(extrapolated from depth 1: naive {naive_extrapolated:.2f} s)"
            )
            chunked_layer = (mamba["seconds"] - mamba1["seconds"]) / (depth - 1)
            naive_layer = chunked_layer + naive1["seconds"] - mamba1["seconds"]
            print(f"  L={length:5d}  one layer: naive / chunked    = {naive_layer / chunked_layer:6.2f}x")
        free = results.get(("free", length, depth))
        naive_best = naive_direct["seconds"] if naive_direct else None
        if naive_best is None and mamba1 and naive1:
            naive_best = naive_extrapolated
        if free and naive_best:
            print(
                f"  L={length:5d}  naive / free-scan step time   = {naive_best / free['seconds']:6.2f}x  "
                "(the most naive / mamba could reach: everything but the scan is the same work)"
            )
            print(
                f"  L={length:5d}  the scan's share of a mamba step = "
                f"{(mamba['seconds'] - free['seconds']) / mamba['seconds']:6.1%}"
            )
    longest, middle = max(lengths), sorted(lengths)[-2] if len(lengths) > 1 else None
    if middle is None:
        return
    for variant in ("mamba", "transformer", "naive"):
        a, b = results.get((variant, middle, depth)), results.get((variant, longest, depth))
        if a and b and a["peak_bytes"] > 0:
            growth = (b["peak_bytes"] / longest) / (a["peak_bytes"] / middle)
            print(f"  {variant:11s} peak memory per token, L={longest} / L={middle} = {growth:5.2f}x")


def _device_step(model, windows, channels, lengths, outputs: dict, name: str, amp_dtype) -> None:
    model.zero_grad(set_to_none=True)
    with torch.autocast(windows.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        # the encoder's features: a new model's spectrum head starts at zero and would pass no gradient
        out = model.encode(windows, channels, lengths)
    out.float().square().mean().backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    outputs[name] = (out.detach().float(), grads)
    if windows.device.type == "cuda":
        torch.cuda.synchronize()


def gpu_section(
    args: argparse.Namespace,
    device: str | torch.device = "cuda",
    amp_dtype: torch.dtype | None = None,
    config: ModelConfig | None = None,
) -> None:
    """mamba_ssm kernels vs pure PyTorch on ``device``, one model's weights under both: encoder step time
    (forward + mean square of the features + backward, wall, median of ``args.repeats``), tokens/s, peak memory (CUDA), agreement
    of the outputs and of all gradients. ``amp_dtype``: under autocast to it (bf16: training on CUDA).
    Where the kernels cannot run on ``device`` only pure PyTorch is timed, and the reason is printed."""
    from eeg_ssm.backends import MambaRunner

    device = torch.device(device)
    usable, reason = mamba_ssm_status(device)
    names = ["torch", "mamba_ssm"] if usable else ["torch"]
    cuda = device.type == "cuda"
    where = torch.cuda.get_device_name(device) if cuda else "CPU"
    precision = "fp32" if amp_dtype is None else f"{amp_dtype} autocast".replace("torch.", "")
    print(f"\n{where}: mamba_ssm kernels vs pure PyTorch, same weights, {precision}, batch {args.batch}")
    if not usable:
        print(f"  mamba_ssm not run: {reason}")
    torch.manual_seed(0)
    config = config or ModelConfig(window_length=args.window)
    model = EEGModel(config.evolve(backend="torch")).to(device).train()
    for length in args.lengths:
        windows = torch.randn(args.batch, length, config.window_length, device=device)
        lengths = torch.full((args.batch,), length, device=device)
        channels = [CHANNELS[i % len(CHANNELS)] for i in range(args.batch)]
        outputs, seconds = {}, {}
        for name in names:
            model.backbone.runner = MambaRunner(name)
            step = functools.partial(
                _device_step, model, windows, channels, lengths, outputs, name, amp_dtype
            )
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
            walls = []
            for i in range(args.warmup + args.repeats):  # wall time: the GPU works while the CPU waits
                start = time.perf_counter()
                step()
                if i >= args.warmup:
                    walls.append(time.perf_counter() - start)
            seconds[name] = statistics.median(walls)
            peak = f"{torch.cuda.max_memory_allocated(device) / 2**20:8.1f} MiB" if cuda else "     n/a"
            print(
                f"  {name:9s} L={length:5d}  step {seconds[name] * 1000:9.2f} ms  "
                f"{args.batch * length / seconds[name]:11.0f} tokens/s  peak {peak}",
                flush=True,
            )
        if len(names) == 2:
            (out_t, grad_t), (out_k, grad_k) = outputs["torch"], outputs["mamba_ssm"]
            rel_out = ((out_k - out_t).abs().max() / out_t.abs().max()).item()
            rel_grad = ((grad_k - grad_t).abs().max() / grad_t.abs().max()).item()
            print(
                f"  L={length:5d}  torch / mamba_ssm step time {seconds['torch'] / seconds['mamba_ssm']:6.2f}x;"
                f"  max rel diff output {rel_out:.2e}, gradients {rel_grad:.2e}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lengths", type=int, nargs="+", default=[124, 512, 2048])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--layers", type=int, default=6, help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-budget-gib",
        type=float,
        default=round(0.6 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        help="run the 6-layer naive scan only when its estimated peak fits (default: 60%% of the RAM)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny shapes, one repeat: checks the script runs"
    )
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "LENGTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", UserWarning)
    if args.child:
        variant, length = args.child[0], int(args.child[1])
        print(json.dumps(child(variant, length, args.layers, args)))
        return
    if args.quick:
        args.lengths, args.batch, args.window, args.repeats = [16, 64, 128], 2, 64, 1
    print(
        f"eeg-ssm throughput: torch {torch.__version__}, {args.threads} thread(s) of {os.cpu_count()} CPUs, "
        f"batch {args.batch}, window {args.window}, lengths {args.lengths}, best of {args.repeats}"
    )
    print("\nTraining step (forward + MSE + backward), default ModelConfig (d_model 128, 6 layers):")
    results = run_children(args)
    summarise(results, args.lengths)
    scan_only(args, results)
    chunk_sweep(args)
    if torch.cuda.is_available():
        gpu_section(args)
    else:
        print("\nGPU section skipped: CUDA is not available")


if __name__ == "__main__":
    main()
