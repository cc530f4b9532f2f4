"""Shared fixtures: a tiny synthetic corpus and a writer for hand-made Parquet files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eeg_io import write_synthetic_corpus

# Tiny on purpose (2-core CI): 4 participants x 2 runs, 5 channels, 6 windows of 32 samples.
TINY = {
    "participants": 4,
    "runs": 2,
    "channels": ["Fp1", "Fz", "Cz", "O1", "VEOG"],
    "windows_per_run": 6,
    "window_length": 32,
    "sfreq": 64.0,
    "seed": 3,
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Root folder of the tiny synthetic corpus (read-only: copy it before changing files)."""
    root = tmp_path_factory.mktemp("corpus")
    write_synthetic_corpus(root, **TINY)
    return root


def window_column(windows, type_=None) -> pa.Array:
    """A list column from a list of per-window sample lists (None = null window)."""
    return pa.array(windows, type=type_ or pa.list_(pa.float32()))


def write_file(
    path: Path, channels: dict, *, participant="p1", run="1", num_rows=None, order=None, **extra
) -> Path:
    """Write a pretraining-layout file with the given channel columns (name -> list column or windows).

    Metadata columns are filled in (windows in order 0..N-1 unless ``order`` permutes the rows);
    ``extra`` adds or replaces columns (value None drops one; ``participant=None``/``run=None`` drop those).
    """
    columns = {
        name: (col if isinstance(col, pa.Array) else window_column(col)) for name, col in channels.items()
    }
    if num_rows is None:
        num_rows = len(next(iter(columns.values()))) if columns else 0
    ids = np.arange(num_rows) if order is None else np.asarray(order)
    metadata = {
        "participant": participant
        if isinstance(participant, pa.Array)
        else pa.array([participant] * num_rows),
        "run": run if isinstance(run, pa.Array) else pa.array([run] * num_rows),
        "parent_window_id": pa.array(ids // 2, pa.int64()),
        "sub_window_id": pa.array(ids % 2, pa.int64()),
        "window_start": pa.array(ids * 1.0),
        "window_end": pa.array(ids * 1.0 + 1.0),
    }
    if participant is None:
        del metadata["participant"]
    if run is None:
        del metadata["run"]
    table_columns = {**metadata, **columns}
    for name, value in extra.items():
        if value is None:
            table_columns.pop(name)
        else:
            table_columns[name] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_arrays(list(table_columns.values()), names=list(table_columns)), path)
    return path
