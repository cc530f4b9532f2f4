from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eeg_io import EEGDataError, SequenceItem, build_index

from .conftest import TINY, write_file

W = [[1.0, 2.0], [3.0, 4.0]]


def test_index_of_the_corpus(corpus):
    items = build_index(corpus)
    assert len(items) == 4 * 2 * 4  # files x channels without VEOG (excluded by default)
    assert items[0] == SequenceItem(
        file=str(corpus / "sub-001" / "sub-001_run-1.parquet"),
        channel="FP1",
        num_windows=6,
        participant="sub-001",
        run="1",
    )
    assert [i.channel for i in items[:4]] == ["FP1", "FZ", "CZ", "O1"]
    assert {i.participant for i in items} == {"sub-001", "sub-002", "sub-003", "sub-004"}
    assert all(i.num_windows == TINY["windows_per_run"] for i in items)


def test_include_and_exclude_are_case_insensitive(corpus):
    items = build_index(corpus, include_channels=["o1", "fZ", "veog"], exclude_channels=["VEog"])
    assert [i.channel for i in items[:2]] == ["O1", "FZ"]
    assert len(items) == 8 * 2
    assert {i.channel for i in build_index(corpus, exclude_channels=())} == {"FP1", "FZ", "CZ", "O1", "VEOG"}


def test_nested_folders_and_lists_of_paths(tmp_path):
    a = write_file(tmp_path / "x" / "y" / "a.parquet", {"Cz": W}, participant="a")
    b = write_file(tmp_path / "b.parquet", {"Cz": W}, participant="b")
    assert [i.participant for i in build_index(tmp_path)] == ["b", "a"]  # sorted by path: .../b < .../x/
    assert [i.participant for i in build_index([a, str(b)])] == ["b", "a"]  # always sorted by path
    assert len(build_index([tmp_path, a])) == 2  # no duplicates


def test_index_reads_metadata_only(corpus, monkeypatch):
    """Participant and run come from column statistics: no column data is read at all."""

    def no_reading(*args, **kwargs):
        raise AssertionError("build_index read column data")

    monkeypatch.setattr(pq.ParquetFile, "read", no_reading)
    monkeypatch.setattr(pq, "read_table", no_reading)
    assert len(build_index(corpus)) == 32


def test_participant_without_statistics_is_read_from_the_column(tmp_path):
    path = tmp_path / "nostats.parquet"
    table = pa.table({"participant": [7, 7], "run": ["r", "r"], "C3": pa.array(W, pa.list_(pa.float64()))})
    pq.write_table(table, path, write_statistics=False)
    (item,) = build_index(path)
    assert (item.participant, item.run, item.channel, item.num_windows) == ("7", "r", "C3", 2)


def test_missing_included_channel(tmp_path):
    write_file(tmp_path / "a.parquet", {"Cz": W, "Pz": W})
    write_file(tmp_path / "b.parquet", {"Cz": W})
    with pytest.raises(
        EEGDataError, match=r"b\.parquet: no column for channel PZ \(channels in this file: CZ\)"
    ):
        build_index(tmp_path, include_channels=["cz", "pz"])
    items = build_index(tmp_path, include_channels=["cz", "pz"], on_missing_channel="skip")
    assert [(i.file.rsplit("/", 1)[1], i.channel) for i in items] == [
        ("a.parquet", "CZ"), ("a.parquet", "PZ"), ("b.parquet", "CZ")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: (p / "f.parquet").write_bytes(b""), r"f\.parquet: empty file \(0 bytes\)"),
        (
            lambda p: (p / "f.parquet").write_text("participant,run\n"),
            r"f\.parquet: not a readable Parquet file",
        ),
        (lambda p: write_file(p / "f.parquet", {"Cz": []}, num_rows=0), r"f\.parquet: zero rows"),
        (lambda p: write_file(p / "f.parquet", {}, num_rows=2), r"f\.parquet: no channel columns"),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W}, participant=pa.array([None, "a"], pa.string())),
            r"f\.parquet: column 'participant' has empty \(null\) values",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W, "cz": W}),
            r"f\.parquet: columns 'Cz' and 'cz' name the same channel CZ",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": pa.array([["a"], ["b"]])}),
            r"f\.parquet: channel column 'Cz' has type list<string>, expected a list of numbers",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W}, participant=pa.array(["a", "b"])),
            r"f\.parquet: column 'participant' holds 2 different values",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W}, run=None),
            r"f\.parquet: missing metadata column 'run'",
        ),
    ],
)
def test_bad_files(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(EEGDataError, match=message):
        build_index(tmp_path)


def test_non_list_channel_requested(tmp_path):
    write_file(tmp_path / "f.parquet", {"Cz": W}, Pz=pa.array([1.0, 2.0]))
    assert [i.channel for i in build_index(tmp_path)] == ["CZ"]  # a non-list column is not a channel
    with pytest.raises(
        EEGDataError, match=r"f\.parquet: channel column 'Pz' has type double, expected a list"
    ):
        build_index(tmp_path, include_channels=["Cz", "PZ"])


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(EEGDataError, match=r"nowhere: no such file or folder"):
        build_index(tmp_path / "nowhere")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(EEGDataError, match=r"empty: folder holds no Parquet files"):
        build_index(tmp_path / "empty")
    with pytest.raises(EEGDataError, match=r"notes\.txt: not a Parquet file name"):
        build_index(tmp_path / "empty" / "notes.txt")


def test_everything_excluded(tmp_path):
    write_file(tmp_path / "f.parquet", {"VEOG": W})
    with pytest.raises(EEGDataError, match="every channel column is excluded"):
        build_index(tmp_path)
