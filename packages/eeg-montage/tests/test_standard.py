"""The built-in standard_1005 montage: contents, packaging, provenance (against MNE's colin27_1005)."""

from __future__ import annotations

import csv
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from eeg_montage import Montage, read_asa, standard_montage

# fmt: off
TEN_TWENTY = [
    "Fp1", "Fpz", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8",
    "P7", "P3", "Pz", "P4", "P8", "O1", "Oz", "O2",
]
TEN_TEN = [
    "Fp1", "Fpz", "Fp2", "AF7", "AF3", "AFz", "AF4", "AF8",
    "F9", "F7", "F5", "F3", "F1", "Fz", "F2", "F4", "F6", "F8", "F10",
    "FT9", "FT7", "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6", "FT8", "FT10",
    "T9", "T7", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "T8", "T10",
    "TP9", "TP7", "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6", "TP8", "TP10",
    "P9", "P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8", "P10",
    "PO7", "PO3", "POz", "PO4", "PO8", "O1", "Oz", "O2", "Iz",
]
# fmt: on
OLD_TO_NEW = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


def test_is_a_cached_montage_named_standard_1005():
    montage = standard_montage()
    assert isinstance(montage, Montage)
    assert standard_montage() is montage
    assert montage.source == "standard_1005"
    assert len(montage) == 339
    assert montage.reference == "avg"


def test_data_file_ships_inside_the_package():
    data = resources.files("eeg_montage").joinpath("data")
    elc = data.joinpath("standard_1005.elc").read_text(encoding="utf-8")
    assert "colin27_1005.elc" in elc and "BSD-3-Clause" in elc and "Oostenveld" in elc
    licence = data.joinpath("LICENSE-MNE.txt").read_text(encoding="utf-8")
    assert "MNE-Python authors" in licence and "Redistribution and use" in licence


def test_reads_without_warnings():
    path = resources.files("eeg_montage").joinpath("data").joinpath("standard_1005.elc")
    with resources.as_file(path) as file, warnings.catch_warnings():
        warnings.simplefilter("error")
        from_file = read_asa(file)
    assert from_file.labels == standard_montage().labels


@pytest.mark.parametrize("name", TEN_TWENTY + TEN_TEN + ["AF7", "AF8", "TP9", "TP10"])
def test_holds_every_10_20_and_10_10_position(name):
    assert standard_montage().has(name), name


@pytest.mark.parametrize(("old", "new"), OLD_TO_NEW.items())
def test_old_temporal_names_resolve_by_alias(old, new):
    montage = standard_montage()
    assert old not in montage.labels  # resolved by the alias rule, not stored twice
    assert_array_equal(montage.coords([old]), montage.coords([new]))
    assert_array_equal(montage.coords([old.lower()]), montage.coords([new]))


def test_fiducials_and_geometry_are_plausible():
    montage = standard_montage()
    assert list(montage.fiducials) == ["nasion", "lpa", "rpa"]
    nasion, lpa, rpa = (montage.fiducials[key] for key in ("nasion", "lpa", "rpa"))
    assert nasion[1] > 0.08 and lpa[0] < -0.08 and rpa[0] > 0.08
    distance = np.linalg.norm(montage.positions, axis=1)
    assert 0.07 < np.median(distance) < 0.12  # metres: a head, not millimetres
    cz, fpz, oz, t7, t8 = montage.coords(["Cz", "Fpz", "Oz", "T7", "T8"])
    assert cz[2] > 0.9 and fpz[1] > 0.9 and oz[1] < -0.9 and t7[0] < -0.9 and t8[0] > 0.9
    _, radius = montage.fit_sphere()
    assert 0.08 < radius < 0.12


def test_muse_channels():
    coords = standard_montage().coords(["TP9", "AF7", "AF8", "TP10"])
    assert_allclose(np.linalg.norm(coords, axis=1), 1.0)
    assert coords[0, 0] < 0 < coords[3, 0] and coords[1, 0] < 0 < coords[2, 0]  # left/right
    assert coords[1, 1] > 0 > coords[0, 1]  # AF7 anterior, TP9 posterior


def test_matches_mne_colin27_1005_exactly():
    mne = pytest.importorskip("mne")
    path = Path(mne.__file__).parent / "channels" / "data" / "montages" / "colin27_1005.elc"
    reference = mne.channels.read_custom_montage(path, head_size=None).get_positions()
    ours = standard_montage()
    expected = {label: pos for label, pos in reference["ch_pos"].items() if label not in OLD_TO_NEW}
    assert ours.labels == tuple(expected)
    assert_allclose(ours.positions, np.array(list(expected.values())), rtol=0, atol=1e-12)
    for key in ("nasion", "lpa", "rpa"):
        assert_allclose(ours.fiducials[key], reference[key], rtol=0, atol=1e-12, err_msg=key)
    for old, new in OLD_TO_NEW.items():
        assert_array_equal(reference["ch_pos"][old], reference["ch_pos"][new])


def test_holds_every_label_of_mne_spherical_1010():
    mne = pytest.importorskip("mne")
    path = Path(mne.__file__).parent / "channels" / "data" / "montages" / "spherical_1010.tsv"
    with path.open(encoding="utf-8") as handle:
        labels = [row[0] for row in csv.reader(handle, delimiter="\t")][1:]
    fiducial_rows = {"NAS", "LPA", "RPA", "Nz"}
    absent = [label for label in labels if label not in fiducial_rows and not standard_montage().has(label)]
    assert len(labels) > 70 and absent == []
