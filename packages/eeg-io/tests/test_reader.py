from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_io import EEGDataError, decode_windows, read_channel_windows

from .conftest import write_file


def ramp(num_windows: int, length: int, start: float = 0.0) -> list[list[float]]:
    return [[start + 100 * w + s for s in range(length)] for w in range(num_windows)]


@pytest.mark.parametrize(
    "type_",
    [
        pa.list_(pa.float32()),
        pa.list_(pa.float64()),
        pa.large_list(pa.float32()),
        pa.list_(pa.float32(), 4),
        pa.list_(pa.int16()),
    ],
    ids=str,
)
def test_cell_types_decode_to_float32(tmp_path, type_):
    path = write_file(tmp_path / "f.parquet", {"Fz": pa.array(ramp(3, 4), type_)})
    out = read_channel_windows(path, "FZ", 4)
    assert out.windows.dtype == np.float32 and out.windows.flags.writeable
    np.testing.assert_array_equal(out.windows, np.array(ramp(3, 4), dtype=np.float32))
    assert (out.num_padded, out.num_truncated, out.num_dropped) == (0, 0, 0)


def test_rows_are_put_in_window_order(tmp_path):
    order = [3, 0, 2, 1]  # row r holds window order[r]
    windows = [ramp(4, 2)[w] for w in order]
    path = write_file(tmp_path / "f.parquet", {"Cz": windows}, order=order)
    out = read_channel_windows(path, "cz", 2)
    np.testing.assert_array_equal(out.windows, np.array(ramp(4, 2), dtype=np.float32))
    np.testing.assert_array_equal(out.rows, [1, 3, 2, 0])


def test_window_start_orders_rows_without_window_ids(tmp_path):
    path = write_file(
        tmp_path / "f.parquet",
        {"Cz": [[2.0], [0.0], [1.0]]},
        parent_window_id=None,
        sub_window_id=None,
        window_start=pa.array([20.0, 0.0, 10.0]),
    )
    np.testing.assert_array_equal(read_channel_windows(path, "Cz", 1).windows[:, 0], [0.0, 1.0, 2.0])
    # Without any ordering column, file order is kept.
    path = write_file(
        tmp_path / "g.parquet",
        {"Cz": [[2.0], [0.0]]},
        parent_window_id=None,
        sub_window_id=None,
        window_start=None,
    )
    np.testing.assert_array_equal(read_channel_windows(path, "Cz", 1).windows[:, 0], [2.0, 0.0])


def test_padding_and_truncation_are_counted(tmp_path):
    short = write_file(tmp_path / "short.parquet", {"Cz": [[1.0, 2.0, 3.0], [4.0, 5.0], [6.0, 7.0, 8.0]]})
    out = read_channel_windows(short, "Cz", 4)
    np.testing.assert_array_equal(out.windows, [[1, 2, 3, 0], [4, 5, 0, 0], [6, 7, 8, 0]])
    assert (out.num_padded, out.num_truncated) == (3, 0)
    long = write_file(tmp_path / "long.parquet", {"Cz": ramp(3, 6)})
    out = read_channel_windows(long, "Cz", 4)
    np.testing.assert_array_equal(out.windows, np.array(ramp(3, 6))[:, :4])
    assert (out.num_padded, out.num_truncated) == (0, 3)
    exact_and_short = write_file(tmp_path / "mixed.parquet", {"Cz": [[1.0, 2.0], [3.0]]})
    assert read_channel_windows(exact_and_short, "Cz", 2).num_padded == 1


def test_mixed_lengths_beyond_window_length_are_refused(tmp_path):
    path = write_file(tmp_path / "f.parquet", {"Cz": [[1.0] * 4, [1.0] * 6, [1.0] * 4]})
    with pytest.raises(
        EEGDataError,
        match=r"f\.parquet: channel CZ: windows have mixed lengths \(4, 6 samples\) .* longer than window_length=5 \(first at row 1\)",
    ):
        read_channel_windows(path, "Cz", 5)


def test_nan_policy_error_names_file_channel_and_row(tmp_path):
    path = write_file(
        tmp_path / "f.parquet", {"Cz": [[1.0, 2.0], [3.0, 4.0], [5.0, float("inf")]]}, order=[2, 0, 1]
    )
    with pytest.raises(
        EEGDataError,
        match=r"f\.parquet: channel CZ: non-finite value \(inf\) in row 2 \(window 1 in time order\)",
    ):
        read_channel_windows(path, "Cz", 2)


def test_nan_policy_zero_and_drop(tmp_path):
    windows = [[1.0, 2.0], [3.0, float("nan")], None, [5.0, 6.0]]
    path = write_file(tmp_path / "f.parquet", {"Cz": windows})
    zero = read_channel_windows(path, "Cz", 2, nan_policy="zero")
    np.testing.assert_array_equal(zero.windows, [[1, 2], [3, 0], [0, 0], [5, 6]])
    dropped = read_channel_windows(path, "Cz", 2, nan_policy="drop_window")
    np.testing.assert_array_equal(dropped.windows, [[1, 2], [5, 6]])
    np.testing.assert_array_equal(dropped.rows, [0, 3])
    assert dropped.num_dropped == 2
    with pytest.raises(EEGDataError, match="row 2"):  # the null window
        read_channel_windows(write_file(tmp_path / "g.parquet", {"Cz": [[1.0], [2.0], None]}), "Cz", 1)
    all_bad = write_file(tmp_path / "h.parquet", {"Cz": [[float("nan")]]})
    with pytest.raises(EEGDataError, match=r"h\.parquet: channel CZ: every window holds a non-finite value"):
        read_channel_windows(all_bad, "Cz", 1, nan_policy="drop_window")


def test_missing_channel_names_the_file_and_known_channels(tmp_path):
    path = write_file(tmp_path / "f.parquet", {"Cz": [[1.0]], "Pz": [[1.0]]})
    with pytest.raises(
        EEGDataError, match=r"f\.parquet: no channel column 'O1' \(channels in this file: CZ, PZ\)"
    ):
        read_channel_windows(path, "O1", 1)


def test_sliced_arrays_decode_from_their_offset():
    values = [[float(w * 10 + s) for s in range(3)] for w in range(5)]
    for type_ in (pa.list_(pa.float32()), pa.list_(pa.float32(), 3)):
        array = pa.array(values, type_).slice(2, 2)
        decoded = decode_windows(array, 3, where="test")
        np.testing.assert_array_equal(decoded.windows, values[2:4], err_msg=str(type_))
    chunked = pa.chunked_array([pa.array(values[:2]), pa.array(values[2:])])
    np.testing.assert_array_equal(decode_windows(chunked, 3, where="t").windows, values)


@settings(max_examples=25, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 9), min_size=1, max_size=12),
    window_length=st.integers(1, 8),
    null_rows=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_decode_matches_a_row_by_row_reference(lengths, window_length, null_rows):
    rows = [None if null_rows[i] else [float(i * 100 + s) for s in range(n)] for i, n in enumerate(lengths)]
    real = {len(r) for r in rows if r is not None}
    if len(real) > 1 and max(real) > window_length:
        with pytest.raises(EEGDataError, match="mixed lengths"):
            decode_windows(pa.array(rows, pa.list_(pa.float64())), window_length, where="x")
        return
    decoded = decode_windows(pa.array(rows, pa.list_(pa.float64())), window_length, where="x")
    expected = np.zeros((len(rows), window_length), dtype=np.float32)
    for i, r in enumerate(rows):
        if r is None:
            expected[i] = np.nan
        else:
            expected[i, : min(len(r), window_length)] = r[:window_length]
    np.testing.assert_array_equal(decoded.windows, expected)
    real_rows = [r for r in rows if r is not None]
    assert decoded.num_padded == sum(len(r) < window_length for r in real_rows)
    assert decoded.num_truncated == sum(len(r) > window_length for r in real_rows)
    if decoded.valid_lengths is not None:
        expected_valid = [window_length if r is None else min(len(r), window_length) for r in rows]
        np.testing.assert_array_equal(decoded.valid_lengths, expected_valid)
    else:
        assert all(len(r) >= window_length for r in real_rows)


def test_files_with_several_row_groups(tmp_path):
    import pyarrow.parquet as pq

    from eeg_io import build_index

    order = [4, 2, 0, 1, 3]
    table = pa.table(
        {
            "participant": ["p"] * 5,
            "run": ["r"] * 5,
            "parent_window_id": pa.array(order, pa.int64()),
            "Cz": pa.array([ramp(5, 3)[w] for w in order], pa.list_(pa.float32())),
        }
    )
    path = tmp_path / "groups.parquet"
    pq.write_table(table, path, row_group_size=2)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    (item,) = build_index(path)
    assert (item.participant, item.run, item.num_windows) == ("p", "r", 5)
    np.testing.assert_array_equal(read_channel_windows(path, "cz", 3).windows, ramp(5, 3))


def test_a_corrupt_page_is_one_line_naming_file_and_channel(tmp_path):
    """pyarrow says "Couldn't deserialize thrift: ...\\nDeserializing page header failed.\\n" (issue #24)."""
    import pyarrow.parquet as pq

    path = write_file(tmp_path / "f.parquet", {"Cz": ramp(8, 16), "Fz": ramp(8, 16)})
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(6)  # after the six metadata columns
    assert chunk.path_in_schema.startswith("Cz")
    offset = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 12] = b"\xff" * 12  # the first page header of channel Cz
    path.write_bytes(bytes(data))
    with pytest.raises(EEGDataError) as info:
        read_channel_windows(path, "Cz", 16)
    message = str(info.value)
    assert message.startswith(f"{path}: channel CZ: could not read the column (") and "\n" not in message
    assert "Deserializing page header failed" in message
