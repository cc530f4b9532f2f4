"""Reader for the primary (labelled) dataset: one Parquet file, windows of many participants."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import attrs
import numpy as np

from eeg_io.decode import decode_windows
from eeg_io.errors import EEGDataError
from eeg_io.layout import channel_columns, find_column, open_parquet, order_columns, sort_key
from eeg_io.normalize import (
    NAN_POLICIES,
    NORMALIZATIONS,
    PHYSICAL_LIMIT,
    describe_unusable,
    nonfinite_rows,
    normalize,
    unusable_values,
)

__all__ = ["ParticipantRecord", "PrimaryDataset", "read_primary_dataset"]


@attrs.frozen(kw_only=True)
class ParticipantRecord:
    """One participant (or, with ``by_run``, one participant-run) of the primary dataset.

    Attributes:
        participant: participant id as a string.
        label: the participant's label (the label column's single value for them; int, float or str);
            with ``window_labels`` the first window's label.
        windows: float32 ``[C, L, W]``, channels in the order asked, windows in time order, normalised.
        run: the run id (string) with ``by_run``, else None.
        window_labels: with ``window_labels``, the label of each window ``[L]`` (object array), else None.
        group: the group column's value (one per record), when a group column is asked for, else None.
    """

    participant: str
    label: object
    windows: np.ndarray = attrs.field(eq=False, repr=lambda a: f"array{a.shape}")
    run: str | None = None
    window_labels: np.ndarray | None = attrs.field(default=None, eq=False, repr=False)
    group: object = None


@attrs.frozen(kw_only=True)
class PrimaryDataset:
    """Records sorted by participant id; ``channels`` upper-cased in the order asked."""

    channels: tuple[str, ...]
    records: tuple[ParticipantRecord, ...]

    @property
    def participants(self) -> list[str]:
        return [r.participant for r in self.records]

    @property
    def labels(self) -> np.ndarray:
        """Labels ``[P]`` in record order."""
        return np.asarray([r.label for r in self.records])

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[ParticipantRecord]:
        return iter(self.records)


def read_primary_dataset(
    path: str | os.PathLike,
    channels: Sequence[str],
    window_length: int,
    participant_column: str = "Participant",
    label_column: str = "Remission",
    *,
    normalization: str = "sequence",
    scale: float = 1.0,
    nan_policy: str = "error",
    strict_length: bool = True,
    by_run: bool = False,
    window_labels: bool = False,
    group_column: str | None = None,
) -> PrimaryDataset:
    """Read the labelled dataset into one ``[C, L, W]`` array and one label per participant.

    Rows are grouped by participant and put in time order by ``run`` (when present) then
    ``parent_window_id, sub_window_id`` (or ``window_start``). Each (participant, channel) sequence
    is normalised like a pretraining sequence. Under ``nan_policy="drop_window"`` a row with a
    non-finite value in any of the channels is dropped for every channel, keeping them aligned.
    Channels are read one column at a time.

    Args:
        channels: channel names (any case), in the order of the output's C axis.
        window_length: W; with ``strict_length`` (default) every window must have exactly W samples,
            otherwise shorter ones are zero-padded and longer ones cut as in pretraining.
        participant_column, label_column: column names, matched case-insensitively.
        by_run: one record per participant-run (needs a ``run`` column) instead of per participant.
        window_labels: labels may vary from window to window; each record carries them.
        group_column: a column whose single value per record is kept as ``record.group``.

    Raises:
        EEGDataError: unreadable file, zero rows, a missing column or channel, a participant with
            two labels (unless ``window_labels``), a group value that varies within a record, a null
            participant, label or group, a wrong window length, or non-finite values under
            ``nan_policy="error"``.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if isinstance(channels, str) or not channels:
        raise ValueError(f"channels must be a non-empty list of names, got {channels!r}")
    keys = [c.upper() for c in channels]
    with open_parquet(path) as parquet_file:
        schema = parquet_file.schema_arrow
        if parquet_file.metadata.num_rows == 0:
            raise EEGDataError(f"{path}: zero rows (no windows)")
        participant_name = _required_column(schema, participant_column, path, "participant")
        label_name = _required_column(schema, label_column, path, "label")
        available = channel_columns(schema, path)
        missing = [c for c in keys if c not in available]
        if missing:
            raise EEGDataError(
                f"{path}: no column for channel(s) {', '.join(missing)} "
                f"(channels in this file: {', '.join(available) or 'none'})"
            )
        run_name = find_column(schema, "run")
        if by_run and run_name is None:
            raise EEGDataError(
                f"{path}: no 'run' column (columns: {', '.join(schema.names)}); records per run need it"
            )
        group_name = _required_column(schema, group_column, path, "group") if group_column else None
        sort_by = ([run_name] if run_name else []) + order_columns(schema)
        wanted = list(
            dict.fromkeys([participant_name, label_name, *sort_by, *([group_name] if group_name else [])])
        )
        table = parquet_file.read(columns=wanted, use_threads=False)
        groups = _group_rows(
            table,
            participant_name,
            label_name,
            sort_by,
            path,
            run_name=run_name if by_run else None,
            window_labels=window_labels,
            group_name=group_name,
        )
        sequences, valid_lengths = [], []
        for key in keys:
            column = parquet_file.read(columns=[available[key]], use_threads=False).column(0)
            decoded = decode_windows(column, window_length, where=f"{path}: channel {key}")
            if strict_length and (
                decoded.num_padded or decoded.num_truncated or decoded.valid_lengths is not None
            ):
                lengths = np.unique([len(v) for v in column.to_pylist() if v is not None])
                raise EEGDataError(
                    f"{path}: channel {key}: windows have {', '.join(map(str, lengths))} samples, "
                    f"expected window_length={window_length}"
                )
            sequences.append(decoded.windows)
            valid_lengths.append(decoded.valid_lengths)
    records = []
    for participant, run, label, rows, labels, group in groups:
        windows, keep = _participant_windows(
            sequences,
            valid_lengths,
            rows,
            keys,
            normalization,
            scale,
            nan_policy,
            where=f"{path}: participant {participant}" + (f" run {run}" if run is not None else ""),
        )
        if labels is not None and keep is not None:
            labels = labels[keep]
        records.append(
            ParticipantRecord(
                participant=participant,
                label=label if labels is None else labels[0],
                windows=windows,
                run=run,
                window_labels=labels,
                group=group,
            )
        )
    return PrimaryDataset(channels=tuple(keys), records=tuple(records))


def _required_column(schema, name: str, path, what: str) -> str:
    column = find_column(schema, name)
    if column is None:
        raise EEGDataError(
            f"{path}: no {what} column {name!r} (columns: {', '.join(schema.names)}); "
            f"set the {what} column name"
        )
    return column


def _group_rows(
    table,
    participant_name: str,
    label_name: str,
    sort_by: list[str],
    path,
    *,
    run_name: str | None = None,
    window_labels: bool = False,
    group_name: str | None = None,
):
    """``[(participant, run or None, label, rows int64 [L] in time order, window labels [L] or None,
    group or None)]`` sorted by participant id (then run id)."""
    participants = table.column(participant_name)
    labels = table.column(label_name)
    for name in (participant_name, label_name, group_name):
        if name is not None and table.column(name).null_count:
            raise EEGDataError(f"{path}: column {name!r} has empty (null) values")
    ids = np.asarray(participants.to_pylist(), dtype=object).astype(str)
    runs = np.asarray(table.column(run_name).to_pylist(), dtype=object).astype(str) if run_name else None
    label_values = labels.to_pylist()
    group_values = table.column(group_name).to_pylist() if group_name else None
    keys = [sort_key(table.column(c)) for c in sort_by]
    order = np.lexsort([*keys[::-1], ids])  # participant first, then run / window order
    record_keys = sorted({(ids[r], runs[r] if runs is not None else None) for r in order})
    groups = []
    for participant, run in record_keys:
        mask = ids[order] == participant
        if runs is not None:
            mask &= runs[order] == run
        rows = order[mask]
        where = f"participant {participant}" + (f" run {run}" if run is not None else "")
        distinct = sorted({label_values[r] for r in rows}, key=repr)
        if len(distinct) != 1 and not window_labels:
            raise EEGDataError(
                f"{path}: {where} has {len(distinct)} different {label_name!r} values "
                f"({', '.join(map(repr, distinct[:5]))}); expected one label per participant"
            )
        group = None
        if group_values is not None:
            values = sorted({group_values[r] for r in rows}, key=repr)
            if len(values) != 1:
                raise EEGDataError(
                    f"{path}: {where} has {len(values)} different {group_name!r} values "
                    f"({', '.join(map(repr, values[:5]))}); a group must hold whole "
                    f"{'runs' if run is not None else 'participants'}"
                )
            group = values[0]
        per_window = np.asarray([label_values[r] for r in rows], dtype=object) if window_labels else None
        groups.append((str(participant), run, distinct[0], rows.astype(np.int64), per_window, group))
    return groups


def _participant_windows(
    sequences, valid_lengths, rows, channels, normalization, scale, nan_policy, *, where
) -> tuple[np.ndarray, np.ndarray | None]:
    """float32 ``[C, L, W]`` for one participant's ``rows``, and the boolean mask of the rows kept
    (None when every row is kept)."""
    keep = None
    per_channel = [s[rows] for s in sequences]
    per_valid = [None if v is None else v[rows] for v in valid_lengths]
    bad = [nonfinite_rows(w) for w in per_channel]
    if any(b is not None for b in bad):
        if nan_policy == "error":
            channel, first = next(
                (c, int(np.flatnonzero(b)[0])) for c, b in zip(channels, bad, strict=True) if b is not None
            )
            values = per_channel[channels.index(channel)][first]
            value = values[unusable_values(values)][0]
            what = "non-finite value" if not np.isfinite(value) else describe_unusable(value)
            raise EEGDataError(
                f"{where}: channel {channel}: {what} in file row {int(rows[first])}; "
                "fix the file or set nan_policy to 'zero' or 'drop_window'"
            )
        if nan_policy == "drop_window":
            keep = ~np.logical_or.reduce([b for b in bad if b is not None])
            if not keep.any():
                raise EEGDataError(
                    f"{where}: every window holds a non-finite value (or one beyond ±{PHYSICAL_LIMIT:g}); "
                    "nothing left to use"
                )
            per_channel = [w[keep] for w in per_channel]
            per_valid = [None if v is None else v[keep] for v in per_valid]
    out = np.empty((len(channels), *per_channel[0].shape), dtype=np.float32)  # (C, L, W)
    for c, (windows, lengths) in enumerate(zip(per_channel, per_valid, strict=True)):
        valid = None if lengths is None else np.arange(windows.shape[1])[None, :] < lengths[:, None]
        nonfinite = unusable_values(windows) if nonfinite_rows(windows) is not None else None
        if nonfinite is not None:  # nan_policy == "zero"
            valid = ~nonfinite if valid is None else valid & ~nonfinite
        out[c] = normalize(windows, normalization, scale=scale, valid=valid)
    return out, keep
