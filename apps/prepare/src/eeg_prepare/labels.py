"""The labels CSV (participant -> integer class) and its join with the recordings found.

Participant ids are compared ``loose``-ly by default: case, surrounding spaces, a ``sub-`` prefix
and leading zeros of numbers are ignored, so ``sub-007`` (a BIDS folder), ``7`` and ``007`` (a
spreadsheet) are one participant. ``exact`` compares the strings as written.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import attrs

from eeg_prepare.config import LabelsConfig
from eeg_prepare.discovery import RecordingSource
from eeg_prepare.errors import LabelsError


@attrs.frozen(kw_only=True)
class Labels:
    """``by_key``: matching key -> (participant id as written in the CSV, integer label)."""

    path: Path
    by_key: dict[str, tuple[str, int]]
    match: str

    def key(self, participant: str) -> str:
        return participant_key(participant, self.match)


@attrs.frozen(kw_only=True)
class Join:
    """Recordings with a label (and that label), recordings without one, labels without recordings."""

    labelled: tuple[tuple[RecordingSource, str, int], ...]
    unlabelled: tuple[RecordingSource, ...]
    unused: tuple[str, ...]


def participant_key(participant: str, match: str) -> str:
    """The string two participant ids are compared by (see the module docstring)."""
    if match == "exact":
        return participant
    key = participant.strip().lower()
    key = re.sub(r"^sub[-_]?", "", key)
    return str(int(key)) if key.isdigit() else key


def read_labels(config: LabelsConfig, key: str = "primary.labels") -> Labels:
    """Read the labels CSV: a header row, then one row per participant.

    Column names are matched case-insensitively. A row whose label cell is empty gives no label
    (the participant's recordings are skipped and listed). Labels must be whole numbers
    (``0``, ``1``, ``2.0``): classes for the classifier.

    Raises:
        LabelsError: missing file or column, a label that is not a whole number, or one participant
            listed with two different labels.
    """
    path = Path(config.path)
    if not path.is_file():
        raise LabelsError(f"{key}.path: labels file {path} does not exist")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            delimiter = _sniff_delimiter(sample)
            rows = list(csv.DictReader(handle, delimiter=delimiter))
            header = list(rows[0].keys()) if rows else _header(sample, delimiter)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelsError(f"{path}: could not read the labels CSV ({exc})") from None
    participant_column = _find(header, config.participant_column, path, f"{key}.participant_column")
    label_column = _find(header, config.label_column, path, f"{key}.label_column")
    by_key: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(rows, start=2):
        participant = (row.get(participant_column) or "").strip()
        text = (row.get(label_column) or "").strip()
        if not participant or not text:
            continue
        label = _integer(text, path, line, label_column)
        match_key = participant_key(participant, config.match)
        if match_key in by_key:
            first, first_label = by_key[match_key]
            if first_label != label:
                raise LabelsError(
                    f"{path}: line {line}: participant {participant} has label {label}, but {first} "
                    f"already has {first_label}; expected one label per participant"
                )
            continue
        by_key[match_key] = (participant, label)
    return Labels(path=path, by_key=by_key, match=config.match)


def join_labels(sources: Sequence[RecordingSource], labels: Labels) -> Join:
    """Pair each recording with its participant's label."""
    labelled, unlabelled, used = [], [], set()
    for source in sources:
        match_key = labels.key(source.participant)
        if match_key in labels.by_key:
            participant, label = labels.by_key[match_key]
            labelled.append((source, participant, label))
            used.add(match_key)
        else:
            unlabelled.append(source)
    unused = tuple(participant for k, (participant, _) in labels.by_key.items() if k not in used)
    return Join(labelled=tuple(labelled), unlabelled=tuple(unlabelled), unused=unused)


def _sniff_delimiter(sample: str) -> str:
    first = sample.splitlines()[0] if sample else ""
    return max((",", ";", "\t"), key=first.count)


def _header(sample: str, delimiter: str) -> list[str]:
    first = sample.splitlines()[:1]
    return next(csv.reader(first, delimiter=delimiter), []) if first else []


def _find(header: list[str], name: str, path: Path, key: str) -> str:
    for column in header:
        if column is not None and column.strip().lower() == name.strip().lower():
            return column
    raise LabelsError(f"{path}: no column {name!r} ({key}); columns: {', '.join(h for h in header if h)}")


def _integer(text: str, path: Path, line: int, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer():
        raise LabelsError(
            f"{path}: line {line}: {column} {text!r} is not a whole number; labels must be integer classes (0, 1, ...)"
        )
    return int(value)
