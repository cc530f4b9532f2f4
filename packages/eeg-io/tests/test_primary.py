from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eeg_io import EEGDataError, read_primary_dataset

W = 4
# (participant, label, number of windows)
PEOPLE = [("P2", 1, 3), ("P1", 0, 2), ("P3", 1, 4)]


def value(participant: str, channel: int, window: int) -> list[float]:
    base = 1000 * int(participant[1:]) + 100 * channel + 10 * window
    return [float(base + s) for s in range(W)]


def primary_table(shuffle_seed: int = 0, **replace) -> pa.Table:
    rows = [(p, label, w) for p, label, n in PEOPLE for w in range(n)]
    order = np.random.default_rng(shuffle_seed).permutation(len(rows))
    rows = [rows[i] for i in order]
    columns = {
        "Participant": pa.array([p for p, _, _ in rows]),
        "Remission": pa.array([label for _, label, _ in rows]),
        "parent_window_id": pa.array([w for _, _, w in rows]),
        "sub_window_id": pa.array([0] * len(rows)),
        "Fz": pa.array([value(p, 0, w) for p, _, w in rows], pa.list_(pa.float32())),
        "Cz": pa.array([value(p, 1, w) for p, _, w in rows], pa.list_(pa.float32())),
        "Pz": pa.array([value(p, 2, w) for p, _, w in rows], pa.list_(pa.float32())),
    }
    for name, column in replace.items():
        if column is None:
            del columns[name]
        else:
            columns[name] = column(rows) if callable(column) else column
    return pa.table(columns)


@pytest.fixture
def primary_file(tmp_path):
    def write(**replace):
        path = tmp_path / "primary.parquet"
        pq.write_table(primary_table(**replace), path)
        return path

    return write


def test_reads_per_participant_arrays_and_labels(primary_file):
    data = read_primary_dataset(primary_file(), ["pz", "FZ"], W, normalization="none")
    assert data.channels == ("PZ", "FZ")
    assert data.participants == ["P1", "P2", "P3"]
    assert data.labels.tolist() == [0, 1, 1]
    for record in data:
        n = {p: n for p, _, n in PEOPLE}[record.participant]
        assert record.windows.shape == (2, n, W) and record.windows.dtype == np.float32
        expected = [[value(record.participant, c, w) for w in range(n)] for c in (2, 0)]
        np.testing.assert_array_equal(record.windows, expected, err_msg=record.participant)


def test_normalised_per_participant_and_channel(primary_file):
    data = read_primary_dataset(primary_file(), ["Fz", "Cz"], W)
    for record in data:
        for sequence in record.windows.astype(np.float64):
            assert abs(sequence.mean()) < 1e-5 and sequence.std() == pytest.approx(1.0, abs=1e-5)


def test_custom_column_names_are_matched_case_insensitively(primary_file):
    path = primary_file(Participant=None, Remission=None, subject=lambda rows: pa.array([p for p, _, _ in rows]),
                        outcome=lambda rows: pa.array([float(label) for _, label, _ in rows]))  # fmt: skip
    data = read_primary_dataset(path, ["Cz"], W, participant_column="Subject", label_column="OUTCOME")
    assert data.labels.tolist() == [0.0, 1.0, 1.0]


def test_drop_window_keeps_channels_aligned(primary_file):
    def with_nan(rows):
        cells = [value(p, 1, w) for p, _, w in rows]
        cells[next(i for i, (p, _, w) in enumerate(rows) if (p, w) == ("P3", 1))][2] = float("nan")
        return pa.array(cells, pa.list_(pa.float32()))

    path = primary_file(Cz=with_nan)
    with pytest.raises(
        EEGDataError, match=r"primary\.parquet: participant P3: channel CZ: non-finite value in file row"
    ):
        read_primary_dataset(path, ["Fz", "Cz"], W)
    data = read_primary_dataset(path, ["Fz", "Cz"], W, normalization="none", nan_policy="drop_window")
    p3 = data.records[2].windows
    assert p3.shape == (2, 3, W)
    np.testing.assert_array_equal(p3[0], [value("P3", 0, w) for w in (0, 2, 3)])
    zero = read_primary_dataset(path, ["Cz"], W, normalization="none", nan_policy="zero").records[2].windows
    assert zero[0, 1, 2] == 0.0 and zero.shape == (1, 4, W)


@pytest.mark.parametrize(
    ("replace", "kwargs", "message"),
    [
        (
            {},
            {"channels": ["Fz", "O1"]},
            r"primary\.parquet: no column for channel\(s\) O1 \(channels in this file: FZ, CZ, PZ\)",
        ),
        ({"Remission": None}, {}, r"primary\.parquet: no label column 'Remission'"),
        ({"Participant": None}, {}, r"primary\.parquet: no participant column 'Participant'"),
        (
            {},
            {"window_length": 5},
            r"primary\.parquet: channel FZ: windows have 4 samples, expected window_length=5",
        ),
        ({}, {"window_length": 3}, r"channel FZ: windows have 4 samples, expected window_length=3"),
        (
            {
                "Remission": lambda rows: pa.array(
                    [label if (p, w) != ("P3", 2) else 0 for p, label, w in rows]
                )
            },
            {},
            r"primary\.parquet: participant P3 has 2 different 'Remission' values \(0, 1\)",
        ),
        (
            {"Remission": lambda rows: pa.array([None] + [label for _, label, _ in rows[1:]], pa.int64())},
            {},
            r"column 'Remission' has empty \(null\) values",
        ),
    ],
)
def test_bad_primary_files(primary_file, replace, kwargs, message):
    path = primary_file(**replace)
    with pytest.raises(EEGDataError, match=message):
        read_primary_dataset(path, **{"channels": ["Fz"], "window_length": W, **kwargs})


def test_lenient_lengths_pad_and_truncate(primary_file):
    data = read_primary_dataset(primary_file(), ["Fz"], 6, normalization="none", strict_length=False)
    np.testing.assert_array_equal(data.records[0].windows[0, 0], [*value("P1", 0, 0), 0.0, 0.0])
    data = read_primary_dataset(primary_file(), ["Fz"], 2, normalization="none", strict_length=False)
    np.testing.assert_array_equal(data.records[0].windows[0, 1], value("P1", 0, 1)[:2])


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "primary.parquet"
    path.write_text("Participant,Remission\n")
    with pytest.raises(EEGDataError, match=r"primary\.parquet: not a readable Parquet file"):
        read_primary_dataset(path, ["Fz"], W)


def test_records_per_run_with_window_labels_and_a_group(primary_file):
    # Windows 0-1 of everyone are run "a", 2-3 run "b"; labels vary per window; P1 and P3 share site "X".
    def runs(rows):
        return pa.array(["a" if w < 2 else "b" for _, _, w in rows])

    def labels(rows):
        return pa.array([w % 2 for _, _, w in rows])

    def sites(rows):
        return pa.array(["Y" if p == "P2" else "X" for p, _, _ in rows])

    path = primary_file(run=runs, Remission=labels, Site=sites)
    with pytest.raises(EEGDataError, match=r"participant P1 has 2 different 'Remission' values"):
        read_primary_dataset(path, ["Fz"], W)
    data = read_primary_dataset(
        path, ["Fz"], W, normalization="none", by_run=True, window_labels=True, group_column="site"
    )
    keys = [(r.participant, r.run, r.group) for r in data.records]
    assert keys == [("P1", "a", "X"), ("P2", "a", "Y"), ("P2", "b", "Y"), ("P3", "a", "X"), ("P3", "b", "X")]
    p3b = data.records[4]
    assert p3b.window_labels.tolist() == [0, 1]  # windows 2, 3 in time order
    np.testing.assert_array_equal(p3b.windows[0], [value("P3", 0, w) for w in (2, 3)])

    def mixed_sites(rows):
        return pa.array([f"S{w}" for _, _, w in rows])

    with pytest.raises(EEGDataError, match=r"participant P1 run a has 2 different 'Site' values"):
        read_primary_dataset(
            primary_file(run=runs, Site=mixed_sites), ["Fz"], W, by_run=True, group_column="Site"
        )
