"""The processing config: shared signal/window/artifact settings plus one section per command.

YAML mirrors the nesting (see ``configs/processing.yaml`` for every key with its meaning)::

    signal:      {sampling_rate: 256, reference: none, l_freq: 0.5, h_freq: 60, notch: [], ...}
    windows:     {window_seconds: 8, overlap_seconds: 0, parent_window_seconds: null, ...}
    artifacts:   {max_peak_to_peak_uv: 500, flat_max_uv: 1, flat_seconds: 1, non_finite: reject}
    pretraining: {input: {...}, channels: {...}, output_dir: ..., file_template: ...}
    primary:     {input: {...}, channels: {...}, labels: {...}, output_dir: ..., ...}

Every key has a default, so a config file only needs what differs. Checks that involve two
sections (a window must be a whole number of samples at ``signal.sampling_rate``) live in
:class:`PrepareConfig` and name both keys.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import attrs

from eeg_config import ConfigError, apply_overrides, read_yaml, structure, unstructure
from eeg_config.validators import (
    field_error,
    name_list,
    non_empty_str,
    non_negative_number,
    one_of,
    optional,
    positive_number,
)
from eeg_io.layout import METADATA_COLUMNS
from eeg_montage import MontageError, canonical_montage_name

LAYOUTS = ("auto", "bids", "flat")
FORMATS = (
    "edf",
    "bdf",
    "gdf",
    "vhdr",
    "set",
    "fif",
    "cnt",
    "egi",
    "curry",
    "persyst",
    "nihon",
    "eximia",
    "nicolet",
    "nedf",
    "csv",
)
CNT_DATA_FORMATS = ("auto", "int16", "int32")
CSV_UNITS = {"uV": 1.0, "mV": 1e3, "V": 1e6}  # factor to µV
MISSING_CHANNEL_POLICIES = ("error", "skip_recording")
REFERENCES = ("none", "average", "channels")
FILTER_METHODS = ("fir", "iir")
RESAMPLE_METHODS = ("fft", "polyphase")
INCOMPLETE_POLICIES = ("drop", "pad")
NON_FINITE_POLICIES = ("reject", "interpolate")
ID_MATCHING = ("loose", "exact")
MUSE_CHANNELS = ("AF7", "AF8", "TP9", "TP10")


_positive_or_none = optional(positive_number())
_non_empty = non_empty_str()
_names = name_list(allow_none=True)


@attrs.frozen(kw_only=True)
class CsvConfig:
    """How Muse-style CSV exports are read (muselsl: ``timestamps,TP9,AF7,AF8,TP10[,Right AUX]``;
    Mind Monitor: ``TimeStamp, ..., RAW_TP9, RAW_AF7, ...``)."""

    sampling_rate: float | None = attrs.field(default=None, validator=_positive_or_none)
    timestamp_column: str | None = None
    unit: str = attrs.field(default="uV", validator=one_of(tuple(CSV_UNITS)))
    delimiter: str = attrs.field(default=",")

    @delimiter.validator
    def _one_character(self, attribute: attrs.Attribute, value: str) -> None:
        if len(value) != 1:
            raise field_error(self, attribute.name, f"must be one character, got {value!r}")


@attrs.frozen(kw_only=True)
class CntConfig:
    """How Neuroscan CNT files are read (MNE ``read_raw_cnt``): ``data_format`` is the sample width,
    ``auto`` guesses it from the file size (set ``int16`` or ``int32`` when the guess is wrong)."""

    data_format: str = attrs.field(default="auto", validator=one_of(CNT_DATA_FORMATS))


@attrs.frozen(kw_only=True)
class InputConfig:
    """Where recordings are found and how participant and run are read from their paths."""

    root: str = attrs.field(validator=_non_empty)
    layout: str = attrs.field(default="auto", validator=one_of(LAYOUTS))
    pattern: str = attrs.field(default="{participant}_run-{run}")
    include: str = attrs.field(default="*", validator=_non_empty)
    formats: tuple[str, ...] = attrs.field(default=FORMATS)
    csv: CsvConfig = attrs.Factory(CsvConfig)
    cnt: CntConfig = attrs.Factory(CntConfig)

    @pattern.validator
    def _has_participant(self, attribute: attrs.Attribute, value: str) -> None:
        if "{participant}" not in value:
            raise field_error(self, attribute.name, f"must contain {{participant}}, got {value!r}")

    @formats.validator
    def _known_formats(self, attribute: attrs.Attribute, value: tuple[str, ...]) -> None:
        unknown = [f for f in value if f.lower().lstrip(".") not in FORMATS]
        if unknown or not value:
            raise field_error(
                self,
                attribute.name,
                f"names an unknown format: expected formats among {', '.join(FORMATS)}, got {list(value)}",
            )


@attrs.frozen(kw_only=True)
class ChannelConfig:
    """Which channels are kept. ``pick: null`` keeps every EEG channel of each recording (by MNE's type
    and by name: ``ECG``, ``EOG``, ``EMG``, trigger and other non-brain labels are not EEG).

    ``montage`` (a built-in name, e.g. ``biosemi64``) or ``asa_path`` (an ``.elc`` file), default
    ``standard_1005``: the montage the model will use (``model.montage``); kept channels it cannot place
    are named in the summary and the report. They only report: the outputs do not depend on them."""

    pick: tuple[str, ...] | None = attrs.field(default=None, validator=_names)
    exclude: tuple[str, ...] = attrs.field(default=(), validator=_names)
    aliases: dict[str, str] = attrs.field(factory=dict)
    on_missing: str = attrs.field(default="error", validator=one_of(MISSING_CHANNEL_POLICIES))
    montage: str | None = attrs.field(default=None, validator=optional(non_empty_str("montage name")))
    asa_path: str | None = attrs.field(default=None, validator=optional(non_empty_str("file path string")))

    def __attrs_post_init__(self) -> None:
        if self.montage is not None and self.asa_path is not None:
            raise field_error(
                self,
                "montage",
                f"{self.montage!r} and asa_path {self.asa_path!r} both name a montage; set one",
            )
        if self.montage is not None:
            try:
                canonical_montage_name(self.montage)
            except MontageError as exc:
                raise field_error(self, "montage", str(exc)) from None
        clashes = [c for c in (self.pick or ()) if c.strip().lower() in METADATA_COLUMNS]
        if clashes:
            raise field_error(
                self,
                "pick",
                f"names {clashes}, which clash with the metadata columns {list(METADATA_COLUMNS)}",
            )


@attrs.frozen(kw_only=True)
class SignalConfig:
    """Units, reference, resampling and filtering of the continuous signal (before windowing)."""

    sampling_rate: float = attrs.field(default=256.0, validator=positive_number())
    reference: str = attrs.field(default="none", validator=one_of(REFERENCES))
    reference_channels: tuple[str, ...] = attrs.field(default=(), validator=_names)
    resample_method: str = attrs.field(default="fft", validator=one_of(RESAMPLE_METHODS))
    l_freq: float | None = attrs.field(default=0.5, validator=_positive_or_none)
    h_freq: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    notch: tuple[float, ...] = ()
    filter_method: str = attrs.field(default="fir", validator=one_of(FILTER_METHODS))

    def __attrs_post_init__(self) -> None:
        nyquist = self.sampling_rate / 2
        if self.h_freq is not None and self.h_freq >= nyquist:
            raise field_error(
                self,
                "h_freq",
                f"{self.h_freq:g} Hz must be below {nyquist:g} Hz, half the sampling rate {self.sampling_rate:g} Hz",
            )
        if self.l_freq is not None and self.h_freq is not None and self.l_freq >= self.h_freq:
            raise field_error(self, "l_freq", f"{self.l_freq:g} Hz must be below h_freq {self.h_freq:g} Hz")
        bad = [f for f in self.notch if not 0 < f < nyquist]
        if bad:
            raise field_error(
                self,
                "notch",
                f"frequencies {bad} must lie in (0, {nyquist:g}) Hz, below half the sampling rate",
            )
        if self.reference == "channels" and not self.reference_channels:
            raise field_error(self, "reference", "'channels' needs reference_channels (e.g. [TP9, TP10])")
        if self.reference != "channels" and self.reference_channels:
            raise field_error(
                self,
                "reference_channels",
                f"is only used with reference: channels (reference is {self.reference})",
            )


@attrs.frozen(kw_only=True)
class WindowConfig:
    """Parent windows and the sub-windows (the model's tokens) cut from them."""

    window_seconds: float = attrs.field(default=8.0, validator=positive_number())
    overlap_seconds: float = attrs.field(default=0.0, validator=non_negative_number)
    parent_window_seconds: float | None = attrs.field(default=None, validator=_positive_or_none)
    incomplete: str = attrs.field(default="drop", validator=one_of(INCOMPLETE_POLICIES))
    remove_dc: bool = True

    def __attrs_post_init__(self) -> None:
        if self.overlap_seconds >= self.window_seconds:
            raise field_error(
                self,
                "overlap_seconds",
                f"{self.overlap_seconds:g} must be below window_seconds {self.window_seconds:g}",
            )
        if self.parent_window_seconds is not None and self.parent_window_seconds < self.window_seconds:
            raise field_error(
                self,
                "parent_window_seconds",
                f"{self.parent_window_seconds:g} must be at least window_seconds {self.window_seconds:g}",
            )


@attrs.frozen(kw_only=True)
class ArtifactConfig:
    """Which windows are rejected; each rule can be switched off with ``null``."""

    max_peak_to_peak_uv: float | None = attrs.field(default=500.0, validator=_positive_or_none)
    flat_max_uv: float | None = attrs.field(default=1.0, validator=_positive_or_none)
    flat_seconds: float = attrs.field(default=1.0, validator=positive_number())
    non_finite: str = attrs.field(default="reject", validator=one_of(NON_FINITE_POLICIES))


@attrs.frozen(kw_only=True)
class PretrainingConfig:
    """``prepare pretraining``: one Parquet file per participant-run."""

    input: InputConfig = attrs.Factory(lambda: InputConfig(root="data/raw/pretraining"))
    channels: ChannelConfig = attrs.Factory(ChannelConfig)
    output_dir: str = attrs.field(default="data/processed/pretraining", validator=_non_empty)
    file_template: str = attrs.field(default="{participant}/{participant}_run-{run}.parquet")

    @file_template.validator
    def _template(self, attribute: attrs.Attribute, value: str) -> None:
        if "{participant}" not in value or "{run}" not in value or not value.endswith(".parquet"):
            raise field_error(
                self,
                attribute.name,
                f"must contain {{participant}} and {{run}} and end in .parquet, got {value!r}",
            )


def _event_classes(instance: Any, attribute: attrs.Attribute, value: dict[str, int]) -> None:
    """``events``: event name (an annotation's description, or a trigger code as text) -> integer class."""
    for name, label in value.items():
        if not str(name).strip():
            raise field_error(instance, attribute.name, "has an empty event name")
        if isinstance(label, bool) or not isinstance(label, int):
            raise field_error(
                instance, attribute.name, f"maps {name!r} to {label!r}; expected an integer class (0, 1, ...)"
            )


@attrs.frozen(kw_only=True)
class LabelsConfig:
    """Where the labels come from: the labels CSV (one row per participant), or, when ``events`` maps event
    names to classes, the recordings' own event markers (one window per event: labels per trial)."""

    path: str = attrs.field(default="data/raw/primary/labels.csv", validator=_non_empty)
    participant_column: str = attrs.field(default="Participant", validator=_non_empty)
    label_column: str = attrs.field(default="Remission", validator=_non_empty)
    match: str = attrs.field(default="loose", validator=one_of(ID_MATCHING))
    # YAML reads a trigger code key (``1: 0``) as a number: names are kept as text
    events: dict[str | int, int] = attrs.field(
        factory=dict, converter=lambda value: {str(k): v for k, v in value.items()}, validator=_event_classes
    )
    event_offset_seconds: float = 0.0

    @property
    def from_events(self) -> bool:
        return bool(self.events)


@attrs.frozen(kw_only=True)
class PrimaryConfig:
    """``prepare primary``: one labelled Parquet file for the clinical task."""

    input: InputConfig = attrs.Factory(lambda: InputConfig(root="data/raw/primary"))
    channels: ChannelConfig = attrs.Factory(lambda: ChannelConfig(pick=MUSE_CHANNELS))
    labels: LabelsConfig = attrs.Factory(LabelsConfig)
    output_dir: str = attrs.field(default="data/processed/primary", validator=_non_empty)
    output_name: str | None = None
    participant_column: str = attrs.field(default="Participant", validator=_non_empty)
    label_column: str = attrs.field(default="Remission", validator=_non_empty)

    def __attrs_post_init__(self) -> None:
        if self.output_name is not None and not self.output_name.endswith(".parquet"):
            raise field_error(self, "output_name", f"must end in .parquet, got {self.output_name!r}")
        names = [self.participant_column, self.label_column, *(self.channels.pick or ())]
        lowered = [n.lower() for n in names]
        clash = sorted({n for n in lowered if lowered.count(n) > 1})
        metadata_clash = [n for n in (self.label_column,) if n.lower() in METADATA_COLUMNS]
        if clash or metadata_clash:
            raise field_error(
                self,
                "label_column",
                f"participant_column and channels.pick must name different columns (not a metadata column "
                f"either), got {names}",
            )


@attrs.frozen(kw_only=True)
class PrepareConfig:
    signal: SignalConfig = attrs.Factory(SignalConfig)
    windows: WindowConfig = attrs.Factory(WindowConfig)
    artifacts: ArtifactConfig = attrs.Factory(ArtifactConfig)
    pretraining: PretrainingConfig = attrs.Factory(PretrainingConfig)
    primary: PrimaryConfig = attrs.Factory(PrimaryConfig)

    def __attrs_post_init__(self) -> None:
        rate = self.signal.sampling_rate
        for key, seconds in (
            ("window_seconds", self.windows.window_seconds),
            ("overlap_seconds", self.windows.overlap_seconds),
        ):
            samples = seconds * rate
            if not math.isclose(samples, round(samples), abs_tol=1e-6):
                raise field_error(
                    self,
                    f"windows.{key}",
                    f"{seconds:g} s is {samples:g} samples at signal.sampling_rate {rate:g} Hz; expected a whole "
                    "number of samples",
                )
        if self.artifacts.flat_seconds > self.windows.window_seconds:
            raise field_error(
                self,
                "artifacts.flat_seconds",
                f"{self.artifacts.flat_seconds:g} must not exceed windows.window_seconds {self.windows.window_seconds:g}",
            )

    @property
    def window_length(self) -> int:
        """Samples per sub-window at ``signal.sampling_rate`` (2048 for 8 s at 256 Hz)."""
        return round(self.windows.window_seconds * self.signal.sampling_rate)


COMMANDS = ("pretraining", "primary")


def build_config(data: dict[str, Any], source: str | None = None) -> PrepareConfig:
    """Plain data -> validated :class:`PrepareConfig`; :class:`ConfigError` (one line per problem) otherwise."""
    return structure(data, PrepareConfig, source)


def load_config(path: str | os.PathLike[str] | None, overrides: Iterable[str] = ()) -> PrepareConfig:
    """Read YAML (``None``: defaults only), apply ``--set section.key=value`` overrides, validate."""
    raw = read_yaml(path) if path is not None else {}
    source = str(path) if path is not None else "(defaults)"
    return build_config(apply_overrides(raw, list(overrides), schema=PrepareConfig), source)


def command_section(config: PrepareConfig, command: str) -> PretrainingConfig | PrimaryConfig:
    if command not in COMMANDS:
        raise ConfigError([f"unknown command {command!r}; expected one of {', '.join(COMMANDS)}"])
    return getattr(config, command)


def settings_of(config: PrepareConfig, command: str) -> dict[str, Any]:
    """Everything that changes the numbers written by ``command``: stored in each output's metadata so
    a re-run can tell whether an existing output was made with the same settings."""
    section = command_section(config, command)
    settings: dict[str, Any] = {
        "format": 1,
        "signal": unstructure(config.signal),
        "windows": unstructure(config.windows),
        "artifacts": unstructure(config.artifacts),
        "channels": _channel_settings(section.channels),
        "csv": unstructure(section.input.csv),
    }
    if section.input.cnt != CntConfig():  # older outputs (no cnt key) stay up to date with the default
        settings["cnt"] = unstructure(section.input.cnt)
    if isinstance(section, PrimaryConfig):
        settings["labels"] = {
            "participant_column": section.labels.participant_column,
            "label_column": section.labels.label_column,
            "match": section.labels.match,
        }
        if section.labels.from_events:  # older outputs (labels from the CSV) stay up to date
            settings["labels"]["events"] = dict(sorted(section.labels.events.items()))
            settings["labels"]["event_offset_seconds"] = section.labels.event_offset_seconds
        settings["columns"] = [section.participant_column, section.label_column]
    return settings


def _channel_settings(channels: ChannelConfig) -> dict[str, Any]:
    """The channel settings that change the numbers: not the montage (it only reports). With ``pick: null``
    the kept channels depend on the rule that types channels by name too (``types``), so outputs made
    before that rule are made again."""
    settings = unstructure(channels)
    settings.pop("montage", None)
    settings.pop("asa_path", None)
    if channels.pick is None:
        settings["types"] = "mne+names"
    return settings


#: longest channel part of a default primary file name (file systems allow 255 bytes per name)
MAX_NAME_CHANNELS = 48


def default_primary_name(config: PrepareConfig) -> str:
    """``{window_seconds}s_{channels joined by -}_primary_dataset.parquet``, channels lower-cased,
    e.g. ``8s_af7-af8-tp9-tp10_primary_dataset.parquet``; with more channels than fit in a name, their count
    (``8s_32ch_primary_dataset.parquet``); with ``pick: null`` (every EEG channel) ``8s_eeg_primary_dataset.parquet``.
    Spaces in channel names become ``_``."""
    pick = config.primary.channels.pick
    if pick is None:  # every EEG channel of the recordings
        return f"{config.windows.window_seconds:g}s_eeg_primary_dataset.parquet"
    channels = "-".join(c.strip().lower().replace(" ", "_") for c in pick)
    if len(channels) > MAX_NAME_CHANNELS:
        channels = f"{len(pick)}ch"
    return f"{config.windows.window_seconds:g}s_{channels}_primary_dataset.parquet"


def fail(key: str, message: str) -> ConfigError:
    """A config problem found after validation (e.g. a path that does not exist), naming its key."""
    return ConfigError([f"{message} @ $.{key}"])
