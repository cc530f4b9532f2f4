"""How long does fine-tuning with a frozen encoder take? Leave one group out over 8 groups x 640 windows,
all five models (band power, waveform, random encoder, linear probe, fine-tuned head), per-window labels.

The job runs with finetune's defaults (100 head epochs) with the heads reading the frozen encoder's
features as a dense per-split tensor built once (the default, ``eeg_finetune.training.DENSE_FROZEN_FEATURES``);
then, at ``--compare-epochs`` (the old path takes minutes per fold), once more that way and once with the
per-step path that assembles every batch from the span cache in Python (how it ran before; still the path
when the encoder trains), printing both times, their ratio, and whether the AUROCs agree. A benchmark (a
script), not a test:

    uv run --all-packages python benchmarks/finetune_speed.py [--epochs 100] [--compare-epochs 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import torch
import yaml

import eeg_finetune.training as training
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
    parser.add_argument("--compare-epochs", type=int, default=10, help="head epochs of the side-by-side runs")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ckpt = checkpoint(root)
        # 16 people in 8 groups (G1..G8), 2 runs x 20 windows each: 640 windows
        data = write_synthetic_windows(root / "trials.parquet", people=16, runs=2, windows=20,
                                       channels=("AF7", "AF8", "TP9", "TP10"), window_length=WINDOW, sfreq=RATE)  # fmt: skip
        full, full_summary = run(root, ckpt, data, args.epochs, "dense_full")
        fast, fast_summary = run(root, ckpt, data, args.compare_epochs, "dense")
        training.DENSE_FROZEN_FEATURES = False
        slow, slow_summary = run(root, ckpt, data, args.compare_epochs, "per_step")
    same = all(
        abs(fast_summary["models"][m]["metrics"]["auroc"] - slow_summary["models"][m]["metrics"]["auroc"])
        < 1e-6
        for m in fast_summary["models"]
    )
    print(f"finetune, leave one group out: {full_summary['groups']} groups, {full_summary['units']} windows, "
          f"5 models, {args.threads} threads")  # fmt: skip
    print(
        f"  {args.epochs} head epochs, dense frozen features: {full:7.1f} s (verdict: {full_summary['decision']})"
    )
    print(f"  {args.compare_epochs} head epochs, per-step features (before): {slow:7.1f} s")
    print(f"  {args.compare_epochs} head epochs, dense frozen features:      {fast:7.1f} s")
    print(f"  speed-up {slow / fast:.1f}x; same AUROC for every model: {same}")


if __name__ == "__main__":
    main()
