"""``finetune embed``: the encoder's embeddings of a primary dataset, as Parquet, for use in other tools.

One row per participant × channel (``embedding`` = the mean of the encoder's token features over the
sequence's windows), or with ``per_window`` one row per participant × channel × window (each window's
token feature, in its sequence's context). Any checkpoint with an encoder works: a pretraining one or a
fine-tuned one (its fine-tuned encoder).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from eeg_config import atomic_write_bytes
from eeg_eval import groups_of
from eeg_finetune.data import check_window_length, file_channels, primary_file
from eeg_finetune.embeddings import encode_participant
from eeg_finetune.errors import FinetuneError
from eeg_finetune.pretrained import pretraining_normalization
from eeg_io import read_primary_dataset
from eeg_io.layout import find_column, open_parquet
from eeg_ssm import load_checkpoint, load_pretrained

__all__ = ["embed_dataset"]

log = logging.getLogger("eeg_finetune")


def embed_dataset(
    checkpoint: str | os.PathLike[str],
    data_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    channels: Sequence[str] | None = None,
    participant_column: str = "Participant",
    label_column: str = "Remission",
    group_column: str | None = None,
    per_window: bool = False,
    normalization: str | None = None,
    scale: float = 1.0,
    nan_policy: str = "error",
    device: str = "cpu",
    backend: str | None = None,
) -> pa.Table:
    """Encode ``data_path`` with the encoder of ``checkpoint`` and write the embeddings to ``out`` (atomically).

    Columns: ``participant`` (string), ``group`` (string: ``group_column``'s value, else the participant),
    ``label`` (when the file has ``label_column``: the window's label with ``per_window``, else the
    sequence's where it is constant, null where it varies), ``channel``
    (upper-case), ``window`` (int32, with ``per_window``: the window's position in the participant's
    time-ordered sequence), ``num_windows`` (int32, windows in the sequence), ``embedding``
    (``fixed_size_list<float32>[d_model]``). Rows are sorted by participant, then channel (in the order
    asked), then window. The same inputs give identical files (eval mode, no randomness).

    Returns:
        The table written.

    Raises:
        FinetuneError: missing file or participant column, windows of another length than the encoder's.
        EEGDataError, CheckpointError: from eeg-io / eeg-ssm.
    """
    import torch

    data_path, out = Path(data_path), Path(out)
    encoder = load_pretrained(checkpoint, map_location="cpu", backend=backend)
    if normalization is None:  # the encoder's own pretraining normalization
        normalization, scale = pretraining_normalization(load_checkpoint(checkpoint))
    data_path = primary_file(data_path, "--data-path")
    names = [c.upper() for c in channels] if channels else file_channels(data_path)
    with open_parquet(data_path) as parquet_file:
        schema = parquet_file.schema_arrow
        if find_column(schema, participant_column) is None:
            raise FinetuneError(
                f"{data_path}: no participant column {participant_column!r} (columns: {', '.join(schema.names)})"
            )
        has_label = find_column(schema, label_column) is not None
        if group_column is not None and find_column(schema, group_column) is None:
            raise FinetuneError(
                f"{data_path}: no group column {group_column!r} (columns: {', '.join(schema.names)})"
            )
    if not has_label:
        log.info("%s has no label column %r: embeddings are written without labels", data_path, label_column)
    width = encoder.config.window_length
    check_window_length(data_path, names, width, str(checkpoint))
    dataset = read_primary_dataset(
        data_path,
        names,
        width,
        participant_column,
        # Without labels, the participant id stands in for the label: it is constant per participant.
        label_column if has_label else participant_column,
        normalization=normalization,
        scale=scale,
        nan_policy=nan_policy,
        strict_length=True,
        window_labels=True,  # labels may vary per window (trials); each row gets its window's
        group_column=group_column,
    )
    torch_device = torch.device(device)
    encoder.to(torch_device)
    encoder.spatial(list(dataset.channels))  # unknown electrodes fail before any work
    columns: dict[str, list] = {
        "participant": [],
        "group": [],
        "label": [],
        "channel": [],
        "window": [],
        "num_windows": [],
    }
    vectors = []
    for record in dataset:
        features = encode_participant(
            encoder, record.windows, list(dataset.channels), torch_device
        )  # (C, L, d)
        length = features.shape[1]
        for c, channel in enumerate(dataset.channels):
            rows = features[c] if per_window else features[c].mean(axis=0, keepdims=True)  # (L or 1, d)
            vectors.append(rows)
            count = len(rows)
            columns["participant"] += [record.participant] * count
            columns["group"] += (
                list(groups_of([record.participant], None if group_column is None else [record.group]))
                * count
            )
            if per_window:
                columns["label"] += record.window_labels.tolist()
            else:  # the sequence's label where it is constant, else null
                distinct = set(record.window_labels.tolist())
                columns["label"] += [record.label if len(distinct) == 1 else None] * count
            columns["channel"] += [channel] * count
            columns["window"] += list(range(count))
            columns["num_windows"] += [length] * count
    matrix = np.concatenate(vectors).astype(np.float32)  # (rows, d)
    arrays = {
        "participant": pa.array(columns["participant"], pa.string()),
        "group": pa.array(columns["group"], pa.string()),
        "label": pa.array(columns["label"]),
        "channel": pa.array(columns["channel"], pa.string()),
        "window": pa.array(columns["window"], pa.int32()),
        "num_windows": pa.array(columns["num_windows"], pa.int32()),
        "embedding": pa.FixedSizeListArray.from_arrays(
            pa.array(matrix.ravel(), pa.float32()), matrix.shape[1]
        ),
    }
    if not has_label:
        del arrays["label"]
    if not per_window:
        del arrays["window"]
    table = pa.table(arrays).replace_schema_metadata(
        {
            "eeg_finetune.checkpoint": str(Path(checkpoint).resolve()),
            "eeg_finetune.d_model": str(encoder.config.d_model),
            "eeg_finetune.pooling": "per window" if per_window else "mean over windows",
        }
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(out, sink.getvalue().to_pybytes())
    log.info("wrote %d embeddings of size %d to %s", table.num_rows, matrix.shape[1], out)
    return table
