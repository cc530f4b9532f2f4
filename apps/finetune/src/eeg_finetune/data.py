"""The labelled dataset for fine-tuning: sequences of windows, their labels, groups, and samples.

``load_labelled`` reads the primary dataset through :func:`eeg_io.read_primary_dataset` and adds what a
classifier needs: a check that the windows have the checkpoint's length (with a message naming both),
integer class labels (per participant or per window) mapped to indices ``0..K-1``, groups for the
splits, and clear errors for a single class or labels that vary where they must not.
``make_samples`` turns sequences into samples (one per participant, per window group, or per window).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import torch

from eeg_eval import groups_of
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
    "sample_target",
    "unit_of",
]


@attrs.frozen(kw_only=True)
class LabelledData:
    """Sequences of windows with their labels and groups.

    A sequence is one participant (``label_level: participant``: all of its windows, in time order) or
    one participant-run (``label_level: window``, when the file has a ``run`` column; else one
    participant). ``windows[s]`` is float32 ``[C, L_s, W]`` (normalised); ``window_targets[s]`` the class
    index of each window ``[L_s]`` (constant for participant labels); class index ``k`` stands for the
    label value ``classes[k]``. ``groups[s]`` is the sequence's group (``group_column``'s value, by
    default the participant): splits keep groups whole.
    """

    path: Path
    channels: tuple[str, ...]
    label_level: str
    participants: tuple[str, ...]
    runs: tuple[str | None, ...]
    groups: tuple[str, ...]
    group_column: str
    windows: tuple[np.ndarray, ...] = attrs.field(repr=False)
    window_targets: tuple[np.ndarray, ...] = attrs.field(repr=False)
    classes: tuple[int, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def targets(self) -> np.ndarray:
        """int64 ``[S]``: each sequence's class (its first window's, for window labels)."""
        return np.asarray([int(t[0]) for t in self.window_targets], dtype=np.int64)

    @property
    def group_ids(self) -> tuple[str, ...]:
        """The distinct groups, sorted."""
        return tuple(sorted(set(self.groups)))

    def sequence_group(self) -> np.ndarray:
        """int64 ``[S]``: the index into :attr:`group_ids` of each sequence's group."""
        index = {g: i for i, g in enumerate(self.group_ids)}
        return np.asarray([index[g] for g in self.groups], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.participants)


@attrs.frozen
class Sample:
    """Windows ``start:stop`` (all channels) of sequence ``sequence`` (an index into the data). With
    ``token`` set (window labels in context) the encoder sees ``start:stop`` and the sample is the
    window ``token`` of the sequence alone."""

    sequence: int
    start: int
    stop: int
    token: int | None = None

    @property
    def span(self) -> tuple[int, int, int]:
        """What the encoder reads: (sequence, start, stop)."""
        return (self.sequence, self.start, self.stop)

    @property
    def window(self) -> int:
        """The labelled window (window labels): ``token``, else ``start``."""
        return self.start if self.token is None else self.token


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
    """Integer labels -> (class index per label, sorted class values)."""
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
            f"{len(values)} label(s); classification needs at least two classes"
        )
    index = {c: i for i, c in enumerate(classes)}
    return np.asarray([index[x] for x in values], dtype=np.int64), classes


def _check_columns(path: Path, participant_column: str, label_column: str, group_column: str | None) -> None:
    with open_parquet(path) as parquet_file:
        schema = parquet_file.schema_arrow
        for what, column in (("participant", participant_column), ("label", label_column)):
            if find_column(schema, column) is None:
                raise FinetuneError(
                    f"{path}: no {what} column {column!r} (columns: {', '.join(schema.names)}); "
                    f"set data.{what}_column"
                )
        if group_column is not None and find_column(schema, group_column) is None:
            raise FinetuneError(
                f"{path}: no group column {group_column!r} (data.group_column; columns: {', '.join(schema.names)})"
            )


def _check_participant_labels(path: Path, participant_column: str, label_column: str) -> None:
    """Participant labels must be constant per participant; suggest window labels otherwise."""
    with open_parquet(path) as parquet_file:
        schema = parquet_file.schema_arrow
        names = [find_column(schema, participant_column), find_column(schema, label_column)]
        table = parquet_file.read(columns=names, use_threads=False)
    participants, labels = (table.column(n).to_pylist() for n in names)
    seen: dict[object, set] = {}
    for participant, label in zip(participants, labels, strict=True):
        seen.setdefault(participant, set()).add(label)
    varying = sorted((str(p) for p, v in seen.items() if len(v) > 1))
    if varying:
        values = sorted(seen[next(p for p in seen if str(p) == varying[0])], key=repr)
        raise FinetuneError(
            f"{path}: label column {label_column!r} varies within {len(varying)} participant(s) (e.g. "
            f"{varying[0]}: {', '.join(map(repr, values[:5]))}) while data.label_level is participant; "
            "for labels per trial, epoch or window set data.label_level: window"
        )


def primary_file(path: str | os.PathLike[str], key: str = "data.data_path") -> Path:
    """The primary dataset ``path`` names: the file itself, or for a folder (``data/processed/primary``,
    where prepare writes it) the one Parquet file directly in it.

    Raises:
        FinetuneError: nothing there, or a folder holding no Parquet file or several (all named).
    """
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.parquet"))
        if len(found) == 1:
            return found[0]
        if not found:
            raise FinetuneError(f"{key}: no primary dataset (.parquet file) in the folder {path}")
        raise FinetuneError(
            f"{key}: the folder {path} holds {len(found)} Parquet files ({', '.join(f.name for f in found)}); "
            "give the file"
        )
    if not path.is_file():
        raise FinetuneError(f"{key}: primary dataset not found: {path}")
    return path


def load_labelled(
    path: str | os.PathLike[str],
    *,
    channels: Sequence[str] | None,
    window_length: int,
    participant_column: str = "Participant",
    label_column: str = "Remission",
    label_level: str = "participant",
    group_column: str | None = None,
    normalization: str = "sequence",
    scale: float = 1.0,
    nan_policy: str = "error",
    checkpoint: str = "the checkpoint",
) -> LabelledData:
    """Read the primary dataset for classification.

    Args:
        channels: names (any case) in the order wanted; ``None`` = every channel column of the file.
        window_length: the encoder's window length; every window must have exactly this many samples.
        label_level: ``participant`` (one label per participant) or ``window`` (labels vary per row; one
            sequence per participant-run when the file has a ``run`` column).
        group_column: the column whose value splits keep together; ``None`` = the participant.
        checkpoint: named in the window-length message.

    Raises:
        FinetuneError: missing file or column, windows of another length, non-integer or single-class
            labels, labels that vary within a participant while ``label_level`` is ``participant``.
        EEGDataError: from eeg-io (missing channel, a group value that varies within a sequence, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FinetuneError(f"data.data_path: primary dataset not found: {path}")
    names = list(channels) if channels is not None else file_channels(path)
    if not names:
        raise EEGDataError(f"{path}: no channel columns (list-typed columns) found")
    _check_columns(path, participant_column, label_column, group_column)
    if label_level == "participant":
        _check_participant_labels(path, participant_column, label_column)
    check_window_length(path, names, window_length, checkpoint)
    with open_parquet(path) as parquet_file:
        has_run = find_column(parquet_file.schema_arrow, "run") is not None
    by_window = label_level == "window"
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
        by_run=by_window and has_run,
        window_labels=True,
        group_column=group_column,
    )
    flat = np.concatenate([record.window_labels for record in dataset.records])
    targets, classes = _class_values(flat, path, label_column)
    bounds = np.cumsum([0, *(len(record.window_labels) for record in dataset.records)])
    return LabelledData(
        path=path,
        channels=dataset.channels,
        label_level=label_level,
        participants=tuple(record.participant for record in dataset.records),
        runs=tuple(record.run for record in dataset.records),
        groups=groups_of(
            [record.participant for record in dataset.records],
            None if group_column is None else [record.group for record in dataset.records],
        ),
        group_column=participant_column if group_column is None else group_column,
        windows=tuple(record.windows for record in dataset.records),
        window_targets=tuple(targets[a:b] for a, b in itertools.pairwise(bounds)),
        classes=classes,
    )


def make_samples(
    data: LabelledData,
    sequences: Sequence[int],
    mode: str,
    window_group: int,
    window_context: str = "context",
) -> list[Sample]:
    """Samples of ``sequences`` (indices), in that order.

    Window labels: one sample per window, seen in the context of its whole sequence
    (``window_context="context"``) or alone (``"alone"``). Participant labels: ``mode="participant"``
    gives one sample with all of a sequence's windows, ``mode="window"`` consecutive groups of
    ``window_group`` windows (the last group may be shorter).
    """
    samples = []
    for s in sequences:
        length = data.windows[s].shape[1]
        if data.label_level == "window":
            if window_context == "context":
                samples += [Sample(s, 0, length, token=i) for i in range(length)]
            else:
                samples += [Sample(s, i, i + 1) for i in range(length)]
        elif mode == "participant":
            samples.append(Sample(s, 0, length))
        else:
            samples += [Sample(s, a, min(a + window_group, length)) for a in range(0, length, window_group)]
    return samples


def sample_target(data: LabelledData, sample: Sample) -> int:
    """The class index of a sample: its window's (window labels) or its sequence's."""
    return int(data.window_targets[sample.sequence][sample.window])


def unit_of(data: LabelledData, sample: Sample) -> tuple[int, int | None]:
    """What a prediction is about: (sequence, window) for window labels, (sequence, None) otherwise."""
    return (sample.sequence, sample.window if data.label_level == "window" else None)


def collate_windows(
    data: LabelledData, spans: Sequence[Sample | tuple[int, int, int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded windows float32 ``[B, C, L_max, W]`` and valid lengths int64 ``[B]`` (padding is zeros)
    of samples or ``(sequence, start, stop)`` spans."""
    spans = [s.span if isinstance(s, Sample) else s for s in spans]
    lengths = torch.tensor([stop - start for _, start, stop in spans], dtype=torch.int64)
    channels, _, width = data.windows[spans[0][0]].shape
    out = torch.zeros(len(spans), channels, int(lengths.max()), width)
    for b, (sequence, start, stop) in enumerate(spans):
        out[b, :, : stop - start] = torch.from_numpy(data.windows[sequence][:, start:stop])
    return out, lengths
