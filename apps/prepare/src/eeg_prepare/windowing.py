"""Cut a continuous recording into parent windows and sub-windows; remove DC; reject artifacts.

Parent windows are consecutive, non-overlapping spans of ``parent_window_seconds`` from the start of
the recording (the whole recording when null; the last one may be shorter). Sub-windows of
``window_seconds`` start every ``window_seconds - overlap_seconds`` inside their parent and never
cross its end. A sub-window that would (the trailing, incomplete one) is dropped, or under
``incomplete: pad`` kept with zeros after its last sample.

Each kept sub-window then has, per channel, its mean removed (``remove_dc``) and is rejected when
(first reason that applies): it covers a non-finite sample of the recording; a channel stays within
``flat_max_uv`` for ``flat_seconds``; a channel's peak-to-peak amplitude exceeds
``max_peak_to_peak_uv``. Each rejection is counted with its reason and the channel that caused it (the
first flat one, the one of largest peak-to-peak amplitude, the ones that held non-finite samples).
"""

from __future__ import annotations

from collections import Counter

import attrs
import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from eeg_prepare.config import ArtifactConfig, WindowConfig
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


def cut_windows(signal: Continuous, windows: WindowConfig, artifacts: ArtifactConfig) -> Windows:
    """Cut, de-mean and screen the windows of ``signal`` (see the module docstring)."""
    length = round(windows.window_seconds * signal.sfreq)
    plan, dropped = plan_windows(signal.data.shape[1], signal.sfreq, windows)
    # Prefix sums of the source-rate bad-sample mask: "any bad sample in [a, b)" in O(1) per window.
    bad_prefix = np.concatenate([[0], np.cumsum(signal.bad, dtype=np.int64)])
    ratio = signal.source_sfreq / signal.sfreq
    flat_length = round(artifacts.flat_seconds * signal.sfreq)

    kept_rows: list[np.ndarray] = []
    kept_meta: list[tuple[int, int, int, int]] = []
    reasons = dict.fromkeys(REJECTION_REASONS, 0)
    by_channel: Counter[tuple[str, str]] = Counter()
    bad_channels = "+".join(signal.bad_channels)
    padded = 0
    for parent_id, sub_id, start, stop in plan:
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
        notes=signal.notes,
        rejections=tuple(
            (reason, channel, count)
            for (reason, channel), count in sorted(by_channel.items(), key=lambda item: (-item[1], item[0]))
        ),
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
