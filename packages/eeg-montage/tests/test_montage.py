"""Montage: immutability, lookup by name (case, aliases), coords, unit_sphere, sphere fit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from eeg_montage import Montage, MontageError, MontageWarning


def _montage(labels=("Fp1", "AF7", "T7", "P8", "Cz"), center=(0.0, 0.0, 0.0), radius=0.09) -> Montage:
    directions = np.array([[-0.3, 0.95, 0.0], [-0.55, 0.77, 0.31], [-1, 0, 0], [0.7, -0.7, 0.1], [0, 0, 1]])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    positions = np.asarray(center) + radius * directions[: len(labels)]
    return Montage(labels, positions, {"nasion": [0, 0.1, 0]}, source="test.elc", reference="avg")


def test_attributes():
    montage = _montage()
    assert montage.labels == ("Fp1", "AF7", "T7", "P8", "Cz")
    assert montage.positions.shape == (5, 3) and montage.positions.dtype == np.float64
    assert montage.source == "test.elc" and montage.reference == "avg"
    assert len(montage) == 5
    assert list(montage.fiducials) == ["nasion"]
    assert "5 electrodes" in repr(montage) and "test.elc" in repr(montage)


def test_montage_is_immutable():
    montage = _montage()
    with pytest.raises(AttributeError):
        montage.labels = ("X",)
    with pytest.raises(AttributeError):
        del montage.source
    with pytest.raises(ValueError, match="read-only"):
        montage.positions[0, 0] = 1.0
    with pytest.raises(TypeError):
        montage.fiducials["lpa"] = np.zeros(3)
    with pytest.raises(ValueError, match="read-only"):
        montage.fiducials["nasion"][0] = 1.0


def test_constructor_copies_its_inputs():
    positions = np.array([[0.0, 0.0, 0.1]])
    montage = Montage(["Cz"], positions)
    positions[0, 2] = 5.0
    assert montage.positions[0, 2] == 0.1


def test_returned_arrays_are_fresh_copies():
    montage = _montage()
    unit = montage.unit_sphere()
    unit[0] = 0.0
    assert np.all(np.linalg.norm(montage.unit_sphere(), axis=1) > 0.99)


def test_pickle_round_trip():
    montage = _montage()
    copy = pickle.loads(pickle.dumps(montage))
    assert copy.labels == montage.labels and copy.source == montage.source and copy.reference == "avg"
    assert_array_equal(copy.positions, montage.positions)
    assert_array_equal(copy.fiducials["nasion"], montage.fiducials["nasion"])
    assert not copy.positions.flags.writeable


@pytest.mark.parametrize("name", ["AF7", "af7", "Af7", " AF7 ", "aF7"])
def test_names_match_case_insensitively(name):
    montage = _montage()
    assert montage.has(name) and name in montage
    assert_array_equal(montage.coords([name]), montage.coords(["AF7"]))


@pytest.mark.parametrize(("asked", "present"), [("T3", "T7"), ("t3", "T7"), ("T6", "P8"), ("t6", "P8")])
def test_old_names_resolve_to_new(asked, present):
    montage = _montage()
    assert montage.has(asked)
    assert_array_equal(montage.coords([asked]), montage.coords([present]))


@pytest.mark.parametrize(("asked", "present"), [("T7", "T3"), ("T8", "T4"), ("P7", "T5"), ("P8", "T6")])
def test_new_names_resolve_to_old(asked, present):
    montage = Montage([present, "Cz"], [[-0.08, 0, 0], [0, 0, 0.1]])
    assert montage.has(asked)
    assert_allclose(montage.coords([asked]), [montage.unit_sphere()[0]])


def test_alias_only_when_one_of_the_pair_is_present():
    montage = Montage(["T3", "T7"], [[-0.08, 0.0, 0.0], [-0.08, 0.0, 0.01]])
    assert_allclose(montage.coords(["T3", "T7"]), montage.unit_sphere())
    assert not montage.has("T4") and not montage.has("T5")


def test_fiducials_are_not_electrodes():
    montage = _montage()
    assert not montage.has("Nz") and not montage.has("nasion")
    assert "Cz" in montage and 3 not in montage


def test_coords_order_repeats_and_shape():
    montage = _montage()
    unit = montage.unit_sphere()
    out = montage.coords(["Cz", "FP1", "cz"])
    assert out.shape == (3, 3) and out.dtype == np.float64
    assert_array_equal(out, unit[[4, 0, 4]])
    assert montage.coords([]).shape == (0, 3)


def test_missing_error_lists_every_missing_name_with_suggestions():
    montage = _montage()
    with pytest.raises(MontageError) as info:
        montage.coords(["Cz", "AF8", "Fp1", "EKG", "AF8"])
    message = str(info.value)
    assert message.startswith("test.elc: 2 channel names not in the montage")
    assert "'AF8' (closest: AF7" in message
    assert "'EKG' (no similar label)" in message
    assert message.count("'AF8'") == 1


def test_missing_zero_gives_zero_rows_and_warns_naming_them():
    montage = _montage()
    with pytest.warns(
        MontageWarning, match=r"test.elc: no position for 'EKG', 'X9'; their coordinates are zero rows"
    ):
        out = montage.coords(["EKG", "Cz", "X9"], missing="zero")
    assert_array_equal(out[[0, 2]], np.zeros((2, 3)))
    assert_array_equal(out[1], montage.unit_sphere()[4])


def test_bad_arguments():
    montage = _montage()
    with pytest.raises(MontageError, match=r"missing='ignore'; expected one of \['error', 'zero'\]"):
        montage.coords(["Cz"], missing="ignore")
    with pytest.raises(MontageError, match=r"center='mean'; expected one of"):
        montage.unit_sphere("mean")
    with pytest.raises(TypeError, match="not a single string"):
        montage.coords("Cz")
    with pytest.raises(TypeError, match="must be strings"):
        montage.coords(["Cz", 3])


def test_unit_sphere_from_origin_is_positions_over_norm():
    montage = _montage()
    unit = montage.unit_sphere()
    assert_allclose(unit, montage.positions / np.linalg.norm(montage.positions, axis=1, keepdims=True))
    assert_allclose(np.linalg.norm(unit, axis=1), 1.0)


def test_unit_vectors_survive_extreme_magnitudes():
    montage = Montage(["tiny", "huge"], [[3e-200, 4e-200, 0.0], [0.0, 3e200, -4e200]])
    assert_allclose(montage.unit_sphere(), [[0.6, 0.8, 0.0], [0.0, 0.6, -0.8]], rtol=1e-15)


def test_fit_recovers_an_offset_sphere():
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(40, 3))
    directions[:, 2] = np.abs(directions[:, 2])  # electrodes cover the upper half of the head only
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    center = np.array([0.001, -0.017, 0.02])
    montage = Montage([f"E{i}" for i in range(40)], center + 0.095 * directions)
    fitted_center, radius = montage.fit_sphere()
    assert_allclose(fitted_center, center, atol=1e-12)
    assert radius == pytest.approx(0.095, abs=1e-12)
    assert_allclose(montage.unit_sphere("fit"), directions, atol=1e-10)
    assert_allclose(montage.coords(["E3"], center="fit"), directions[[3]], atol=1e-10)
    # From the origin the same electrodes point elsewhere: the option matters.
    assert np.max(np.abs(montage.unit_sphere("origin") - directions)) > 0.05


@pytest.mark.parametrize(
    "positions",
    [
        [[0.1, 0, 0], [0, 0.1, 0], [0, 0, 0.1]],  # three points: no unique sphere
        [[0.1, 0, 0.05], [0, 0.1, 0.05], [-0.1, 0, 0.05], [0, -0.1, 0.05], [0.07, 0.07, 0.05]],  # one plane
    ],
    ids=["three-points", "coplanar"],
)
def test_fit_needs_four_points_off_one_plane(positions):
    montage = Montage([f"E{i}" for i in range(len(positions))], positions, source="flat.elc")
    with pytest.raises(MontageError, match=r"flat.elc: cannot fit a sphere .* not all on one plane"):
        montage.unit_sphere("fit")


@pytest.mark.parametrize(
    ("labels", "positions", "fiducials", "match"),
    [
        (["A", "B"], [[0, 0, 1]], None, r"2 labels for 1 positions"),
        (["A"], [[0, 1]], None, r"shape \(1, 2\); expected \[N, 3\]"),
        ([], np.zeros((0, 3)), None, r"no electrodes"),
        (["A", ""], [[0, 0, 1], [0, 1, 0]], None, r"label '' is not a non-empty string"),
        (["A", "a"], [[0, 0, 1], [0, 1, 0]], None, r"label 'a' repeats 'A'"),
        (["A"], [[0, 0, 0]], None, r"position of 'A' is \(0, 0, 0\)"),
        (["A"], [[0, np.nan, 1]], None, r"expected finite values"),
        (["A"], [[0, 0, 1]], {"inion": [0, -1, 0]}, r"unknown fiducial 'inion'"),
        (["A"], [[0, 0, 1]], {"lpa": [0, 1]}, r"fiducial 'lpa' .* expected 3 finite numbers"),
    ],
)
def test_constructor_validates(labels, positions, fiducials, match):
    with pytest.raises(MontageError, match=match) as info:
        Montage(labels, positions, fiducials, source="built.elc")
    assert str(info.value).startswith("built.elc: ")
