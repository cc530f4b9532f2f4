"""Data checks (duplicates, flat signals, window timing, channel scale) on generated corpora with known
injected faults (issue #14), and ``python -m eeg_io validate`` reporting them as warnings."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_io.cli import main
from eeg_io.data_checks import CHECKS, LABELS, check_data

CHANNELS = ("C3", "C4", "CZ")
WIDTH, RATE = 8, 8.0  # 8-sample windows at 8 Hz: 1 s each; half a sample is 1/16 s


def write(path: Path, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
    """``data`` float64 ``[C, L, W]`` as a pretraining-layout file (rows in time order)."""
    rows = data.shape[1]
    columns = {
        "participant": pa.array([path.stem] * rows),
        "run": pa.array(["1"] * rows),
        "parent_window_id": pa.array(np.arange(rows), pa.int64()),
        "sub_window_id": pa.array(np.zeros(rows, dtype=np.int64)),
        "window_start": pa.array(starts, pa.float64()),
        "window_end": pa.array(ends, pa.float64()),
    }
    for name, windows in zip(CHANNELS, data, strict=True):
        columns[name] = pa.array(list(windows.astype(np.float32)), pa.list_(pa.float32()))
    pq.write_table(pa.table(columns), path)


@st.composite
def corpora(draw):
    """A corpus plan: file 0 is a clean source; files 1.. receive the faults; an optional last file copies
    file 0. Returns ``(seed, rows per file, faults, expected counts)``."""
    n = draw(st.integers(2, 4))
    rows = [draw(st.integers(5, 8)) for _ in range(n)]
    expected = dict.fromkeys(CHECKS, 0)
    faults: dict[str, list] = {k: [] for k in ("dup", "flat_window", "gap", "overlap", "duration", "scale")}
    for f in range(1, n):
        dst_rows = draw(st.lists(st.integers(0, rows[f] - 1), max_size=2, unique=True))
        for row in dst_rows:
            faults["dup"].append((draw(st.integers(0, rows[0] - 1)), f, row))
        free = [r for r in range(rows[f]) if r not in dst_rows]
        if draw(st.booleans()):
            faults["flat_window"].append(
                (f, draw(st.sampled_from(free)), draw(st.integers(0, len(CHANNELS) - 1)))
            )
        if draw(st.booleans()):  # a gap after row g, an overlap after row g + 2
            g = draw(st.integers(1, rows[f] - 3))
            faults["gap"].append((f, g))
            if g + 3 < rows[f] and draw(st.booleans()):
                faults["overlap"].append((f, g + 2))
        if draw(st.booleans()):
            faults["duration"].append(f)  # the last window ends 3 samples late
        if draw(st.booleans()):
            faults["scale"].append((f, draw(st.integers(0, len(CHANNELS) - 1))))
    flat_file = draw(st.booleans())
    copy = draw(st.booleans())
    expected["duplicate_window"] = len(faults["dup"])
    expected["flat_window"] = len(faults["flat_window"])
    expected["window_gap"] = len(faults["gap"])
    expected["window_overlap"] = len(faults["overlap"])
    expected["window_duration"] = len(faults["duration"])
    expected["channel_scale"] = len(faults["scale"])
    expected["flat_channel"] = int(flat_file)
    expected["duplicate_recording"] = int(copy)
    return draw(st.integers(0, 2**16)), rows, faults, flat_file, copy, expected


def build(root: Path, seed: int, rows: list[int], faults: dict, flat_file: bool, copy: bool) -> list[Path]:
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal((len(CHANNELS), r, WIDTH)) for r in rows]
    times = [(np.arange(r, dtype=np.float64), np.arange(r, dtype=np.float64) + 1.0) for r in rows]
    for f, channel in faults["scale"]:
        data[f][channel] *= 1e5  # a unit error, still below the physical bound (1e6: 1 V in µV)
    for src, f, row in faults["dup"]:
        data[f][:, row] = data[0][:, src]
    for f, row, channel in faults["flat_window"]:
        data[f][channel, row] = 7.0
    for f, g in faults["gap"]:
        for t in times[f]:
            t[g + 1 :] += 0.5
    for f, g in faults["overlap"]:
        for t in times[f]:
            t[g + 1 :] -= 0.25
    for f in faults["duration"]:
        times[f][1][-1] += 3 / RATE
    paths = []
    for f, (d, (starts, ends)) in enumerate(zip(data, times, strict=True)):
        paths.append(root / f"f{f}.parquet")
        write(paths[-1], d, starts, ends)
    if flat_file:
        d = rng.standard_normal((len(CHANNELS), 5, WIDTH))
        d[1] = -2.5
        paths.append(root / "flat.parquet")
        write(paths[-1], d, np.arange(5.0), np.arange(5.0) + 1)
    if copy:
        paths.append(root / "z_copy.parquet")
        write(paths[-1], data[0], *times[0])
    return paths


@settings(max_examples=30, deadline=None)
@given(corpora())
def test_injected_faults_are_counted_exactly(plan):
    seed, rows, faults, flat_file, copy, expected = plan
    with tempfile.TemporaryDirectory() as folder:
        paths = build(Path(folder), seed, rows, faults, flat_file, copy)
        report = check_data(paths, sampling_rate=RATE)
        assert {c: report.counts.get(c, 0) for c in CHECKS} == expected, [str(w) for w in report.warnings]
        for check, count in expected.items():
            if count:
                assert f"{count} {LABELS[check]}" in report.summary()
        if copy:
            assert report.duplicate_files == ((str(paths[0]), str(paths[-1])),)
        named = {w.file for w in report.warnings}
        for _, f, _ in faults["dup"]:
            assert str(paths[f]) in named
        assert {(str(paths[0]), src, str(paths[f]), row) for src, f, row in faults["dup"]} == set(
            report.duplicate_windows
        )


def test_a_clean_corpus_has_no_warnings(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for f in range(3):
        paths.append(tmp_path / f"f{f}.parquet")
        write(paths[-1], rng.standard_normal((3, 6, WIDTH)), np.arange(6.0), np.arange(6.0) + 1)
    report = check_data(paths, sampling_rate=RATE)
    assert report.warnings == () and report.summary() == "no warnings"
    # the same corpus read at another sampling rate: every window's duration disagrees
    assert check_data(paths, sampling_rate=2 * RATE).counts == {"window_duration": 18}


def test_duplicates_across_a_split_are_named(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 5, WIDTH))
    b = rng.standard_normal((3, 5, WIDTH))
    b[:, 2] = a[:, 4]
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet"]
    write(paths[0], a, np.arange(5.0), np.arange(5.0) + 1)
    write(paths[1], b, np.arange(5.0), np.arange(5.0) + 1)
    write(paths[2], a, np.arange(5.0), np.arange(5.0) + 1)
    report = check_data(paths, sampling_rate=RATE)
    a_, b_, c_ = map(str, paths)
    assert report.leaks([a_], [b_, c_]) == [
        f"{a_} (train) and {b_} (validation) hold 1 identical window(s)",
        f"{a_} (train) and {c_} (validation) hold the same recording",
    ]
    assert report.leaks([a_, c_], [b_]) == [f"{a_} (train) and {b_} (validation) hold 1 identical window(s)"]
    assert report.leaks([a_, b_, c_], []) == []


def test_cli_prints_warnings_with_counts_and_fails_only_under_strict(tmp_path, capsys):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 5, WIDTH))
    a[2] = 0.0
    write(tmp_path / "a.parquet", a, np.arange(5.0), np.arange(5.0) + 1)
    write(tmp_path / "b.parquet", a, np.arange(5.0), np.arange(5.0) + 1)
    assert main(["validate", str(tmp_path), "--sampling-rate", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{tmp_path / 'a.parquet'}: warning: channel CZ is flat (constant 0 over all 5 windows)",
        f"{tmp_path / 'b.parquet'}: warning: channel CZ is flat (constant 0 over all 5 windows)",
        f"{tmp_path / 'b.parquet'}: warning: duplicate recording: the same samples as {tmp_path / 'a.parquet'}",
        "data checks: 1 duplicate recording(s), 2 flat channel(s), in 2 of 2 file(s); warnings",
    ]
    assert main(["validate", str(tmp_path), "--sampling-rate", "8", "--strict"]) == 2
    assert capsys.readouterr().out.splitlines()[-1].endswith("errors (--strict)")
    # at the default 256 Hz, 8-sample windows last 1/32 s, not the 1 s written in window_end
    assert main(["validate", str(tmp_path)]) == 0
    assert "window(s) whose duration disagrees with their samples" in capsys.readouterr().out
