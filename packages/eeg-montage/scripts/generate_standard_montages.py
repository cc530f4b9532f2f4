"""Regenerate ``src/eeg_montage/data/montages/`` from the standard montages that MNE ships.

Run from the repository root (needs the dev dependency mne; the package itself never imports it):

    uv run --all-packages python packages/eeg-montage/scripts/generate_standard_montages.py

For every EEG montage of ``mne.channels.get_builtin_montages()`` (the fNIRS ``artinis-*`` caps left out)
it writes ``<name>.elc``: the electrode positions and fiducials that ``mne.channels.make_standard_montage(name)``
returns (its default ``head_size``: spherical caps scaled to a 95 mm head, template heads as they are), in
millimetres with 6 decimals (1 nm), in the montage's own axes (x right, y anterior, z up), electrodes in
MNE's order. ``colin27_1005`` is not written again: it is the built-in ``standard_1005.elc`` (see
``build_standard_1005.py``). ``index.tsv`` lists name, electrode count and MNE's description of each.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mne
import numpy as np

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "eeg_montage"
TARGET = PACKAGE / "data" / "montages"
SKIPPED = {
    "colin27_1005": "the built-in standard_1005.elc",
    "artinis-octamon": "fNIRS",
    "artinis-brite23": "fNIRS",
}
FIDUCIAL_LABELS = {"nasion": "Nz", "lpa": "LPA", "rpa": "RPA"}

# Keep the header free of the words MNE's own reader scans for ("Positions", "Labels"), so MNE reads it too.
HEADER = """\
# ASA electrode file: the "{name}" montage built into eeg_montage.
# {description}
# Source: MNE-Python {version}, mne.channels.make_standard_montage("{name}") (its files under
#   mne/channels/data/montages; BSD-3-Clause, Copyright 2011-2025 MNE-Python authors; licence text in
#   ../LICENSE-MNE.txt). MNE names the origin of each file in its montages README (FieldTrip templates,
#   eeg_positions, BioSemi and EasyCap layouts, EGI/HydroCel). Electrode coordinates are facts.
# Axes of the montage (x right, y anterior, z up), millimetres, 6 decimals. Nz, LPA and RPA are the fiducials.
# Regenerate with packages/eeg-montage/scripts/generate_standard_montages.py.
"""


def elc_text(name: str, description: str) -> tuple[str, int]:
    """The ``.elc`` contents of one MNE montage, and its number of electrodes."""
    positions = mne.channels.make_standard_montage(name).get_positions()
    rows = [(FIDUCIAL_LABELS[key], positions[key]) for key in FIDUCIAL_LABELS if positions[key] is not None]
    rows += list(positions["ch_pos"].items())
    width = max(len(label) for label, _ in rows)
    body = [
        f"{label:<{width}} : "
        + " ".join(f"{value:>12.6f}" for value in np.asarray(xyz, dtype=np.float64) * 1e3)
        for label, xyz in rows
    ]
    text = (
        HEADER.format(name=name, description=description, version=mne.__version__)
        + "ReferenceLabel\tavg\nUnitPosition\tmm\n"
        + f"NumberPositions=\t{len(rows)}\nPositions\n"
        + "\n".join(body)
        + "\nLabels\n"
        + "\t".join(label for label, _ in rows)
        + "\n"
    )
    return text, len(positions["ch_pos"])


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for old in TARGET.glob("*.elc"):
        old.unlink()
    index = ["name\telectrodes\tdescription"]
    for name, description in mne.channels.get_builtin_montages(descriptions=True):
        if name in SKIPPED:
            print(f"skipped {name}: {SKIPPED[name]}", file=sys.stderr)
            continue
        text, count = elc_text(name, description)
        (TARGET / f"{name}.elc").write_text(text, encoding="utf-8", newline="\n")
        index.append(f"{name}\t{count}\t{description}")
    (TARGET / "index.tsv").write_text("\n".join(index) + "\n", encoding="utf-8", newline="\n")
    print(f"wrote {len(index) - 1} montages to {TARGET}")


if __name__ == "__main__":
    main()
