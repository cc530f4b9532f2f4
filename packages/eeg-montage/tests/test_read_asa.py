"""read_asa on well-formed files: both layouts, units, line endings, comments, fiducials."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from eeg_montage import MontageWarning, parse_asa, read_asa

# Three electrodes and three fiducials, in mm, old layout (labels in their own section).
PLAIN_MM = """\
# ASA electrode file
ReferenceLabel\tavg
UnitPosition\tmm
NumberPositions=\t6
Positions
-86.0761 -19.9897 -47.9860
85.7939 -20.0093 -48.0310
0.0083 86.8110 -39.9830
-29.4367 83.9171 -6.9900
0.4009 -9.1670 100.2440
29.8723 84.8959 -7.0800
Labels
LPA
RPA
Nz
Fp1
Cz
Fp2
"""

# The same file in the newer layout, labels inline (ANT writes a Labels section as well).
INLINE_MM = """\
# ASA electrode file
ReferenceLabel\tavg
UnitPosition\tmm
NumberPositions=\t6
Positions
LPA : -86.0761 -19.9897 -47.9860
RPA : 85.7939 -20.0093 -48.0310
Nz : 0.0083 86.8110 -39.9830
Fp1 :\t-29.4367\t83.9171\t-6.9900
Cz: 0.4009 -9.1670 100.2440
Fp2   :   29.8723   84.8959   -7.0800
Labels
LPA\tRPA\tNz\tFp1\tCz\tFp2
"""

ELECTRODES_M = (
    np.array([[-29.4367, 83.9171, -6.99], [0.4009, -9.167, 100.244], [29.8723, 84.8959, -7.08]]) * 1e-3
)
FIDUCIALS_M = {
    "nasion": np.array([0.0083, 86.811, -39.983]) * 1e-3,
    "lpa": np.array([-86.0761, -19.9897, -47.986]) * 1e-3,
    "rpa": np.array([85.7939, -20.0093, -48.031]) * 1e-3,
}


def _check_example(montage) -> None:
    assert montage.labels == ("Fp1", "Cz", "Fp2")
    assert_allclose(montage.positions, ELECTRODES_M, rtol=0, atol=1e-12)
    assert list(montage.fiducials) == ["nasion", "lpa", "rpa"]
    for key, value in FIDUCIALS_M.items():
        assert_allclose(montage.fiducials[key], value, rtol=0, atol=1e-12, err_msg=key)
    assert montage.reference == "avg"


@pytest.mark.parametrize("text", [PLAIN_MM, INLINE_MM], ids=["plain", "inline"])
def test_both_layouts_read_the_same_montage(write_elc, text):
    path = write_elc(text)
    montage = read_asa(path)
    _check_example(montage)
    assert montage.source == str(path)
    assert len(montage) == 3
    assert montage.positions.dtype == np.float64


def test_inline_layout_without_labels_section(write_elc):
    text = INLINE_MM.split("Labels")[0]
    _check_example(read_asa(write_elc(text)))


@pytest.mark.parametrize(
    ("unit", "factor"), [("mm", 1e-3), ("cm", 1e-2), ("m", 1.0), ("MM", 1e-3), ("Cm", 1e-2)]
)
def test_units_are_converted_to_metres(write_elc, unit, factor):
    text = f"UnitPosition {unit}\nPositions\n1 2 3\n-4 5.5 6e1\nLabels\nA\nB\n"
    montage = read_asa(write_elc(text))
    assert_allclose(montage.positions, np.array([[1, 2, 3], [-4, 5.5, 60]]) * factor, rtol=1e-15)


def test_missing_unit_assumes_mm_and_warns(write_elc):
    path = write_elc("Positions\n10 0 0\nLabels\nA\n")
    with pytest.warns(MontageWarning, match=r"no UnitPosition line; assuming mm") as record:
        montage = read_asa(path)
    assert str(path) in str(record[0].message)
    assert_allclose(montage.positions, [[0.01, 0, 0]])


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("text", [PLAIN_MM, INLINE_MM], ids=["plain", "inline"])
def test_crlf_and_cr_line_endings(write_elc, text, newline):
    montage = read_asa(write_elc(text, newline=newline))
    _check_example(montage)
    assert all("\r" not in label for label in montage.labels)


def test_utf8_bom_is_ignored(write_elc):
    _check_example(read_asa(write_elc(PLAIN_MM, prefix=b"\xef\xbb\xbf")))
    _check_example(parse_asa("\ufeff" + INLINE_MM))


def test_comments_blank_lines_tabs_and_keyword_case(write_elc):
    text = """\
# ASA electrode file, with comments everywhere

  referencelabel   avg   # the reference
UNITPOSITION\tcm
numberpositions =  4

POSITIONS   # section keywords in any case
# a comment inside the section
\t1.0\t0.0\t0.0\t
0.0 1.0 0.0   # trailing comment

0 0 1
0 1 0.5
labels
# a comment between labels
 Nasion
AF7

TP10
\tMy Label\t
"""
    montage = read_asa(write_elc(text))
    assert montage.labels == ("AF7", "TP10", "My Label")
    assert_allclose(montage.positions, [[0, 0.01, 0], [0, 0, 0.01], [0, 0.01, 0.005]])
    assert_allclose(montage.fiducials["nasion"], [0.01, 0, 0])
    assert montage.reference == "avg"


def test_key_lines_inside_a_section_do_not_end_it(write_elc):
    text = "Positions\nCz : 0 0 100\nUnitPosition mm\nNumberPositions= 2\nFz : 0 50 80\n"
    montage = read_asa(write_elc(text))
    assert montage.labels == ("Cz", "Fz")
    assert_allclose(montage.positions, [[0, 0, 0.1], [0, 0.05, 0.08]])


def test_labels_on_one_line_are_split_on_whitespace(write_elc):
    text = "UnitPosition m\nPositions\n1 0 0\n0 1 0\n0 0 1\nLabels\nFp1  Fp2\tCz\n"
    assert read_asa(write_elc(text)).labels == ("Fp1", "Fp2", "Cz")


def test_sections_asa_writes_but_we_do_not_use_are_skipped(write_elc):
    text = """\
UnitPosition mm
NumberPositions= 3
NumberPolygons= 1
TypePolygons= 1
Positions
Fp1 : -29.4 83.9 -7.0
Cz : 0.4 -9.2 100.2
Fp2 : 29.9 84.9 -7.1
Positions2D
Fp1 : -0.3 0.9
Cz : 0.0 0.0
Fp2 : 0.3 0.9
Polygons
0 1 2
Labels
Fp1 Cz Fp2
"""
    montage = read_asa(write_elc(text))
    assert montage.labels == ("Fp1", "Cz", "Fp2")
    assert_allclose(montage.positions[1], [0.0004, -0.0092, 0.1002])


@pytest.mark.parametrize(
    ("nasion", "lpa", "rpa"),
    [("Nz", "LPA", "RPA"), ("NAS", "lpa", "rpa"), ("Nasion", "LPA", "RPA"), ("FidNz", "FidT9", "FidT10")],
)
def test_fiducial_spellings_are_kept_apart(write_elc, nasion, lpa, rpa):
    text = (
        f"UnitPosition mm\nPositions\n{lpa} : -80 0 0\n{rpa} : 80 0 0\nCz : 0 0 100\n{nasion} : 0 90 0\n"
        "T9 : -85 -5 -10\n"
    )
    montage = read_asa(write_elc(text))
    assert montage.labels == ("Cz", "T9")
    assert_array_equal(montage.fiducials["nasion"], [0, 0.09, 0])
    assert_array_equal(montage.fiducials["lpa"], [-0.08, 0, 0])
    assert_array_equal(montage.fiducials["rpa"], [0.08, 0, 0])
    assert not montage.has(nasion)


def test_only_the_fiducials_present_are_reported(write_elc):
    montage = read_asa(write_elc("UnitPosition mm\nPositions\nNz : 0 90 0\nCz : 0 0 100\n"))
    assert list(montage.fiducials) == ["nasion"]


def test_number_positions_mismatch_warns_with_both_numbers(write_elc):
    path = write_elc("UnitPosition mm\nNumberPositions= 5\nPositions\n1 0 0\n0 1 0\nLabels\nA\nB\n")
    with pytest.warns(MontageWarning) as record:
        montage = read_asa(path)
    message = str(record[0].message)
    assert str(path) in message and "line 2" in message
    assert "NumberPositions= 5" in message and "2 positions were read" in message
    assert montage.labels == ("A", "B")


def test_identical_duplicate_labels_keep_one_and_warn(write_elc):
    path = write_elc("UnitPosition mm\nPositions\nCz : 0 0 100\nFz : 0 50 80\nCZ : 0 0 100\nNz : 0 90 0\n")
    with pytest.warns(
        MontageWarning, match=r"line 5: label 'CZ' repeats 'Cz' \(line 3\) with the same position"
    ):
        montage = read_asa(path)
    assert montage.labels == ("Cz", "Fz")


def test_identical_duplicate_fiducial_spellings_keep_one(write_elc):
    path = write_elc("UnitPosition mm\nPositions\nNz : 0 90 0\nCz : 0 0 100\nNasion : 0 90 0\n")
    with pytest.warns(MontageWarning, match=r"fiducial 'Nasion' repeats 'Nz'"):
        montage = read_asa(path)
    assert montage.labels == ("Cz",)
    assert_array_equal(montage.fiducials["nasion"], [0, 0.09, 0])


def test_a_well_formed_file_gives_no_warning(write_elc):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_asa(write_elc(PLAIN_MM))


def test_accepts_str_paths_and_parse_asa_accepts_text(write_elc):
    path = write_elc(PLAIN_MM)
    assert read_asa(str(path)).labels == ("Fp1", "Cz", "Fp2")
    montage = parse_asa(PLAIN_MM, source="inline text")
    assert montage.source == "inline text"
    _check_example(montage)
