"""Data-pipeline overhead of a pretraining step, at demo scale on CPU.

Times optimiser steps of one trainer in one process, alternating step by step between (a) the real
pipeline (cache or Parquet -> eeg-io dataset -> mask keys -> collate with batch masks, the batch fetched
from the DataLoader inside the timed step) and (b) a batch that was collated in memory beforehand. Both
kinds of step hide the masked windows on the device and then run forward, backward and the optimiser;
(a) additionally pays for everything the loader does. Alternating pairs of steps (in turn (a) first, then
(b) first) see the same machine conditions, and the medians of the per-step times ignore the odd step
slowed by another process. Prints sequences/s, tokens/s and the ratio of the medians (a)/(b); the target
is <= 1.10 (data loading adds at most 10 %). Also prints the loader's time per batch on its own, and the
cost of the spectral features: in-memory steps of the demo's objective (spectrum target, spectrum input,
3 tapers, local context) against the same model with a raw+spectrum and a raw input, with one taper and
without the local context, and against the seed's raw/raw objective, alternated.

    uv run --package pretrain python benchmarks/pretrain_step.py [--steps 24] [--rounds 4] [--workers 0] [--no-cache]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from eeg_config import apply_overrides, read_yaml
from eeg_io import write_synthetic_corpus
from eeg_pretrain.config import build_config
from eeg_pretrain.trainer import Trainer
from eeg_ssl import ReconstructionMeter
from eeg_train import DistInfo

REPO = Path(__file__).resolve().parents[1]


def build_trainer(
    corpus: Path,
    save_dir: Path,
    workers: int,
    cache: Path | None,
    extra: tuple[str, ...] = (),
    config: str = "demo.yaml",
    device: torch.device | None = None,
) -> Trainer:
    """A quiet trainer of ``configs/<config>`` on ``corpus`` (CPU unless ``device``), no validation split."""
    raw = read_yaml(REPO / "configs" / config)
    overrides = [
        f"data.dataset_path={corpus}",
        f"data.num_workers={workers}",
        "data.val_ratio=0.0",
        f"train.save_dir={save_dir}",
        "train.quiet=true",
        "tracking.enabled=false",
        "synthetic.enabled=false",
    ]
    overrides.append(f"data.cache_dir={cache if cache is not None else 'null'}")
    overrides.extend(extra)
    run_config = build_config(apply_overrides(raw, overrides))
    torch.manual_seed(0)
    return Trainer(run_config, DistInfo(), device or torch.device("cpu"))


def timed_step(trainer: Trainer, meter: ReconstructionMeter, source: Iterator[dict]) -> tuple[float, dict]:
    """Seconds of one optimiser step, including ``next(source)`` (a loader fetch, or a batch in memory)."""
    start = time.perf_counter()
    batch = next(source)
    trainer.train_step([batch], meter)
    return time.perf_counter() - start, batch


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=24, help="pairs of steps per round")
    parser.add_argument("--rounds", type=int, default=4, help="rounds (a fresh epoch of the loader each)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--cache",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read through the decoded-array cache, warmed first, as configs/demo.yaml does (default); "
        "--no-cache decodes Parquet on every step",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        demo = read_yaml(REPO / "configs" / "demo.yaml")
        syn = demo["synthetic"]
        batch_size = demo["data"]["batch_size"]
        corpus = tmp / "corpus"
        # Enough files (19 channels each) that one epoch holds every batch of a round, (a)'s and (b)'s.
        participants = max(syn["participants"], 1 + (2 * args.steps + 2) * batch_size // 19)
        write_synthetic_corpus(
            corpus,
            participants=participants,
            windows_per_run=syn["windows_per_run"],
            window_length=demo["data"]["window_length"],
            sfreq=syn.get("sfreq", 256.0),  # the rate demo.yaml's data.sampling_rate names
            seed=0,
        )
        cache = tmp / "cache" if args.cache else None
        trainer = build_trainer(corpus, tmp / "run", args.workers, cache)
        meter = trainer._meter()

        def epoch_batches(epoch: int):
            trainer.train_set.set_epoch(epoch)
            trainer.train_sampler.set_epoch(epoch)
            return iter(trainer.train_loader)

        if cache is not None:  # warm the cache: later epochs are what it speeds up
            for _ in epoch_batches(0):
                pass
        loader_alone = []
        batches = epoch_batches(0)
        next(batches)  # untimed: a worker pool starts here
        for _ in range(args.steps):
            start = time.perf_counter()
            next(batches)
            loader_alone.append(time.perf_counter() - start)
        timed_step(trainer, meter, batches)  # warm-up step (first-call allocations)

        real, in_memory = [], []
        for round_ in range(args.rounds):
            batches = epoch_batches(1 + round_)
            held = next(batches)  # untimed, as above
            prepared = [held] + [next(batches) for _ in range(args.steps - 1)]
            for i in range(args.steps):
                order = (real, in_memory) if i % 2 == 0 else (in_memory, real)
                for times in order:
                    source = batches if times is real else iter((prepared[i],))
                    seconds, batch = timed_step(trainer, meter, source)
                    times.append(seconds)
            sequences = len(batch["channels"])
            tokens = int(batch["lengths"].sum())

        # The cost of the spectral features: the same in-memory batches through four objectives, alternated.
        demo_input = trainer.config.model.input
        variants = {
            f"demo (spectrum, {demo_input})": trainer,
            "spectrum, raw+spectrum input": build_trainer(
                corpus, tmp / "run_d", 0, cache, ("model.input=raw+spectrum",)
            ),
            "spectrum, raw input": build_trainer(corpus, tmp / "run_b", 0, cache, ("model.input=raw",)),
            "raw, raw (the seed's)": build_trainer(
                corpus, tmp / "run_c", 0, cache, ("model.input=raw", "objective.target=raw")
            ),
            # what the demo's multitaper estimate and local context cost on their own
            "demo with one taper": build_trainer(corpus, tmp / "run_e", 0, cache, ("model.tapers=1",)),
            "demo without local context": build_trainer(
                corpus, tmp / "run_f", 0, cache, ("model.local_context=false",)
            ),
        }
        variant_times: dict[str, list[float]] = {name: [] for name in variants}
        meters = {name: t._meter() for name, t in variants.items()}
        for name, t in variants.items():  # warm-up
            timed_step(t, meters[name], iter((prepared[0],)))
        for i in range(args.steps):
            names = list(variants) if i % 2 == 0 else list(reversed(variants))
            for name in names:
                seconds, _ = timed_step(variants[name], meters[name], iter((prepared[i],)))
                variant_times[name].append(seconds)

    real_s, mem_s = statistics.median(real), statistics.median(in_memory)
    print(
        f"demo scale: batch {trainer.config.data.batch_size}, window {trainer.config.data.window_length}, "
        f"d_model {trainer.config.model.d_model}, {trainer.config.model.num_layers} layers, "
        f"{args.rounds} rounds x {args.steps} pairs of steps, workers {args.workers}, "
        f"cache {'on' if args.cache else 'off'}, torch threads {torch.get_num_threads()}"
    )
    print(f"loader alone      : {1000 * statistics.median(loader_alone):7.2f} ms per batch (median)")
    print(
        f"(a) real pipeline : {1000 * real_s:7.2f} ms per step (median)  {sequences / real_s:8.1f} seq/s  "
        f"{tokens / real_s:9.1f} tokens/s"
    )
    print(
        f"(b) in memory     : {1000 * mem_s:7.2f} ms per step (median)  {sequences / mem_s:8.1f} seq/s  "
        f"{tokens / mem_s:9.1f} tokens/s"
    )
    print(
        f"ratio (a)/(b) = {real_s / mem_s:.3f}  (target <= 1.10); ratio of means {sum(real) / sum(in_memory):.3f}"
    )
    base = statistics.median(variant_times["raw, raw (the seed's)"])
    raw_input = statistics.median(variant_times["spectrum, raw input"])
    for name, times in variant_times.items():
        print(f"in-memory step, {name:30s}: {1000 * statistics.median(times):7.2f} ms (median)  "
              f"x{statistics.median(times) / base:.3f} of raw/raw")  # fmt: skip
    for name in (f"demo (spectrum, {demo_input})", "spectrum, raw+spectrum input"):
        inputs = name.split(", ")[1].split(" ")[0].rstrip(")")
        print(f"step time {inputs} / raw input (spectrum target): "
              f"{statistics.median(variant_times[name]) / raw_input:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
