"""Read one recording's chosen channels as a float64 ``[C, N]`` array in µV.

One private reader per kind of file, one public entry point (:func:`read_recording`) that dispatches
on the format found by discovery: MNE-Python reads every EEG format its ``read_raw`` dispatches on (EDF,
BDF, GDF, BrainVision, EEGLAB, FIF, Neuroscan CNT, EGI MFF, Curry, Persyst, Nihon Kohden, ...; values in
volts, converted to µV); the CSV reader reads Muse exports (muselsl ``timestamps,TP9,AF7,AF8,TP10``
or Mind Monitor ``TimeStamp, ..., RAW_TP9, ...``), whose values are already µV by default.
Any failure of a reader on a file becomes one :class:`RecordingError` naming the file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from eeg_io.layout import METADATA_COLUMNS
from eeg_prepare.channel_types import channel_kinds
from eeg_prepare.config import CNT_DATA_FORMATS, CSV_UNITS, ChannelConfig, CntConfig, CsvConfig
from eeg_prepare.discovery import RecordingSource
from eeg_prepare.errors import MissingChannelError, NoEEGChannelsError, RecordingError

TIMESTAMP_COLUMNS = ("timestamps", "timestamp", "time")
# A sampling rate estimated from timestamps is snapped to the nearest whole Hz when within this
# relative distance: clock jitter makes a nominal 256 Hz headband read as e.g. 256.04 Hz, and a
# resampling by 256/256.04 would only smear the signal.
SNAP_TOLERANCE = 0.005
FORMAT_NAMES = {
    "edf": "EDF",
    "bdf": "BDF",
    "gdf": "GDF",
    "vhdr": "BrainVision",
    "set": "EEGLAB",
    "fif": "FIF",
    "cnt": "Neuroscan CNT",
    "egi": "EGI MFF",
    "curry": "Curry",
    "persyst": "Persyst",
    "nihon": "Nihon Kohden",
    "eximia": "Nexstim eXimia",
    "nicolet": "Nicolet",
    "nedf": "NEDF",
    "csv": "CSV",
}


@attrs.frozen(kw_only=True)
class Recording:
    """The channels of one recording that processing needs.

    Attributes:
        data: float64 ``[C + E, N]``, µV (channels MNE does not carry in volts are left in their unit):
            the C output channels, then E channels read only to re-reference.
        channels: output name of each of the first C rows.
        extra: name of each of the last E rows (dropped after re-referencing).
        reference: the reference channels' names, among ``channels`` and ``extra``.
        sfreq: sampling rate in Hz.
        dropped: channels of the file left out as not EEG (``pick: null``), each as ``"ECG (ecg)"``.
        events: ``(onset, name)`` of the file's event markers, onset in seconds from the first sample
            (read only when asked: annotations, else the trigger codes of its stim channel as text).
    """

    data: np.ndarray = attrs.field(repr=lambda a: f"array{a.shape}")
    channels: tuple[str, ...]
    extra: tuple[str, ...] = ()
    reference: tuple[str, ...] = ()
    sfreq: float
    dropped: tuple[str, ...] = ()
    events: tuple[tuple[float, str], ...] = ()


@attrs.frozen(kw_only=True)
class Selection:
    """Which file channels to read (``read``, file spelling): the output channels (``names``) then the
    reference-only ones (``extra``); ``reference`` names the reference channels among those two;
    ``dropped`` the channels left out as not EEG under ``pick: null``, as ``"ECG (ecg)"``."""

    read: tuple[str, ...]
    names: tuple[str, ...]
    extra: tuple[str, ...]
    reference: tuple[str, ...]
    dropped: tuple[str, ...] = ()


def select_channels(
    available: Sequence[str],
    is_eeg: Sequence[bool],
    config: ChannelConfig,
    reference_channels: Sequence[str],
    where: str,
    kinds: Sequence[str] | None = None,
) -> Selection:
    """Match the configured channels to a recording's channels, case-insensitively.

    ``config.aliases`` maps a file label to a channel name (``{"EEG AF7-REF": AF7}``). With
    ``config.pick`` the output names are spelled as configured; with ``pick: null`` every EEG channel
    not in ``config.exclude`` is kept under its (aliased) file name. Reference channels are read in
    addition when they are not picked. ``kinds`` (``"eeg"``, ``"ecg"``, ...; from
    :func:`~eeg_prepare.channel_types.channel_kinds`) names what ``pick: null`` leaves out.

    Raises:
        MissingChannelError: a picked or reference channel is absent, or two file channels have the
            same name once upper-cased.
    """
    aliases = {k.strip().upper(): v.strip() for k, v in config.aliases.items()}
    canonical: dict[str, str] = {}  # upper-cased channel name -> file label
    spelled: dict[str, str] = {}  # upper-cased channel name -> name as in the file (after aliasing)
    ambiguous: set[str] = set()
    eeg_names: list[str] = []
    for label, eeg in zip(available, is_eeg, strict=True):
        name = aliases.get(label.strip().upper(), label.strip())
        key = name.upper()
        if key in canonical:
            ambiguous.add(key)
        canonical[key] = label
        spelled[key] = name
        if eeg:
            eeg_names.append(key)
    if config.pick is not None:
        wanted = [(name.strip().upper(), name.strip()) for name in config.pick]
    else:
        # A channel named like a metadata column (``run``) cannot be a column of its own.
        excluded = {name.strip().upper() for name in config.exclude} | {c.upper() for c in METADATA_COLUMNS}
        wanted = [(key, spelled[key]) for key in dict.fromkeys(eeg_names) if key not in excluded]
        if not wanted:
            typed = [f"{label} ({kind})" for label, kind in zip(available, kinds or [], strict=False)]
            raise NoEEGChannelsError(
                f"{where}: no EEG channels left to keep (channels: {', '.join(typed or available)})"
            )
    picked = {key for key, _ in wanted}
    reference = [name.strip().upper() for name in reference_channels]
    extra = [key for key in dict.fromkeys(reference) if key not in picked]
    for kind, keys in (("channel(s)", [key for key, _ in wanted]), ("reference channel(s)", extra)):
        missing = [key for key in keys if key not in canonical]
        if missing:
            raise MissingChannelError(
                f"{where}: {kind} {', '.join(missing)} not found "
                f"(channels in this recording: {', '.join(available) or 'none'})"
            )
    clashes = [key for key in [*picked, *extra] if key in ambiguous]
    if clashes:
        raise MissingChannelError(
            f"{where}: channel(s) {', '.join(sorted(clashes))} appear twice (names are compared case-insensitively)"
        )
    output = dict(wanted)  # upper-cased key -> output name
    dropped: list[str] = []
    if config.pick is None and kinds is not None:
        asked_out = {name.strip().upper() for name in config.exclude}
        for label, kind in zip(available, kinds, strict=True):
            key = aliases.get(label.strip().upper(), label.strip()).upper()
            if kind != "eeg" and key not in output and key not in extra and key not in asked_out:
                dropped.append(f"{spelled[key]} ({kind})")
    return Selection(
        read=tuple(canonical[key] for key in [*output, *extra]),
        names=tuple(output.values()),
        extra=tuple(spelled[key] for key in extra),
        reference=tuple(output.get(key, spelled[key]) for key in reference),
        dropped=tuple(dict.fromkeys(dropped)),
    )


def read_recording(
    source: RecordingSource,
    channels: ChannelConfig,
    reference_channels: Sequence[str],
    csv_config: CsvConfig,
    csv_key: str = "input.csv",
    cnt_config: CntConfig | None = None,
    events: bool = False,
) -> Recording:
    """Read the channels of ``source`` that ``channels`` (and the reference) ask for (and with ``events``
    its event markers: CSV recordings have none).

    Raises:
        MissingChannelError: see :func:`select_channels`.
        RecordingError: the file cannot be read, or holds no samples.
    """
    try:
        size = source.path.stat().st_size
    except OSError as exc:
        raise RecordingError(f"{source.path}: cannot open ({_describe(exc)})") from None
    if size == 0:
        raise RecordingError(f"{source.path}: empty file (0 bytes)")
    if source.format == "csv":
        recording = _read_csv(source.path, channels, reference_channels, csv_config, csv_key)
    else:
        input_key = csv_key.removesuffix(".csv")
        recording = _read_mne(
            source.path, source.format, channels, reference_channels, cnt_config, input_key, events
        )
    if recording.data.shape[1] == 0:
        raise RecordingError(f"{source.path}: recording holds no samples")
    return recording


def _read_mne(
    path: os.PathLike,
    format_name: str,
    channels: ChannelConfig,
    reference_channels: Sequence[str],
    cnt_config: CntConfig | None = None,
    input_key: str = "input",
    events: bool = False,
) -> Recording:
    import mne  # imported here: a second of start-up that CSV-only runs and --dry-run do not need

    cnt = cnt_config or CntConfig()
    try:
        if format_name == "cnt":  # read_raw would also try ANT's reader, which takes no data_format
            raw = mne.io.read_raw_cnt(path, data_format=cnt.data_format, preload=False, verbose="error")
        else:
            raw = mne.io.read_raw(path, preload=False, verbose="error")
        types = raw.get_channel_types()
    except Exception as exc:  # MNE raises many types for a bad file; all mean "cannot read it"
        kind = FORMAT_NAMES[format_name]
        raise RecordingError(
            f"{path}: could not read {kind} recording; the file is damaged or not {kind} ({_describe(exc)}); "
            + _reading_keys(format_name, cnt, input_key)
        ) from None
    kinds = channel_kinds(raw.ch_names, types)
    selection = select_channels(
        raw.ch_names, [k == "eeg" for k in kinds], channels, reference_channels, str(path), kinds
    )
    try:
        data = raw.get_data(picks=list(selection.read), verbose="error")  # (C, N) in SI units
    except Exception as exc:
        raise RecordingError(
            f"{path}: could not read the samples; the file is damaged or truncated ({_describe(exc)})"
        ) from None
    volts = np.array(
        [
            raw.info["chs"][raw.ch_names.index(name)]["unit"] == mne.io.constants.FIFF.FIFF_UNIT_V
            for name in selection.read
        ]
    )
    data = np.asarray(data, dtype=np.float64)
    data[volts] *= 1e6  # V -> µV
    return Recording(
        data=data,
        channels=selection.names,
        extra=selection.extra,
        reference=selection.reference,
        sfreq=float(raw.info["sfreq"]),
        dropped=selection.dropped,
        events=_events(raw) if events else (),
    )


def _events(raw: Any) -> tuple[tuple[float, str], ...]:
    """The event markers of ``raw``: its annotations (onset, description), or when it has none, the onsets
    of its stim channel's trigger codes (BioSemi's Status, a FIF STI 014), each code as text."""
    import mne

    if len(raw.annotations):
        found, ids = mne.events_from_annotations(raw, verbose="error")
        names = {code: name for name, code in ids.items()}
        return tuple(
            (float((sample - raw.first_samp) / raw.info["sfreq"]), names[code]) for sample, _, code in found
        )
    if "stim" not in raw.get_channel_types():
        return ()
    try:
        found = mne.find_events(raw, shortest_event=1, consecutive=True, verbose="error")
    except (ValueError, RuntimeError):  # a stim channel MNE cannot decode holds no usable events
        return ()
    return tuple(
        (float((sample - raw.first_samp) / raw.info["sfreq"]), str(code)) for sample, _, code in found
    )


def _reading_keys(format_name: str, cnt: CntConfig, input_key: str) -> str:
    """The settings that change how such a file is read, or leave it out."""
    leave_out = f"{input_key}.formats or {input_key}.include leave such files out"
    if format_name == "cnt":
        other = " or ".join(f for f in CNT_DATA_FORMATS if f != cnt.data_format)
        return (
            f"{input_key}.cnt.data_format is {cnt.data_format} (the sample width): try {other}; {leave_out}"
        )
    return leave_out


def _describe(exc: BaseException) -> str:
    """The reader's own message on one line: ``Type: message``, without traceback lines that some readers
    (MNE's CNT reader) put into it, keeping their advice (``WARNING: ...``)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # Traceback frames are indented (``  File "...", line 3``, then the code and ``^^^`` markers).
    flush = [line.strip() for line in str(exc).splitlines() if line.strip() and not line[:1].isspace()]
    text = " ".join(flush or lines[:1])
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _read_csv(
    path: os.PathLike,
    channels: ChannelConfig,
    reference_channels: Sequence[str],
    config: CsvConfig,
    key: str,
) -> Recording:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    header = _csv_header(path, config.delimiter)
    timestamp = _timestamp_column(header, config, path, key)
    labels, is_eeg = _csv_channels(header, timestamp)
    selection = select_channels(labels, is_eeg, channels, reference_channels, str(path))
    # Mind Monitor names raw channels RAW_TP9; the file column behind each selected label:
    columns = [_column_of(header, label) for label in selection.read]
    wanted = [*columns, *([timestamp] if timestamp else [])]
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=config.delimiter),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={
                    **{c: pa.float64() for c in columns},
                    **({timestamp: pa.string()} if timestamp else {}),
                },
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise RecordingError(f"{path}: could not read CSV recording ({_describe(exc)})") from None
    data = np.vstack([table.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in columns])
    # Rows where every channel is empty are event markers (Mind Monitor's Elements rows), not samples.
    keep = ~np.isnan(data).all(axis=0)
    data = data[:, keep] * CSV_UNITS[config.unit]
    if config.sampling_rate is not None:
        sfreq = float(config.sampling_rate)
    else:
        stamps = np.asarray(table.column(timestamp).to_pylist(), dtype=object)[keep]
        sfreq = _rate_from_timestamps(stamps, path, key)
    return Recording(
        data=data, channels=selection.names, extra=selection.extra, reference=selection.reference, sfreq=sfreq
    )


def _csv_header(path: os.PathLike, delimiter: str) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise RecordingError(f"{path}: could not read CSV recording ({_describe(exc)})") from None
    header = [h.strip() for h in header]
    if len(header) < 2 or any(not h for h in header):
        raise RecordingError(
            f"{path}: not a CSV recording: expected a header row of column names separated by "
            f"{delimiter!r}, got {header[:8]}"
        )
    return header


def _timestamp_column(header: list[str], config: CsvConfig, path: os.PathLike, key: str) -> str | None:
    if config.timestamp_column is not None:
        found = _column_of(header, config.timestamp_column, strip_raw=False)
        if found is None:
            raise RecordingError(
                f"{path}: no timestamp column {config.timestamp_column!r} ({key}.timestamp_column); "
                f"columns: {', '.join(header)}"
            )
        return found
    for candidate in TIMESTAMP_COLUMNS:
        found = _column_of(header, candidate, strip_raw=False)
        if found is not None:
            return found
    if config.sampling_rate is None:
        raise RecordingError(
            f"{path}: no timestamp column (looked for {', '.join(TIMESTAMP_COLUMNS)}) to read the sampling "
            f"rate from; set {key}.sampling_rate or {key}.timestamp_column"
        )
    return None


def _csv_channels(header: list[str], timestamp: str | None) -> tuple[list[str], list[bool]]:
    """Channel labels (``RAW_`` prefix removed) and whether each counts as EEG for ``pick: null``:
    the ``RAW_`` columns when the file has any (Mind Monitor), else every column but the timestamp
    and AUX ones (muselsl)."""
    has_raw = any(h.upper().startswith("RAW_") for h in header)
    labels, is_eeg = [], []
    for column in header:
        if column == timestamp:
            continue
        raw = column.upper().startswith("RAW_")
        labels.append(column[4:] if raw else column)
        is_eeg.append((raw or not has_raw) and "AUX" not in column.upper())
    return labels, is_eeg


def _column_of(header: list[str], label: str, strip_raw: bool = True) -> str | None:
    for column in header:
        name = column[4:] if strip_raw and column.upper().startswith("RAW_") else column
        if name.strip().upper() == label.strip().upper():
            return column
    return None


def _rate_from_timestamps(stamps: np.ndarray, path: os.PathLike, key: str) -> float:
    """Sampling rate in Hz from per-sample timestamps: Unix seconds (muselsl) or date-times
    (Mind Monitor ``2021-03-01 10:15:02.123``)."""
    valid = np.array([s is not None and str(s).strip() != "" for s in stamps], dtype=bool)
    values = stamps[valid]
    try:
        seconds = values.astype(np.float64)
    except (TypeError, ValueError):
        try:
            seconds = values.astype("datetime64[ns]").astype(np.int64) / 1e9
        except (TypeError, ValueError):
            raise RecordingError(
                f"{path}: timestamps are neither seconds nor date-times (first: {values[:1].tolist()}); "
                f"set {key}.sampling_rate"
            ) from None
    duration = seconds[-1] - seconds[0] if len(seconds) else 0.0
    if len(seconds) < 2 or not np.isfinite(duration) or duration <= 0:
        raise RecordingError(
            f"{path}: cannot read a sampling rate from {len(seconds)} timestamp(s) spanning {duration:g} s; "
            f"set {key}.sampling_rate"
        )
    rate = (len(seconds) - 1) / duration
    nearest = round(rate)
    return float(nearest) if nearest > 0 and abs(rate - nearest) <= SNAP_TOLERANCE * nearest else float(rate)
