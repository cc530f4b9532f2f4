"""The labelled dataset for fine-tuning: participants, their windows, their classes, and samples.

``load_labelled`` reads the primary dataset through :func:`eeg_io.read_primary_dataset` and adds what a
classifier needs: a check that the windows have the checkpoint's length (with a message naming both),
integer class labels mapped to indices ``0..K-1``, and a clear error for a single class.
``make_samples`` turns participants into samples (one per participant, or one per window group).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from eeg_finetune.errors import FinetuneError
from eeg_io import EEGDataError, read_primary_dataset
from eeg_io.layout import channel_columns, find_column, open_parquet

__all__ = [
    "LabelledData",
    "Sample",
    "check_window_length",
    "collate_windows",
    "file_channels",
    "load_labelled",
    "make_samples",
]


@attrs.frozen(kw_only=True)
class LabelledData:
    """Participants sorted by id, with ``windows[p]`` float32 ``[C, L_p, W]`` (normalised) and
    ``targets[p]`` the class index; class index ``k`` stands for the label value ``classes[k]``."""

    path: Path
    channels: tuple[str, ...]
    participants: tuple[str, ...]
    windows: tuple[np.ndarray, ...] = attrs.field(repr=False)
    targets: np.ndarray = attrs.field(repr=False)
    classes: tuple[int, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.participants)


@attrs.frozen
class Sample:
    """Windows ``start:stop`` (all channels) of participant ``participant`` (an index into the data)."""

    participant: int
    start: int
    stop: int


def file_channels(path: str | os.PathLike[str]) -> list[str]:
    """Upper-cased channel names of a Parquet file, in file column order."""
    with open_parquet(path) as parquet_file:
        return list(channel_columns(parquet_file.schema_arrow, path))


def check_window_length(path: Path, channels: Sequence[str], window_length: int, checkpoint: str) -> None:
    """Compare the first window of the first channel with the checkpoint's length, before reading it all."""
    if not channels:
        raise EEGDataError(f"{path}: no channel columns (list-typed columns) found")
    with open_parquet(path) as parquet_file:
        schema = parquet_file.schema_arrow
        column = channel_columns(schema, path).get(channels[0].upper())
        if column is None:
            return  # read_primary_dataset names the missing channel
        for batch in parquet_file.iter_batches(batch_size=16, columns=[column], use_threads=False):
            for cell in batch.column(0).to_pylist():
                if cell is None:
                    continue
                if len(cell) != window_length:
                    raise FinetuneError(
                        f"{path}: windows have {len(cell)} samples (channel {channels[0].upper()}), but the "
                        f"checkpoint {checkpoint} was pretrained on window_length {window_length}; use data "
                        f"cut into windows of {window_length} samples or a checkpoint pretrained on "
                        f"{len(cell)}-sample windows"
                    )
                return


def _class_values(labels: np.ndarray, path: Path, column: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """Integer labels -> (class index per participant, sorted class values)."""
    values = []
    for label in labels.tolist():
        if isinstance(label, bool):
            values.append(int(label))
        elif isinstance(label, int):
            values.append(label)
        elif isinstance(label, float) and label.is_integer():
            values.append(int(label))
        else:
            raise FinetuneError(
                f"{path}: label column {column!r} must hold integer classes (e.g. 0/1), found {label!r}"
            )
    classes = tuple(sorted(set(values)))
    if len(classes) < 2:
        raise FinetuneError(
            f"{path}: label column {column!r} has a single class ({classes[0]!r}) across "
            f"{len(values)} participant(s); classification needs at least two classes"
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[x] for x in values], dtype=np.int64), classes


def load_labelled(
    path: str | os.PathLike[str],
    *,
    channels: Sequence[str] | None,
    window_length: int,
    participant_column: str = "Participant",
    label_column: str = "Remission",
    normalization: str = "sequence",
    scale: float = 1.0,
    nan_policy: str = "error",
    checkpoint: str = "the checkpoint",
) -> LabelledData:
    """Read the primary dataset for classification.

    Args:
        channels: names (any case) in the order wanted; ``None`` = every channel column of the file.
        window_length: the encoder's window length; every window must have exactly this many samples.
        checkpoint: named in the window-length message.

    Raises:
        FinetuneError: missing file, windows of another length, non-integer or single-class labels.
        EEGDataError: from eeg-io (missing column or channel, two labels for one participant, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FinetuneError(f"data.data_path: primary dataset not found: {path}")
    names = list(channels) if channels is not None else file_channels(path)
    if not names:
        raise EEGDataError(f"{path}: no channel columns (list-typed columns) found")
    with open_parquet(path) as parquet_file:
        for what, column in (("participant", participant_column), ("label", label_column)):
            if find_column(parquet_file.schema_arrow, column) is None:
                raise FinetuneError(
                    f"{path}: no {what} column {column!r} (columns: {', '.join(parquet_file.schema_arrow.names)}); "
                    f"set data.{what}_column"
                )
    check_window_length(path, names, window_length, checkpoint)
    dataset = read_primary_dataset(
        path,
        names,
        window_length,
        participant_column,
        label_column,
        normalization=normalization,
        scale=scale,
        nan_policy=nan_policy,
        strict_length=True,
    )
    targets, classes = _class_values(dataset.labels, path, label_column)
    return LabelledData(
        path=path,
        channels=dataset.channels,
        participants=tuple(dataset.participants),
        windows=tuple(record.windows for record in dataset.records),
        targets=targets,
        classes=classes,
    )


def make_samples(
    data: LabelledData, participants: Sequence[int], mode: str, window_group: int
) -> list[Sample]:
    """Samples of ``participants`` (indices), in that order.

    ``mode="participant"``: one sample with all of a participant's windows. ``mode="window"``: consecutive
    groups of ``window_group`` windows (the last group may be shorter).
    """
    samples = []
    for p in participants:
        length = data.windows[p].shape[1]
        if mode == "participant":
            samples.append(Sample(p, 0, length))
        else:
            samples += [Sample(p, s, min(s + window_group, length)) for s in range(0, length, window_group)]
    return samples


def collate_windows(data: LabelledData, samples: Sequence[Sample]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded windows float32 ``[B, C, L_max, W]`` and valid lengths int64 ``[B]`` (padding is zeros)."""
    lengths = torch.tensor([s.stop - s.start for s in samples], dtype=torch.int64)
    channels, _, width = data.windows[samples[0].participant].shape
    out = torch.zeros(len(samples), channels, int(lengths.max()), width)
    for b, sample in enumerate(samples):
        out[b, :, : sample.stop - sample.start] = torch.from_numpy(
            data.windows[sample.participant][:, sample.start : sample.stop]
        )
    return out, lengths
