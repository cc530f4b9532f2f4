"""The README's synthetic fine-tuning demo (16 participants, 4 channels, 4-fold): with the documented
defaults (configs/finetune.yaml's training settings), the head trained on the frozen encoder is at least as
good as the logistic regression (linear probe) on the same frozen embeddings. The encoder is the tests'
tiny one (64-sample windows), not the demo's 2048-sample pretraining: the demo's data, split and head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from eeg_finetune.cli import main
from eeg_finetune.synthetic import write_synthetic_primary

ROOT = Path(__file__).resolve().parents[3]


def test_the_head_is_as_good_as_the_linear_probe_in_the_demo(pretrained, ft_config, write_config, tmp_path):
    data = write_synthetic_primary(
        tmp_path / "demo_primary.parquet",
        participants=16,
        channels=("AF7", "AF8", "TP9", "TP10"),
        windows=8,
        window_length=64,
        sfreq=64.0,
        rhythms_hz=(4.0, 16.0),
    )
    defaults = yaml.safe_load((ROOT / "configs" / "finetune.yaml").read_text())
    out = tmp_path / "out"
    split = {**defaults["split"], "method": "kfold", "folds": 4}
    config = ft_config(pretrained, data, out, split=split, compare_baselines=True)
    config["data"]["channels"] = defaults["data"]["channels"]
    config["model"] = defaults["model"]
    config["train"] = {**defaults["train"], "quiet": True}
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config, "demo.yaml"))])
    assert info.value.code == 0
    models = json.loads(next(out.glob("*_summary.json")).read_text())["models"]
    head, probe = models["finetuned"]["metrics"], models["linear_probe"]["metrics"]
    assert head["auroc"] >= probe["auroc"], (head, probe)
    assert head["balanced_accuracy"] >= probe["balanced_accuracy"], (head, probe)
