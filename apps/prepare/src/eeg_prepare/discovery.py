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

# Extension (lower-case, longest first) -> format name: every EEG format ``mne.io.read_raw`` dispatches on
# (MNE >= 1.8), and Muse CSV exports. ``.mff`` (EGI) is a folder.
EXTENSIONS: tuple[tuple[str, str], ...] = (
    (".fif.gz", "fif"),
    (".edf", "edf"),
    (".bdf", "bdf"),
    (".gdf", "gdf"),
    (".vhdr", "vhdr"),
    (".ahdr", "vhdr"),
    (".set", "set"),
    (".fif", "fif"),
    (".cnt", "cnt"),
    (".mff", "egi"),
    (".cdt", "curry"),
    (".dat", "curry"),  # Curry 7 (MNE also tries BCI2000); a Persyst .lay's data file when one sits beside it
    (".lay", "persyst"),
    (".eeg", "nihon"),  # a BrainVision header's data file when one sits beside it
    (".nxe", "eximia"),
    (".data", "nicolet"),
    (".nedf", "nedf"),
    (".csv", "csv"),
)
# Files a recording's header points to (same stem, any case): their changes must also make the output out
# of date, and they are not listed as skipped.
COMPANIONS = {
    "vhdr": (".eeg", ".vmrk", ".amrk"),
    "set": (".fdt",),
    "curry": (".cdt.dpa", ".cdt.cef", ".cdt.ceo", ".dap", ".rs3", ".cef", ".ceo"),
    "persyst": (".dat",),
    "nihon": (".pnt", ".log", ".21e", ".11d", ".cmt"),
    "nicolet": (".head",),
}
# Files MNE reads that are not EEG recordings (or need more than a file): skipped with this reason.
NOT_EEG = {
    ".snirf": "an fNIRS recording (SNIRF)",
    ".hdr": "an fNIRS recording header (NIRx)",
    ".sqd": "a MEG recording (KIT)",
    ".con": "a MEG recording (KIT)",
    ".ds": "a MEG recording (CTF)",
    ".asc": "an eye-tracking recording (EyeLink)",
    ".bin": "an OPM-MEG or ARTEMIS123 recording",
    ".mat": "a FieldTrip structure (MNE needs a separate info to read it; export it to FIF or EDF)",
    ".mefd": "a MEF3 recording (not read by prepare)",
}
# BIDS sidecars and documentation: neither read nor listed.
SIDECAR_SUFFIXES = (".json", ".tsv")
DOCUMENT_PREFIXES = ("readme", "changes", "license", "citation")
FOLDER_FORMATS = ("egi",)
FOLDER_EXTENSIONS = (".mff", ".ds", ".mefd")  # recordings that are folders: their files are not listed
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
    """Recordings found (sorted by participant, run) and the files under the root that are neither read nor a
    recording's companion or a sidecar (``ignored``: path and why, in path order)."""

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
    companions_of_found: set[Path] = set()  # of every recording file found, read or skipped
    others: list[Path] = []
    matcher = _pattern_regex(config.pattern) if layout == "flat" else None
    listing: dict[Path, dict[str, Path]] = {}  # folder -> its files by lower-cased name

    def siblings(path: Path) -> dict[str, Path]:
        if path.parent not in listing:
            listing[path.parent] = {p.name.lower(): p for p in path.parent.iterdir() if p.is_file()}
        return listing[path.parent]

    entries = sorted(root.rglob("*"))
    folders = [p for p in entries if p.is_dir() and p.name.lower().endswith(FOLDER_EXTENSIONS)]
    for path in entries:
        parts = path.relative_to(root).parts
        if any(p.startswith(".") for p in parts):
            continue
        if layout == "bids" and _SKIPPED_BIDS_FOLDERS.intersection(parts[:-1]):
            continue
        if any(folder in path.parents for folder in folders):
            continue  # the inside of a recording that is a folder (EGI .mff, CTF .ds)
        if path.is_dir():
            if path in folders and not _folder_recording(path):
                others.append(path)
            if not _folder_recording(path):
                continue
        split = split_extension(path)
        if split is not None and _is_companion_here(path, split, siblings(path)):
            continue  # a .dat beside its .lay, an .eeg beside its .vhdr: listed with that recording
        if split is None:
            others.append(path)
            continue
        stem, format_name = split
        companions = _companions(path, stem, format_name, siblings(path))
        companions_of_found.update(companions)  # listed with their recording, read or not
        if format_name not in formats:
            ignored.append((path, f"format {format_name} is not in {key}.formats"))
            continue
        if not fnmatch.fnmatch(path.name, config.include):
            ignored.append((path, f"name does not match {key}.include {config.include!r}"))
            continue
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
        sources.append(
            RecordingSource(
                path=path, format=format_name, participant=ids[0], run=ids[1], companions=companions
            )
        )
    for path in others:
        why = _why_not_read(path, companions_of_found)
        if why is not None:
            ignored.append((path, why))
    _check_unique(sources, key)
    sources.sort(key=lambda s: (s.participant, _natural(s.run), str(s.path)))
    ignored.sort(key=lambda item: str(item[0]))
    return Discovery(layout=layout, sources=tuple(sources), ignored=tuple(ignored))


def _folder_recording(path: Path) -> bool:
    split = split_extension(path)
    return split is not None and split[1] in FOLDER_FORMATS


def _companions(path: Path, stem: str, format_name: str, siblings: dict[str, Path]) -> tuple[Path, ...]:
    if format_name not in COMPANIONS:
        return ()
    found = (siblings.get((stem + ext).lower()) for ext in COMPANIONS[format_name])
    return tuple(p for p in found if p is not None and p != path)


def _is_companion_here(path: Path, split: tuple[str, str], siblings: dict[str, Path]) -> bool:
    """Whether a file with a recording's extension is the data file of another recording beside it."""
    stem, format_name = split
    if format_name == "nihon":  # .eeg
        return any((stem + ext).lower() in siblings for ext in (".vhdr", ".ahdr"))
    if format_name == "curry" and path.name.lower().endswith(".dat"):
        return (stem + ".lay").lower() in siblings
    return False


def _why_not_read(path: Path, companions: set[Path]) -> str | None:
    """Why a file that is not a recording is skipped; None for companions of recordings and sidecars."""
    name = path.name.lower()
    if path in companions or name.endswith(SIDECAR_SUFFIXES) or name.startswith(DOCUMENT_PREFIXES):
        return None
    for extension, what in NOT_EEG.items():
        if name.endswith(extension):
            return f"MNE reads this as {what}, not an EEG recording prepare reads"
    for format_name, extensions in COMPANIONS.items():
        if any(name.endswith(ext) for ext in extensions):
            return f"a companion file of a {format_name} recording, but no such recording sits beside it"
    readable = ", ".join(ext for ext, _ in EXTENSIONS)
    return f"not a recording format prepare reads ({readable})"


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
