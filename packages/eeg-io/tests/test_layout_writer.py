"""The one writer of both Parquet layouts: what it writes reads back through eeg-io's own readers."""

from __future__ import annotations

import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_io import build_index, read_channel_windows, read_primary_dataset, validate
from eeg_io.layout import METADATA_COLUMNS, primary_table, windows_table, write_table


def _windows(rows: int, width: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"Fz": rng.normal(size=(rows, width)), "cz": rng.normal(size=(rows, width))}


def _table(rows: int, width: int, **kwargs):
    starts = np.arange(rows) * width / 256.0
    return windows_table(
        _windows(rows, width),
        participant="sub-01",
        run="2",
        window_start=starts,
        window_end=starts + width / 256.0,
        **kwargs,
    )


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 12), width=st.integers(1, 40))
def test_pretraining_table_reads_back_sample_for_sample(tmp_path_factory, rows, width):
    path = write_table(_table(rows, width), tmp_path_factory.mktemp("w") / "sub-01_run-2.parquet")
    (item_fz, item_cz) = build_index(path)
    assert (item_fz.participant, item_fz.run, item_fz.channel, item_cz.channel) == ("sub-01", "2", "FZ", "CZ")
    expected = _windows(rows, width)
    for item, name in ((item_fz, "Fz"), (item_cz, "cz")):
        read = read_channel_windows(path, item.channel, width)
        np.testing.assert_array_equal(read.windows, expected[name].astype(np.float32), err_msg=name)
    assert validate(path.parent) == []


def test_columns_and_default_ids():
    table = _table(3, 4)
    assert table.column_names == [*METADATA_COLUMNS, "Fz", "cz"]
    assert table.column("parent_window_id").to_pylist() == [0, 1, 2]
    assert table.column("sub_window_id").to_pylist() == [0, 0, 0]


def test_times_are_optional_but_come_in_pairs():
    table = windows_table(_windows(2, 3), participant="p", run="1")
    assert "window_start" not in table.column_names and "window_end" not in table.column_names
    with pytest.raises(ValueError, match="both window_start and window_end"):
        windows_table(_windows(2, 3), participant="p", run="1", window_start=np.zeros(2))


@pytest.mark.parametrize(
    ("channels", "kwargs", "message"),
    [
        ({"A": np.zeros((2, 3)), "B": np.zeros((3, 3))}, {}, "same K"),
        ({"A": np.zeros(3)}, {}, r"\[K, W\]"),
        ({"A": np.zeros((2, 3))}, {"parent_window_id": np.arange(3)}, "parent_window_id must have one value"),
        ({}, {}, "at least one channel"),
    ],
)
def test_inconsistent_shapes_are_refused(channels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        windows_table(channels, participant="p", run="1", **kwargs)


def test_primary_table_with_per_window_labels(tmp_path):
    labels = np.array([0, 1, 1, 0])
    path = write_table(
        primary_table(_table(4, 5), labels, participant_column="Person", label_column="Label"),
        tmp_path / "primary.parquet",
    )
    table = pq.read_table(path)
    assert table.column_names[:3] == ["Person", "participant", "Label"]
    assert table.column("Label").to_pylist() == labels.tolist()
    assert table.column("Person").to_pylist() == ["sub-01"] * 4


def test_primary_table_reads_back_with_one_label_per_participant(tmp_path):
    path = write_table(primary_table(_table(4, 5), 1), tmp_path / "primary.parquet")
    dataset = read_primary_dataset(path, ["FZ", "CZ"], 5)
    assert dataset.participants == ["sub-01"]
    assert dataset.labels.tolist() == [1]


def test_write_is_atomic_and_keeps_metadata(tmp_path, monkeypatch):
    path = write_table(_table(2, 3), tmp_path / "deep" / "f.parquet", {"made.by": {"seed": 3}})
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.parquet"]  # no temporary left behind
    assert pq.read_schema(path).metadata[b"made.by"] == b'{"seed": 3}'
    before = path.read_bytes()

    def full_disk(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="disk full"):
        write_table(_table(2, 3), path)  # a failed write leaves the old file and no temporary
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.parquet"]
