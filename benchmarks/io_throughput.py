"""eeg-io read throughput against raw pyarrow and a memory-mapped copy, measured in one run.

Writes a synthetic corpus of realistic shape (default 8 files x 64 channels x 124 windows x 2048
float32 samples: 512 sequences of ~1 MB, ~0.5 GB decoded), then measures sequences/s and MB/s of

  (1) raw:     pyarrow.parquet.read_table(file, columns=[channel]) + flatten to numpy  [baseline]
  (2) memmap:  a plain copy of each sequence out of one memory-mapped float32 .npy     [baseline]
  (a) dataset reading Parquet (ChannelSequenceDataset, normalization="sequence")
  (b) dataset reading its decoded cache (cache_dir, float32)
  (c) DataLoader(dataset, batch_size=32, num_workers=2, collate_sequences), from Parquet and from cache

and prints the ratios against the baselines: targets (a)/(1) >= 0.8 and (b)/(a) >= 5. Every
measurement runs ``--rounds`` times, interleaved, and the best round is kept (the machine is shared).
All reads come from the OS page cache (every file is read once beforehand), so this measures
decoding, not the disk. Peak memory: child processes iterate the dataset over a corpus of 1/4 and
of all the files and report how much their peak RSS (VmHWM, Linux) grew while doing so.

    uv run --all-packages --locked python benchmarks/io_throughput.py [--files 8 --channels 64 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader

from eeg_io import ChannelSequenceDataset, build_index, collate_sequences, write_synthetic_corpus
from eeg_io.synthetic import STANDARD_10_10_64

MB = 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=8, help="participant-run files in the corpus")
    parser.add_argument("--channels", type=int, default=64, help="channels per file (at most 64)")
    parser.add_argument("--windows", type=int, default=124, help="windows per file (sequence length)")
    parser.add_argument("--window-length", type=int, default=2048, help="samples per window")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the best is kept")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the corpus and caches go (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (reused by later runs)")
    parser.add_argument("--memory-child", nargs=2, metavar=("CORPUS", "FILES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(Path(args.memory_child[0]), int(args.memory_child[1]), args.window_length)
        return

    torch.set_num_threads(1)  # the library itself leaves threading to the caller
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="eeg-io-bench-"))
    try:
        run(args, workdir)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    corpus = workdir / f"corpus-{args.files}x{args.channels}x{args.windows}x{args.window_length}"
    channels = list(STANDARD_10_10_64[: args.channels])
    if not corpus.exists():
        start = time.perf_counter()
        write_synthetic_corpus(
            corpus,
            participants=args.files,
            channels=channels,
            windows_per_run=args.windows,
            window_length=args.window_length,
            sfreq=256.0,
        )
        print(f"wrote the corpus in {time.perf_counter() - start:.1f} s")
    items = build_index(corpus)
    files = sorted({item.file for item in items})
    sequence_mb = args.windows * args.window_length * 4 / MB
    parquet_mb = sum(os.path.getsize(f) for f in files) / MB
    print(
        f"corpus: {len(files)} files x {args.channels} channels x {args.windows} windows x "
        f"{args.window_length} float32 = {len(items)} sequences of {sequence_mb:.2f} MB "
        f"({parquet_mb:.0f} MB of Parquet); {os.cpu_count()} CPUs, torch threads 1"
    )
    for file in files:  # into the page cache
        Path(file).read_bytes()

    # Column spelling in the files (``Fp1``), for the raw baseline that cannot match case-insensitively.
    spelled = {name.upper(): name for name in channels}
    cache_dir = workdir / "cache"
    shutil.rmtree(cache_dir, ignore_errors=True)
    from_parquet = ChannelSequenceDataset(items, args.window_length)
    from_cache = ChannelSequenceDataset(items, args.window_length, cache_dir=str(cache_dir))
    start = time.perf_counter()
    for index in range(len(items)):
        from_cache[index]  # fills the cache
    fill_s = time.perf_counter() - start
    memmap_path = workdir / "sequences.npy"
    stacked = np.lib.format.open_memmap(
        memmap_path, mode="w+", dtype=np.float32, shape=(len(items), args.windows, args.window_length)
    )
    for index in range(len(items)):
        stacked[index] = from_parquet[index]["windows"].numpy()
    stacked.flush()
    del stacked
    memmap_path.read_bytes()

    def raw() -> None:
        for item in items:
            table = pq.read_table(item.file, columns=[spelled[item.channel]])
            table.column(0).combine_chunks().flatten().to_numpy()

    def memmap() -> None:
        array = np.load(memmap_path, mmap_mode="r")
        for index in range(len(items)):
            np.array(array[index])

    def dataset(source: ChannelSequenceDataset):
        def iterate() -> None:
            for index in range(len(source)):
                source[index]

        return iterate

    def loader(source: ChannelSequenceDataset):
        def iterate() -> None:
            for _ in DataLoader(source, batch_size=32, num_workers=2, collate_fn=collate_sequences):
                pass

        return iterate

    measurements = {
        "(1) raw read_table + flatten": raw,
        "(2) memmap copy": memmap,
        "(a) dataset from Parquet": dataset(from_parquet),
        "(b) dataset from cache": dataset(from_cache),
        "(c) DataLoader 2 workers, Parquet": loader(from_parquet),
        "(c) DataLoader 2 workers, cache": loader(from_cache),
    }
    raw()  # first calls import and warm up whatever they lazily need
    best = {name: float("inf") for name in measurements}
    for _ in range(args.rounds):
        for name, measure in measurements.items():
            start = time.perf_counter()
            measure()
            best[name] = min(best[name], time.perf_counter() - start)

    print(f"\n{'measurement':38s} {'seq/s':>9s} {'MB/s':>9s}")
    rate = {}
    for name, seconds in best.items():
        rate[name] = len(items) / seconds
        print(f"{name:38s} {rate[name]:9.1f} {rate[name] * sequence_mb:9.0f}")
    print(f"(cache fill, first epoch: {len(items) / fill_s:.1f} seq/s)")

    a, b, c = (
        rate["(a) dataset from Parquet"],
        rate["(b) dataset from cache"],
        rate["(c) DataLoader 2 workers, Parquet"],
    )
    raw_rate, memmap_rate = rate["(1) raw read_table + flatten"], rate["(2) memmap copy"]
    print("\nratios (same run)")
    print(
        f"  (a) / (1)  dataset Parquet vs raw pyarrow      {a / raw_rate:6.2f}  (target >= 0.8: {_verdict(a / raw_rate >= 0.8)})"
    )
    print(
        f"  (b) / (a)  cache vs Parquet                     {b / a:6.2f}  (target >= 5: {_verdict(b / a >= 5)})"
    )
    print(f"  (b) / (2)  cache vs plain memmap copy           {b / memmap_rate:6.2f}")
    print(f"  (c) / (a)  DataLoader 2 workers vs in-process   {c / a:6.2f}")
    print(
        f"  (c) cache / (b)                                 {rate['(c) DataLoader 2 workers, cache'] / b:6.2f}"
    )

    print("\npeak memory while iterating the dataset (child processes, no cache)")
    peaks = {}
    for count in sorted({max(1, len(files) // 4), len(files)}):
        command = [sys.executable, __file__, "--memory-child", str(corpus), str(count)]
        command += ["--window-length", str(args.window_length)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
        peaks[count] = result
        print(
            f"  {count} file(s), {result['sequences']} sequences: peak RSS grew {result['peak_growth_mb']:.1f} MB; "
            f"pickled dataset {result['pickled_bytes'] / 1e3:.1f} kB"
        )
    small, large = peaks[min(peaks)], peaks[max(peaks)]
    print(
        f"  growth ratio {large['peak_growth_mb'] / max(small['peak_growth_mb'], 1e-9):.2f} for "
        f"{large['sequences'] / small['sequences']:.0f}x the corpus"
    )
    print(f"\n{platform.platform()}, Python {platform.python_version()}, torch {torch.__version__}")


def _memory_child(corpus: Path, num_files: int, window_length: int) -> None:
    """Iterate a dataset over the first ``num_files`` files; print peak RSS growth as JSON."""
    import pickle

    torch.set_num_threads(1)
    files = sorted(str(p) for p in corpus.rglob("*.parquet"))[:num_files]
    dataset = ChannelSequenceDataset(build_index(files), window_length)
    # ru_maxrss would include the parent's size from before exec; VmHWM, reset here, is ours alone.
    # The baseline is taken before the first read, so allocator pools count as growth.
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # "5" resets the peak RSS (VmHWM) to the current RSS
    baseline_kb = _status_kb("VmRSS")
    for index in range(len(dataset)):
        dataset[index]
    peak_kb = _status_kb("VmHWM")
    print(
        json.dumps(
            {
                "sequences": len(dataset),
                "peak_growth_mb": max(0, peak_kb - baseline_kb) / 1e3,
                "pickled_bytes": len(pickle.dumps(dataset)),
            }
        )
    )


def _status_kb(field: str) -> int:
    """A memory figure (kB) of this process from /proc/self/status (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


if __name__ == "__main__":
    main()
