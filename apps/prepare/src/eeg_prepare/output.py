"""Arrow tables in the layouts eeg-io reads, atomic Parquet writes, and the up-to-date test.

Pretraining file (one per participant-run): ``participant`` (string), ``run`` (string),
``parent_window_id``, ``sub_window_id`` (int64), ``window_start``, ``window_end`` (float64, seconds
from the recording start), then one ``list<float32>`` column per channel (µV, one window per row).

Primary file: the participant id column (default ``Participant``; it doubles as the ``participant``
metadata column, which eeg-io finds case-insensitively; under another name a ``participant`` column
is added), the label column (int64, default ``Remission``), the other metadata columns, the channels.

The Parquet key-value metadata records how a file was made: ``eeg_prepare.settings`` (JSON of every
setting that changes the numbers), ``eeg_prepare.sources`` (input files), ``eeg_prepare.counts``
(window counts per recording). A re-run compares them to decide whether the file is up to date.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eeg_io import layout
from eeg_prepare.windowing import Windows

SETTINGS_KEY = "eeg_prepare.settings"
SOURCES_KEY = "eeg_prepare.sources"
COUNTS_KEY = "eeg_prepare.counts"
VERSION_KEY = "eeg_prepare.version"


def _version() -> str:
    try:
        return version("prepare")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def windows_table(windows: Windows, participant: str, run: str) -> pa.Table:
    """The pretraining-layout table of one recording's kept windows (K rows)."""
    return layout.windows_table(
        {name: windows.data[:, c, :] for c, name in enumerate(windows.channels)},
        participant=participant,
        run=run,
        parent_window_id=windows.parent_ids,
        sub_window_id=windows.sub_ids,
        window_start=windows.starts,
        window_end=windows.ends,
    )


def primary_table(
    windows: Windows,
    participant: str,
    run: str,
    label: int | np.ndarray,
    participant_column: str,
    label_column: str,
) -> pa.Table:
    """The primary-layout table of one recording: ids and label (one, or one per window) first, then the
    pretraining columns."""
    return layout.primary_table(
        windows_table(windows, participant, run),
        label,
        participant_column=participant_column,
        label_column=label_column,
    )


def write_parquet(table: pa.Table, path: str | os.PathLike, metadata: Mapping[str, Any]) -> None:
    """Write ``table`` to ``path`` atomically (temporary file + rename), with ``metadata`` (JSON-encoded
    values) in the Parquet key-value metadata. A reader never sees a half-written file."""
    layout.write_table(table, path, {**metadata, VERSION_KEY: _version()})


def read_metadata(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``eeg_prepare.*`` metadata of a Parquet file we wrote; None when absent or unreadable."""
    try:
        raw = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    result: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode(errors="replace")
        if name.startswith("eeg_prepare."):
            try:
                result[name] = json.loads(value)
            except ValueError:
                return None
    return result if SETTINGS_KEY in result else None


def canonical(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), for comparisons."""
    return json.loads(json.dumps(value, sort_keys=True))


def is_up_to_date(
    output: Path, newest_input: float, settings: Mapping[str, Any], sources: Sequence[str]
) -> tuple[bool, dict[str, Any] | None]:
    """Whether ``output`` exists, is newer than every input (``newest_input``, seconds since the epoch)
    and was made from the same ``sources`` with the same ``settings``; with its metadata when readable."""
    if not output.is_file():
        return False, None
    metadata = read_metadata(output)
    if metadata is None:
        return False, None
    fresh = (
        output.stat().st_mtime > newest_input
        and metadata.get(SETTINGS_KEY) == canonical(settings)
        and metadata.get(SOURCES_KEY) == canonical(list(sources))
    )
    return fresh, metadata
