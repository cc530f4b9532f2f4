"""Per-recording work (read, process, window; write for pretraining) and running it over many
recordings, serially or in worker processes, with a progress bar.

The task functions are module-level so that worker processes (``--jobs N``) can import them; each
returns a :class:`RecordingResult` (and, for the primary dataset, the recording's table) instead of
raising for problems that only concern its recording, so one bad file does not stop the others.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pyarrow as pa

from eeg_config.progress import progress as show_progress
from eeg_io import corpus_metadata
from eeg_prepare.channel_types import montage_for, unplaced
from eeg_prepare.config import PrepareConfig, PrimaryConfig, command_section, settings_of
from eeg_prepare.discovery import RecordingSource
from eeg_prepare.errors import MissingChannelError, NoEEGChannelsError, PrepareError, RecordingError
from eeg_prepare.output import (
    COUNTS_KEY,
    SETTINGS_KEY,
    SOURCES_KEY,
    primary_table,
    windows_table,
    write_parquet,
)
from eeg_prepare.readers import read_recording
from eeg_prepare.rejections import nothing_kept
from eeg_prepare.report import RecordingResult, counts_to_dict
from eeg_prepare.signal import process_signal
from eeg_prepare.windowing import Windows, cut_windows

T = TypeVar("T")
# Imported once by the worker processes' server; modules that are not installed are skipped.
# pandas: pyarrow imports it (when installed) on the first numpy -> Arrow conversion.
WORKER_PRELOAD = ["eeg_prepare.tasks", "mne.io", "mne.filter", "scipy.signal", "scipy.ndimage", "pandas"]


def process_recording(
    source: RecordingSource, config: PrepareConfig, command: str
) -> tuple[RecordingResult, Windows | None]:
    """Read, process and window one recording.

    Returns:
        ``(result, windows)`` on success (``result`` holds the channels dropped as not EEG and those the
        montage cannot place), ``(result, None)`` when the recording is skipped or failed.
    """
    section = command_section(config, command)
    labels = section.labels if isinstance(section, PrimaryConfig) and section.labels.from_events else None
    try:
        recording = read_recording(
            source,
            section.channels,
            config.signal.reference_channels,
            section.input.csv,
            csv_key=f"{command}.input.csv",
            cnt_config=section.input.cnt,
            events=labels is not None,
        )
    except MissingChannelError as exc:
        reason = str(exc).removeprefix(f"{source.path}: ")
        if section.channels.on_missing == "error" and not isinstance(exc, NoEEGChannelsError):
            reason += f"; set {command}.channels.on_missing: skip_recording to skip such recordings instead"
            return RecordingResult(source=source, status="failed", reason=reason, fatal=True), None
        return RecordingResult(source=source, status="skipped", reason=reason), None
    except RecordingError as exc:
        reason = str(exc).removeprefix(f"{source.path}: ")
        return RecordingResult(source=source, status="failed", reason=reason), None
    channels = section.channels
    montage = montage_for(channels.montage, channels.asa_path, f"{command}.channels")
    result = RecordingResult(
        source=source,
        status="written",
        dropped_channels=recording.dropped,
        unplaced_channels=unplaced(montage, recording.channels),
    )
    signal = process_signal(recording, config.signal)
    return result, cut_windows(signal, config.windows, config.artifacts, recording.events, labels)


def pretraining_task(source: RecordingSource, config: PrepareConfig, output: Path) -> RecordingResult:
    """Process one recording and write its pretraining file to ``output`` (when a window is kept)."""
    result, windows = process_recording(source, config, "pretraining")
    if windows is None:
        return result
    result = attrs.evolve(result, counts=windows.counts, notes=windows.notes, rejections=windows.rejections)
    if windows.counts.kept == 0:
        # A file from earlier settings would now be wrong: remove it rather than leave it looking current.
        output.unlink(missing_ok=True)
        return attrs.evolve(result, status="skipped", reason=nothing_kept(windows, config, "pretraining"))
    table = windows_table(windows, source.participant, source.run)
    metadata = {
        SETTINGS_KEY: settings_of(config, "pretraining"),
        SOURCES_KEY: [str(source.path)],
        COUNTS_KEY: {str(source.path): counts_to_dict(windows.counts, windows.rejections)},
        **corpus_metadata(windows.data.shape[-1], config.signal.sampling_rate, list(windows.channels)),
    }
    write_parquet(table, output, metadata)
    return attrs.evolve(result, output=str(output))


def primary_task(
    source: RecordingSource, config: PrepareConfig, participant: str, label: int | None
) -> tuple[RecordingResult, pa.Table | None]:
    """Process one labelled recording into its rows of the primary table (None when nothing is kept).
    ``label`` is None when the labels come from the recording's events (one per window)."""
    result, windows = process_recording(source, config, "primary")
    result = attrs.evolve(result, label=label)
    if windows is None:
        return result, None
    result = attrs.evolve(result, counts=windows.counts, notes=windows.notes, rejections=windows.rejections)
    if windows.counts.kept == 0:
        return attrs.evolve(result, status="skipped", reason=nothing_kept(windows, config, "primary")), None
    section = config.primary
    labels = windows.labels if label is None else label
    table = primary_table(
        windows, participant, source.run, labels, section.participant_column, section.label_column
    )
    return attrs.evolve(result, status="included"), table


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_tasks(
    function: Callable[..., T],
    arguments: Sequence[tuple],
    *,
    jobs: int,
    strict: bool,
    description: str,
    result_of: Callable[[T], RecordingResult] = lambda value: value,
) -> list[T]:
    """Call ``function(*args)`` for each of ``arguments``; results in the order of ``arguments``.

    With ``jobs > 1`` the calls run in that many worker processes. A result that is ``fatal``, or ``failed`` under ``strict``, stops the
    run: the remaining calls are cancelled and :class:`PrepareError` carries its reason.
    """
    # a bar on a terminal; in a log file or under CI, a plain line on stderr now and then
    progress = show_progress(total=len(arguments), description=description, unit="recording", log=_say)
    results: list[Any] = [None] * len(arguments)

    def collect(index: int, value: T) -> None:
        results[index] = value
        progress.update(1)
        result = result_of(value)
        if result.fatal or (strict and result.status == "failed"):
            where = "" if result.fatal else "(--strict) "
            raise PrepareError(f"{where}{result.source.path}: {result.reason}")

    try:
        if jobs <= 1 or len(arguments) <= 1:
            for index, args in enumerate(arguments):
                collect(index, function(*args))
            return results
        # forkserver: workers fork from a clean server process (no threads of this one inherited,
        # unlike fork) that has imported the heavy modules once (unlike spawn, which re-imports per worker).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(WORKER_PRELOAD)
        with ProcessPoolExecutor(max_workers=min(jobs, len(arguments)), mp_context=context) as pool:
            pending: dict[Future, int] = {pool.submit(function, *args): i for i, args in enumerate(arguments)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        collect(pending.pop(future), future.result())
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        return results
    finally:
        progress.close()
