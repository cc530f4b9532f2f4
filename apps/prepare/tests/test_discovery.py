"""Finding recordings: BIDS-like trees, flat folders with a pattern, and the messages for clashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eeg_prepare.config import InputConfig
from eeg_prepare.discovery import discover, split_extension
from eeg_prepare.errors import DiscoveryError


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def ids(discovery) -> list[tuple[str, str, str]]:
    return [(s.participant, s.run, s.format) for s in discovery.sources]


def test_bids_tree_gives_participant_and_run(tmp_path):
    touch(
        tmp_path,
        "sub-01/eeg/sub-01_task-rest_run-1_eeg.edf",
        "sub-01/eeg/sub-01_task-rest_run-2_eeg.bdf",
        "sub-01/eeg/sub-01_task-rest_run-10_eeg.set",
        "sub-01/eeg/sub-01_task-rest_run-10_eeg.fdt",
        "sub-01/eeg/sub-01_task-rest_run-1_channels.tsv",
        "sub-02/ses-A/eeg/sub-02_ses-A_task-rest_eeg.vhdr",
        "sub-02/ses-A/eeg/sub-02_ses-A_task-rest_eeg.eeg",
        "sub-02/ses-A/eeg/sub-02_ses-A_task-rest_eeg.vmrk",
        "sub-03/eeg/sub-03_task-rest_run-1_eeg.fif.gz",
        "sub-03/eeg/notes.csv",
        "derivatives/sub-01/eeg/sub-01_task-rest_run-1_eeg.edf",
        "participants.tsv",
    )
    found = discover(InputConfig(root=str(tmp_path)), "pretraining.input")
    assert found.layout == "bids"
    assert ids(found) == [
        ("sub-01", "1", "edf"),
        ("sub-01", "2", "bdf"),
        ("sub-01", "10", "set"),
        ("sub-02", "ses-A_run-1", "vhdr"),
        ("sub-03", "1", "fif"),
    ]
    by_format = {s.format: s for s in found.sources}
    assert [p.suffix for p in by_format["vhdr"].companions] == [".eeg", ".vmrk"]
    assert [p.suffix for p in by_format["set"].companions] == [".fdt"]
    assert [(p.name, why.split(" ")[0]) for p, why in found.ignored] == [("notes.csv", "name")]
    # A change to the data file behind a header makes the recording newer.
    data_file = by_format["vhdr"].companions[0]
    os.utime(data_file, (2e9, 2e9))
    assert by_format["vhdr"].mtime() == 2e9


def test_flat_folder_with_pattern_and_wildcard(tmp_path):
    touch(
        tmp_path,
        "museMonitor_P01_2021-03-01.csv",
        "museMonitor_P02_2021-03-02.csv",
        "P03_run-2.edf",
        "readme.txt",
        "summary.csv",
    )
    found = discover(InputConfig(root=str(tmp_path), pattern="museMonitor_{participant}_*"), "primary.input")
    assert found.layout == "flat"
    assert ids(found) == [("P01", "1", "csv"), ("P02", "1", "csv")]
    assert sorted(p.name for p, _ in found.ignored) == ["P03_run-2.edf", "summary.csv"]
    assert "primary.input.pattern" in found.ignored[0][1]

    found = discover(InputConfig(root=str(tmp_path), pattern="{participant}_run-{run}", include="P*"), "k")
    assert ids(found) == [("P03", "2", "edf")]
    found = discover(InputConfig(root=str(tmp_path), pattern="*_{participant}_*", formats=("csv",)), "k")
    assert [s.participant for s in found.sources] == ["P01", "P02"]


def test_pattern_with_folders_matches_relative_paths(tmp_path):
    touch(tmp_path, "P01/rec_3.bdf", "P02/rec_1.bdf")
    found = discover(InputConfig(root=str(tmp_path), pattern="{participant}/rec_{run}"), "k")
    assert ids(found) == [("P01", "3", "bdf"), ("P02", "1", "bdf")]


def test_two_recordings_for_one_participant_run_is_an_error(tmp_path):
    touch(tmp_path, "sub-01/eeg/sub-01_task-rest_run-1_eeg.edf", "sub-01/eeg/sub-01_task-eyes_run-1_eeg.edf")
    with pytest.raises(
        DiscoveryError, match=r"both give participant sub-01 run 1; narrow pretraining\.input\.include"
    ):
        discover(InputConfig(root=str(tmp_path)), "pretraining.input")
    found = discover(InputConfig(root=str(tmp_path), include="*task-rest*"), "pretraining.input")
    assert len(found.sources) == 1


def test_missing_root_names_the_key(tmp_path):
    with pytest.raises(DiscoveryError, match=r"primary\.input\.root: folder .*nope does not exist"):
        discover(InputConfig(root=str(tmp_path / "nope")), "primary.input")


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.EDF", ("a", "edf")), ("a_raw.fif.gz", ("a_raw", "fif")), ("x.vhdr", ("x", "vhdr")), ("x.txt", None)],
)
def test_split_extension(name, expected):
    assert split_extension(Path(name)) == expected
