"""Did pretraining help on real EEG? Linear probes on the Blink Muse recordings, judged by ``eeg_eval``.

Data (``benchmarks/blink.py``): 850 distinct 2-s trials (4 channels, 510 samples at 255 Hz) in 17
recordings of 5 people, duplicates dropped; labels per trial (long / short blink; constant within a
recording). Evaluation: per trial, **leave one person out** (people are the groups; every person has
both labels). For each held-out person the encoder is pretrained from scratch (through the ``pretrain``
command) on the other four people's recordings only (masked reconstruction of the raw samples and the band
power, ``--target both``, raw+spectrum token input; one of the four held out for pretraining validation);
the checkpoint's record of its pretraining participants is checked against the held-out person and the
overlap passed to the verdict (0 by construction). On the same folds and trials, each a logistic
regression (``eeg_eval.logistic_probabilities``) on frozen features:

(a) log band power (``eeg_eval.band_power``, pretraining's bands), (b) downsampled waveform (16 bins x 4
channels), (c) the embedding of a randomly initialised encoder of the same architecture (the reference:
what the architecture gives without pretraining, with the same head as the judged model), (d) the linear
probe: the frozen pretrained encoder's embedding (the judged model, named before the results). With
``--context context`` the encoder reads each whole recording and the classic features of a trial are
joined by the recording's mean (the same context). Metrics on the pooled out-of-fold trials, 95 %
bootstrap intervals resampling people, paired differences and the verdict (``eeg_eval.summarise``).
Only libraries are imported (``eeg_eval``, ``eeg_io``, ``eeg_ssm``) and the ``pretrain`` command.

    uv sync --all-packages --group blink
    uv run --all-packages --group blink python benchmarks/real_eeg_probe.py [--pretrain-epochs 12]
        [--context context|alone] [--seed 0] [--resamples 1000] [--threads N]
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

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blink import CHANNELS, SAMPLING_RATE, TRIAL_SAMPLES, load_recordings, write_blink
from pretrain_runs import run_pretrain

from eeg_eval import (
    CLASSIC,
    METRICS,
    RANDOM,
    Units,
    concatenate,
    downsampled_waveform,
    fold_predictions,
    logistic_probabilities,
    summarise,
    unit_folds,
)
from eeg_eval import band_power as eval_band_power
from eeg_io.normalize import normalize
from eeg_ssm import EEGModel, band_edges, load_checkpoint, load_pretrained

JUDGED = "linear_probe"
MODELS = (*CLASSIC, RANDOM, JUDGED)


def pretrain(
    corpus: Path,
    save_dir: Path,
    seed: int,
    epochs: int,
    target: str = "both",
    inputs: str = "raw+spectrum",
    local_context: bool = False,
) -> Path:
    """Masked pretraining through the ``pretrain`` command (the configuration of
    ``benchmarks/ssl_learnability.py``: a 2-layer bidirectional Mamba-2, d_model 64, MAE masking 0.4; by
    default target ``both``, raw+spectrum input); returns the best checkpoint."""
    config = {
        "data": {"dataset_path": str(corpus), "window_length": TRIAL_SAMPLES, "sampling_rate": SAMPLING_RATE,
                 "val_ratio": 0.25, "batch_size": 8, "num_workers": 0, "split_group": "participant"},
        "model": {"d_model": 64, "num_layers": 2, "d_state": 16, "headdim": 16, "backend": "torch",
                  "bidirectional": True, "input": inputs, "local_context": local_context},
        "masking": {"style": "mae", "ratio": 0.4},
        "objective": {"target": target},
        "train": {"epochs": epochs, "lr": 3.0e-3, "seed": seed},
    }  # fmt: skip
    return run_pretrain(config, save_dir)


@torch.no_grad()
def embed(encoder: EEGModel, recordings, context: bool) -> np.ndarray:
    """``[trials, d_model]``: each trial's token, averaged over channels, of the encoder reading the whole
    recording (``context``) or the trial alone; windows z-scored per channel sequence as in pretraining."""
    encoder.eval()
    rows = []
    for recording in recordings:
        per_channel = []
        for c, channel in enumerate(CHANNELS):
            windows = normalize(recording.trials[:, c, :], "sequence")  # (L, W), as the pretraining data
            x = torch.from_numpy(windows)
            if context:  # one sequence of L trials
                tokens = encoder.encode(x[None], [channel], torch.tensor([len(x)]))[0]  # (L, d)
            else:  # L sequences of one trial
                tokens = encoder.encode(
                    x[:, None], [channel] * len(x), torch.ones(len(x), dtype=torch.int64)
                )[:, 0]
            per_channel.append(tokens.float().numpy())
        rows.append(np.mean(per_channel, axis=0))  # (L, d)
    return np.concatenate(rows)


def classic_features(recordings, context: bool) -> dict[str, np.ndarray]:
    """Band power (pretraining's bands) and the downsampled waveform of every trial; with ``context`` each
    trial's features joined by its recording's mean (what the encoder reads)."""
    edges = band_edges(TRIAL_SAMPLES, SAMPLING_RATE, 8)
    out = {}
    for name, function in (
        ("band_power", lambda w: eval_band_power(w, SAMPLING_RATE, edges)),
        ("waveform", lambda w: downsampled_waveform(w, 16)),
    ):
        parts = []
        for recording in recordings:
            features = function(recording.trials)  # (L, F)
            if context:
                features = np.concatenate(
                    [features, np.broadcast_to(features.mean(axis=0), features.shape)], axis=1
                )
            parts.append(features)
        out[name] = np.concatenate(parts)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pretrain-epochs", type=int, default=12)
    parser.add_argument("--context", choices=("context", "alone"), default="context")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
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
    args = parser.parse_args()  # fmt: skip
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    context = args.context == "context"
    recordings = load_recordings()
    units = Units.build(
        [r.person for r in recordings for _ in r.trials],
        [r.label for r in recordings for _ in r.trials],
        runs=[r.run for r in recordings for _ in r.trials],
        windows=[i for r in recordings for i in range(len(r.trials))],
    )
    folds = unit_folds(units, "logo", seed=args.seed)
    classic = classic_features(recordings, context)
    print(
        f"Blink: {len(recordings)} recordings, {len(units)} trials, people {', '.join(units.group_ids)}; leave one "
        f"person out ({len(folds)} folds), window_context {args.context}, seed {args.seed}",
        flush=True,
    )
    parts: dict[str, list] = {m: [] for m in MODELS}
    seen_groups = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pretraining, _ = write_blink(root / "blink")
        for fold in folds:
            held_out = sorted({units.groups[u] for u in fold.test})
            corpus = root / f"corpus_without_{'_'.join(held_out)}"
            corpus.mkdir()
            for person in sorted(p.name for p in pretraining.iterdir()):
                if person not in held_out:
                    shutil.copytree(pretraining / person, corpus / person)  # the file search skips links
            tick = time.perf_counter()
            checkpoint = pretrain(corpus, root / f"run_{fold.index}", args.seed, args.pretrain_epochs,
                                  args.target, args.input, args.local_context)  # fmt: skip
            record = load_checkpoint(checkpoint)["pretraining_data"]
            seen = set(record["participants"]) | set(record["val_participants"])
            seen_groups += len(seen & set(held_out))
            encoder = load_pretrained(checkpoint, map_location="cpu")
            torch.manual_seed(args.seed * 1_000_003 + fold.index)
            features = dict(classic)
            features[JUDGED] = embed(encoder, recordings, context)
            features[RANDOM] = embed(EEGModel(encoder.config), recordings, context)
            fit_on, test = np.asarray(fold.train + fold.val), np.asarray(fold.test)
            for name in MODELS:
                probabilities = logistic_probabilities(
                    features[name], units.targets, fit_on, test, units.num_classes, seed=args.seed
                )
                parts[name].append(fold_predictions(units, test, probabilities, fold.index))
            print(
                f"fold {fold.index}: test {','.join(held_out)}; pretrained on {','.join(record['participants'])} "
                f"(val {','.join(record['val_participants'])}); test people seen in pretraining: "
                f"{len(seen & set(held_out))}; {time.perf_counter() - tick:.0f} s",
                flush=True,
            )
    predictions = {m: concatenate(parts[m]) for m in MODELS}
    metrics, intervals, differences, verdict = summarise(
        predictions, units.num_classes, judged=JUDGED, resamples=args.resamples, seed=args.seed,
        seen_groups=seen_groups, resample=METRICS,
    )  # fmt: skip
    print(f"\n{'per trial':20s}" + "".join(f"{m:>24s}" for m in MODELS))
    for metric in ("accuracy", "balanced_accuracy", "auroc"):
        cells = [
            f"{metrics[m][metric]:.3f} [{intervals[m][metric][0]:.3f}, {intervals[m][metric][1]:.3f}]"
            for m in MODELS
        ]
        print(f"{metric:20s}" + "".join(f"{c:>24s}" for c in cells))
    print("\npaired differences of AUROC (estimate [95% interval], resampling people):")
    for pair, values in differences.items():
        d = values["auroc"]
        print(f"  {pair:32s} {d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]")
    print(f"\nverdict: {verdict.line}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
