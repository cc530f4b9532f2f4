"""Command line: print a montage's electrodes on the unit sphere, and a summary.

A bad file prints one line ``error: <message>`` on stderr and exits with status 2 (no traceback);
warnings print as ``warning: <message>`` on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from ._asa import read_asa
from ._errors import MontageError
from ._montage import Montage
from ._standard import STANDARD_NAME, describe_standard_montages, standard_montage


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eeg_montage",
        description="Print each electrode of an ASA electrode file (.elc) or of a built-in montage as a unit "
        f"vector (x y z), then a summary. Without FILE, the built-in {STANDARD_NAME} montage.",
    )
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE|NAME",
        help="ASA electrode file (.elc), or the name of a built-in montage (see --list)",
    )
    parser.add_argument("--list", action="store_true", help="list the built-in montages and exit")
    parser.add_argument(
        "--center",
        choices=("origin", "fit"),
        default="origin",
        help="directions from the file's origin (default) or from the centre of a least-squares sphere",
    )
    return parser


def _table(montage: Montage, unit: np.ndarray) -> list[str]:
    width = max(5, *(len(label) for label in montage.labels))
    lines = [f"{'label':<{width}}  {'x':>8} {'y':>8} {'z':>8}"]
    lines += [
        f"{label:<{width}}  {x:>8.4f} {y:>8.4f} {z:>8.4f}"
        for label, (x, y, z) in zip(montage.labels, unit, strict=True)
    ]
    return lines


def _summary(montage: Montage, center: str) -> list[str]:
    fiducials = ", ".join(montage.fiducials) if montage.fiducials else "none"
    reference = f"; reference {montage.reference}" if montage.reference else ""
    lines = [f"{montage.source}: {len(montage)} electrodes; fiducials: {fiducials}{reference}"]
    if center == "fit":
        sphere_center, radius = montage.fit_sphere()
        xyz = " ".join(f"{value * 1e3:.1f}" for value in sphere_center)
        lines.append(f"centre: fitted sphere at ({xyz}) mm, radius {radius * 1e3:.1f} mm")
        origin = sphere_center
    else:
        lines.append("centre: the file's origin")
        origin = np.zeros(3)
    distance = np.linalg.norm(montage.positions - origin, axis=1) * 1e3
    lines.append(
        f"distance of the electrodes from the centre: median {np.median(distance):.1f} mm "
        f"(min {distance.min():.1f}, max {distance.max():.1f})"
    )
    return lines


def _montage(file: str | None) -> Montage:
    """FILE|NAME: an existing file or a ``.elc`` path is read as a file, anything else is a built-in name."""
    if file is None:
        return standard_montage()
    if os.path.exists(file) or file.lower().endswith(".elc"):
        return read_asa(file)
    return standard_montage(file)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 on success, 2 for a bad file or bad arguments)."""
    args = _parser().parse_args(argv)
    if args.list:
        rows = describe_standard_montages()
        width = max(len(name) for name in rows)
        print("\n".join(f"{name:<{width}}  {count:>4}  {text}" for name, (count, text) in rows.items()))
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            montage = _montage(args.file)
            unit = montage.unit_sphere(args.center)
            lines = [*_table(montage, unit), "", *_summary(montage, args.center)]
        except MontageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    try:
        print("\n".join(lines))
        sys.stdout.flush()
    except BrokenPipeError:
        # `python -m eeg_montage | head` closes the pipe early; that is not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
