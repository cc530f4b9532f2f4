"""One home for a corpus's window length, sampling rate and channels: the files.

``prepare`` records them in every file it writes (Parquet key-value metadata ``eeg.corpus``:
``window_length`` in samples, ``sampling_rate`` in Hz, ``window_times`` and ``channels``), and pretraining
and fine-tuning read them from there (:func:`read_corpus_record`) unless the user sets them. Files without
the record (other writers, the seed's pipeline) are described by what their data shows: the window length
of their cells, the rate implied by window times in seconds (none for window times in samples), their
channel columns.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
import pyarrow.compute as pc

from eeg_io.arrow_numpy import to_numpy
from eeg_io.layout import channel_columns, find_parquet_files, open_parquet
from eeg_io.timing import implied_sampling_rate

__all__ = ["CORPUS_KEY", "CorpusRecord", "corpus_metadata", "read_corpus_record"]

#: The Parquet key-value metadata key of the record.
CORPUS_KEY = "eeg.corpus"


@attrs.frozen(kw_only=True)
class CorpusRecord:
    """What a corpus's files say about their windows. ``recorded``: written by the file's writer (a
    disagreement with the user's setting is then an error); otherwise inferred from the data (a default
    only). ``file``: the file it was read from."""

    window_length: int | None
    sampling_rate: float | None
    channels: tuple[str, ...]
    window_times: str
    file: str
    recorded: bool
    label_level: str | None = None  # a labelled file's: ``window`` when its labels are per window (trial)


def corpus_metadata(
    window_length: int, sampling_rate: float, channels: list[str], label_level: str | None = None
) -> dict[str, Any]:
    """The ``{CORPUS_KEY: record}`` metadata a writer adds to a file of windows timed in seconds (and, for
    a labelled file, whether its labels are per ``participant`` or per ``window``)."""
    record: dict[str, Any] = {
        "window_length": int(window_length),
        "sampling_rate": float(sampling_rate),
        "window_times": "seconds",
        "channels": [str(c).upper() for c in channels],
    }
    if label_level is not None:
        record["label_level"] = label_level
    return {CORPUS_KEY: record}


def read_corpus_record(path: str | os.PathLike) -> CorpusRecord | None:
    """The record of the first Parquet file under ``path`` (a folder, searched recursively, or one file):
    as written, or inferred from its data; None when there is no readable file."""
    try:
        file = next(iter(find_parquet_files(path)), None) if Path(path).is_dir() else Path(path)
        if file is None:
            return None
        with open_parquet(file) as parquet_file:
            metadata = parquet_file.schema_arrow.metadata or {}
            columns = channel_columns(parquet_file.schema_arrow, file)
            stored = metadata.get(CORPUS_KEY.encode())
            if stored is not None:
                record = json.loads(stored)
                return CorpusRecord(
                    window_length=int(record["window_length"]),
                    sampling_rate=float(record["sampling_rate"]),
                    channels=tuple(record.get("channels") or columns),
                    window_times=str(record.get("window_times", "auto")),
                    file=str(file),
                    recorded=True,
                    label_level=record.get("label_level"),
                )
            first = next(iter(columns.values()), None)
            batch = next(parquet_file.iter_batches(batch_size=1, columns=[first]), None) if first else None
        rate = implied_sampling_rate(file)
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: the data checks say why, later
        return None
    lengths = to_numpy(pc.list_value_length(batch.column(0))) if batch is not None and batch.num_rows else []
    return CorpusRecord(
        window_length=int(lengths[0]) if len(lengths) and lengths[0] > 0 else None,
        sampling_rate=rate,
        channels=tuple(columns),
        window_times="auto",
        file=str(file),
        recorded=False,
    )
