"""Cut a continuous recording into parent windows and sub-windows; remove DC; reject artifacts.

Parent windows are consecutive, non-overlapping spans of ``parent_window_seconds`` from the start of
the recording (the whole recording when null; the last one may be shorter). Sub-windows of
``window_seconds`` start every ``window_seconds - overlap_seconds`` inside their parent and never
cross its end. A sub-window that would (the trailing, incomplete one) is dropped, or under
``incomplete: pad`` kept with zeros after its last sample.

With labels from event markers (``primary.labels.events``) the windows are instead one per event of a
listed name, starting ``event_offset_seconds`` after its onset (windows of close events overlap); a window
that would reach past either end of the recording is dropped as incomplete. Each window keeps its event's
class, its event index as ``parent_window_id`` and 0 as ``sub_window_id``.

Each kept sub-window then has, per channel, its mean removed (``remove_dc``) and is rejected when
(first reason that applies): it covers a non-finite sample of the recording; a channel stays within
``flat_max_uv`` for ``flat_seconds``; a channel's peak-to-peak amplitude exceeds
``max_peak_to_peak_uv``. Each rejection is counted with its reason and the channel that caused it (the
first flat one, the one of largest peak-to-peak amplitude, the ones that held non-finite samples).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import attrs
import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from eeg_prepare.config import ArtifactConfig, LabelsConfig, WindowConfig
from eeg_prepare.signal import Continuous

REJECTION_REASONS = ("non_finite", "flat", "peak_to_peak")


@attrs.frozen(kw_only=True)
class WindowCounts:
    """Per-recording window counts. ``candidates = kept + sum(rejected)``; incomplete windows that
    were dropped are not candidates; ``padded`` counts kept-or-rejected windows padded with zeros."""

    candidates: int = 0
    kept: int = 0
    non_finite: int = 0
    flat: int = 0
    peak_to_peak: int = 0
    incomplete_dropped: int = 0
    padded: int = 0

    @property
    def rejected(self) -> int:
        return self.non_finite + self.flat + self.peak_to_peak

    def __add__(self, other: WindowCounts) -> WindowCounts:
        return WindowCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in attrs.fields(WindowCounts)}
        )


@attrs.frozen(kw_only=True)
class Windows:
    """The kept sub-windows of one recording, in time order.

    Attributes:
        data: float32 ``[K, C, W]`` µV (W = window length in samples; padded windows end in zeros).
        parent_ids, sub_ids: int64 ``[K]``: parent window index from the recording start, sub-window
            index within the parent (rejected windows leave gaps).
        starts, ends: float64 ``[K]`` seconds from the recording start; ``end`` is where the
            recorded samples stop (before any padding).
        notes: warnings from processing the continuous signal (see :class:`Continuous`).
        rejections: ``(reason, channel, windows)`` for every rejected window's reason and channel, most
            windows first (``channel`` joins several with ``+``, is empty when unknown).
    """

    data: np.ndarray = attrs.field(repr=lambda a: f"array{a.shape}")
    channels: tuple[str, ...]
    parent_ids: np.ndarray = attrs.field(repr=False)
    sub_ids: np.ndarray = attrs.field(repr=False)
    starts: np.ndarray = attrs.field(repr=False)
    ends: np.ndarray = attrs.field(repr=False)
    counts: WindowCounts
    notes: tuple[str, ...] = ()
    rejections: tuple[tuple[str, str, int], ...] = ()
    labels: np.ndarray | None = attrs.field(default=None, repr=False)  # int64 [K], event windows only


def plan_windows(
    num_samples: int, sfreq: float, config: WindowConfig
) -> tuple[list[tuple[int, int, int, int]], int]:
    """Where the sub-windows of a recording of ``num_samples`` samples at ``sfreq`` Hz lie.

    Returns:
        ``[(parent_id, sub_id, start, stop)]`` in samples (``stop - start < W`` only for a padded
        window), and the number of incomplete windows dropped.
    """
    length = round(config.window_seconds * sfreq)
    step = length - round(config.overlap_seconds * sfreq)
    parent = (
        num_samples if config.parent_window_seconds is None else round(config.parent_window_seconds * sfreq)
    )
    parent = max(parent, 1)
    plan: list[tuple[int, int, int, int]] = []
    dropped = 0
    for parent_id, first in enumerate(range(0, num_samples, parent)):
        last = min(first + parent, num_samples)  # exclusive
        start, sub_id, covered = first, 0, first
        while start + length <= last:
            plan.append((parent_id, sub_id, start, start + length))
            covered = start + length
            start += step
            sub_id += 1
        if covered < last:  # samples after the last complete sub-window: one incomplete window
            if config.incomplete == "pad":
                plan.append((parent_id, sub_id, start, last))
            else:
                dropped += 1
    return plan, dropped


def plan_event_windows(
    events: Sequence[tuple[float, str]],
    classes: Mapping[str, int],
    offset_seconds: float,
    num_samples: int,
    sfreq: float,
    window_seconds: float,
) -> tuple[list[tuple[int, int, int, int]], list[int], int, Counter[str]]:
    """Where the windows of the events named in ``classes`` lie (see the module docstring).

    Returns:
        ``[(event_id, 0, start, stop)]`` in samples, each window's class, the number of windows dropped
        because they would reach past the recording, and the count of every event name not in ``classes``.
    """
    length = round(window_seconds * sfreq)
    plan: list[tuple[int, int, int, int]] = []
    labels: list[int] = []
    dropped = 0
    unlisted: Counter[str] = Counter()
    for event_id, (onset, name) in enumerate(events):
        if name not in classes:
            unlisted[name] += 1
            continue
        start = round((onset + offset_seconds) * sfreq)
        if start < 0 or start + length > num_samples:
            dropped += 1
            continue
        plan.append((event_id, 0, start, start + length))
        labels.append(classes[name])
    return plan, labels, dropped, unlisted


def cut_windows(
    signal: Continuous,
    windows: WindowConfig,
    artifacts: ArtifactConfig,
    events: Sequence[tuple[float, str]] = (),
    labels: LabelsConfig | None = None,
) -> Windows:
    """Cut, de-mean and screen the windows of ``signal`` (see the module docstring): consecutive windows,
    or with ``labels.events`` one window per listed event of ``events``."""
    length = round(windows.window_seconds * signal.sfreq)
    classes: list[int] | None = None
    notes = signal.notes
    if labels is not None and labels.from_events:
        plan, classes, dropped, unlisted = plan_event_windows(
            events,
            labels.events,
            labels.event_offset_seconds,
            signal.data.shape[1],
            signal.sfreq,
            windows.window_seconds,
        )
        if unlisted:
            listed = ", ".join(f"{name!r} ({count})" for name, count in sorted(unlisted.items()))
            notes = (*notes, f"events not in primary.labels.events, so without a window: {listed}")
    else:
        plan, dropped = plan_windows(signal.data.shape[1], signal.sfreq, windows)
    # Prefix sums of the source-rate bad-sample mask: "any bad sample in [a, b)" in O(1) per window.
    bad_prefix = np.concatenate([[0], np.cumsum(signal.bad, dtype=np.int64)])
    ratio = signal.source_sfreq / signal.sfreq
    flat_length = round(artifacts.flat_seconds * signal.sfreq)

    kept_rows: list[np.ndarray] = []
    kept_meta: list[tuple[int, int, int, int]] = []
    kept_labels: list[int] = []
    reasons = dict.fromkeys(REJECTION_REASONS, 0)
    by_channel: Counter[tuple[str, str]] = Counter()
    bad_channels = "+".join(signal.bad_channels)
    padded = 0
    for index, (parent_id, sub_id, start, stop) in enumerate(plan):
        segment = signal.data[:, start:stop]  # (C, L), L <= W
        if windows.remove_dc:
            segment = segment - segment.mean(axis=1, keepdims=True)
        padded += stop - start < length
        source_first = int(np.floor(start * ratio))
        source_stop = min(int(np.ceil(stop * ratio)), len(signal.bad))
        covers_bad = bad_prefix[max(source_stop, source_first)] - bad_prefix[source_first] > 0
        reason, row_index = _rejection(segment, covers_bad, artifacts, flat_length)
        if reason is not None:
            reasons[reason] += 1
            channel = signal.channels[row_index] if row_index is not None else bad_channels
            by_channel[reason, channel] += 1
            continue
        row = np.zeros((segment.shape[0], length), dtype=np.float32)  # (C, W), zeros pad the tail
        row[:, : stop - start] = segment
        kept_rows.append(row)
        kept_meta.append((parent_id, sub_id, start, stop))
        if classes is not None:
            kept_labels.append(classes[index])

    num_channels = len(signal.channels)
    data = np.stack(kept_rows) if kept_rows else np.zeros((0, num_channels, length), np.float32)
    meta = np.asarray(kept_meta, dtype=np.int64).reshape(-1, 4)
    counts = WindowCounts(
        candidates=len(plan),
        kept=len(kept_rows),
        incomplete_dropped=dropped,
        padded=padded,
        **reasons,
    )
    return Windows(
        data=data,
        channels=signal.channels,
        parent_ids=meta[:, 0],
        sub_ids=meta[:, 1],
        starts=meta[:, 2] / signal.sfreq,
        ends=meta[:, 3] / signal.sfreq,
        counts=counts,
        notes=notes,
        rejections=tuple(
            (reason, channel, count)
            for (reason, channel), count in sorted(by_channel.items(), key=lambda item: (-item[1], item[0]))
        ),
        labels=None if classes is None else np.asarray(kept_labels, dtype=np.int64),
    )


def _rejection(
    segment: np.ndarray, covers_bad: bool, config: ArtifactConfig, flat_length: int
) -> tuple[str | None, int | None]:
    """The first rejection reason that applies to ``segment`` ``[C, L]`` (µV) and the row of the channel
    that caused it (None when the recording's non-finite mask did), or ``(None, None)`` to keep it."""
    finite = np.isfinite(segment).all(axis=1)  # (C,)
    if not finite.all():
        return "non_finite", int(np.argmin(finite))
    if covers_bad and config.non_finite == "reject":
        return "non_finite", None
    if config.flat_max_uv is not None:
        flat = _flat(segment, min(flat_length, segment.shape[1]), config.flat_max_uv)
        if flat is not None:
            return "flat", flat
    if config.max_peak_to_peak_uv is not None:
        peak_to_peak = segment.max(axis=1) - segment.min(axis=1)  # (C,)
        if (peak_to_peak > config.max_peak_to_peak_uv).any():
            return "peak_to_peak", int(np.argmax(peak_to_peak))
    return None, None


def _flat(segment: np.ndarray, span: int, max_range_uv: float) -> int | None:
    """The first row of ``segment`` ``[C, L]`` whose channel stays within ``max_range_uv`` over ``span``
    consecutive samples, or None."""
    if span <= 1:
        return None
    # Running max - min over every span of `span` samples; a centred filter of size k puts the
    # span x[i - k//2 : i - k//2 + k] at output i, so only these outputs see whole spans.
    running = maximum_filter1d(segment, span, axis=1) - minimum_filter1d(segment, span, axis=1)
    whole = running[:, span // 2 : segment.shape[1] - span + span // 2 + 1]
    rows = (whole < max_range_uv).any(axis=1)  # (C,)
    return int(np.argmax(rows)) if rows.any() else None
