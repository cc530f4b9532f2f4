"""Find recordings under a folder and read participant and run from their paths.

Two layouts:

- BIDS-like: ``sub-XX/[ses-YY/]eeg/sub-XX[_ses-YY][_task-..][_run-ZZ]_eeg.<ext>``. The participant is
  ``sub-XX`` (as in BIDS ``participants.tsv``); the run is ``ZZ`` (``1`` when the name has no run
  entity), prefixed with ``ses-YY_`` when the name has a session so that runs of two sessions differ.
  ``derivatives/`` and ``sourcedata/`` are not searched.
- flat: every recording whose name (without extension) matches ``input.pattern``, where
  ``{participant}`` and ``{run}`` capture those parts and ``*`` matches anything, e.g.
  ``museMonitor_{participant}_*`` or ``{participant}_run-{run}``. A pattern with ``/`` is matched
  against the path relative to the root instead of the name.

``auto`` picks BIDS when the root holds a ``sub-*`` folder.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import attrs

from eeg_prepare.config import InputConfig
from eeg_prepare.errors import DiscoveryError

# Extension (lower-case, longest first) -> format name.
EXTENSIONS: tuple[tuple[str, str], ...] = (
    (".fif.gz", "fif"),
    (".edf", "edf"),
    (".bdf", "bdf"),
    (".vhdr", "vhdr"),
    (".set", "set"),
    (".fif", "fif"),
    (".csv", "csv"),
)
# Files a recording's header points to: their changes must also make the output out of date.
COMPANIONS = {"vhdr": (".eeg", ".vmrk"), "set": (".fdt",)}
_SKIPPED_BIDS_FOLDERS = {"derivatives", "sourcedata"}
_BIDS_NAME = re.compile(r"^(?P<entities>sub-[A-Za-z0-9]+(?:_[A-Za-z0-9]+-[A-Za-z0-9]+)*)_eeg$")


@attrs.frozen(kw_only=True)
class RecordingSource:
    """One recording to read: ``path`` (the file MNE or the CSV reader opens), its ``format``
    (``edf``, ``bdf``, ``vhdr``, ``set``, ``fif``, ``csv``), the ids read from its path, and the data
    files its header points to (``companions``)."""

    path: Path
    format: str
    participant: str
    run: str
    companions: tuple[Path, ...] = ()

    def files(self) -> tuple[Path, ...]:
        return (self.path, *self.companions)

    def mtime(self) -> float:
        """Latest modification time (seconds) of the recording and its companion files."""
        return max(p.stat().st_mtime for p in self.files() if p.exists())

    @property
    def label(self) -> str:
        return f"{self.participant} run {self.run}"


@attrs.frozen(kw_only=True)
class Discovery:
    """Recordings found (sorted by participant, run) and recording-like files that were ignored, with why."""

    layout: str
    sources: tuple[RecordingSource, ...]
    ignored: tuple[tuple[Path, str], ...]


def split_extension(path: Path) -> tuple[str, str] | None:
    """``(stem, format)`` for a recording file name, None when the extension is not a recording's."""
    lowered = path.name.lower()
    for extension, format_name in EXTENSIONS:
        if lowered.endswith(extension):
            return path.name[: -len(extension)], format_name
    return None


def discover(config: InputConfig, key: str) -> Discovery:
    """All recordings under ``config.root`` in the configured layout.

    Args:
        key: the config path of ``config`` (e.g. ``primary.input``), for messages.

    Raises:
        DiscoveryError: the root does not exist, or two recordings give the same participant and run.
    """
    root = Path(config.root)
    if not root.is_dir():
        raise DiscoveryError(f"{key}.root: folder {root} does not exist")
    layout = config.layout
    if layout == "auto":
        layout = "bids" if any(p.is_dir() and p.name.startswith("sub-") for p in root.iterdir()) else "flat"
    formats = {f.lower().lstrip(".") for f in config.formats}
    sources: list[RecordingSource] = []
    ignored: list[tuple[Path, str]] = []
    matcher = _pattern_regex(config.pattern) if layout == "flat" else None
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if not path.is_file() or any(p.startswith(".") for p in parts):
            continue
        if layout == "bids" and _SKIPPED_BIDS_FOLDERS.intersection(parts[:-1]):
            continue
        split = split_extension(path)
        if split is None or split[1] not in formats or not fnmatch.fnmatch(path.name, config.include):
            continue
        stem, format_name = split
        if layout == "bids":
            ids = _bids_ids(stem)
            why = "name is not sub-XX[_ses-YY][_task-..][_run-ZZ]_eeg"
        else:
            relative = "/".join((*parts[:-1], stem)) if "/" in config.pattern else stem
            ids = _flat_ids(matcher, relative)
            why = f"name does not match {key}.pattern {config.pattern!r}"
        if ids is None:
            ignored.append((path, why))
            continue
        companions = tuple(
            path.with_name(stem + ext)
            for ext in COMPANIONS.get(format_name, ())
            if path.with_name(stem + ext).exists()
        )
        sources.append(
            RecordingSource(
                path=path, format=format_name, participant=ids[0], run=ids[1], companions=companions
            )
        )
    _check_unique(sources, key)
    sources.sort(key=lambda s: (s.participant, _natural(s.run), str(s.path)))
    return Discovery(layout=layout, sources=tuple(sources), ignored=tuple(ignored))


def _bids_ids(stem: str) -> tuple[str, str] | None:
    match = _BIDS_NAME.match(stem)
    if match is None:
        return None
    entities = dict(part.split("-", 1) for part in match["entities"].split("_"))
    run = entities.get("run", "1")
    if "ses" in entities:
        run = f"ses-{entities['ses']}_run-{run}"
    return f"sub-{entities['sub']}", run


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """``{participant}``/``{run}`` -> named groups, ``*`` -> anything, the rest literal."""
    pieces = re.split(r"(\{participant\}|\{run\}|\*)", pattern)
    regex = []
    for piece in pieces:
        if piece == "{participant}":
            regex.append(r"(?P<participant>[^/]+?)")
        elif piece == "{run}":
            regex.append(r"(?P<run>[^/]+?)")
        elif piece == "*":
            regex.append(r"[^/]*?")
        else:
            regex.append(re.escape(piece))
    return re.compile("".join(regex))


def _flat_ids(matcher: re.Pattern[str] | None, text: str) -> tuple[str, str] | None:
    match = matcher.fullmatch(text) if matcher is not None else None
    if match is None:
        return None
    groups = match.groupdict()
    return groups["participant"], groups.get("run") or "1"


def _check_unique(sources: list[RecordingSource], key: str) -> None:
    seen: dict[tuple[str, str], Path] = {}
    for source in sources:
        ids = (source.participant, source.run)
        if ids in seen:
            raise DiscoveryError(
                f"{seen[ids]} and {source.path} both give participant {ids[0]} run {ids[1]}; "
                f"narrow {key}.include (e.g. '*task-rest*') or change {key}.pattern so that each "
                "participant-run has one recording"
            )
        seen[ids] = source.path


def _natural(text: str) -> tuple:
    """Sort key that orders ``run 2`` before ``run 10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))
