"""First pass over an ASA electrode file: bytes -> lines -> what each section holds (``Scan``).

Everything that can be judged line by line is checked here (numbers, layouts, keywords), so the
messages can name the line; ``_asa`` then pairs labels with positions and builds the montage.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ._errors import MontageError

UNIT_TO_METRES = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
# Section headers stand alone on their line; "skip" sections are valid ASA but carry nothing we use.
_SECTIONS = {"positions": "positions", "labels": "labels", "positions2d": "skip", "polygons": "skip"}
# Header keys carry their value on the same line ("UnitPosition mm", "NumberPositions= 97").
_KEYS = {"referencelabel", "unitposition", "numberpositions", "numberpolygons", "typepolygons"}
_KEY_LINE = re.compile(r"([A-Za-z][A-Za-z0-9]*)\s*=?\s*(.*)")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = {"nan", "inf", "infinity"}
# C0 control characters other than tab, LF, CR and form feed do not occur in text files.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass
class Scan:
    """What one pass over the lines found, before units, labels and fiducials are resolved."""

    source: str
    data_lines: int = 0
    unit: tuple[str, int] | None = None  # (value, line)
    reference: str | None = None
    declared: tuple[int, int] | None = None  # NumberPositions (value, line)
    positions_line: int | None = None
    labels_line: int | None = None
    layout: tuple[str, int] | None = None  # ("plain" | "inline", first position line)
    coordinates: list[tuple[tuple[float, float, float], int]] = field(default_factory=list)
    inline_labels: list[str] = field(default_factory=list)
    label_lines: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # warnings, emitted by the public entry points

    def error(self, line: int | None, problem: str) -> MontageError:
        where = f"{self.source}, line {line}" if line is not None else self.source
        return MontageError(f"{where}: {problem}")


def decode(content: bytes | str, source: str) -> str:
    """Return the file's text without a BOM; raise MontageError for an empty or binary file."""
    if isinstance(content, bytes):
        if b"\x00" in content:
            raise MontageError(
                f"{source}: byte {content.index(0)} is a NUL byte, so it is a binary file; "
                "expected a text ASA electrode file"
            )
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise MontageError(
                f"{source}: byte {exc.start} is not UTF-8 text, so it looks like a binary file; "
                "expected a text ASA electrode file"
            ) from None
    content = content.removeprefix("\ufeff")
    if not content.strip():
        raise MontageError(
            f"{source}: the file is empty; expected an ASA electrode file with a Positions section"
        )
    return content


def scan_lines(lines: list[str], source: str) -> Scan:
    """Read every line once; raise MontageError at the first line that cannot be part of an ASA file."""
    scan = Scan(source)
    section: str | None = None  # None while in the header
    for number, raw in enumerate(lines, start=1):
        control = _CONTROL.search(raw)
        if control:
            raise scan.error(
                number,
                f"control character {control.group()!r}, so it looks like a binary file; expected text",
            )
        content = raw.split("#", 1)[0].strip()
        if not content:
            continue
        scan.data_lines += 1
        header = _SECTIONS.get(content.casefold())
        if header is not None:
            section = header
            _open_section(scan, content.casefold(), number)
            continue
        key_match = _KEY_LINE.fullmatch(content)
        if key_match and key_match.group(1).casefold() in _KEYS:
            # A key line is never data, so it leaves the current section open: lines after a stray
            # "NumberPositions=" inside Positions are still positions, not silently dropped.
            _read_key(scan, key_match.group(1).casefold(), key_match.group(2).strip(), number)
        elif section == "positions":
            _read_position(scan, content, number)
        elif section == "labels":
            scan.label_lines.append((content, number))
        # Anything else (unknown header lines, skipped sections) is not ours to judge.
    if scan.data_lines == 0:
        raise scan.error(
            None, "the file holds only comments; expected an ASA electrode file with a Positions section"
        )
    return scan


def _open_section(scan: Scan, name: str, number: int) -> None:
    if name not in ("positions", "labels"):
        return
    attribute = f"{name}_line"
    previous = getattr(scan, attribute)
    if previous is not None:
        raise scan.error(
            number, f"a second {name.title()} section (the first is at line {previous}); expected one"
        )
    setattr(scan, attribute, number)


def _read_key(scan: Scan, key: str, value: str, number: int) -> None:
    if key == "unitposition":
        if not value:
            raise scan.error(number, "UnitPosition has no value; expected mm, cm or m")
        if scan.unit is not None and scan.unit[0].casefold() != value.casefold():
            raise scan.error(
                number, f"UnitPosition {value!r} contradicts {scan.unit[0]!r} at line {scan.unit[1]}"
            )
        scan.unit = (value, number)
    elif key == "numberpositions":
        if not re.fullmatch(r"\d+", value):
            raise scan.error(number, f"NumberPositions= {value!r}; expected a whole number of positions")
        scan.declared = (int(value), number)
    elif key == "referencelabel":
        scan.reference = value or None


def _read_position(scan: Scan, content: str, number: int) -> None:
    if ":" in content:
        label, _, rest = content.partition(":")
        label = label.strip()
        if not label:
            raise scan.error(number, f"{content!r} has no label before ':'; expected 'Label : x y z'")
        layout = "inline"
    else:
        label, rest, layout = "", content, "plain"
    if scan.layout is None:
        scan.layout = (layout, number)
    elif scan.layout[0] != layout:
        first = "'Label : x y z'" if scan.layout[0] == "inline" else "'x y z'"
        raise scan.error(
            number,
            f"{content!r} mixes layouts: the first position (line {scan.layout[1]}) is written {first}; "
            "expected every position line in the same layout",
        )
    tokens = rest.split()
    if len(tokens) != 3:
        shape = "'Label : x y z'" if layout == "inline" else "'x y z' (labels in the Labels section)"
        raise scan.error(
            number, f"{content!r} has {len(tokens)} values; expected 3 coordinates, written {shape}"
        )
    xyz = (
        _number(scan, tokens[0], number),
        _number(scan, tokens[1], number),
        _number(scan, tokens[2], number),
    )
    scan.coordinates.append((xyz, number))
    if layout == "inline":
        scan.inline_labels.append(label)


def _number(scan: Scan, token: str, number: int) -> float:
    if _NUMBER.fullmatch(token):
        value = float(token)
        if math.isfinite(value):
            return value
        raise scan.error(number, f"coordinate {token!r} is out of range; expected a finite number")
    if token.casefold().lstrip("+-") in _NON_FINITE:
        raise scan.error(number, f"coordinate {token!r} is not finite; expected a finite number")
    raise scan.error(number, f"coordinate {token!r} is not a number; expected a decimal number such as -12.5")
