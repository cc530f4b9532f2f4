"""Reader for ASA electrode files (``.elc``, ANT Neuro / FieldTrip / MNE).

Two layouts exist. The older one lists positions and labels in separate sections::

    # ASA electrode file
    ReferenceLabel  avg
    UnitPosition    mm
    NumberPositions=    2
    Positions
    -29.4367 83.9171 -6.9900
    29.8723 84.8959 -7.0800
    Labels
    Fp1
    Fp2

The newer one writes ``Label : x y z`` in the Positions section (its Labels section, when present,
must repeat the same labels; it may hold them all on one line). Other sections of the format
(``Positions2D``, ``Polygons``) are skipped.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from ._asa_scan import UNIT_TO_METRES, Scan, decode, scan_lines
from ._errors import MontageError, MontageWarning
from ._montage import Montage
from ._names import fiducial_key, name_key


@dataclass
class _Entry:
    """One position as read: its label, coordinates in file units, and where each was found."""

    label: str
    xyz: tuple[float, float, float]
    label_line: int
    position_line: int


def read_asa(path: str | os.PathLike[str]) -> Montage:
    """Read an ASA electrode file (``.elc``) into a :class:`Montage` (positions in metres).

    Args:
        path: the file. Either layout (see the module docstring); ``UnitPosition`` mm, cm or m;
            comments (``#``), blank lines, CRLF, tabs, a UTF-8 BOM and keywords in any case.

    Returns:
        The montage; fiducials (Nz/NAS/Nasion, LPA, RPA and their common spellings) are moved from
        the electrodes into ``Montage.fiducials``. ``Montage.source`` is ``str(path)``.

    Raises:
        MontageError: the path does not exist or cannot be read, or the file is not a well-formed
            ASA electrode file; the message names the file, the line and what was expected.

    Warns:
        MontageWarning: ``NumberPositions=`` disagrees with the positions read, a label is repeated
            with the same position (one is kept), or ``UnitPosition`` is missing (mm assumed).
    """
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise MontageError(
            f"{source}: no such file; expected the path of an ASA electrode file (.elc)"
        ) from None
    except IsADirectoryError:
        raise MontageError(f"{source}: is a directory; expected an ASA electrode file (.elc)") from None
    except OSError as exc:
        raise MontageError(
            f"{source}: cannot be read ({exc.strerror or exc}); expected a readable file"
        ) from None
    return _warned(_parse(data, source))


def parse_asa(content: bytes | str, source: str = "<string>") -> Montage:
    """Parse the contents of an ASA electrode file; ``source`` names it in messages and the montage.

    See :func:`read_asa` for what is accepted, returned, raised and warned.
    """
    return _warned(_parse(content, source))


def _warned(parsed: tuple[Montage, list[str]]) -> Montage:
    montage, notes = parsed
    for note in notes:
        # stacklevel 3: the caller of read_asa / parse_asa.
        warnings.warn(MontageWarning(note), stacklevel=3)
    return montage


def _parse(content: bytes | str, source: str) -> tuple[Montage, list[str]]:
    text = decode(content, source)
    scan = scan_lines(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), source)
    return _build(scan), scan.notes


def _labels(scan: Scan) -> list[tuple[str, int]]:
    """Pair every position with its label and the line the label came from."""
    count = len(scan.coordinates)
    if scan.layout is not None and scan.layout[0] == "inline":
        labels = [
            (label, line) for label, (_, line) in zip(scan.inline_labels, scan.coordinates, strict=True)
        ]
        if scan.labels_line is not None:
            _check_labels_agree(scan, labels, _labels_section(scan, count))
        return labels
    if scan.labels_line is None:
        raise scan.error(
            scan.positions_line,
            "positions are written 'x y z' but the file has no Labels section; "
            "expected a 'Labels' line followed by one label per position",
        )
    return _labels_section(scan, count)


def _labels_section(scan: Scan, count: int) -> list[tuple[str, int]]:
    # One label per line (labels may hold spaces), or all labels whitespace-separated (FieldTrip).
    if len(scan.label_lines) == count:
        return list(scan.label_lines)
    tokens = [(token, line) for content, line in scan.label_lines for token in content.split()]
    if len(tokens) == count:
        return tokens
    found = f"{len(scan.label_lines)} label lines"
    if len(tokens) != len(scan.label_lines):
        found += f" ({len(tokens)} whitespace-separated labels)"
    relation = "fewer labels than positions" if len(tokens) < count else "more labels than positions"
    raise scan.error(
        scan.labels_line,
        f"{relation}: the Labels section has {found} but the Positions section (line {scan.positions_line}) "
        f"has {count} positions; expected one label per position",
    )


def _check_labels_agree(scan: Scan, inline: list[tuple[str, int]], section: list[tuple[str, int]]) -> None:
    for (label, line), (listed, listed_line) in zip(inline, section, strict=True):
        if label != listed:
            raise scan.error(
                listed_line,
                f"label {listed!r} in the Labels section differs from {label!r} on line {line} of the "
                "Positions section; expected the same labels in the same order",
            )


def _build(scan: Scan) -> Montage:
    if scan.positions_line is None:
        raise scan.error(
            None,
            "no Positions section; expected a line 'Positions' followed by one 'x y z' line per electrode",
        )
    if not scan.coordinates:
        raise scan.error(
            scan.positions_line, "the Positions section is empty; expected one line per electrode"
        )
    if scan.unit is None:
        scan.notes.append(f"{scan.source}: no UnitPosition line; assuming mm")
        unit, scale = "mm", UNIT_TO_METRES["mm"]
    else:
        unit = scan.unit[0].casefold()
        if unit not in UNIT_TO_METRES:
            raise scan.error(scan.unit[1], f"unknown UnitPosition {scan.unit[0]!r}; expected mm, cm or m")
        scale = UNIT_TO_METRES[unit]
    if scan.declared is not None and scan.declared[0] != len(scan.coordinates):
        scan.notes.append(
            f"{scan.source}, line {scan.declared[1]}: NumberPositions= {scan.declared[0]} but "
            f"{len(scan.coordinates)} positions were read; using the {len(scan.coordinates)} read"
        )
    entries = [
        _Entry(label, xyz, label_line, position_line)
        for (label, label_line), (xyz, position_line) in zip(_labels(scan), scan.coordinates, strict=True)
    ]
    electrodes, fiducials = _split(scan, entries, unit, scale)
    if not electrodes:
        raise scan.error(
            scan.positions_line, "every position is a fiducial; expected at least one electrode position"
        )
    return Montage(
        [entry.label for entry in electrodes],
        np.array([entry.xyz for entry in electrodes], dtype=np.float64) * scale,
        {key: np.array(entry.xyz, dtype=np.float64) * scale for key, entry in fiducials.items()},
        source=scan.source,
        reference=scan.reference,
    )


def _split(
    scan: Scan, entries: list[_Entry], unit: str, scale: float
) -> tuple[list[_Entry], dict[str, _Entry]]:
    """Check labels and positions, drop identical repeats, and set the fiducials apart."""
    electrodes: list[_Entry] = []
    fiducials: dict[str, _Entry] = {}
    seen: dict[str, _Entry] = {}
    for entry in entries:
        if not entry.label.strip():
            raise scan.error(entry.label_line, "empty label; expected a name for every position")
        # Zero after conversion too: a unit vector needs a direction (and 1e-330 mm underflows to 0 m).
        if not any(value * scale for value in entry.xyz):
            raise scan.error(
                entry.position_line,
                f"position of {entry.label!r} is (0, 0, 0); expected a non-zero position "
                "(its direction from the origin is its unit-sphere coordinate)",
            )
        fiducial = fiducial_key(entry.label)
        key = f"fiducial:{fiducial}" if fiducial else name_key(entry.label)
        first = seen.get(key)
        if first is not None:
            _repeat(scan, first, entry, unit)
            continue
        seen[key] = entry
        if fiducial:
            fiducials[fiducial] = entry
        else:
            electrodes.append(entry)
    return electrodes, fiducials


def _repeat(scan: Scan, first: _Entry, again: _Entry, unit: str) -> None:
    what = f"label {again.label!r} repeats {first.label!r} (line {first.label_line})"
    if fiducial_key(again.label) and again.label != first.label:
        what = f"fiducial {again.label!r} repeats {first.label!r} (line {first.label_line})"
    if again.xyz == first.xyz:
        scan.notes.append(
            f"{scan.source}, line {again.label_line}: {what} with the same position; keeping one"
        )
        return
    raise scan.error(
        again.label_line,
        f"{what} with a different position ({_fmt(again.xyz)} vs {_fmt(first.xyz)} {unit}); "
        "expected each label once (names match case-insensitively)",
    )


def _fmt(xyz: tuple[float, float, float]) -> str:
    return " ".join(f"{value:g}" for value in xyz)
