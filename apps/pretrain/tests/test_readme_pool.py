"""The pretrain README's "Pooled corpora" block, run as written, with the shipped config, on two tiny corpora
at the paths it names (4 and 6 channels, 8-s windows at 256 Hz as prepare writes them by default)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from eeg_io import write_synthetic_corpus
from eeg_pretrain.cli import main

ROOT = Path(__file__).resolve().parents[3]


def readme_commands() -> list[list[str]]:
    text = (ROOT / "apps" / "pretrain" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Pooled corpora") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_the_pooled_corpora_block_runs_as_written(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    small = {"runs": 1, "windows_per_run": 2, "window_length": 2048, "sfreq": 256.0, "dynamics": False}
    write_synthetic_corpus(
        tmp_path / "data" / "processed" / "blink",
        participants=4,
        channels=["Fp1", "Fp2", "C3", "C4"],
        **small,
    )
    write_synthetic_corpus(
        tmp_path / "data" / "processed" / "eyes",
        participants=5,
        channels=["Fp1", "Fp2", "C3", "C4", "O1", "O2"],
        seed=1,
        **small,
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (command,) = readme_commands()
    assert command[:5] == ["uv", "run", "--package", "pretrain", "pretrain"], command
    with pytest.raises(SystemExit) as info:
        main(command[5:])
    printed = capsys.readouterr()
    assert info.value.code == 0, printed.err[-3000:]

    summary = json.loads(Path("runs/pooled/summary.json").read_text())
    assert summary["finished"] and set(summary["corpora"]) == {"blink", "eyes"}
    assert (
        summary["corpora"]["eyes"]["weight"] == 2.0 and summary["corpora"]["blink"]["val_skill"] is not None
    )
    import mlflow

    # the config's tracking: MLflow's default store (./mlflow.db here, unless an earlier test in this
    # process set another default)
    names = set(mlflow.MlflowClient().get_run(summary["mlflow_run_id"]).data.metrics)
    assert {"val_skill", "blink/val_skill", "eyes/val_skill", "eyes/val_encoder_skill"} <= names
