"""Data in the seed's own layout: window times as *sample offsets within the parent window*
(``window_start = i * window_length``, ``window_end = window_start + window_length``, restarting at each
parent window), as the seed's pipeline wrote them. A corpus and a primary file in that layout pretrain
with the shipped ``configs/pretrain.yaml`` and fine-tune with ``configs/finetune.yaml`` with no data
setting added (only the model is made tiny, so the test runs in seconds).

The files are written here with pyarrow directly, not with the project's writer, so the test cannot
inherit a writer's assumptions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RATE = 256.0
WINDOW = 2048  # the shipped configs' window: 8 s at 256 Hz
SUBWINDOWS = 2  # sub-windows per parent window
PARENTS = 3
MUSE = ["TP9", "AF7", "AF8", "TP10"]
TINY_MODEL = [
    "model.d_model=16",
    "model.num_layers=1",
    "model.d_state=8",
    "model.headdim=8",
    "model.chunk_size=8",
    "model.backend=torch",
]


def settings(*pairs: str) -> list[str]:
    return [arg for pair in pairs for arg in ("--set", pair)]


def seed_table(rng: np.random.Generator, metadata: dict[str, list], rows: int) -> pa.Table:
    """Metadata columns as given, then one ``list<float64>`` column per Muse channel (µV-like noise with
    an alpha rhythm)."""
    t = np.arange(WINDOW) / RATE
    columns = {name: pa.array(values) for name, values in metadata.items()}
    for channel in MUSE:
        cells = [
            (20.0 * np.sin(2 * np.pi * 10.0 * t + rng.uniform(0, 6.3)) + rng.normal(0, 10.0, WINDOW)).tolist()
            for _ in range(rows)
        ]
        columns[channel] = pa.array(cells, type=pa.list_(pa.float64()))
    return pa.table(columns)


def seed_window_times() -> dict[str, list[int]]:
    parent, sub = np.divmod(np.arange(PARENTS * SUBWINDOWS), SUBWINDOWS)
    start = sub * WINDOW  # sample offsets within the parent window
    return {
        "parent_window_id": parent.tolist(),
        "sub_window_id": sub.tolist(),
        "window_start": start.tolist(),
        "window_end": (start + WINDOW).tolist(),
    }


def write_seed_corpus(root: Path, participants: list[str]) -> None:
    rng = np.random.default_rng(0)
    rows = PARENTS * SUBWINDOWS
    for participant in participants:
        meta = {"participant": [participant] * rows, "run": ["1"] * rows, **seed_window_times()}
        pq.write_table(seed_table(rng, meta, rows), root / f"{participant}_run-1.parquet")


def write_seed_primary(path: Path, participants: list[str]) -> None:
    rng = np.random.default_rng(1)
    rows = PARENTS * SUBWINDOWS
    metadata: dict[str, list] = {"Participant": [], "Remission": []}
    for key in seed_window_times():
        metadata[key] = []
    for index, participant in enumerate(participants):
        metadata["Participant"] += [participant] * rows
        metadata["Remission"] += [index % 2] * rows
        for key, values in seed_window_times().items():
            metadata[key] += values
    pq.write_table(seed_table(rng, metadata, rows * len(participants)), path)


def test_the_seed_layout_pretrains_and_finetunes_with_the_shipped_configs(tmp_path):
    from eeg_finetune.cli import main as finetune
    from eeg_pretrain.cli import main as pretrain

    corpus = tmp_path / "pretraining"
    corpus.mkdir()
    write_seed_corpus(corpus, [f"P{i:03d}" for i in range(6)])
    save_dir = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        pretrain(
            [
                "--config",
                str(ROOT / "configs" / "pretrain.yaml"),
                *settings(
                    f"data.dataset_path={corpus}",
                    f"train.save_dir={save_dir}",
                    "train.epochs=1",
                    "train.quiet=true",
                    "data.num_workers=0",
                    "tracking.enabled=false",
                    *TINY_MODEL,
                ),
            ]
        )
    assert exit_info.value.code == 0
    summary = json.loads(next(save_dir.glob("*summary.json")).read_text())
    assert np.isfinite(summary["best_val_loss"])

    primary = tmp_path / "primary.parquet"
    write_seed_primary(primary, [f"Q{i:03d}" for i in range(8)])
    checkpoint = next(p for p in save_dir.glob("*.pt") if not p.stem.endswith("_last"))
    with pytest.raises(SystemExit) as exit_info:
        finetune(
            [
                "--config",
                str(ROOT / "configs" / "finetune.yaml"),
                "--checkpoint",
                str(checkpoint),
                "--data-path",
                str(primary),
                "--output-dir",
                str(tmp_path / "finetuned"),
                *settings(
                    "train.epochs=2",
                    "train.quiet=true",
                    "tracking.enabled=false",
                    "evaluation.bootstrap_resamples=50",
                ),
            ]
        )
    assert exit_info.value.code == 0


def test_sample_offsets_are_recognised_and_a_declared_unit_is_honoured(tmp_path):
    from eeg_io import EEGDataError, check_sampling_rate, implied_sampling_rate
    from eeg_io.data_checks import check_data

    corpus = tmp_path / "c"
    corpus.mkdir()
    write_seed_corpus(corpus, ["P000"])
    (file,) = corpus.glob("*.parquet")
    assert implied_sampling_rate(file) is None  # samples imply no rate
    check_sampling_rate([file], RATE)  # auto: recognised, passes at any rate
    check_sampling_rate([file], 100.0, window_times="samples")
    report = check_data([file], sampling_rate=RATE)
    assert not report.warnings, report.warnings  # offsets restart per parent window: no overlap, no gap
    with pytest.raises(EEGDataError) as info:  # declared seconds: a 1 Hz reading, and the way out
        check_sampling_rate([file], RATE, window_times="seconds")
    message = str(info.value)
    assert "data.window_times: samples" in message and "set data.sampling_rate: 1" not in message
    assert "\n" not in message
    report = check_data([file], sampling_rate=RATE, window_times="seconds")
    assert report.counts.get("window_duration") == PARENTS * SUBWINDOWS
