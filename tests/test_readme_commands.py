"""The README's "From recordings to a classifier" block, run as written, on a tiny corpus of raw EDF
recordings laid out where the shipped configs look for them (``data/raw/pretraining``, ``data/raw/primary``
with ``labels.csv``). Every command is taken from the README itself, so the commands, the paths between
them and the shipped configs cannot drift apart; nothing is added to them but the recordings.

Each ``uv run --package NAME COMMAND ARGS`` line runs COMMAND's entry point in this process (what ``uv
run`` would start) with ARGS exactly as written; the sweep starts its runs as subprocesses itself.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MUSE = ["TP9", "AF7", "AF8", "TP10"]
RATE = 256.0
SECONDS = 40.0  # five 8-s windows per recording


def readme_commands(heading: str = "## From recordings to a classifier") -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def write_edf(path: Path, seed: int, label: int) -> None:
    """A Muse recording in µV: a class rhythm (6 or 12 Hz) on every channel, noise and a slow drift."""
    import mne

    rng = np.random.default_rng(seed)
    t = np.arange(round(SECONDS * RATE)) / RATE
    rhythm = 15.0 * np.sin(2 * np.pi * (12.0 if label else 6.0) * t + rng.uniform(0, 2 * np.pi))
    data = rhythm + rng.normal(0.0, 5.0, size=(len(MUSE), t.size)) + 20.0 * np.sin(2 * np.pi * 0.05 * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(MUSE, RATE, "eeg"), verbose="error")
    mne.export.export_raw(path, raw, fmt="edf", verbose="error", overwrite=True)


def run(command: list[str]) -> int:
    from eeg_finetune.cli import main as finetune
    from eeg_io.cli import main as eeg_io
    from eeg_prepare.cli import main as prepare
    from eeg_pretrain.cli import main as pretrain
    from eeg_sweep.cli import main as sweep

    assert command[:3] == ["uv", "run", "--package"], command
    rest = command[4:]
    if rest[:3] == ["python", "-m", "eeg_io"]:
        return eeg_io(rest[3:])
    entry = {"prepare": prepare, "pretrain": pretrain, "sweep": sweep, "finetune": finetune}[rest[0]]
    with pytest.raises(SystemExit) as exit_info:
        entry(rest[1:])
    return exit_info.value.code


def test_the_readme_block_runs_as_written(tmp_path, capsys):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    for i in range(6):  # the pretraining recordings
        write_edf(tmp_path / "data" / "raw" / "pretraining" / f"sub-{i:02d}_run-1.edf", i, i % 2)
    labels = []
    for i in range(8):  # the labelled ones (other people)
        participant = f"sub-{10 + i:02d}"
        write_edf(tmp_path / "data" / "raw" / "primary" / f"{participant}_run-1.edf", 100 + i, i % 2)
        labels.append(f"{participant},{i % 2}")
    (tmp_path / "data" / "raw" / "primary" / "labels.csv").write_text(
        "Participant,Remission\n" + "\n".join(labels) + "\n"
    )

    commands = readme_commands()
    assert [c[4] for c in commands] == [
        "prepare",
        "prepare",
        "python",
        "pretrain",
        "sweep",
        "finetune",
        "finetune",
    ]
    for command in commands:
        code = run(command)
        printed = capsys.readouterr()
        assert code == 0, (
            f"{shlex.join(command)} exited {code}:\n{printed.out[-3000:]}\n{printed.err[-3000:]}"
        )

    # what the steps handed over, without anything typed twice
    resolved = (tmp_path / "runs" / "pretrain" / "config.yaml").read_text()
    assert "window_length: 2048" in resolved and "sampling_rate: 256.0" in resolved
    summary = json.loads(next((tmp_path / "finetuned_models").glob("*_summary.json")).read_text())
    assert summary["channels"] == ["AF7", "AF8", "TP9", "TP10"] and summary["participants"] == 8
    assert summary["folds"] == 8 and summary["leakage"]["test_groups_seen"] == 0  # every person tested once
    assert summary["decision"] in ("helped", "did not help", "undecided")
    assert (tmp_path / "embeddings.parquet").is_file()
