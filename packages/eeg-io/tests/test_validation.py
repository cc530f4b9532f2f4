from __future__ import annotations

import shutil
import subprocess
import sys

import pyarrow as pa
import pytest

from eeg_io import Problem, validate
from eeg_io.cli import main

from .conftest import write_file

W = [[1.0, 2.0], [3.0, 4.0]]


def test_clean_corpus_has_no_problems(corpus, capsys):
    assert validate(corpus) == []
    assert validate(corpus, window_length=32) == []
    assert main(["validate", str(corpus), "--sampling-rate", "64"]) == 0  # the corpus's rate
    assert capsys.readouterr().out.strip() == f"8 file(s) under {corpus}: no problems"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: (p / "f.parquet").write_bytes(b""), "empty file (0 bytes)"),
        (lambda p: (p / "f.parquet").write_text("not parquet"), "not a readable Parquet file"),
        (lambda p: write_file(p / "f.parquet", {"Cz": []}, num_rows=0), "zero rows (no windows)"),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W}, window_end=None, run=None),
            "missing metadata column(s) run, window_end",
        ),
        (lambda p: write_file(p / "f.parquet", {}, num_rows=2), "no channel columns"),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W}, Pz=pa.array([1.0, 2.0])),
            "column 'Pz' has type double; channel columns must be lists of numbers",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W, "Pz": pa.array([["a"], ["b"]])}),
            "list 'Pz' has type list<string>",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W, "CZ": W}),
            "columns 'Cz' and 'CZ' name the same channel",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W, "Pz": [[1.0, 2.0], [1.0, 2.0, 3.0]]}),
            "inconsistent window lengths across rows/channels (2 samples x 3, 3 samples x 1 windows)",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W, "Pz": [[1.0, 2.0], [float("nan"), 1.0]]}),
            "channel PZ: 1 non-finite value(s) (NaN/Inf), first in row 1",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": [[1.0, 2.0], None]}),
            "channel CZ: 1 empty (null) window(s), first at row 1",
        ),
        (
            lambda p: write_file(p / "f.parquet", {"Cz": W}, run=pa.array(["1", "2"])),
            "column 'run' holds 2 values",
        ),
    ],
)
def test_each_problem_is_reported_with_the_file(tmp_path, setup, expected):
    setup(tmp_path)
    problems = validate(tmp_path)
    assert any(p.file == str(tmp_path / "f.parquet") and p.message.startswith(expected) for p in problems), (
        problems
    )


def test_nonfinite_row_is_located_after_null_rows(tmp_path):
    write_file(tmp_path / "f.parquet", {"Cz": [None, [1.0, 2.0], [3.0, float("inf")]]})
    messages = [p.message for p in validate(tmp_path)]
    assert "channel CZ: 1 non-finite value(s) (NaN/Inf), first in row 2" in messages


def test_window_length_across_files_and_expected(tmp_path):
    for name in ("a", "b"):
        write_file(tmp_path / f"{name}.parquet", {"Cz": W})
    write_file(tmp_path / "odd.parquet", {"Cz": [[1.0, 2.0, 3.0]]})
    assert validate(tmp_path) == [
        Problem(
            str(tmp_path / "odd.parquet"), "window length 3 differs from the 2 samples of 2 other file(s)"
        )
    ]
    assert [p.file for p in validate(tmp_path, window_length=3)] == [
        str(tmp_path / "a.parquet"),
        str(tmp_path / "b.parquet"),
    ]


def test_missing_folder_and_folder_without_files(tmp_path):
    assert validate(tmp_path / "nope") == [Problem(str(tmp_path / "nope"), "no such file or folder")]
    assert "folder holds no Parquet files" in validate(tmp_path)[0].message


def test_cli_prints_one_line_per_problem_and_a_summary(corpus, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(corpus, data)
    (data / "sub-002" / "sub-002_run-1.parquet").write_bytes(b"garbage")
    write_file(data / "extra" / "bad.parquet", {"Cz": [[1.0] * 32, [float("nan")] * 32]}, participant="x")
    result = subprocess.run(
        [sys.executable, "-m", "eeg_io", "validate", str(data)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    lines = result.stdout.strip().splitlines()
    assert (
        lines[0]
        == f"{data / 'extra' / 'bad.parquet'}: channel CZ: 32 non-finite value(s) (NaN/Inf), first in row 1"
    )
    assert lines[1].startswith(f"{data / 'sub-002' / 'sub-002_run-1.parquet'}: not a readable Parquet file")
    assert lines[2] == f"2 problem(s) in 2 of 9 file(s) under {data}"
    assert result.stderr == ""


def test_cli_missing_folder_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 2
    out = capsys.readouterr().out
    assert f"{tmp_path / 'nope'}: no such file or folder" in out


def test_cli_path_does_not_import_torch_or_pandas():
    """`python -m eeg_io validate` stays quick: the torch parts of eeg_io load only on first use."""
    code = "import sys, eeg_io, eeg_io.cli; print('torch' in sys.modules, 'pandas' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
