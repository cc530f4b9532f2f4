"""The `.ts` reader and the trial-to-window cutting of ``benchmarks/aeon_pool.py``, on small synthetic data
(never the wheel's)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from aeon_pool import parse_ts

CLASSES = ("left", "right", "0", "1")


def ts_text(data: np.ndarray, labels: list[str], comments: bool = True) -> str:
    """A ``.ts`` file of ``data [N, C, T]`` as the UEA archive writes it."""
    lines = ["#A comment: with a colon, 1,2,3"] if comments else []
    lines += [
        "@problemName Synthetic",
        "@timeStamps false",
        "@univariate false",
        f"@dimensions {data.shape[1]}",
        "@equalLength true",
        f"@seriesLength {data.shape[2] + 1}",  # wrong on purpose: EyesOpenShut's is
        f"@classLabel true {' '.join(CLASSES)}",
        "@data",
    ]
    for case, label in zip(data, labels, strict=True):
        lines.append(":".join(",".join(repr(float(v)) for v in dim) for dim in case) + f":{label}")
    return "\n".join(lines) + "\n"


@st.composite
def ts_cases(draw):
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 8)))
    data = draw(arrays(np.float64, shape, elements=st.floats(-1e6, 1e6, allow_nan=False)))
    labels = draw(st.lists(st.sampled_from(CLASSES), min_size=shape[0], max_size=shape[0]))
    return data, labels


@given(ts_cases())
def test_round_trip(case):
    data, labels = case
    parsed = parse_ts(ts_text(data, labels))
    np.testing.assert_array_equal(parsed.data, data)
    assert parsed.labels == labels
    assert parsed.header["dimensions"] == str(data.shape[1])


@given(ts_cases(), st.sampled_from(["?", "NaN", "abc"]))
def test_missing_values_are_an_error_naming_the_line(case, bad):
    data, labels = case
    lines = ts_text(data, labels, comments=False).splitlines()
    lines[-1] = re.sub(r"^[^,:]+", bad, lines[-1])  # the last case's first value
    with pytest.raises(ValueError, match=rf"<string>:{len(lines)}:"):
        parse_ts("\n".join(lines))


def test_shape_and_label_checks():
    data = np.arange(12, dtype=float).reshape(2, 2, 3)
    text = ts_text(data, ["left", "right"])
    with pytest.raises(ValueError, match="@dimensions 3 but cases hold 2"):
        parse_ts(text.replace("@dimensions 2", "@dimensions 3"))
    with pytest.raises(ValueError, match="not in @classLabel"):
        parse_ts(text.replace(":right", ":up"))
    with pytest.raises(ValueError, match="unequal length"):
        parse_ts(text.replace("0.0,1.0,2.0:", "0.0,1.0:"))
    with pytest.raises(ValueError, match="no cases"):
        parse_ts(text.split("@data")[0] + "@data\n")


@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 4))
def test_trials_are_cut_into_back_to_back_windows(trials, channels, pieces):
    from aeon_pool import WINDOW, Run, run_table

    data = np.arange(trials * channels * pieces * WINDOW, dtype=np.float64).reshape(trials, channels, -1)
    run = Run(
        "d", "P1", "train", tuple(f"C{c + 1}" for c in range(channels)), data, np.zeros(trials, np.int64)
    )
    windows = run.windows()  # (N, k, C, W)
    for n, j, c in np.ndindex(trials, pieces, channels):
        np.testing.assert_array_equal(windows[n, j, c], data[n, c, j * WINDOW : (j + 1) * WINDOW])
    table = run_table(run)
    assert table.column("parent_window_id").to_pylist() == [n for n in range(trials) for _ in range(pieces)]
    assert table.column("sub_window_id").to_pylist() == list(range(pieces)) * trials
    np.testing.assert_array_equal(table.column("C1").to_pylist()[-1], data[-1, 0, -WINDOW:])
