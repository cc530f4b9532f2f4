"""`python -m eeg_montage [FILE]`: table and summary, exit 2 with one line on a bad file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from eeg_montage import standard_montage
from eeg_montage._cli import main

FILE = "UnitPosition cm\nNumberPositions= 4\nPositions\nNz : 0 9 0\nCz : 0 0 10\nT7 : -8 0 0\nO1 : -3 -9 1\n"


def _rows(out: str) -> dict[str, list[float]]:
    table = out.split("\n\n")[0].splitlines()[1:]
    return {line.split()[0]: [float(value) for value in line.split()[1:]] for line in table}


def test_prints_unit_vectors_and_summary(write_elc, capsys):
    path = write_elc(FILE)
    assert main([str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0].split() == ["label", "x", "y", "z"]
    rows = _rows(out)
    assert list(rows) == ["Cz", "T7", "O1"]
    assert rows["Cz"] == [0.0, 0.0, 1.0] and rows["T7"] == [-1.0, 0.0, 0.0]
    assert np.linalg.norm(rows["O1"]) == pytest.approx(1.0, abs=1e-3)
    assert f"{path}: 3 electrodes; fiducials: nasion" in out
    assert "centre: the file's origin" in out
    assert "median 95.4 mm (min 80.0, max 100.0)" in out


def test_without_file_prints_the_built_in_montage(capsys):
    assert main([]) == 0
    out, _ = capsys.readouterr()
    rows = _rows(out)
    assert len(rows) == len(standard_montage()) and "AF7" in rows and "TP10" in rows
    assert "standard_1005: 339 electrodes; fiducials: nasion, lpa, rpa; reference avg" in out


def test_center_fit_reports_the_sphere(capsys):
    assert main(["--center", "fit"]) == 0
    out, _ = capsys.readouterr()
    assert "centre: fitted sphere at (" in out and "radius" in out


def test_warnings_go_to_stderr(write_elc, capsys):
    path = write_elc(FILE.replace("NumberPositions= 4", "NumberPositions= 9"))
    assert main([str(path)]) == 0
    _, err = capsys.readouterr()
    assert err.startswith("warning: ") and "NumberPositions= 9 but 4 positions were read" in err


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("UnitPosition inch\nPositions\nCz : 0 0 1\n", "unknown UnitPosition 'inch'"),
        ("", "the file is empty"),
    ],
)
def test_bad_file_prints_one_line_and_exits_2(write_elc, capsys, text, phrase):
    path = write_elc(text)
    assert main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {path}") and phrase in err


def test_missing_file_exits_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope.elc")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_module_entry_point_in_a_subprocess(write_elc):
    bad = write_elc("UnitPosition mm\nPositions\nCz : 0 0 abc\n", name="bad.elc")
    result = subprocess.run([sys.executable, "-m", "eeg_montage", str(bad)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stdout == ""
    assert (
        result.stderr
        == f"error: {bad}, line 3: coordinate 'abc' is not a number; expected a decimal number such as -12.5\n"
    )

    good = subprocess.run([sys.executable, "-m", "eeg_montage"], capture_output=True, text=True)
    assert good.returncode == 0 and good.stderr == ""
    assert "standard_1005: 339 electrodes" in good.stdout
