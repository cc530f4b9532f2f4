"""How long does fine-tuning with a frozen encoder take? Leave one group out over 8 groups x 640 windows,
all five models (band power, waveform, random encoder, linear probe, fine-tuned head), per-window labels.

The job runs twice with finetune's defaults (100 head epochs): with every fold's heads trained at once
(the default for a frozen, mean-pooled encoder, ``eeg_finetune.heads_together.HEADS_TOGETHER``) and with
one head after another (the previous default, still the path when the encoder trains), both reading the
frozen encoder's features from dense per-split tensors. It prints both times, their ratio, and the largest
AUROC difference between the two (they train the same heads; only the rounding of batched matrix
products differs). ``--per-step`` adds a third run with the per-batch feature assembly of a training
encoder (``eeg_finetune.training.DENSE_FROZEN_FEATURES = False``). A benchmark (a script), not a test:

    uv run --all-packages python benchmarks/finetune_speed.py [--epochs 100] [--threads 2] [--per-step]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

import eeg_finetune.training as training
from eeg_finetune import heads_together
from eeg_finetune.cli import main as finetune
from eeg_finetune.synthetic import write_synthetic_windows
from eeg_pretrain.run_folder import build_config, config_to_dict
from eeg_ssm import EEGModel, save_checkpoint

WINDOW, RATE = 256, 64.0


def checkpoint(root: Path) -> Path:
    """A demo-sized encoder (configs/demo.yaml's model: d_model 32, 2 layers) on 4-s windows at 64 Hz;
    random weights (speed does not depend on them)."""
    demo = yaml.safe_load(Path(__file__).resolve().parents[1].joinpath("configs", "demo.yaml").read_text())
    raw = {
        "data": {"dataset_path": str(root / "corpus"), "window_length": WINDOW, "sampling_rate": RATE},
        "model": {**demo["model"], "backend": "torch"},
        "train": {"save_dir": str(root / "runs")},
        "tracking": {"enabled": False},
    }
    config = build_config(raw)
    torch.manual_seed(0)
    path = root / "runs" / "mamba2_eeg_pretrained.pt"
    path.parent.mkdir(parents=True)
    payload = {"model": EEGModel(config.model).state_dict(), "model_config": config.model.to_dict(),
               "run_config": config_to_dict(config), "epoch": 1, "step": 1, "best_val_loss": 1.0}  # fmt: skip
    save_checkpoint(path, payload)
    return path


def run(root: Path, ckpt: Path, data: Path, epochs: int, name: str) -> tuple[float, dict]:
    config = {
        "data": {
            "label_column": "Label",
            "label_level": "window",
            "group_column": "Person",
            "channels": None,
        },
        "split": {"method": "logo"},
        "train": {"epochs": epochs, "quiet": True},
        "tracking": {"enabled": False},
        "evaluation": {"bootstrap_resamples": 200},
        "output_dir": str(root / name),
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the job's tables: only the times are printed
            finetune(["--config", str(path), "--checkpoint", str(ckpt), "--data-path", str(data)])
    except SystemExit as exit_info:
        assert not exit_info.code, exit_info.code
    elapsed = time.perf_counter() - started
    return elapsed, json.loads(next((root / name).glob("*_summary.json")).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=100, help="head epochs (finetune's default 100)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-step", action="store_true", help="also time the per-batch feature path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ckpt = checkpoint(root)
        # 16 people in 8 groups (G1..G8), 2 runs x 20 windows each: 640 windows
        data = write_synthetic_windows(root / "trials.parquet", people=16, runs=2, windows=20,
                                       channels=("AF7", "AF8", "TP9", "TP10"), window_length=WINDOW, sfreq=RATE)  # fmt: skip
        times, summaries = {}, {}
        times["together"], summaries["together"] = run(root, ckpt, data, args.epochs, "together")
        print(f"all heads together (default): {times['together']:.1f} s", file=sys.stderr, flush=True)
        heads_together.HEADS_TOGETHER = False
        times["one"], summaries["one"] = run(root, ckpt, data, args.epochs, "one_at_a_time")
        print(f"heads one at a time (before): {times['one']:.1f} s", file=sys.stderr, flush=True)
        if args.per_step:
            training.DENSE_FROZEN_FEATURES = False
            times["per_step"], summaries["per_step"] = run(root, ckpt, data, args.epochs, "per_step")
    together = summaries["together"]
    gap = max(
        abs(together["models"][m]["metrics"]["auroc"] - summaries["one"]["models"][m]["metrics"]["auroc"])
        for m in together["models"]
    )
    print(f"finetune, leave one group out: {together['groups']} groups, {together['units']} windows, "
          f"5 models, {args.epochs} head epochs, {args.threads} threads")  # fmt: skip
    print(f"  heads one at a time (before): {times['one']:7.1f} s")
    if args.per_step:
        print(f"  heads one at a time, per-batch features: {times['per_step']:7.1f} s")
    print(f"  all heads together (default): {times['together']:7.1f} s (verdict: {together['decision']})")
    print(f"  speed-up {times['one'] / times['together']:.1f}x; largest AUROC difference {gap:.2g}")


if __name__ == "__main__":
    main()
