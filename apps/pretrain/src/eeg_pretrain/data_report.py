"""The data checks of ``python -m eeg_io validate`` (duplicates, flat signals, window timing, channel
scale), run once when a run starts, on the files and channels it trains on; duplicates on both sides of
the train/validation split are named, because they leak."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from eeg_config.progress import progress
from eeg_io import DataConfig, ResultCache, SequenceItem
from eeg_io.data_checks import DataReport, check_data, describe

log = logging.getLogger("eeg_pretrain")
SHOWN = 5  # per-file warnings written to the log; validate lists them all
# Start-up stages that read the corpus (data checks, band statistics): in a log file, a progress line
# after this many seconds of work (a bar at once on a terminal).
STARTUP_PROGRESS_SECONDS = 10.0


def log_data_checks(
    data_config: DataConfig,
    train_items: Sequence[SequenceItem],
    val_items: Sequence[SequenceItem],
    quiet: bool = True,
    cache: ResultCache | None = None,
) -> DataReport:
    """Check the files behind ``train_items`` and ``val_items`` and log the counts once (with progress
    through the files unless ``quiet``); ``cache`` keeps each file's findings between runs
    (:func:`eeg_io.data_checks.check_data`)."""
    channels: dict[str, set[str]] = {}
    for item in (*train_items, *val_items):
        channels.setdefault(item.file, set()).add(item.channel)
    rate = float(data_config.sampling_rate)
    files = progress(
        sorted(channels),
        description="data checks",
        unit="file",
        log=log,
        disable=quiet,
        every=STARTUP_PROGRESS_SECONDS,
    )
    report = check_data(
        files, sampling_rate=rate, channels=channels, window_times=data_config.window_times, cache=cache
    )
    files.close()
    log.info("data checks on %d file(s) at %g Hz: %s", len(channels), rate, report.summary())
    for line in describe(report, limit=SHOWN):
        log.warning("%s", line)
    if report.warnings:
        log.warning(
            "all data warnings: %s",
            "; ".join(
                f"python -m eeg_io validate {corpus.path} --sampling-rate {rate:g} --window-times "
                f"{data_config.window_times}"
                for corpus in data_config.corpus_list
            ),
        )
    for line in report.leaks({i.file for i in train_items}, {i.file for i in val_items}):
        log.warning("train/validation leak: %s", line)
    return report
