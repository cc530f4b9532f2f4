"""Data checks: what a corpus can hold that is valid layout but doubtful data.

Warnings (not layout problems), each with counts and file names:

- ``duplicate_recording``: two files with the same samples in every channel (content hash, time order);
- ``duplicate_window``: a window (all its channels) equal to an earlier window, in the same file or
  another one (files that duplicate a whole recording are counted once, as that);
- ``flat_channel``: a channel with zero variance over the whole file;
- ``flat_window``: a window with zero variance in a channel that is not flat as a whole;
- ``window_duration``: ``window_end - window_start`` disagrees with the window's samples at the sampling
  rate (by more than half a sample); window times in samples (the seed's layout, :mod:`eeg_io.timing`)
  are compared with the sample count;
- ``window_overlap`` / ``window_gap``: consecutive windows (time order) that overlap or leave a gap of
  more than half a sample (with window times in samples, only inside one parent window: the offsets
  restart at each);
- ``channel_scale``: a channel whose typical (median) window standard deviation is more than
  :data:`SCALE_RATIO` times off the median over the file's channels (3 or more non-flat channels): a unit
  error, e.g. V against µV.
- ``beyond_physical``: values beyond :data:`~eeg_io.normalize.PHYSICAL_LIMIT` (1 V in µV: not EEG in any
  unit), with the channel, the windows and the first row; reading them follows ``nan_policy`` (an error
  by default).

Files are read one channel column at a time. Zero variance means a spread (max - min) below float32's
smallest normal number, as in :mod:`eeg_io.normalize`. With a :class:`~eeg_io.result_cache.ResultCache`,
what a file's checks found is kept per file (keyed by the file's content, the settings and this code), so
a later run reads only the files that are new or changed.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
import pyarrow.compute as pc

from eeg_io.arrow_numpy import to_numpy
from eeg_io.errors import EEGDataError
from eeg_io.layout import channel_columns, find_column, open_parquet, order_columns, row_order
from eeg_io.normalize import PHYSICAL_LIMIT
from eeg_io.result_cache import ResultCache, code_key, file_key
from eeg_io.timing import recognise_window_times
from eeg_io.validation import Problem

__all__ = ["CHECKS", "DEFAULT_SAMPLING_RATE", "LABELS", "SCALE_RATIO", "DataReport", "check_data", "describe"]

CHECKS = (
    "duplicate_recording",
    "duplicate_window",
    "flat_channel",
    "flat_window",
    "window_duration",
    "window_overlap",
    "window_gap",
    "channel_scale",
    "beyond_physical",
)
LABELS = {
    "duplicate_recording": "duplicate recording(s)",
    "duplicate_window": "duplicate window(s)",
    "flat_channel": "flat channel(s)",
    "flat_window": "flat window(s)",
    "window_duration": "window(s) whose duration disagrees with their samples",
    "window_overlap": "overlap(s) between windows",
    "window_gap": "gap(s) between windows",
    "channel_scale": "channel(s) off their siblings' scale",
    "beyond_physical": "window(s) with values beyond ±1e6 (not EEG)",
}
#: A channel this many times above or below its siblings' median scale is reported.
SCALE_RATIO = 100.0
DEFAULT_SAMPLING_RATE = 256.0
_TINY = float(np.finfo(np.float32).tiny)


@attrs.frozen
class DataReport:
    """What :func:`check_data` found.

    Attributes:
        warnings: one :class:`Problem` per file and check, in file order.
        counts: occurrences per check name of :data:`CHECKS` (windows, channels, files, gaps, ...).
        duplicate_files: ``(earlier file, later file)`` pairs holding the same recording.
        duplicate_windows: ``(earlier file, row, later file, row)`` for each duplicate window (rows in time
            order).
    """

    warnings: tuple[Problem, ...]
    counts: Mapping[str, int]
    duplicate_files: tuple[tuple[str, str], ...] = ()
    duplicate_windows: tuple[tuple[str, int, str, int], ...] = ()

    def summary(self) -> str:
        """``3 duplicate window(s), 1 flat channel(s)``, or ``no warnings``."""
        shown = [f"{self.counts[c]} {LABELS[c]}" for c in CHECKS if self.counts.get(c)]
        return ", ".join(shown) if shown else "no warnings"

    def leaks(self, train_files: Collection[str], val_files: Collection[str]) -> list[str]:
        """Duplicates with one copy on each side of a train/validation split: ``A (train) = B (validation)``
        per pair of files (windows counted), because they leak."""
        train, val = {str(f) for f in train_files}, {str(f) for f in val_files}
        pairs: Counter[tuple[str, str]] = Counter()
        for a, b in self.duplicate_files:
            if (a in train and b in val) or (a in val and b in train):
                pairs[(a, b) if a in train else (b, a)] += 0
        for a, _, b, _ in self.duplicate_windows:
            if (a in train and b in val) or (a in val and b in train):
                pairs[(a, b) if a in train else (b, a)] += 1
        whole = {tuple(sorted(p)) for p in self.duplicate_files}
        lines = []
        for (t, v), windows in sorted(pairs.items()):
            what = (
                "the same recording" if tuple(sorted((t, v))) in whole else f"{windows} identical window(s)"
            )
            lines.append(f"{t} (train) and {v} (validation) hold {what}")
        return lines


def check_data(
    files: Iterable[str | os.PathLike],
    sampling_rate: float = DEFAULT_SAMPLING_RATE,
    channels: Mapping[str, Collection[str]] | None = None,
    window_times: str = "auto",
    cache: ResultCache | None = None,
) -> DataReport:
    """Run the data checks (module docstring) on ``files``.

    Args:
        files: Parquet files in the pretraining layout (files that fail to read are left out: ``validate``
            reports them).
        sampling_rate: Hz, to compare ``window_end - window_start`` with the samples of a window.
        channels: per file (as given), the upper-cased channels to check; None = every channel column.
        window_times: ``"seconds"``, ``"samples"`` (offsets within the parent window, the seed's layout) or
            ``"auto"`` (recognised per file, :func:`eeg_io.timing.recognise_window_times`).
        cache: where each file's findings are kept between runs (None: computed every time); the report
            is the same either way.
    """
    if not sampling_rate > 0:
        raise ValueError(f"sampling_rate must be positive, got {sampling_rate}")
    warnings: list[Problem] = []
    counts: Counter[str] = Counter()
    first_file: dict[bytes, str] = {}
    first_window: dict[bytes, tuple[str, int]] = {}
    duplicate_files: list[tuple[str, str]] = []
    duplicate_windows: list[tuple[str, int, str, int]] = []
    for file in files:
        name = str(file)
        wanted = None if channels is None else {c.upper() for c in channels.get(name, ())}
        try:
            summary = _cached_summary(Path(file), sampling_rate, wanted, window_times, cache)
        except (EEGDataError, ValueError, OSError):
            continue  # layout problems are validate's to report
        if summary is None:
            continue

        def warn(check: str, count: int, message: str, name: str = name) -> None:
            counts[check] += count
            warnings.append(Problem(name, f"warning: {message}"))

        for check, count, message in summary.findings:
            warn(check, count, message)
        if summary.file_hash in first_file:
            earlier = first_file[summary.file_hash]
            duplicate_files.append((earlier, name))
            warn("duplicate_recording", 1, f"duplicate recording: the same samples as {earlier}")
            continue  # its windows are the earlier file's windows: not counted again
        first_file[summary.file_hash] = name
        repeats: list[tuple[str, int, int]] = []
        for row, digest in enumerate(summary.row_hashes):
            if digest is None:
                continue
            if digest in first_window:
                other, other_row = first_window[digest]
                duplicate_windows.append((other, other_row, name, row))
                repeats.append((other, other_row, row))
            else:
                first_window[digest] = (name, row)
        if repeats:
            other, other_row, row = repeats[0]
            sources = sorted({o for o, _, _ in repeats})
            shown = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
            warn(
                "duplicate_window",
                len(repeats),
                f"{len(repeats)} window(s) identical to earlier windows (in {shown}); first: row {row} = "
                f"{other} row {other_row}",
            )
    return DataReport(tuple(warnings), dict(counts), tuple(duplicate_files), tuple(duplicate_windows))


@attrs.frozen
class _FileSummary:
    findings: list[tuple[str, int, str]]
    file_hash: bytes
    row_hashes: list[bytes | None]  # None: a window flat in every channel (not a meaningful duplicate)

    def to_json(self) -> dict:
        return {
            "findings": [list(finding) for finding in self.findings],
            "file_hash": self.file_hash.hex(),
            "row_hashes": [None if h is None else h.hex() for h in self.row_hashes],
        }

    @classmethod
    def from_json(cls, data: dict) -> _FileSummary:
        return cls(
            [(str(check), int(count), str(message)) for check, count, message in data["findings"]],
            bytes.fromhex(data["file_hash"]),
            [None if h is None else bytes.fromhex(h) for h in data["row_hashes"]],
        )


_CACHE_KIND = "data-checks"


def _cached_summary(
    file: Path, sampling_rate: float, wanted: set[str] | None, window_times: str, cache: ResultCache | None
) -> _FileSummary | None:
    """:func:`_summarise`, through ``cache`` when given: a file's entry is keyed by its content
    (:func:`~eeg_io.result_cache.file_key`), the settings and this package's code, and replaces the file's
    older entries. A file that changes while it is read is not stored."""
    if cache is None or not cache.enabled:
        return _summarise(file, sampling_rate, wanted, window_times)
    before = file_key(file)
    settings = {"rate": float(sampling_rate), "channels": sorted(wanted) if wanted is not None else None,
                "window_times": window_times}  # fmt: skip
    key = cache.key(before, settings, code_key(("eeg_io",), ("numpy", "pyarrow")))
    group = before[0]  # one entry per file: a changed file's entry replaces the old one
    stored = cache.load(_CACHE_KIND, key, group)
    if stored is not None:
        try:
            return None if stored.get("empty") else _FileSummary.from_json(stored)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a damaged entry: computed again below
    summary = _summarise(file, sampling_rate, wanted, window_times)
    if file_key(file) == before:
        cache.store(_CACHE_KIND, key, {"empty": True} if summary is None else summary.to_json(), group)
    return summary


def _summarise(
    file: Path, sampling_rate: float, wanted: set[str] | None, window_times: str = "auto"
) -> _FileSummary | None:
    findings: list[tuple[str, int, str]] = []
    with open_parquet(file) as parquet_file:
        schema = parquet_file.schema_arrow
        columns = channel_columns(schema, file)
        names = sorted(k for k in columns if wanted is None or k in wanted)
        rows = parquet_file.metadata.num_rows
        if not names or rows == 0:
            return None
        sort_by = order_columns(schema)
        order = row_order(parquet_file.read(columns=sort_by, use_threads=False), sort_by) if sort_by else None
        order = np.arange(rows) if order is None else order
        file_digest = hashlib.blake2b(digest_size=16)
        row_digests = [hashlib.blake2b(digest_size=16) for _ in range(rows)]
        flat_rows = np.ones(rows, dtype=bool)
        scales: dict[str, float] = {}
        flat_windows: dict[str, tuple[int, int]] = {}
        width = 0
        for key in names:
            array = parquet_file.read(columns=[columns[key]], use_threads=False).column(0).combine_chunks()
            lengths = to_numpy(pc.list_value_length(array))
            if array.null_count or len(np.unique(lengths)) != 1:
                return None  # null or unequal windows: a layout problem
            width = int(lengths[0])
            if width == 0:
                return None
            values = to_numpy(pc.list_flatten(array)).astype(np.float64).reshape(rows, width)[order]  # (L, W)
            if not np.isfinite(values).all():
                return None
            beyond = (np.abs(values) > PHYSICAL_LIMIT).any(axis=1)  # (L,)
            if beyond.any():
                first = int(np.flatnonzero(beyond)[0])
                findings.append(
                    (
                        "beyond_physical",
                        int(beyond.sum()),
                        f"channel {key}: {int(beyond.sum())} window(s) with values beyond ±{PHYSICAL_LIMIT:g} "
                        f"(1 V in µV: not EEG in any unit, a unit error?), first at row {int(order[first])} "
                        f"(window {first} in time order), up to {np.abs(values).max():g}",
                    )
                )
            file_digest.update(key.encode() + b"\0" + values.tobytes())
            for row in range(rows):
                row_digests[row].update(values[row].tobytes())
            spread = values.max(axis=1) - values.min(axis=1)  # (L,)
            flat = spread < _TINY
            flat_rows &= flat
            if flat.all():
                findings.append(
                    (
                        "flat_channel",
                        1,
                        f"channel {key} is flat (constant {values[0, 0]:g} over all {rows} windows)",
                    )
                )
                continue
            if flat.any():
                flat_windows[key] = (int(flat.sum()), int(np.flatnonzero(flat)[0]))
            scales[key] = float(np.median(values[~flat].std(axis=1)))
        if flat_windows:
            total = sum(n for n, _ in flat_windows.values())
            detail = ", ".join(f"{k} ({n}, first at row {r})" for k, (n, r) in flat_windows.items())
            findings.append(
                ("flat_window", total, f"{total} flat window(s) (zero variance) in channel(s) {detail}")
            )
        findings += _scale_findings(scales)
        findings += _timing_findings(parquet_file, schema, order, width, sampling_rate, window_times)
    row_hashes = [None if flat_rows[r] else row_digests[r].digest() for r in range(rows)]
    return _FileSummary(findings, file_digest.digest(), row_hashes)


def _scale_findings(scales: Mapping[str, float]) -> list[tuple[str, int, str]]:
    """Channels off the median scale of all the file's (non-flat) channels; with fewer than three, which one
    is off cannot be told."""
    if len(scales) < 3:
        return []
    reference = float(np.median(list(scales.values())))
    if reference <= 0:
        return []
    findings = []
    for key, scale in scales.items():
        ratio = scale / reference
        if ratio > SCALE_RATIO or ratio < 1.0 / SCALE_RATIO:
            findings.append(
                (
                    "channel_scale",
                    1,
                    f"channel {key} has a typical window standard deviation of {scale:.3g}, {ratio:.3g} times "
                    f"the median of the file's channels ({reference:.3g}): a unit error (e.g. V against µV)?",
                )
            )
    return findings


def _timing_findings(
    parquet_file, schema, order: np.ndarray, width: int, sampling_rate: float, window_times: str = "auto"
):
    start_column, end_column = find_column(schema, "window_start"), find_column(schema, "window_end")
    if start_column is None or end_column is None or width == 0:
        return []
    parent_column = find_column(schema, "parent_window_id")
    wanted = [start_column, end_column] + ([parent_column] if parent_column else [])
    table = parquet_file.read(columns=wanted, use_threads=False)
    try:
        starts = to_numpy(table.column(0)).astype(np.float64)[order]
        ends = to_numpy(table.column(1)).astype(np.float64)[order]
    except (TypeError, ValueError):
        return []
    durations = ends - starts
    unit = window_times
    if unit == "auto":
        usable = np.isfinite(durations) & (durations > 0)
        unit = (
            recognise_window_times(np.full(int(usable.sum()), float(width)), durations[usable])
            if usable.any()
            else "seconds"
        )
    findings: list[tuple[str, int, str]] = []
    if unit == "samples":  # offsets within the parent window (the seed's layout)
        expected, tolerance, suffix = float(width), 0.5, ""
        description = f"{width} samples (window times in samples)"
    else:
        expected, tolerance, suffix = width / sampling_rate, 0.5 / sampling_rate, " s"
        description = f"{width} samples at {sampling_rate:g} Hz ({expected:g} s)"
    wrong = np.flatnonzero(np.abs(durations - expected) > tolerance)
    if wrong.size:
        first = int(wrong[0])
        findings.append(
            (
                "window_duration",
                int(wrong.size),
                f"{wrong.size} window(s) whose window_end - window_start disagrees with {description}; "
                f"first: row {first}, {durations[first]:g}{suffix}",
            )
        )
    between = starts[1:] - ends[:-1]  # (L - 1,): > 0 a gap, < 0 an overlap
    if unit == "samples" and parent_column is not None:  # offsets restart at each parent window
        parents = to_numpy(table.column(2))[order]
        between = np.where(parents[1:] == parents[:-1], between, 0.0)
    for check, hits, word in (
        ("window_overlap", np.flatnonzero(between < -tolerance), "overlap"),
        ("window_gap", np.flatnonzero(between > tolerance), "gap"),
    ):
        if hits.size:
            first = int(hits[0])
            findings.append(
                (
                    check,
                    int(hits.size),
                    f"{hits.size} {word}(s) between consecutive windows, {np.abs(between[hits]).sum():g}{suffix or ' samples'} in all; "
                    f"first: rows {first} and {first + 1} ({abs(between[first]):g}{suffix or ' samples'})",
                )
            )
    return findings


def describe(report: DataReport, limit: int | None = None) -> Sequence[str]:
    """The warnings as lines (at most ``limit``, then a count of the rest)."""
    lines = [str(w) for w in report.warnings]
    if limit is not None and len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more warning(s)"]
    return lines
