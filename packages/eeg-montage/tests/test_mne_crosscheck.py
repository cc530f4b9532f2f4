"""Cross-check read_asa against MNE on every .elc file the installed mne package ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from eeg_montage import read_asa

mne = pytest.importorskip("mne")

MONTAGES = Path(mne.__file__).parent / "channels" / "data" / "montages"
ELC_FILES = sorted(MONTAGES.glob("*.elc"))


def test_mne_ships_elc_files():
    # MNE 1.13: colin27_*.elc, mgh60.elc, mgh70.elc, artinis-*.elc. Guards against an empty parametrisation.
    names = {path.name for path in ELC_FILES}
    assert {"mgh60.elc", "mgh70.elc", "colin27_1005.elc", "artinis-octamon.elc"} <= names


@pytest.mark.parametrize("path", ELC_FILES, ids=[path.name for path in ELC_FILES])
def test_positions_and_fiducials_match_mne(path):
    expected = mne.channels.read_custom_montage(path, head_size=None).get_positions()
    ours = read_asa(path)

    assert ours.labels == tuple(expected["ch_pos"]), path.name
    assert_allclose(
        ours.positions, np.array(list(expected["ch_pos"].values())), rtol=0, atol=1e-9, err_msg=path.name
    )
    for key in ("nasion", "lpa", "rpa"):
        if expected[key] is None:
            assert key not in ours.fiducials, f"{path.name}: {key}"
        else:
            assert_allclose(
                ours.fiducials[key], expected[key], rtol=0, atol=1e-9, err_msg=f"{path.name}: {key}"
            )
