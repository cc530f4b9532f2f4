"""Regenerate ``src/eeg_montage/data/standard_1005.elc`` from the ``colin27_1005.elc`` that MNE ships.

Run from the repository root (needs the dev dependency mne):

    .venv/bin/python packages/eeg-montage/scripts/build_standard_1005.py

The coordinate strings are copied as written in MNE's file, so the numbers are exact. The old names
T3, T4, T5 and T6 are left out after checking that they are exact copies of T7, T8, P7 and P8: the
reader resolves the old names to the new ones. Fiducials (Nz, LPA, RPA) are kept.
"""

from __future__ import annotations

from pathlib import Path

import mne

TARGET = Path(__file__).resolve().parents[1] / "src" / "eeg_montage" / "data" / "standard_1005.elc"
SOURCE = Path(mne.__file__).parent / "channels" / "data" / "montages" / "colin27_1005.elc"
OLD_TO_NEW = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

# Keep the header free of the words MNE's own reader scans for, so MNE can read the file as well.
HEADER = f"""\
# ASA electrode file: the 10-05 electrode system, built into eeg_montage as "standard_1005".
#
# Source: MNE-Python {mne.__version__}, mne/channels/data/montages/colin27_1005.elc
#   (the montage MNE returns for make_standard_montage("standard_1005")),
#   BSD-3-Clause, Copyright 2011-2025 MNE-Python authors; licence text in LICENSE-MNE.txt beside this file.
#   MNE took it from FieldTrip, template/electrode/standard_1005.elc: the 10-05 electrode system of
#   Oostenveld R. & Praamstra P. (2001), Clin Neurophysiol 112:713-719, placed on the Colin27 MNI
#   template head. Coordinates are MNI (x right, y anterior, z up) in millimetres.
# Changes from the source: labels written inline ("Label : x y z"), and the old 10-20 names T3, T4,
#   T5 and T6 (exact copies of T7, T8, P7 and P8) left out; eeg_montage resolves the old names to
#   the new ones. LPA, RPA and Nz are the fiducials.
# Regenerate with packages/eeg-montage/scripts/build_standard_1005.py.
"""


def main() -> None:
    lines = SOURCE.read_text(encoding="ascii").splitlines()
    start = lines.index("Positions") + 1
    middle = lines.index("Labels")
    coordinates = [line.split() for line in lines[start:middle]]
    labels = [line.strip() for line in lines[middle + 1 :] if line.strip()]
    assert len(labels) == len(coordinates), (len(labels), len(coordinates))
    by_label = dict(zip(labels, coordinates, strict=True))
    for old, new in OLD_TO_NEW.items():
        assert [float(v) for v in by_label[old]] == [float(v) for v in by_label[new]], (old, new)
    kept = [(label, xyz) for label, xyz in zip(labels, coordinates, strict=True) if label not in OLD_TO_NEW]

    width = max(len(label) for label, _ in kept)
    body = [f"{label:<{width}} : {x:>9} {y:>9} {z:>9}" for label, (x, y, z) in kept]
    text = (
        HEADER
        + "ReferenceLabel\tavg\nUnitPosition\tmm\n"
        + f"NumberPositions=\t{len(kept)}\nPositions\n"
        + "\n".join(body)
        + "\nLabels\n"
        + "\t".join(label for label, _ in kept)
        + "\n"
    )
    TARGET.write_text(text, encoding="ascii", newline="\n")
    print(f"wrote {TARGET} ({len(kept)} positions)")


if __name__ == "__main__":
    main()
