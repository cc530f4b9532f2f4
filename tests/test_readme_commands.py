"""The README's "From recordings to a classifier" block, run as written, on a tiny corpus of raw EDF
recordings laid out where the shipped configs look for them (``data/raw/pretraining``, ``data/raw/primary``
with ``labels.csv``). Every command is taken from the README itself, so the commands, the paths between
them and the shipped configs cannot drift apart; nothing is added to them but the recordings.

Each ``uv run --package NAME COMMAND ARGS`` line runs COMMAND's entry point in this process (what ``uv
run`` would start) with ARGS exactly as written; the sweep starts its runs as subprocesses itself.
"""

from __future__ import annotations

import json
import logging
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


REAL = ROOT.parent / "shared" / "data" / "real-recordings"
#: the real files of ../shared/data/real-recordings, named as the README asks (``{participant}_run-{run}``);
#: the BrainVision header keeps pointing at its data and marker files by their own names
REAL_FILES = {
    "EDF/test_reduced.edf": "sub-01_run-1.edf",  # BioSemi A1..H16 + I1..I8, Ergo, Status; 512 Hz, 6 s
    "EDF/test_generator_2.edf": "sub-02_run-1.edf",  # a signal generator, every channel typed EEG
    "BDF/test_generator_2.bdf": "sub-03_run-1.bdf",
    "EEGLAB/test_raw.set": "sub-04_run-1.set",  # 32 channels "EEG 000".., 128 Hz, 238 s
    "EEGLAB/test_raw.fdt": "sub-04_run-1.fdt",
    "Brainvision/test_NO.vhdr": "sub-05_run-1.vhdr",  # 65 channels "1".."65", 5000 Hz, 0.4 s
    "Brainvision/test_NO.eeg": "test_NO.eeg",
    "Brainvision/test_NO.vmrk": "test_NO.vmrk",
}


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real-recordings is not beside the repository")
def test_the_readme_block_on_real_recordings_says_what_it_kept_and_refuses_what_it_cannot_place(
    tmp_path, capsys
):
    """The README's first commands, as written, on the real files of four formats: prepare keeps what
    holds EEG windows and names, per file, why the rest was skipped (too short, no EEG channel, EEGLAB's
    .set read with its .fdt); validate passes; pretraining refuses the channels no montage can place, every
    one of them listed with the keys that fix it, before any statistics, MLflow run or checkpoint. (Only the EEGLAB
    recording holds 8-s windows; the next test takes it on to fine-tuning with labels from its events.)"""
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    raw = tmp_path / "data" / "raw" / "pretraining"
    raw.mkdir(parents=True)
    for source, name in REAL_FILES.items():
        shutil.copyfile(REAL / source, raw / name)

    prepare, validate, pretrain = _first_steps()
    assert run(prepare) == 0
    printed = capsys.readouterr()
    report = printed.out + printed.err
    assert "sub-01 run 1" in report and "shorter than one window" in report  # 6 s < 8 s
    assert report.count("no EEG channels left to keep") == 2  # the generator's EDF and BDF
    assert "sub-05 run 1" in report and "shorter than one window" in report  # 0.4 s
    assert (
        len(list((tmp_path / "data" / "processed" / "pretraining").rglob("*.parquet"))) == 1
    )  # the EEGLAB one
    assert "EEG 031" in report and "cannot place" in report  # prepare warns before pretraining refuses

    assert run(validate) == 0
    capsys.readouterr()

    assert run(pretrain) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and message[0].startswith("error: "), message
    for i in range(32):
        assert f"EEG {i:03d}" in message[0]
    assert "model.missing_channels" in message[0] and "data.include_channels" in message[0]
    assert _mlflow_runs(tmp_path / "mlflow.db") == 0  # the store was checked (preflight), no run started
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("band_stats*"))


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real-recordings is not beside the repository")
def test_the_readme_block_takes_a_real_recording_with_event_markers_from_prepare_to_finetune(
    tmp_path, capsys, caplog
):
    """The README's commands as written, on the real EEGLAB recording (32 channels "EEG 000".., 238 s,
    events ``square`` and ``rt``) as both the pretraining corpus and the labelled data, with labels per
    trial from its own event markers. Only the user's configs change, each setting once (what the events
    mean, every EEG channel for the labelled data too, and what the errors of the other test asked for:
    channels without positions, one participant so no validation people); no window length, channel list
    or path is typed at all. Every step hands over, and fine-tuning ends where these data end: one participant cannot give
    an evaluation on people the model has not seen, and it says so in one line."""
    import yaml

    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    for folder in ("pretraining", "primary"):
        raw = tmp_path / "data" / "raw" / folder
        raw.mkdir(parents=True)
        for suffix in ("set", "fdt"):
            shutil.copyfile(REAL / "EEGLAB" / f"test_raw.{suffix}", raw / f"sub-04_run-1.{suffix}")
    _edit(
        tmp_path / "configs" / "processing.yaml",
        primary={
            "labels": {"events": {"square": 1, "rt": 0}},
            "channels": {"pick": None},
        },  # every EEG channel
    )
    _edit(
        tmp_path / "configs" / "pretrain.yaml",
        model={"missing_channels": "zero", "d_model": 16, "num_layers": 1, "headdim": 8},
        data={"val_ratio": 0.0},
        train={"epochs": 1},
    )
    commands = [c for c in readme_commands() if c[4] != "sweep"]
    for command in commands[:4]:  # prepare x2, validate, pretrain
        code = run(command)
        printed = capsys.readouterr()
        assert code == 0, (
            f"{shlex.join(command)} exited {code}:\n{printed.out[-3000:]}\n{printed.err[-3000:]}"
        )
        if command[-1] == "primary":
            assert "windows per Remission (one per event): 0: " in printed.out
    primary = next((tmp_path / "data" / "processed" / "primary").glob("*.parquet"))
    assert primary.name == "8s_eeg_primary_dataset.parquet"
    import pyarrow.parquet as pq

    labels = pq.read_table(primary, columns=["Remission"]).column("Remission").to_numpy()
    assert set(labels.tolist()) == {0, 1} and 100 < len(labels) < 154  # one window per event, minus edges
    resolved = yaml.safe_load((tmp_path / "runs" / "pretrain" / "config.yaml").read_text())
    assert resolved["data"]["window_length"] == 2048 and resolved["data"]["sampling_rate"] == 256.0

    finetune = next(c for c in commands if c[4] == "finetune" and c[5] != "embed")
    caplog.set_level(logging.INFO, logger="eeg_finetune")
    assert run(finetune) == 2
    printed = capsys.readouterr()
    assert "data.label_level: window, as recorded in" in caplog.text  # read from the file, not typed
    message = [line for line in printed.err.splitlines() if line.startswith("error: ")]
    assert message == [
        "error: split.method logo: column 'participant' has 1 group(s); leaving one out needs at least 2"
    ]
    assert not (tmp_path / "finetuned_models").exists() or not list((tmp_path / "finetuned_models").iterdir())


def _edit(path: Path, **sections: dict) -> None:
    """Set keys of a YAML config, as a user edits their copy (nested dicts merge)."""
    import yaml

    def merge(into: dict, values: dict) -> None:
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    config = yaml.safe_load(path.read_text()) or {}
    merge(config, sections)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


def _first_steps() -> tuple[list[str], list[str], list[str]]:
    """The README block's prepare-pretraining, validate and pretrain commands."""
    commands = readme_commands()
    prepare = next(c for c in commands if c[4] == "prepare" and c[-1] == "pretraining")
    validate = next(c for c in commands if c[4] == "python" and "validate" in c)
    pretrain = next(c for c in commands if c[4] == "pretrain")
    return prepare, validate, pretrain


def _mlflow_runs(store: Path) -> int:
    """How many runs the default SQLite store holds (0 when it was never created or migrated)."""
    import sqlite3

    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        if not db.execute("select name from sqlite_master where name = 'runs'").fetchall():
            return 0
        return db.execute("select count(*) from runs").fetchone()[0]
