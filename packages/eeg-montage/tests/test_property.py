"""Property tests: any distinct non-zero positions written as ASA read back to the same unit vectors;
arbitrary input never crashes the reader (it is a montage or a MontageError)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from eeg_montage import MontageError, parse_asa
from eeg_montage._names import FIDUCIAL_BY_SPELLING

# Labels the format cannot carry as labels: its own keywords (a line "Labels" opens a section).
_KEYWORDS = {
    "positions",
    "labels",
    "positions2d",
    "polygons",
    "referencelabel",
    "unitposition",
    "numberpositions",
    "numberpolygons",
    "typepolygons",
}
_UNITS = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}

labels = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'.", min_size=1, max_size=8
)
labels = labels.filter(lambda s: s.casefold() not in _KEYWORDS and s.casefold() not in FIDUCIAL_BY_SPELLING)
# Magnitudes from 1e-100 to 1e100 (and exact zeros): far beyond real heads, within float64 after
# mm -> m scaling, so a unit vector computed from the written numbers is well defined.
coordinate = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-100, max_value=1e100).flatmap(lambda v: st.sampled_from([v, -v])),
)
position = st.tuples(coordinate, coordinate, coordinate).filter(any)


@st.composite
def montages(draw):
    names = draw(st.lists(labels, min_size=1, max_size=12, unique_by=str.casefold))
    points = draw(st.lists(position, min_size=len(names), max_size=len(names), unique=True))
    unit = draw(st.sampled_from(sorted(_UNITS)))
    layout = draw(st.sampled_from(["plain", "inline"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return names, points, unit, layout, newline


def _write(names, points, unit, layout, newline) -> str:
    lines = ["# ASA electrode file", f"UnitPosition\t{unit}", f"NumberPositions=\t{len(names)}", "Positions"]
    if layout == "inline":
        lines += [f"{name} : {x!r} {y!r} {z!r}" for name, (x, y, z) in zip(names, points, strict=True)]
    else:
        lines += [f"{x!r}\t{y!r}\t{z!r}" for x, y, z in points]
        lines += ["Labels", *names]
    return newline.join(lines) + newline


@pytest.mark.filterwarnings("error::eeg_montage.MontageWarning")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(montages())
def test_written_positions_read_back_to_the_same_unit_vectors(case):
    names, points, unit, layout, newline = case
    montage = parse_asa(_write(names, points, unit, layout, newline), source="generated.elc")
    assert montage.labels == tuple(names)
    written = np.array(points, dtype=np.float64)
    # Independent of the reader: normalise the numbers as written (magnitudes keep squares finite).
    expected = written / np.sqrt(np.sum(written**2, axis=1, keepdims=True))
    assert_allclose(montage.unit_sphere(), expected, rtol=1e-12, atol=1e-15)
    assert_allclose(
        montage.coords([name.upper() for name in reversed(names)]), expected[::-1], rtol=1e-12, atol=1e-15
    )
    assert_allclose(montage.positions, written * _UNITS[unit], rtol=1e-15)


@pytest.mark.filterwarnings("ignore::eeg_montage.MontageWarning")
@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_arbitrary_input_is_a_montage_or_a_montage_error(content):
    try:
        montage = parse_asa(content, source="fuzz.elc")
    except MontageError as exc:
        assert str(exc).startswith("fuzz.elc")
    else:
        assert len(montage) >= 1 and np.all(np.isfinite(montage.unit_sphere()))


ASA_WORDS = st.sampled_from(
    ["Positions", "Labels", "UnitPosition mm", "UnitPosition m", "NumberPositions= 2", "Cz", "Fp1", "Nz",
     "1 2 3", "0 0 0", "Cz : 1 2 3", "Fp1 : 0 1 0", "nan", "#", ":", "Positions2D", "Polygons", "  ", ""]
)  # fmt: skip


@pytest.mark.filterwarnings("ignore::eeg_montage.MontageWarning")
@settings(max_examples=200, deadline=None)
@given(st.lists(ASA_WORDS, max_size=12), st.sampled_from(["\n", "\r\n", "\r"]))
def test_near_asa_input_is_a_montage_or_a_montage_error(lines, newline):
    # Built from the format's own words, so most examples get far into the reader.
    try:
        montage = parse_asa(newline.join(lines), source="near.elc")
    except MontageError as exc:
        assert str(exc).startswith("near.elc")
    else:
        assert montage.positions.shape == (len(montage), 3)
