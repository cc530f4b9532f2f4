"""Every bad file is a MontageError naming the file, the line where it applies, and the problem."""

from __future__ import annotations

import pytest

from eeg_montage import MontageError, read_asa

GOOD_HEAD = "UnitPosition mm\nPositions\n"

# (id, file text, line named in the message or None for whole-file problems, phrases the message must hold)
BAD_FILES = [
    (
        "no-positions-section",
        "# ASA electrode file\nUnitPosition mm\nLabels\nCz\n",
        None,
        ["no Positions section", "expected a line 'Positions'"],
    ),
    (
        "not-an-asa-file",
        "label,x,y,z\nCz,0,0,1\n",
        None,
        ["no Positions section"],
    ),
    (
        "empty-positions-section",
        "UnitPosition mm\nPositions\nLabels\nCz\n",
        2,
        ["Positions section is empty"],
    ),
    (
        "no-labels-section",
        "UnitPosition mm\nPositions\n0 0 100\n50 0 80\n",
        2,
        ["no Labels section", "one label per position"],
    ),
    (
        "fewer-labels-than-positions",
        "UnitPosition mm\nPositions\n0 0 100\n50 0 80\n0 50 80\nLabels\nCz\nC4\n",
        6,
        ["fewer labels than positions", "2 label lines", "(line 2) has 3 positions"],
    ),
    (
        "more-labels-than-positions",
        "UnitPosition mm\nPositions\n0 0 100\nLabels\nCz\nC4\n",
        4,
        ["more labels than positions", "2 label lines", "has 1 positions"],
    ),
    (
        "inline-labels-section-count",
        "UnitPosition mm\nPositions\nCz : 0 0 100\nC4 : 50 0 80\nLabels\nCz C4 Pz\n",
        5,
        ["more labels than positions"],
    ),
    (
        "inline-labels-section-differs",
        "UnitPosition mm\nPositions\nCz : 0 0 100\nC4 : 50 0 80\nLabels\nCz\nC3\n",
        7,
        ["'C3' in the Labels section differs from 'C4' on line 4"],
    ),
    (
        "non-numeric-coordinate",
        GOOD_HEAD + "0 0 100\n50 abc 80\nLabels\nCz\nC4\n",
        4,
        ["coordinate 'abc' is not a number"],
    ),
    (
        "decimal-comma",
        GOOD_HEAD + "0 0 100,5\nLabels\nCz\n",
        3,
        ["coordinate '100,5' is not a number", "expected a decimal number"],
    ),
    (
        "nan-coordinate",
        GOOD_HEAD + "Cz : 0 0 100\nC4 : nan 0 80\n",
        4,
        ["coordinate 'nan' is not finite"],
    ),
    (
        "inf-coordinate",
        GOOD_HEAD + "Cz : 0 0 -inf\n",
        3,
        ["coordinate '-inf' is not finite"],
    ),
    (
        "overflowing-coordinate",
        GOOD_HEAD + "Cz : 0 0 1e999\n",
        3,
        ["coordinate '1e999' is out of range"],
    ),
    (
        "two-coordinates",
        GOOD_HEAD + "Cz : 0 100\n",
        3,
        ["has 2 values", "expected 3 coordinates"],
    ),
    (
        "label-without-colon",
        GOOD_HEAD + "Cz 0 0 100\nLabels\nCz\n",
        3,
        ["has 4 values", "expected 3 coordinates"],
    ),
    (
        "empty-inline-label",
        GOOD_HEAD + " : 0 0 100\n",
        3,
        ["no label before ':'"],
    ),
    (
        "mixed-layouts",
        GOOD_HEAD + "Cz : 0 0 100\n50 0 80\n",
        4,
        ["mixes layouts", "first position (line 3)"],
    ),
    (
        "zero-length-position",
        GOOD_HEAD + "Cz : 0 0 100\nC4 : 0 0.0 -0\n",
        4,
        ["position of 'C4' is (0, 0, 0)", "expected a non-zero position"],
    ),
    (
        "zero-length-position-plain",
        GOOD_HEAD + "0 0 100\n0 0 0\nLabels\nCz\nC4\n",
        4,
        ["position of 'C4' is (0, 0, 0)"],
    ),
    (
        "conflicting-duplicate-label",
        GOOD_HEAD + "Cz : 0 0 100\nC4 : 50 0 80\nCz : 0 0 99\n",
        5,
        ["label 'Cz' repeats 'Cz' (line 3) with a different position", "0 0 99 vs 0 0 100 mm"],
    ),
    (
        "conflicting-duplicate-label-other-case",
        "UnitPosition cm\nPositions\n0 0 10\n5 0 8\nLabels\nFp1\nFP1\n",
        7,
        ["label 'FP1' repeats 'Fp1' (line 6) with a different position", "cm", "case-insensitively"],
    ),
    (
        "conflicting-fiducial-spellings",
        GOOD_HEAD + "Nz : 0 90 0\nCz : 0 0 100\nNAS : 0 91 0\n",
        5,
        ["fiducial 'NAS' repeats 'Nz' (line 3) with a different position"],
    ),
    (
        "unknown-unit",
        "UnitPosition inch\nPositions\nCz : 0 0 4\n",
        1,
        ["unknown UnitPosition 'inch'", "expected mm, cm or m"],
    ),
    (
        "unit-without-value",
        "UnitPosition\nPositions\nCz : 0 0 4\n",
        1,
        ["UnitPosition has no value"],
    ),
    (
        "contradicting-units",
        "UnitPosition mm\nPositions\nCz : 0 0 100\nUnitPosition m\n",
        4,
        ["UnitPosition 'm' contradicts 'mm' at line 1"],
    ),
    (
        "number-positions-not-a-number",
        "UnitPosition mm\nNumberPositions= many\nPositions\nCz : 0 0 100\n",
        2,
        ["NumberPositions= 'many'", "whole number"],
    ),
    (
        "second-positions-section",
        GOOD_HEAD + "Cz : 0 0 100\nPositions\nC4 : 50 0 80\n",
        4,
        ["second Positions section", "first is at line 2"],
    ),
    (
        "only-fiducials",
        GOOD_HEAD + "Nz : 0 90 0\nLPA : -80 0 0\nRPA : 80 0 0\n",
        2,
        ["every position is a fiducial", "at least one electrode"],
    ),
    (
        "empty-file",
        "",
        None,
        ["the file is empty"],
    ),
    (
        "blank-file",
        " \n\t\r\n\n",
        None,
        ["the file is empty"],
    ),
    (
        "only-comments",
        "# ASA electrode file\n# nothing else\n",
        None,
        ["holds only comments"],
    ),
    (
        "control-character",
        GOOD_HEAD + "Cz : 0 0 100\x01\n",
        3,
        ["control character", "binary"],
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "phrases"), [case[1:] for case in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_file_message_names_file_line_and_problem(write_elc, text, line, phrases):
    path = write_elc(text)
    with pytest.raises(MontageError) as info:
        read_asa(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    if line is None:
        assert message.startswith(f"{path}: "), message
    else:
        assert message.startswith(f"{path}, line {line}: "), message
    for phrase in phrases:
        assert phrase in message, f"{phrase!r} not in {message!r}"
    assert "\n" not in message


def test_error_is_a_value_error():
    assert issubclass(MontageError, ValueError)


def test_binary_file_with_nul_bytes(write_elc, tmp_path):
    path = tmp_path / "recording.edf"
    path.write_bytes(b"0       \x00\x01\x02\xff\xfe binary header")
    with pytest.raises(MontageError, match=r"NUL byte, so it is a binary file") as info:
        read_asa(path)
    assert str(path) in str(info.value)


def test_binary_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "image.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xc3\x28 not text")
    with pytest.raises(MontageError, match=r"byte \d+ is not UTF-8 text.*binary") as info:
        read_asa(path)
    assert str(info.value).startswith(str(path))


def test_path_that_does_not_exist(tmp_path):
    path = tmp_path / "missing.elc"
    with pytest.raises(
        MontageError, match=r"no such file; expected the path of an ASA electrode file"
    ) as info:
        read_asa(path)
    assert str(info.value).startswith(str(path))


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(MontageError, match=r"is a directory") as info:
        read_asa(tmp_path)
    assert str(tmp_path) in str(info.value)
