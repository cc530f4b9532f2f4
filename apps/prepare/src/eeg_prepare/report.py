"""What happened to each recording: the end-of-run summary and the CSV report written beside the outputs."""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Sequence

import attrs

from eeg_config import atomic_write_text
from eeg_montage import standard_montage, standard_montage_names
from eeg_prepare.discovery import RecordingSource
from eeg_prepare.rejections import describe_rejections, parse_rejections
from eeg_prepare.windowing import WindowCounts

# Recording outcomes. written/included: windows went into an output; up_to_date: an existing output
# was kept; skipped: left out by a rule (missing channel under skip_recording, no label, no window
# kept); failed: the file could not be read.
STATUSES = ("written", "included", "up_to_date", "skipped", "failed")
PRODUCED = ("written", "included", "up_to_date")

REPORT_COLUMNS = (
    "recording",
    "participant",
    "run",
    "status",
    "reason",
    "output",
    "label",
    "windows",
    "kept",
    "rejected_non_finite",
    "rejected_flat",
    "rejected_peak_to_peak",
    "incomplete_dropped",
    "padded",
    "rejected_by_channel",
    "dropped_channels",
    "unplaced_channels",
    "notes",
)
REJECTIONS_KEY = "rejected_by_channel"  # beside the counts in an output's metadata


@attrs.frozen(kw_only=True)
class RecordingResult:
    """The outcome of one recording. ``fatal``: the run must stop (a missing channel under
    ``on_missing: error``); ``reason`` then is the message to show. ``rejections``: ``(reason, channel,
    windows)``, most first; ``dropped_channels``: channels left out as not EEG (``"ECG (ecg)"``);
    ``unplaced_channels``: kept channels the montage cannot place."""

    source: RecordingSource
    status: str = attrs.field(validator=attrs.validators.in_(STATUSES))
    reason: str = ""
    output: str = ""
    label: int | None = None
    counts: WindowCounts = attrs.Factory(WindowCounts)
    notes: tuple[str, ...] = ()
    fatal: bool = False
    rejections: tuple[tuple[str, str, int], ...] = ()
    dropped_channels: tuple[str, ...] = ()
    unplaced_channels: tuple[str, ...] = ()


def summary_lines(
    command: str,
    results: Sequence[RecordingResult],
    unused_labels: Sequence[str] = (),
    report: str | None = None,
    montage: str = "standard_1005",
    key: str = "pretraining",
) -> list[str]:
    """Human-readable summary: recordings per outcome, each skip/failure with its reason, window counts,
    the channels dropped as not EEG and those the montage (named ``montage``) cannot place."""
    by_status = Counter(r.status for r in results)
    shown = ", ".join(f"{by_status[s]} {s.replace('_', ' ')}" for s in STATUSES if by_status[s])
    lines = [f"{command}: {len(results)} recording(s) found" + (f"; {shown}" if shown else "")]
    for result in results:
        if result.status in ("skipped", "failed"):
            lines.append(f"  {result.status}: {result.source.label} ({result.source.path}): {result.reason}")
    for participant in unused_labels:
        lines.append(f"  label without recording: participant {participant}")
    total = sum((r.counts for r in results), WindowCounts())
    lines.append(
        f"windows: {total.kept} kept of {total.candidates}; rejected {total.rejected} "
        f"(peak-to-peak {total.peak_to_peak}, flat {total.flat}, non-finite {total.non_finite}); "
        f"{total.incomplete_dropped} incomplete dropped, {total.padded} padded"
    )
    lines.extend(channel_lines(results, montage, key))
    notes = sorted({note for r in results for note in r.notes})
    lines.extend(f"  note: {note}" for note in notes)
    if report:
        lines.append(f"report: {report}")
    return lines


def write_report(
    path: str | os.PathLike,
    results: Sequence[RecordingResult],
    unused_labels: Sequence[str] = (),
    skipped_files: Sequence[tuple[os.PathLike, str]] = (),
) -> None:
    """One CSV row per recording (columns ``REPORT_COLUMNS``), one per file under the input root that was
    not read (status ``skipped``, with the reason), then one per label without recording."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        c = r.counts
        writer.writerow(
            {
                "recording": str(r.source.path),
                "participant": r.source.participant,
                "run": r.source.run,
                "status": r.status,
                "reason": r.reason,
                "output": r.output,
                "label": "" if r.label is None else r.label,
                "windows": c.candidates,
                "kept": c.kept,
                "rejected_non_finite": c.non_finite,
                "rejected_flat": c.flat,
                "rejected_peak_to_peak": c.peak_to_peak,
                "incomplete_dropped": c.incomplete_dropped,
                "padded": c.padded,
                "rejected_by_channel": describe_rejections(r.rejections),
                "dropped_channels": "; ".join(r.dropped_channels),
                "unplaced_channels": "; ".join(r.unplaced_channels),
                "notes": " | ".join(r.notes),
            }
        )
    for file, why in skipped_files:
        writer.writerow({"recording": str(file), "status": "skipped", "reason": why})
    for participant in unused_labels:
        writer.writerow({"participant": participant, "status": "label_without_recording"})
    atomic_write_text(path, buffer.getvalue())


def channel_lines(results: Sequence[RecordingResult], montage: str, key: str) -> list[str]:
    """One line for the channels dropped as not EEG, one for those the montage cannot place (with the fix)."""
    lines = []
    dropped = Counter(name for r in results for name in r.dropped_channels)
    if dropped:
        listed = ", ".join(f"{name} ({n} recordings)" if n > 1 else name for name, n in dropped.items())
        lines.append(
            f"channels dropped as not EEG (by their type or name): {listed}; {key}.channels.pick keeps the "
            "channels it names"
        )
    absent = Counter(name for r in results if r.status in PRODUCED for name in r.unplaced_channels)
    if absent:
        names = list(absent)
        fitting = [name for name in standard_montage_names() if all(map(standard_montage(name).has, names))]
        other = f"{key}.channels.montage (and model.montage): " + (
            f"{fitting[0]} places them all" if fitting else "your cap's montage, or asa_path: its .elc file"
        )
        lines.append(
            f"channels the montage {montage} cannot place ({len(names)}): {', '.join(names)}; pretraining "
            f"refuses them: name the cap's montage with {other}; or leave them out ({key}.channels.exclude)"
        )
    return lines


def counts_to_dict(
    counts: WindowCounts, rejections: Sequence[tuple[str, str, int]] = ()
) -> dict[str, int | str]:
    """The counts for an output's metadata, with the rejections per reason and channel as text."""
    return {**attrs.asdict(counts), REJECTIONS_KEY: describe_rejections(rejections)}


def rejections_from_dict(data: object) -> tuple[tuple[str, str, int], ...]:
    """The rejections per reason and channel stored beside the counts (none in an older file)."""
    text = data.get(REJECTIONS_KEY) if isinstance(data, dict) else None
    return parse_rejections(text) if isinstance(text, str) else ()


def counts_from_dict(data: object) -> WindowCounts:
    """Counts stored in an output's metadata; zeros for anything unreadable (an older file)."""
    if not isinstance(data, dict):
        return WindowCounts()
    names = {f.name for f in attrs.fields(WindowCounts)}
    return WindowCounts(**{k: int(v) for k, v in data.items() if k in names and isinstance(v, int)})
