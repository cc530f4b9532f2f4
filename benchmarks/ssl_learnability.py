"""What does masked pretraining learn? Short runs of every target x input combination, side by side.

For each dataset and each combination of ``objective.target`` (raw, spectrum, both) and ``model.input``
(raw, raw+spectrum, spectrum) this trains a small bidirectional Mamba-2 encoder from the same seed on the same
masks and reports, at the best validation epoch, on held-out participants:

* ``val r2``: 1 - loss / zero-baseline loss (zero = the normalised / standardised mean);
* ``skill``: 1 - loss / context-mean loss, where the context mean predicts a masked window by the mean of
  its own sequence's unmasked windows: > 0 means the model knows more than the sequence's own average;
  ``last``: the same for the final epoch's weights (the best epoch is chosen on the validation people,
  which here are also the people scored, so ``skill`` is optimistic and ``last`` is not);
* ``gap``: train r2 - val r2 (overfitting);
* ``ctx r2``: the context-mean baseline's own r2 (how much a trivial predictor already explains);
* ``enc skill``: 1 - loss / the loss of the model's own spectral context (with ``--local-context`` its
  learned distance-weighted mean, whose ``rate`` is printed): what the encoder adds beyond it.

For ``both`` the spectral part's skill is printed too (``spec skill``). Datasets:

* ``synthetic``: ``eeg_io.write_synthetic_corpus`` (spectrum changing over time), 24 participants x 6
  channels (``--synthetic-participants``), validation = a quarter of the participants;
* ``blink``: the real Muse ``Blink`` recordings (``benchmarks/blink.py``: duplicates dropped, people
  assigned; one file per recording, one window per trial), validation = people held out (one of five
  per run; the held-out person changes with the seed: seeds 0, 1, 8, 11, 13 hold out S3, S5, S4, S2, S1,
  i.e. leave one person out). Needs ``uv sync --all-packages --group blink``.
  ``benchmarks/spectral_ceiling.py`` measures what a fitted predictor reaches on the same information.

    uv run --all-packages --group blink python benchmarks/ssl_learnability.py [--datasets synthetic,blink]
        [--seeds 0,1] [--epochs 20] [--synthetic-windows 96] [--combos spectrum/raw+spectrum,raw/raw]

``--test-people S1,S2,S3,S4,S5`` (Blink) is the honest protocol: each listed person is held out as a test
person, the model trains on the other four with one of them (chosen by the seed) for validation, and the
test person's skill is printed at the best validation epoch (the checkpoint the pretrain app keeps) and at
the last epoch: no choice is made on the people scored.

A benchmark (a script), not a test: it prints a table, one row per (dataset, combination, seed), then the
range over seeds. Runs on CPU; about a minute per row on a 2-core machine.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from eeg_io import ChannelSequenceDataset, build_index, write_synthetic_corpus
from eeg_pretrain.config import build_config
from eeg_pretrain.data import MaskedSequences, MaskingCollate
from eeg_pretrain.trainer import Trainer
from eeg_train import DistInfo, NullTracker

COMBOS = tuple(
    (target, inputs)
    for target in ("raw", "spectrum", "both")
    for inputs in ("raw", "raw+spectrum", "spectrum")
)
SYNTHETIC_CHANNELS = ["Fz", "C3", "C4", "Pz", "O1", "O2"]


def synthetic_corpus(root: Path, windows: int = 96, participants: int = 24) -> dict:
    """``participants`` x 6 channels x ``windows`` windows of 4 s at 128 Hz; returns the data section."""
    write_synthetic_corpus(
        root,
        participants=participants,
        channels=SYNTHETIC_CHANNELS,
        windows_per_run=windows,
        window_length=512,
        sfreq=128.0,
    )
    return {"dataset_path": str(root), "window_length": 512, "sampling_rate": 128.0, "val_ratio": 0.25}


def blink_corpus(root: Path, windows: int = 0, participants: int = 0) -> dict:
    """The Blink recordings in the pretraining layout (17 files, 4 channels, 50 trials of 510 samples)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from blink import SAMPLING_RATE, TRIAL_SAMPLES, write_blink

    pretraining, _ = write_blink(root)
    # 5 people: 0.2 holds one person out
    return {"dataset_path": str(pretraining), "window_length": TRIAL_SAMPLES, "sampling_rate": SAMPLING_RATE,
            "val_ratio": 0.2}  # fmt: skip


class LastEpoch(NullTracker):
    """Keeps the last epoch's metrics: the skill of the final weights, chosen by nothing."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def log_metrics(self, metrics, step: int) -> None:
        if "val_skill" in metrics:
            self.last = dict(metrics)


def evaluate_on(trainer: Trainer, test_root: Path) -> dict[str, float]:
    """``trainer.evaluate()`` of its model on every sequence under ``test_root``, on fixed masks drawn as for
    validation (``masking.val_seed``): the trainer's validation set is replaced by these sequences."""
    config = trainer.config
    items = build_index(
        test_root,
        include_channels=config.data.include_channels,
        exclude_channels=config.data.exclude_channels,
    )
    tested = MaskedSequences(
        ChannelSequenceDataset.from_config(items, config.data, seed=config.train.seed),
        config.masking.val_seed,
        fixed=True,
    )
    trainer.val_set = tested
    trainer.val_loader = DataLoader(
        tested, batch_size=config.data.batch_size, collate_fn=MaskingCollate(config.masking)
    )
    return trainer.evaluate()


def test_skill(trainer: Trainer, test_root: Path, checkpoint: Path | None) -> tuple[float, float]:
    """Skill on the sequences under ``test_root`` (fixed masks drawn as for validation) of the trainer's
    model, or of the weights saved in ``checkpoint``; the trainer's own split never saw these people.
    Also the skill of the model's spectral context alone (what the model predicts before the encoder adds
    anything; with ``model.local_context`` its learned weighted mean), from the same evaluation."""
    config = trainer.config
    if checkpoint is not None:
        trainer.model.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    tested = evaluate_on(trainer, test_root)
    if not (config.model.target == "spectrum" and config.model.spectral_context):
        return tested["skill"], float("nan")
    # the meter scores the model's own context beside it: the context alone, against the context mean
    return tested["skill"], 1.0 - tested["model_context_baseline"] / tested["context_mean_baseline"]


def run_one(
    data: dict,
    target: str,
    inputs: str,
    seed: int,
    args: argparse.Namespace,
    save_dir: Path,
    test_root: Path | None = None,
) -> dict:
    config = build_config(
        {
            "data": {**data, "batch_size": 8, "num_workers": 0, "split_group": "participant"},
            "model": {
                "d_model": args.d_model,
                "num_layers": args.layers,
                "d_state": 16,
                "headdim": 16,
                "backend": "torch",
                "bidirectional": True,
                "input": inputs,
                "dropout": args.dropout,
                "tapers": args.tapers,
                "local_context": args.local_context,
            },
            "masking": {"style": "mae", "ratio": args.ratio},
            "objective": {"target": target},
            "train": {
                "save_dir": str(save_dir),
                "epochs": args.epochs,
                "lr": args.lr,
                "seed": seed,
                "quiet": True,
                "num_plot_examples": 0,
                "weight_decay": args.weight_decay,
            },
            "tracking": {"enabled": False},
        }
    )
    torch.manual_seed(seed)
    tracker = LastEpoch()
    trainer = Trainer(config, DistInfo(), torch.device("cpu"), tracker=tracker)
    held_out = sorted({item.participant for item in trainer.val_set.base.items}) if trainer.val_set else []
    start = time.perf_counter()
    trainer.fit()
    best = trainer.state.best_metrics
    tested = {}
    if test_root is not None:  # the final weights first, then the checkpoint of the best validation epoch
        tested["test_last"], tested["prior_last"] = test_skill(trainer, test_root, None)
        tested["rate_last"] = _rate(trainer.model)
        tested["test_best"], tested["prior_best"] = test_skill(
            trainer, test_root, save_dir / "mamba2_eeg_pretrained.pt"
        )
        tested["rate_best"] = _rate(trainer.model)
    ctx_r2 = 1.0 - best["val_context_mean_baseline"] / best["val_zero_baseline"]
    return {
        "val_r2": best["val_r2"],
        "skill": best["val_skill"],
        "spec_skill": best.get(
            "val_spectrum_skill", best["val_skill"] if target == "spectrum" else float("nan")
        ),
        "last_skill": tracker.last.get("val_skill", float("nan")),
        # against the model's own spectral context (with model.local_context its learned weighted mean)
        "encoder_skill": best.get("val_encoder_skill", float("nan")),
        "rate": best.get("context_rate", float("nan")),
        "gap": best["r2_gap"],
        "ctx_r2": ctx_r2,
        "best_epoch": int(best["best_epoch"]),
        "held_out": ",".join(held_out),
        "seconds": time.perf_counter() - start,
        **tested,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="synthetic,blink")
    parser.add_argument("--seeds", default="0,1", help="one run per seed (model init, masks and split)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--combos", default=None, help="target/input pairs, e.g. spectrum/raw+spectrum,raw/raw"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3.0e-3)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--ratio", type=float, default=0.4, help="mask ratio")
    parser.add_argument(
        "--tapers", type=int, default=1, help="model.tapers: 1 = Hann periodogram, K > 1 = K DPSS tapers"
    )
    parser.add_argument(
        "--local-context",
        action="store_true",
        help="model.local_context: the spectral context weighted by distance with a learned rate",
    )
    parser.add_argument("--synthetic-windows", type=int, default=96, help="windows per synthetic recording")
    parser.add_argument(
        "--synthetic-participants", type=int, default=24, help="synthetic participants (a quarter validate)"
    )
    parser.add_argument(
        "--test-people",
        default=None,
        help="Blink only, e.g. S1,S2,S3,S4,S5: hold each person out as a test person, train on the other four "
        "with one of them (chosen by the seed) for validation, and report the test person's skill at the "
        "best validation epoch and at the last",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.test_people:
        nested(args)
        return
    logging.basicConfig(level=logging.WARNING)
    combos = COMBOS if args.combos is None else [tuple(c.split("/")) for c in args.combos.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    builders = {"synthetic": synthetic_corpus, "blink": blink_corpus}
    header = (f"{'dataset':9s} {'target':8s} {'input':12s} {'seed':>4s} {'held out':14s} {'val r2':>7s} "
              f"{'skill':>7s} {'last':>7s} {'spec skill':>10s} {'enc skill':>9s} {'rate':>6s} {'gap':>7s} {'ctx r2':>7s} "
              f"{'best ep':>7s} {'s':>5s}")  # fmt: skip
    print(header, flush=True)
    results: dict[tuple[str, str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.datasets.split(","):
            data = builders[dataset](Path(tmp) / dataset, args.synthetic_windows, args.synthetic_participants)
            for target, inputs in combos:
                for seed in seeds:
                    r = run_one(data, target, inputs, seed, args, Path(tmp) / "run")
                    results.setdefault((dataset, target, inputs), []).append(r)
                    print(
                        f"{dataset:9s} {target:8s} {inputs:12s} {seed:4d} {r['held_out'][:14]:14s} "
                        f"{r['val_r2']:7.3f} {r['skill']:7.3f} {r['last_skill']:7.3f} {r['spec_skill']:10.3f} "
                        f"{r['encoder_skill']:9.3f} {r['rate']:6.3f} {r['gap']:7.3f} "
                        f"{r['ctx_r2']:7.3f} {r['best_epoch']:7d} {r['seconds']:5.0f}",
                        flush=True,
                    )
    print("\nranges over seeds (min .. max, median):")
    for (dataset, target, inputs), rows in results.items():
        spans = {key: _span([r[key] for r in rows]) for key in ("val_r2", "skill", "last_skill", "gap")}
        print(f"{dataset:9s} {target:8s} {inputs:12s} val r2 {spans['val_r2']}  skill {spans['skill']}  "
              f"last epoch's skill {spans['last_skill']}  "
              f"gap {spans['gap']}")  # fmt: skip


def nested(args: argparse.Namespace) -> None:
    """Leave one person out with a separate validation person: the epoch is chosen on people not scored."""
    combos = COMBOS if args.combos is None else [tuple(c.split("/")) for c in args.combos.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"{'target':8s} {'input':12s} {'test':4s} {'seed':>4s} {'val':4s} {'val skill':>9s} {'best ep':>7s} "
          f"{'test skill (best ep)':>20s} {'test skill (last ep)':>20s} {'context alone (best/last)':>25s} "
          f"{'rate (best/last)':>16s}", flush=True)  # fmt: skip
    results: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = blink_corpus(Path(tmp) / "blink")
        everyone = Path(data["dataset_path"])
        for person in args.test_people.split(","):
            train_root = Path(tmp) / f"without_{person}"
            train_root.mkdir()
            for other in sorted(p for p in everyone.iterdir() if p.name != person):
                (train_root / other.name).mkdir()
                for file in other.glob("*.parquet"):
                    (train_root / other.name / file.name).symlink_to(file)
            train_data = {**data, "dataset_path": str(train_root), "val_ratio": 0.25}  # one of four people
            for target, inputs in combos:
                for seed in seeds:
                    r = run_one(train_data, target, inputs, seed, args, Path(tmp) / "run", everyone / person)
                    results.setdefault((target, inputs), []).append(r)
                    print(f"{target:8s} {inputs:12s} {person:4s} {seed:4d} {r['held_out']:4s} {r['skill']:9.3f} "
                          f"{r['best_epoch']:7d} {r['test_best']:20.3f} {r['test_last']:20.3f} "
                          f"{r['prior_best']:12.3f} / {r['prior_last']:6.3f} "
                          f"{r['rate_best']:7.3f} / {r['rate_last']:6.3f}", flush=True)  # fmt: skip
    print("\nover test people and seeds (min .. max, median) and the mean:")
    for (target, inputs), rows in results.items():
        best, last = [r["test_best"] for r in rows], [r["test_last"] for r in rows]
        print(f"{target:8s} {inputs:12s} test skill at the best validation epoch {_span(best)} mean "
              f"{statistics.mean(best):.3f}; at the last epoch {_span(last)} mean {statistics.mean(last):.3f}")  # fmt: skip
        prior = [r["prior_best"] for r in rows]
        if all(p == p for p in prior):  # not NaN: a spectrum target with a spectral context
            print(f"{'':21s} its spectral context alone at the best validation epoch {_span(prior)} mean "
                  f"{statistics.mean(prior):.3f}")  # fmt: skip


def _rate(model: torch.nn.Module) -> float:
    rate = model.context_rate
    return float("nan") if rate is None else float(rate.detach())


def _span(values: list[float]) -> str:
    return f"{min(values):6.3f} .. {max(values):6.3f} ({statistics.median(values):6.3f})"


if __name__ == "__main__":
    main()
