"""The built-in montages beyond standard_1005: names, lookup, packaging, and MNE's positions."""

from __future__ import annotations

import warnings
from importlib import resources

import numpy as np
import pytest
from numpy.testing import assert_allclose

from eeg_montage import (
    Montage,
    MontageError,
    canonical_montage_name,
    describe_standard_montages,
    load_montage,
    read_asa,
    standard_montage,
    standard_montage_names,
)
from eeg_montage._cli import main

#: What the field uses and the issue asks for by name.
REQUIRED = [
    "standard_1005", "standard_1020", "biosemi16", "biosemi32", "biosemi64", "biosemi128", "biosemi160",
    "biosemi256", "easycap-M1", "easycap-M10", "GSN-HydroCel-32", "GSN-HydroCel-64_1.0", "GSN-HydroCel-128",
    "GSN-HydroCel-129", "GSN-HydroCel-256", "GSN-HydroCel-257", "brainproducts-RNP-BA-128",
]  # fmt: skip
NAMES = standard_montage_names()


@pytest.mark.parametrize("name", REQUIRED)
def test_the_montages_the_field_uses_are_built_in(name):
    montage = standard_montage(name)
    assert isinstance(montage, Montage) and len(montage) >= 16
    assert standard_montage(name) is montage  # cached


@pytest.mark.parametrize("name", NAMES)
def test_each_loads_without_warnings_with_the_count_of_the_index(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        montage = standard_montage(name)
    count, description = describe_standard_montages()[name]
    assert montage.source == name and len(montage) == count and description
    assert set(montage.fiducials) == {"nasion", "lpa", "rpa"}
    distance = np.linalg.norm(montage.positions, axis=1)
    assert 0.07 < np.median(distance) < 0.11, name  # metres, a head
    assert_allclose(np.linalg.norm(montage.unit_sphere(), axis=1), 1.0)


def test_biosemi_letter_number_labels_are_placed():
    montage = standard_montage("biosemi128")
    labels = [f"{letter}{number}" for letter in "ABCD" for number in range(1, 33)]
    assert montage.coords(labels).shape == (128, 3)
    assert not standard_montage().has("H16") and standard_montage("biosemi256").has("H16")


@pytest.mark.parametrize(
    ("asked", "canonical"),
    [
        ("biosemi64", "biosemi64"),
        ("BIOSEMI64", "biosemi64"),
        (" gsn-hydrocel-129 ", "GSN-HydroCel-129"),
        ("standard_1020", "colin27_1020"),
        ("colin27_1005", "standard_1005"),
        ("Standard_1005", "standard_1005"),
    ],
)
def test_names_are_case_insensitive_with_mne_old_and_new_spellings(asked, canonical):
    assert canonical_montage_name(asked) == canonical
    assert standard_montage(asked) is standard_montage(canonical)


def test_an_unknown_name_names_the_closest():
    with pytest.raises(MontageError, match=r"unknown montage 'biosemi65' \(closest: biosemi64") as info:
        standard_montage("biosemi65")
    assert "\n" not in str(info.value) and ".elc" in str(info.value)
    with pytest.raises(MontageError, match=r"built-in: standard_1005, .*biosemi64"):
        standard_montage("zzzz")


def test_load_montage_takes_a_name_or_a_file_not_both(write_elc):
    path = write_elc("UnitPosition mm\nPositions\nCz : 0 0 90\nT7 : -90 0 0\nT8 : 90 0 0\n")
    assert load_montage() is standard_montage()
    assert load_montage("biosemi32") is standard_montage("biosemi32")
    assert load_montage(asa_path=path).labels == ("Cz", "T7", "T8")
    with pytest.raises(MontageError, match="expected one of the two"):
        load_montage("biosemi32", path)


def test_data_files_ship_inside_the_package_with_their_provenance():
    folder = resources.files("eeg_montage").joinpath("data").joinpath("montages")
    text = folder.joinpath("biosemi64.elc").read_text(encoding="utf-8")
    assert 'make_standard_montage("biosemi64")' in text and "BSD-3-Clause" in text
    with resources.as_file(folder.joinpath("biosemi64.elc")) as path:
        assert read_asa(path).labels == standard_montage("biosemi64").labels


def test_cli_lists_and_prints_built_in_montages(capsys):
    assert main(["--list"]) == 0
    out, _ = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == list(NAMES)
    assert main(["biosemi16"]) == 0
    out, _ = capsys.readouterr()
    assert "biosemi16: 16 electrodes" in out
    assert main(["biosemi65"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: unknown montage 'biosemi65'") and err.count("\n") == 1


# --- against MNE (the dev group installs it; the package's own suite stands without) -----------------

OLD_TO_NEW = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


def _mne():
    return pytest.importorskip(
        "mne", reason="mne is not installed: the check against MNE's positions needs it"
    )


def test_every_eeg_montage_of_mne_is_built_in():
    mne = _mne()
    eeg = [name for name in mne.channels.get_builtin_montages() if not name.startswith("artinis")]
    assert [canonical_montage_name(name) for name in eeg] == [
        "standard_1005" if name == "colin27_1005" else name for name in eeg
    ]


@pytest.mark.parametrize("name", NAMES)
def test_positions_match_mne_make_standard_montage(name):
    mne = _mne()
    mne_name = "colin27_1005" if name == "standard_1005" else name
    expected = mne.channels.make_standard_montage(mne_name).get_positions()
    ours = standard_montage(name)
    ch_pos = dict(expected["ch_pos"])
    if name == "standard_1005":  # T3..T6 left out: copies of T7, T8, P7, P8, resolved by the alias rule
        for old, new in OLD_TO_NEW.items():
            assert_allclose(ch_pos.pop(old), ch_pos[new], rtol=0, atol=0)
    assert ours.labels == tuple(ch_pos)
    reference = np.array(list(ch_pos.values()))
    assert_allclose(ours.positions, reference, rtol=0, atol=1e-9, err_msg=name)  # 1 nm
    # The unit-sphere convention: the direction from the montage's origin.
    direction = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    assert_allclose(ours.coords(list(ch_pos)), direction, rtol=0, atol=1e-7, err_msg=name)
    if name != "standard_1005":  # standard_1005 keeps the file's fiducials; MNE swaps in fsaverage's
        for key in ("nasion", "lpa", "rpa"):
            assert_allclose(ours.fiducials[key], expected[key], rtol=0, atol=1e-9, err_msg=f"{name}: {key}")
