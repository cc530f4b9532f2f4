"""The primary dataset written by ``prepare primary`` (from Muse CSV recordings) is what finetune reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eeg_finetune.cli import main
from eeg_prepare.config import build_config
from eeg_prepare.pipeline import run_primary

MUSE = ("TP9", "AF7", "AF8", "TP10")


def muselsl_csv(path, data_uv: np.ndarray, sfreq: float) -> None:
    """muselsl ``record`` style: ``timestamps`` (Unix seconds), the four Muse channels, ``Right AUX``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamps = 1.6e9 + np.arange(data_uv.shape[1]) / sfreq
    lines = ["timestamps," + ",".join(MUSE) + ",Right AUX"]
    lines += [
        f"{t:.6f}," + ",".join(f"{v:.4f}" for v in column) + ",0.0"
        for t, column in zip(stamps, data_uv.T, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def test_finetune_reads_the_primary_dataset_prepare_writes(pretrained, tmp_path, write_config, ft_config):
    sfreq, seconds = 256.0, 8.0
    t = np.arange(int(sfreq * seconds)) / sfreq
    rng = np.random.default_rng(0)
    labels = ["participant_id,remission"]
    for i in range(8):  # 4 per class; class 1 has a 16 Hz rhythm, class 0 a 4 Hz one
        label = i % 2
        rhythm = 20.0 * np.sin(2 * np.pi * (16.0 if label else 4.0) * t)
        data = rhythm[None, :] + rng.normal(0.0, 5.0, size=(4, t.size))
        muselsl_csv(
            tmp_path / "raw" / f"sub-{i + 1:02d}" / "eeg" / f"sub-{i + 1:02d}_task-rest_run-1_eeg.csv",
            data,
            sfreq,
        )
        labels.append(f"{i + 1},{label}")
    (tmp_path / "labels.csv").write_text("\n".join(labels) + "\n")
    config = build_config(
        {
            "signal": {"sampling_rate": 128.0, "l_freq": 1.0, "h_freq": 40.0},
            "windows": {"window_seconds": 0.5},  # 64 samples: the checkpoint's window_length
            "artifacts": {"max_peak_to_peak_uv": 300.0, "flat_seconds": 0.25},
            "primary": {
                "input": {"root": str(tmp_path / "raw")},
                "labels": {
                    "path": str(tmp_path / "labels.csv"),
                    "participant_column": "participant_id",
                    "label_column": "remission",
                },
                "output_dir": str(tmp_path / "processed"),
            },
        }
    )
    outcome = run_primary(config, echo=lambda _line: None)
    assert outcome.status == 0 and outcome.output.name == "0.5s_af7-af8-tp9-tp10_primary_dataset.parquet"

    out = tmp_path / "models"
    settings = ft_config(
        pretrained, outcome.output, out,
        data={"channels": ["AF7", "AF8", "TP9", "TP10"]},
        split={"val_ratio": 0.25, "test_ratio": 0.25},
        train={"epochs": 2},
    )  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(settings))])
    assert info.value.code == 0
    summary = json.loads((out / "mamba2_eeg_d16_l1_m40_mae_finetuned_summary.json").read_text())
    assert summary["participants"] == 8 and summary["channels"] == ["AF7", "AF8", "TP9", "TP10"]
    assert summary["classes"] == [0, 1]
