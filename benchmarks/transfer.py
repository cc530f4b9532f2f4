"""Does pretraining on other headsets transfer? Leave one real dataset out of the aeon pool, pretrain on
the rest, probe the held-out dataset's labels. Judged by ``eeg_eval``.

Pool (``benchmarks/aeon_pool.py``, facts in ``benchmarks/aeon_pool.md``): Blink (Muse, 4 ch, 5 people),
EyesOpenShut (Emotiv, 14 ch, 1 person), FingerMovements (NeuroScan, 28 ch, 1 person), all at 100 Hz in
0.5-s windows (SelfRegulationSCP2 is left out: its channels are one signal shifted; SCP1 is never read).
For each dataset H: the encoder is pretrained from scratch through the ``pretrain`` command on the
**other** corpora only (``data.corpora``, equal weights; masked reconstruction of raw samples and band
power, ``objective.target: both``, raw+spectrum input, MAE 0.4, a 1-layer bidirectional Mamba-2 with
d_model 64 as ``configs/demo.yaml``; each corpus's runs split 3:1 for pretraining validation). The
checkpoint's record of its pretraining participants is checked for H's people (0 by construction) and the
count passed to the verdict. Then, on H's trials, a logistic regression (``eeg_eval.compare_features``,
the same folds for all) on frozen features:

(a) log band power (8 bands, 1/2-45 Hz, per channel), (b) the downsampled waveform (16 bins per channel),
(c) the embedding of a randomly initialised encoder of the same architecture (the reference), (d) the
linear probe: the pretrained encoder's embedding (the judged model, named before any result). An
embedding is the encoder's output tokens of one trial read alone (its k sub-windows as one sequence per
channel, each channel z-scored over its run as in pretraining), averaged over tokens and channels.

**Groups** (what the folds keep whole and the bootstrap resamples): for Blink the 5 people (leave one
person out). EyesOpenShut and FingerMovements have **one person each**: no evaluation across people is
possible, so the groups are aeon's TRAIN and TEST files (train on one, test on the other, both ways):
within one person, it says nothing about new people, and with 2 groups the verdict is "undecided" by
construction (``eeg_eval`` needs 6). Blink's 5 people are also fewer than 6. The table is read for its
point estimates and intervals, not for a verdict.

    uv sync --all-packages --group blink
    uv run --all-packages --group blink python benchmarks/transfer.py [--epochs 30] [--seed 0]
        [--resamples 1000] [--threads 1] [--keep DIR]

A benchmark (a script), not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aeon_pool import DATASETS, RATE, WINDOW, Run, scp2_defect, write_pool
from pretrain_runs import run_pretrain

from eeg_eval import RANDOM, Units, compare_features, downsampled_waveform
from eeg_eval import band_power as eval_band_power
from eeg_io.normalize import normalize
from eeg_ssm import EEGModel, band_edges, load_checkpoint, load_pretrained

JUDGED = "linear_probe"
MODELS = (JUDGED, RANDOM, "band_power", "waveform")


def pretrain(corpora: dict[str, Path], save_dir: Path, seed: int, epochs: int) -> Path:
    """Pooled masked pretraining through the ``pretrain`` command; returns the best checkpoint."""
    config = {
        "data": {"corpora": [{"path": str(path), "name": name} for name, path in corpora.items()],
                 "window_length": WINDOW, "sampling_rate": RATE, "val_ratio": 0.25, "batch_size": 8,
                 "num_workers": 0, "split_group": "run"},
        "model": {"d_model": 64, "num_layers": 1, "d_state": 16, "headdim": 16, "backend": "torch",
                  "bidirectional": True, "input": "raw+spectrum"},
        "masking": {"style": "mae", "ratio": 0.4},
        "objective": {"target": "both"},
        "train": {"epochs": epochs, "lr": 3.0e-3, "seed": seed},
    }  # fmt: skip
    return run_pretrain(config, save_dir)


@torch.no_grad()
def embed(encoder: EEGModel, runs: list[Run]) -> np.ndarray:
    """``[trials, d_model]``: each trial read alone (its sub-windows one sequence per channel, the channel
    z-scored over the whole run as pretraining does), tokens averaged over sub-windows and channels."""
    encoder.eval()
    rows = []
    for run in runs:
        windows = run.windows()  # (N, k, C, W)
        n, k = windows.shape[:2]
        per_channel = []
        for c, channel in enumerate(run.channels):
            sequence = normalize(windows[:, :, c, :].reshape(n * k, WINDOW), "sequence")  # (N*k, W)
            x = torch.from_numpy(np.ascontiguousarray(sequence, dtype=np.float32)).reshape(n, k, WINDOW)
            tokens = encoder.encode(x, [channel.upper()] * n, torch.full((n,), k, dtype=torch.int64))
            per_channel.append(tokens.float().mean(dim=1).numpy())  # (N, d)
        rows.append(np.mean(per_channel, axis=0))
    return np.concatenate(rows)


def classic_features(runs: list[Run]) -> dict[str, np.ndarray]:
    """Log band power (8 log-spaced bands at the pool's rate) and the 16-bin waveform of every trial."""
    trials = np.concatenate([r.trials for r in runs])  # (N, C, T) at RATE
    edges = band_edges(trials.shape[-1], RATE, 8)
    return {
        "band_power": eval_band_power(trials, RATE, edges),
        "waveform": downsampled_waveform(trials, 16),
    }


def units_of(name: str, runs: list[Run]) -> tuple[Units, str]:
    """The trials as units; groups people where there are several, else aeon's TRAIN / TEST files."""
    people = [r.person for r in runs for _ in r.labels]
    labels = np.concatenate([r.labels for r in runs])
    run_ids = [r.run for r in runs for _ in r.labels]
    windows = [i for r in runs for i in range(len(r.labels))]
    if len(set(people)) > 1:
        return Units.build(people, labels, runs=run_ids, windows=windows), "people (leave one out)"
    return (
        Units.build(people, labels, groups=run_ids, runs=run_ids, windows=windows),
        "1 person: TRAIN vs TEST, within-person only",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--held-out", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--keep", type=Path, default=None, help="keep the pool and runs here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        pool = write_pool(root)
        folders = {name: root / "pretraining" / name for name in pool}
        for held_out in args.held_out:
            tick = time.perf_counter()
            others = {name: path for name, path in folders.items() if name != held_out}
            checkpoint = pretrain(others, root / f"run_without_{held_out}", args.seed, args.epochs)
            record = load_checkpoint(checkpoint)["pretraining_data"]
            pretrained_on = set(record["participants"]) | set(record["val_participants"])
            seen = sorted(p for p in pretrained_on if p.split("/")[0] == held_out)
            summary = json.loads((checkpoint.parent / "summary.json").read_text())
            encoder = load_pretrained(checkpoint, map_location="cpu")
            torch.manual_seed(args.seed * 1_000_003 + DATASETS.index(held_out))
            runs = pool[held_out]
            units, grouping = units_of(held_out, runs)
            features = classic_features(runs)
            features[JUDGED] = embed(encoder, runs)
            features[RANDOM] = embed(EEGModel(encoder.config), runs)
            result = compare_features(
                features, units, judged=JUDGED, resamples=args.resamples, seed=args.seed,
                seen_groups=len(seen),
            )  # fmt: skip
            cells = "  ".join(
                f"{m} {result.metrics[m]['auroc']:.3f} [{result.intervals[m]['auroc'][0]:.3f}, "
                f"{result.intervals[m]['auroc'][1]:.3f}]"
                for m in MODELS
            )
            people = len({r.person for r in runs})
            line = (
                f"{held_out}: {people} people, {len(units)} trials, groups {grouping} ({len(result.folds)} folds); "
                f"pretrained on {', '.join(sorted(others))} ({len(pretrained_on)} participants, "
                f"{len(seen)} of {held_out}; best epoch {summary['best_epoch']} of {summary['epochs']}, "
                f"val skill {summary['val_skill']:+.3f}, raw {summary['val_raw_skill']:+.3f}, "
                f"spectrum {summary['val_spectrum_skill']:+.3f}); AUROC {cells}; verdict: {result.verdict.line}"
            )
            lines.append(line)
            print(f"{line} [{time.perf_counter() - tick:.0f} s]", flush=True)
    shift = scp2_defect()
    if shift is not None:
        lines.append(
            f"SelfRegulationSCP2: left out (its 7 dimensions are one signal, each shifted {shift} samples "
            "from the previous: electrode unknown)"
        )
        print(lines[-1])
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
