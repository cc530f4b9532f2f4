"""Why windows were rejected, in words: per reason and channel, and for a recording that kept none."""

from __future__ import annotations

from collections.abc import Iterable

from eeg_prepare.config import PrepareConfig, command_section
from eeg_prepare.windowing import Windows

REASON_WORDS = {"non_finite": "non-finite samples", "flat": "a flat channel", "peak_to_peak": "peak-to-peak"}


def describe_rejections(rejections: Iterable[tuple[str, str, int]]) -> str:
    """``peak_to_peak ECG 40; flat O1 2`` (reason, channel, windows; most windows first)."""
    return "; ".join(
        f"{reason} {channel or '?'} {count}".replace("  ", " ") for reason, channel, count in rejections
    )


def parse_rejections(text: str) -> tuple[tuple[str, str, int], ...]:
    """The inverse of :func:`describe_rejections` for channel names without ``;`` (others are skipped)."""
    found = []
    for part in text.split(";"):
        reason, _, rest = part.strip().partition(" ")
        channel, _, count = rest.rpartition(" ")
        if reason and count.isdigit():
            found.append((reason, "" if channel == "?" else channel, int(count)))
    return tuple(found)


def nothing_kept(windows: Windows, config: PrepareConfig, command: str) -> str:
    """Why a recording gave no window, naming the dominant reason and channel and the key that changes it."""
    c = windows.counts
    section = command_section(config, command)
    if c.candidates == 0 and getattr(section, "labels", None) is not None and section.labels.from_events:
        listed = ", ".join(map(repr, section.labels.events))
        if c.incomplete_dropped:
            return (
                f"every event window reaches past the recording ({c.incomplete_dropped} event(s) of {listed}; "
                f"windows.window_seconds is {config.windows.window_seconds:g} s, primary.labels."
                f"event_offset_seconds {section.labels.event_offset_seconds:g} s)"
            )
        found = next((note for note in windows.notes if note.startswith("events not in")), "no event markers")
        return f"no event of primary.labels.events ({listed}) in this recording; {found}"
    if c.candidates == 0:
        return (
            f"recording shorter than one window ({c.incomplete_dropped} incomplete window(s) dropped; "
            f"windows.window_seconds is {config.windows.window_seconds:g} s, windows.incomplete: pad keeps it)"
        )
    counts = f"peak-to-peak {c.peak_to_peak}, flat {c.flat}, non-finite {c.non_finite}"
    if not windows.rejections:
        return f"no window kept: all {c.candidates} rejected ({counts})"
    reason, channel, count = windows.rejections[0]
    on = f" on {channel}" if channel else ""
    leave_out = (
        f"leave {channel} out with {command}.channels.exclude"
        if section.channels.pick is None
        else f"leave {channel} out of {command}.channels.pick"
    )
    artifacts = config.artifacts
    if reason == "peak_to_peak":
        rule = f"artifacts.max_peak_to_peak_uv ({artifacts.max_peak_to_peak_uv:g} µV) sets the limit"
    elif reason == "flat":
        rule = f"artifacts.flat_max_uv ({artifacts.flat_max_uv:g} µV) and artifacts.flat_seconds set the rule"
    else:
        rule = "artifacts.non_finite: interpolate keeps such windows"
    fix = rule + (f", or {leave_out}" if channel and "+" not in channel else "")
    return (
        f"no window kept: all {c.candidates} rejected, mostly for {REASON_WORDS[reason]}{on} "
        f"({count} window(s); {counts}); {fix}"
    )
