"""The README's "Sweeping any setting" block, run as written: the shipped configs, and a stand-in corpus of
20 people at the path configs/pretrain.yaml reads (its val_ratio 0.2 leaves 16 for training). The commands
are dry runs, so nothing trains; each must plan the runs it says."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from eeg_io import write_synthetic_corpus
from eeg_sweep.cli import main

ROOT = Path(__file__).resolve().parents[3]


def readme_commands() -> list[list[str]]:
    text = (ROOT / "apps" / "sweep" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Sweeping any setting") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    lines = [line.strip() for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_the_sweeping_any_setting_block_runs_as_written(tmp_path, monkeypatch, capsys):
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    write_synthetic_corpus(
        tmp_path / "data" / "processed" / "pretraining",
        participants=20,
        channels=["AF7", "AF8", "TP9", "TP10"],
        windows_per_run=2,
        window_length=2048,
        sfreq=256.0,
        dynamics=False,
    )
    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert len(commands) == 3
    outputs = []
    for command in commands:
        assert command[:5] == ["uv", "run", "--package", "sweep", "sweep"], command
        with pytest.raises(SystemExit) as info:
            main(command[5:])
        printed = capsys.readouterr()
        assert info.value.code == 0, f"{shlex.join(command)}:\n{printed.err[-3000:]}"
        outputs.append(printed.out)

    size, grid, channels = outputs
    stem = "mamba2_eeg_d128_l6_m40_mae"
    assert "sweep of 3 run(s) in runs/data_size" in size
    assert [f"{stem}_participants-{n}" in size for n in (4, 8, 16)] == [True] * 3
    assert "sweep of 6 run(s) in runs/size_by_ratio" in grid
    assert "1. mamba2_eeg_d128_l6_m30_mae_participants-4 " in grid  # the first key varies fastest
    assert "4. mamba2_eeg_d128_l6_m60_mae_participants-4 " in grid
    assert "sweep of 4 run(s) in runs/lr_channels" in channels
    assert f"{stem}_lr-0.001_include_channels-AF7+AF8" in channels
    assert "--set 'data.include_channels=[AF7, AF8]'" in channels
    assert not Path("runs").exists()  # dry runs write nothing
