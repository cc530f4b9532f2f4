"""How much pretraining data does the encoder need? Skill, encoder skill and the probe verdict against the
number of pretraining participants.

Each point is one run of the ``pretrain`` command (the config of ``configs/demo.yaml``: spectrum target and
input, local context, 3 tapers, d_model 64, one bidirectional Mamba-2 layer, MAE 0.4) with
``data.participants = N``: validation is chosen first on the whole pretraining corpus (the same people at
every size, for one seed), then the first N of a seeded permutation of the others train (nested: for one
seed the 8 include the 4). Every size trains ``--epochs`` epochs and at least ``--min-steps`` optimiser
steps (more epochs for small sizes), so a small run is not just an under-trained one; the steps taken are
printed. The best epoch (the app's checkpoint) is chosen on the validation people; the figures come from
**other** people, never seen in pretraining and never used to choose anything:

* ``skill`` = 1 - loss / context-mean loss and ``enc skill`` = 1 - loss / the loss of the model's own
  learned spectral context (what the encoder adds beyond it), on the masked windows of test people (fixed
  masks, drawn as for validation; the checkpoint scored through the app's own ``Trainer.evaluate``);
* the **probe**: the frozen encoder reads each recording of a labelled task on yet other people; its
  per-window embedding (mean over channels) is fed to a logistic regression, beside a randomly initialised
  encoder of the same architecture (given the pretrained one's band-power standardisation: the same
  inputs), log band power and a downsampled waveform (each window's features joined by its recording's
  mean, the context the encoder reads), judged by ``eeg_eval.compare_features`` (people disjoint, every
  person tested once, 95 % bootstrap intervals over people, the verdict with the linear probe named
  beforehand).

Datasets (``--datasets``):

* ``synthetic``: ``eeg_io.write_synthetic_corpus`` (the demo's generator: 6 channels, 4-s windows at 128
  Hz) with 64 + ``--val-people`` participants to pretrain on, ``--test-people`` more for skill; sizes 4, 8,
  16, 32, 64. The labelled task (``labelled_recordings``): ``--probe-people`` more people of the same
  generator, every window labelled 0 or 1 at random, and class 1 carrying an extra 10 Hz rhythm whose
  amplitude (``--probe-uv``) is small beside the alpha that waxes and wanes with the slow states: a window
  is best judged against its neighbours, which is what the spectral context learns.
* ``blink``: the real Muse ``Blink`` recordings (``benchmarks/blink.py``, 5 people, labels per
  recording): leave one person out. For each test person the encoder pretrains on 1, 2 or 3 of the other
  four (one of the four validates, chosen by the seed); skill and the probe are scored on the test person
  (the probe is fitted on the other four people's trials). Five test people: the verdict is "undecided" by
  design (it needs 6 groups); the intervals still show the spread.

Then the trend: encoder skill against log2(participants), an ordinary least-squares slope over every
(size, seed) run with a 95 % t interval (``scipy.stats.linregress``; points of one seed share their
validation people, so the interval is if anything too narrow). A table (one row per size x seed, then the
mean per size), ``learning_curve_<dataset>.png`` and ``.json`` go to ``--out``.

    uv sync --all-packages --group blink     # the Blink data (not needed for --datasets synthetic)
    uv run --all-packages --group blink python benchmarks/learning_curve.py [--datasets synthetic,blink]
        [--seeds 0,1] [--sizes 4,8,16,32,64] [--min-steps 120] [--out runs/learning_curve] [--quick]
        [--report-only]

With the default ``--min-steps`` the steps grow with the data from 16 people on (the demo's 10 epochs);
``--min-steps 480`` trains every size as many steps as the 64-person run, which separates data from compute
(``benchmarks/RESULTS.md``, "Learning curve"). ``--quick``: a smoke run (sizes 2 and 4, 24 windows per
recording, 2 epochs, one seed; a minute, not a measurement). A benchmark (a script), not a test. CPU, one
thread: about 15 min each for the synthetic (2 seeds) and the Blink curve, run side by side on a loaded
2-core machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from eeg_eval import RANDOM, compare_features
from eeg_io import write_synthetic_corpus
from eeg_pretrain.config import build_config
from eeg_pretrain.run_folder import CHECKPOINT_LAST, SUMMARY, read_summary
from eeg_pretrain.trainer import Trainer
from eeg_ssm import load_checkpoint, load_pretrained
from eeg_train import DistInfo, NullTracker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curve_probe import (
    JUDGED,
    SYNTHETIC_CHANNELS,
    SYNTHETIC_RATE,
    SYNTHETIC_WINDOW,
    Recording,
    classic_features,
    embed,
    labelled_recordings,
    probe_row,
    random_encoder,
    units_of,
)
from pretrain_runs import run_pretrain
from ssl_learnability import evaluate_on
from trend import Trend, fit_trend, plot

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "configs" / "demo.yaml"


# ------------------------------------------------------------------------------------------ pretraining
def pretrain(corpus: Path, save_dir: Path, participants: int, seed: int, epochs: int, data: dict) -> Path:
    """One run of the ``pretrain`` command with the demo's model, masking and objective on ``corpus``,
    trained on ``participants`` of its training people (``data``: the corpus's settings); returns the best
    checkpoint."""
    demo = yaml.safe_load(DEMO_CONFIG.read_text())
    demo.pop("synthetic")
    demo["data"] |= data | {"dataset_path": str(corpus), "participants": participants, "cache_dir": None,
                            "num_workers": 0, "split_group": "participant"}  # fmt: skip
    demo["train"] |= {"epochs": epochs, "seed": seed}
    return run_pretrain(demo, save_dir)


def epochs_for(args, sequences: int, batch_size: int = 8) -> int:
    """``--epochs``, or more where ``sequences`` training sequences give fewer than ``--min-steps`` steps."""
    return max(args.epochs, math.ceil(args.min_steps / math.ceil(sequences / batch_size)))


def held_out_skill(checkpoint: Path, people_root: Path, scratch: Path) -> dict[str, float]:
    """Skill and encoder skill of ``checkpoint`` on every sequence under ``people_root`` (people the run
    never saw), through the app's ``Trainer.evaluate`` on fixed masks drawn as for validation."""
    saved = load_checkpoint(checkpoint)
    run = saved["run_config"]
    # no split (val_ratio 0): every sequence is scored below; the band statistics come from the checkpoint
    run["data"] |= {
        "dataset_path": str(people_root),
        "participants": None,
        "cache_dir": None,
        "val_ratio": 0.0,
    }
    run["train"] |= {"save_dir": str(scratch), "quiet": True}
    run["tracking"] = {"enabled": False}
    config = build_config(run)
    trainer = Trainer(config, DistInfo(), torch.device("cpu"), tracker=NullTracker())
    trainer.model.load_state_dict(saved["model"])  # weights and the band statistics of pretraining
    result = evaluate_on(trainer, people_root)
    return {"skill": result["skill"], "encoder_skill": result["encoder_skill"]}


# ------------------------------------------------------------------------------------------- synthetic
def synthetic_curve(args, tmp: Path) -> list[dict]:
    sizes = args.sizes or ([2, 4] if args.quick else [4, 8, 16, 32, 64])
    windows = 24 if args.quick else args.windows
    pretraining, tested = tmp / "synthetic_pretraining", tmp / "synthetic_test"
    if max(sizes) > args.train_people:
        raise SystemExit(f"error: --sizes up to {max(sizes)} need --train-people >= {max(sizes)}")
    # the corpus does not depend on --sizes: the same validation, test and probe people for every curve
    everyone = args.train_people + args.val_people + args.test_people
    write_synthetic_corpus(tmp / "synthetic_all", participants=everyone, channels=list(SYNTHETIC_CHANNELS),
                           windows_per_run=windows, window_length=SYNTHETIC_WINDOW, sfreq=SYNTHETIC_RATE)  # fmt: skip
    people = sorted(p.name for p in (tmp / "synthetic_all").iterdir())
    for i, person in enumerate(people):  # the last test_people never pretrain: they are scored
        shutil.move(tmp / "synthetic_all" / person, (tested if i >= len(people) - args.test_people else pretraining) / person)  # fmt: skip
    data = {"window_length": SYNTHETIC_WINDOW, "sampling_rate": SYNTHETIC_RATE,
            "val_ratio": args.val_people / (args.train_people + args.val_people), "batch_size": 8}  # fmt: skip
    recordings = labelled_recordings(args.probe_people, windows, args.probe_uv, seed=1)
    units = units_of(recordings)
    classic = classic_features(recordings, SYNTHETIC_RATE, SYNTHETIC_WINDOW)
    print(f"synthetic: pretraining corpus {len(people) - args.test_people} people ({args.val_people} validate), "
          f"{args.test_people} test people for skill, {args.probe_people} labelled people for the probe "
          f"({len(units)} windows, extra 10 Hz {args.probe_uv:g} µV in class 1); {windows} windows of 4 s per "
          f"recording", flush=True)  # fmt: skip
    rows = []
    print(HEADER, flush=True)
    for seed in args.seeds:
        for size in sizes:
            tick = time.perf_counter()
            run_dir = tmp / f"synthetic_n{size}_s{seed}"
            epochs = epochs_for(args, size * len(SYNTHETIC_CHANNELS))
            checkpoint = pretrain(pretraining, run_dir, size, seed, epochs, data)
            summary = read_summary(run_dir / SUMMARY)
            row = {"dataset": "synthetic", "participants": size, "seed": seed, "test": f"{args.test_people} people",
                   "val_skill": summary["val_skill"], "val_encoder_skill": summary["val_encoder_skill"],
                   "best_epoch": summary.get("best_epoch"), "epochs": summary.get("epochs")}  # fmt: skip
            row["steps"] = int(load_checkpoint(run_dir / CHECKPOINT_LAST)["step"])
            row |= held_out_skill(checkpoint, tested, tmp / "scratch")
            encoder = load_pretrained(checkpoint, map_location="cpu")
            features = dict(classic)
            normalization = load_checkpoint(checkpoint)["run_config"]["data"].get("normalization", "sequence")
            features[JUDGED] = embed(encoder, recordings, SYNTHETIC_CHANNELS, normalization)
            features[RANDOM] = embed(
                random_encoder(encoder, seed), recordings, SYNTHETIC_CHANNELS, normalization
            )
            comparison = compare_features(features, units, judged=JUDGED, seed=seed, resamples=args.resamples)
            row |= probe_row(comparison.metrics, comparison.differences, comparison.verdict)
            row["seconds"] = time.perf_counter() - tick
            rows.append(row)
            print(format_row(row), flush=True)
            shutil.rmtree(run_dir, ignore_errors=True)
    return rows


# ----------------------------------------------------------------------------------------------- blink
def blink_curve(args, tmp: Path) -> list[dict]:
    from blink import CHANNELS, SAMPLING_RATE, TRIAL_SAMPLES, load_recordings, write_blink

    from eeg_eval import concatenate, fold_predictions, logistic_probabilities, summarise

    pretraining, _ = write_blink(tmp / "blink")
    blink = load_recordings()
    recordings = [Recording(r.person, r.run, r.trials, np.full(len(r.trials), r.label)) for r in blink]
    units = units_of(recordings)
    classic = classic_features(recordings, SAMPLING_RATE, TRIAL_SAMPLES)
    people = sorted(units.group_ids)
    test_people = people[:2] if args.quick else people
    sizes = [1] if args.quick else [1, 2, 3]
    files = {p.name: len(list(p.glob("*.parquet"))) for p in pretraining.iterdir()}
    print(f"blink: {len(recordings)} recordings of {len(people)} people; leave one person out over "
          f"{','.join(test_people)}; pretraining on 1..3 of the other four (one validates)", flush=True)  # fmt: skip
    print(HEADER, flush=True)
    rows = []
    for seed in args.seeds:
        for size in sizes:
            parts: dict[str, list] = {}
            fold_rows = []
            tick = time.perf_counter()
            for fold, person in enumerate(test_people):
                corpus = tmp / f"blink_without_{person}"
                if not corpus.exists():
                    for other in sorted(files):
                        if other != person:
                            shutil.copytree(pretraining / other, corpus / other)  # the search skips links
                run_dir = tmp / f"blink_{person}_n{size}_s{seed}"
                # epochs from the mean recordings per person of the corpus (the subset is the app's choice)
                per_person = sum(v for k, v in files.items() if k != person) / 4 * len(CHANNELS)
                data = {"window_length": TRIAL_SAMPLES, "sampling_rate": SAMPLING_RATE, "val_ratio": 0.25,
                        "batch_size": 8}  # fmt: skip
                epochs = epochs_for(args, round(size * per_person))
                checkpoint = pretrain(corpus, run_dir, size, seed, epochs, data)
                summary = read_summary(run_dir / SUMMARY)
                record = load_checkpoint(checkpoint)["pretraining_data"]
                seen = (set(record["participants"]) | set(record["val_participants"])) & {person}
                row = {"dataset": "blink", "participants": size, "seed": seed, "test": person,
                       "trained_on": ",".join(record["participants"]), "seen": len(seen),
                       "val_skill": summary["val_skill"], "val_encoder_skill": summary["val_encoder_skill"],
                       "best_epoch": summary.get("best_epoch"), "epochs": summary.get("epochs")}  # fmt: skip
                row["steps"] = int(load_checkpoint(run_dir / CHECKPOINT_LAST)["step"])
                row |= held_out_skill(checkpoint, pretraining / person, tmp / "scratch")
                encoder = load_pretrained(checkpoint, map_location="cpu")
                normalization = load_checkpoint(checkpoint)["run_config"]["data"].get(
                    "normalization", "sequence"
                )
                features = dict(classic)
                features[JUDGED] = embed(encoder, recordings, CHANNELS, normalization)
                features[RANDOM] = embed(random_encoder(encoder, seed), recordings, CHANNELS, normalization)
                test = np.asarray([i for i, g in enumerate(units.groups) if g == person])
                fit_on = np.asarray([i for i, g in enumerate(units.groups) if g != person])
                for name, array in features.items():
                    probabilities = logistic_probabilities(array, units.targets, fit_on, test, units.num_classes,
                                                           seed=seed)  # fmt: skip
                    parts.setdefault(name, []).append(fold_predictions(units, test, probabilities, fold))
                fold_rows.append(row)
                shutil.rmtree(run_dir, ignore_errors=True)
            predictions = {name: concatenate(p) for name, p in parts.items()}
            metrics, _, differences, verdict = summarise(
                predictions, units.num_classes, judged=JUDGED, resamples=args.resamples, seed=seed,
                seen_groups=sum(r["seen"] for r in fold_rows), resample=("auroc",),
            )  # fmt: skip
            probe = probe_row(metrics, differences, verdict)
            for row in fold_rows:  # skill per test person; the probe is one verdict over the folds
                rows.append(row | probe | {"seconds": (time.perf_counter() - tick) / len(fold_rows)})
                print(format_row(rows[-1]), flush=True)
    return rows


# ---------------------------------------------------------------------------------------------- report
HEADER = (f"{'dataset':9s} {'N':>3s} {'seed':>4s} {'test':10s} {'steps':>5s} {'val skill':>9s} {'skill':>7s} "
          f"{'enc skill':>9s} {'AUROC probe':>11s} {'random':>7s} {'band pw':>7s} "
          f"{'probe - random [95%]':>26s} {'verdict':14s} {'s':>5s}")  # fmt: skip


def format_row(r: dict) -> str:
    return (f"{r['dataset']:9s} {r['participants']:3d} {r['seed']:4d} {r['test'][:10]:10s} {r['steps']:5d} "
            f"{r['val_skill']:9.3f} {r['skill']:7.3f} {r['encoder_skill']:9.3f} "
            f"{r['auroc_' + JUDGED]:11.3f} {r['auroc_' + RANDOM]:7.3f} {r['auroc_band_power']:7.3f} "
            f"{r['vs_random']:+8.3f} [{r['vs_random_low']:+.3f}, {r['vs_random_high']:+.3f}] "
            f"{r['verdict']:14s} {r['seconds']:5.0f}")  # fmt: skip


def report(rows: list[dict], dataset: str, out: Path) -> Trend | None:
    sizes = sorted({r["participants"] for r in rows})
    print(f"\n{dataset}: mean per size (over seeds{' and test people' if dataset == 'blink' else ''})")
    print(f"{'N':>3s} {'runs':>4s} {'skill':>7s} {'enc skill':>9s} {'AUROC probe':>11s} {'random':>7s} "
          f"{'band pw':>7s} verdicts")  # fmt: skip
    means = {}
    for n in sizes:
        at = [r for r in rows if r["participants"] == n]
        m = {k: statistics.mean(r[k] for r in at) for k in
             ("skill", "encoder_skill", f"auroc_{JUDGED}", f"auroc_{RANDOM}", "auroc_band_power")}  # fmt: skip
        means[n] = m
        verdicts = sorted({(r["seed"], r["verdict"]) for r in at})
        print(f"{n:3d} {len(at):4d} {m['skill']:7.3f} {m['encoder_skill']:9.3f} {m[f'auroc_{JUDGED}']:11.3f} "
              f"{m[f'auroc_{RANDOM}']:7.3f} {m['auroc_band_power']:7.3f} "
              f"{', '.join(f'seed {s}: {v}' for s, v in verdicts)}")  # fmt: skip
    trend = None
    if len(sizes) >= 2 and len(rows) >= 3:
        trend = fit_trend([r["participants"] for r in rows], [r["encoder_skill"] for r in rows])
        print(trend.line())
        skill = fit_trend([r["participants"] for r in rows], [r["skill"] for r in rows])
        print(skill.line("skill"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"learning_curve_{dataset}.json").write_text(
        json.dumps(
            {"rows": rows, "trend": None if trend is None else trend.__dict__}, indent=1, default=float
        )
    )
    plot(rows, means, trend, dataset, out / f"learning_curve_{dataset}.png", JUDGED, RANDOM)
    print(f"wrote {out / f'learning_curve_{dataset}.png'} and .json")
    return trend


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="synthetic,blink")
    parser.add_argument(
        "--seeds", default="0,1", help="one curve per seed (validation people, subsets, init, masks)"
    )
    parser.add_argument("--sizes", default=None, help="synthetic pretraining sizes (default 4,8,16,32,64)")
    parser.add_argument("--epochs", type=int, default=10, help="at least this many epochs (the demo's 10)")
    parser.add_argument(
        "--min-steps",
        type=int,
        default=120,
        help="and at least this many optimiser steps (default: 16 synthetic people x 10 epochs)",
    )
    parser.add_argument(
        "--windows", type=int, default=96, help="windows per synthetic recording (the demo's 96)"
    )
    parser.add_argument(
        "--val-people", type=int, default=8, help="synthetic validation people (choose the epoch)"
    )
    parser.add_argument(
        "--train-people", type=int, default=64, help="synthetic people the sizes are drawn from (default 64)"
    )
    parser.add_argument("--test-people", type=int, default=12, help="synthetic people scored for skill")
    parser.add_argument(
        "--probe-people", type=int, default=12, help="synthetic labelled people for the probe"
    )
    parser.add_argument("--probe-uv", type=float, default=6.0, help="the class-1 rhythm's amplitude (µV)")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/learning_curve"))
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes, 2 epochs, one seed")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="no runs: the table, trend and plot again from --out's learning_curve_<dataset>.json",
    )
    args = parser.parse_args()  # fmt: skip
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("eeg_pretrain").setLevel(logging.WARNING)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    if args.quick:
        args.seeds, args.epochs, args.min_steps, args.resamples = args.seeds[:1], 2, 0, 200
        args.train_people, args.val_people, args.test_people, args.probe_people = 4, 2, 6, 6
    if args.report_only:
        for dataset in args.datasets.split(","):
            saved = json.loads((args.out / f"learning_curve_{dataset}.json").read_text())
            print("\n".join([HEADER, *(format_row(r) for r in saved["rows"])]))
            report(saved["rows"], dataset, args.out)
        return
    curves = {"synthetic": synthetic_curve, "blink": blink_curve}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            rows = curves[dataset](args, Path(tmp))
            report(rows, dataset, args.out)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
