"""The built-in 10-05 montage, shipped as an ASA file in ``eeg_montage/data``."""

from __future__ import annotations

import functools
from importlib import resources

from ._asa import parse_asa
from ._montage import Montage

STANDARD_NAME = "standard_1005"
STANDARD_FILE = "standard_1005.elc"


@functools.cache
def standard_montage() -> Montage:
    """Return the built-in 10-05 montage (cached; the same immutable object on every call).

    339 electrodes of the 10-05 system (every 10-20 and 10-10 position, among them AF7, AF8, TP9 and
    TP10 of the Muse headband, plus M1/M2/A1/A2) and the fiducials nasion, lpa, rpa, in metres, in
    MNI coordinates of the Colin27 template head (x right, y anterior, z up). Positions come from
    MNE-Python's ``colin27_1005.elc`` (BSD-3-Clause), itself FieldTrip's ``standard_1005.elc``
    (Oostenveld & Praamstra 2001); the data file's header gives the details. The old names T3, T4,
    T5 and T6 resolve to T7, T8, P7 and P8. ``Montage.source`` is ``"standard_1005"``.
    """
    data = resources.files("eeg_montage").joinpath("data").joinpath(STANDARD_FILE).read_bytes()
    return parse_asa(data, source=STANDARD_NAME)
