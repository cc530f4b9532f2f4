"""``DataConfig``: the data section of a run config (plain YAML types only)."""

from __future__ import annotations

import math

import attrs

from eeg_io.cache import CACHE_DTYPES
from eeg_io.index import MISSING_CHANNEL_POLICIES
from eeg_io.normalize import NAN_POLICIES, NORMALIZATIONS
from eeg_io.splits import GROUPS

__all__ = ["CROPS", "DataConfig"]

CROPS: tuple[str, ...] = ("random", "leading")


def _names(value: object) -> object:
    """YAML gives lists; keep tuples so the frozen config is hashable. Other types reach the validator."""
    return tuple(value) if isinstance(value, list) else value


def _optional_names(value: object) -> object:
    return None if value is None else _names(value)


def _positive_int(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a positive integer, got {value!r}")


def _optional_positive_int(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        _positive_int(instance, attribute, value)


def _non_negative_int(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an integer >= 0, got {value!r}")


def _one_of(choices: tuple[str, ...]):
    def check(instance: object, attribute: attrs.Attribute, value: object) -> None:
        if value not in choices:
            raise ValueError(
                f"{attribute.name} must be one of {', '.join(map(repr, choices))}; got {value!r}"
            )

    return check


def _name_tuple(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{attribute.name} must be a list of channel names (strings), got {value!r}")
    upper = [v.upper() for v in value]
    if len(set(upper)) != len(upper):
        raise ValueError(
            f"{attribute.name} names a channel twice (names are case-insensitive): {list(value)}"
        )


def _optional_name_tuple(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        _name_tuple(instance, attribute, value)
        if not value:
            raise ValueError(f"{attribute.name} must name at least one channel, or be null for all channels")


def _non_empty_str(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty path string, got {value!r}")


def _optional_path(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if value is not None:
        _non_empty_str(instance, attribute, value)


def _finite_nonzero(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value == 0
    ):
        raise ValueError(f"{attribute.name} must be a finite non-zero number, got {value!r}")


def _ratio(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < 1.0:
        raise ValueError(f"{attribute.name} must be a number in [0, 1), got {value!r}")


def _positive_rate(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{attribute.name} must be a positive number of Hz, got {value!r}")


@attrs.frozen(kw_only=True)
class DataConfig:
    """Where the pretraining data is and how sequences are read, normalised and batched.

    Every field is a plain YAML type, so one ``cattrs.Converter(forbid_extra_keys=True)`` structures
    it from a YAML mapping. Validators raise ``ValueError`` naming the field.

    Attributes:
        dataset_path: folder searched recursively for ``*.parquet`` (or one file).
        window_length: W, samples per window; shorter windows are zero-padded, longer ones cut.
        include_channels: only these channels (any case), or null for every channel column.
        exclude_channels: channels never used (default the EOG channels ``VEOG``, ``HEOG``).
        on_missing_channel: a file lacking an included channel is an ``"error"`` or is ``"skip"``-ped.
        normalization: ``"sequence"`` (z-score each (file, channel) sequence), ``"window"`` (each
            window), ``"none"`` (raw values times ``scale``).
        scale: constant factor for ``normalization="none"`` (e.g. 1e6 for volts -> µV); must be 1
            with the z-scoring modes, where it would have no meaning.
        nan_policy: non-finite samples are an ``"error"``, set to ``"zero"``, or ``"drop_window"``.
        max_windows: cap on sequence length L (null = whole sequences).
        crop: which ``max_windows`` windows are kept: ``"random"`` (seeded per epoch) or ``"leading"``.
        cache_dir: folder for decoded sequences (null = no cache); ``cache_dtype`` ``"float32"`` or ``"float16"``.
        num_workers: DataLoader worker processes (0 = load in the main process).
        batch_size: sequences per batch (per rank under DDP).
        val_ratio: fraction of groups held out for validation (0 = no validation split).
        split_group: what a group is: ``"participant"``, ``"run"`` or ``"file"``.
        sampling_rate: Hz of the samples (band-power targets and inputs need it); checked against
            ``window_start``/``window_end`` when the files carry them.
    """

    dataset_path: str = attrs.field(validator=_non_empty_str)
    window_length: int = attrs.field(default=2048, validator=_positive_int)
    include_channels: tuple[str, ...] | None = attrs.field(
        default=None, converter=_optional_names, validator=_optional_name_tuple
    )
    exclude_channels: tuple[str, ...] = attrs.field(
        default=("VEOG", "HEOG"), converter=_names, validator=_name_tuple
    )
    on_missing_channel: str = attrs.field(default="error", validator=_one_of(MISSING_CHANNEL_POLICIES))
    normalization: str = attrs.field(default="sequence", validator=_one_of(NORMALIZATIONS))
    scale: float = attrs.field(default=1.0, validator=_finite_nonzero)
    nan_policy: str = attrs.field(default="error", validator=_one_of(NAN_POLICIES))
    max_windows: int | None = attrs.field(default=None, validator=_optional_positive_int)
    crop: str = attrs.field(default="random", validator=_one_of(CROPS))
    cache_dir: str | None = attrs.field(default=None, validator=_optional_path)
    cache_dtype: str = attrs.field(default="float32", validator=_one_of(CACHE_DTYPES))
    num_workers: int = attrs.field(default=0, validator=_non_negative_int)
    batch_size: int = attrs.field(default=8, validator=_positive_int)
    val_ratio: float = attrs.field(default=0.2, validator=_ratio)
    split_group: str = attrs.field(default="participant", validator=_one_of(GROUPS))
    sampling_rate: float = attrs.field(default=256.0, validator=_positive_rate)

    def __attrs_post_init__(self) -> None:
        if self.normalization != "none" and self.scale != 1.0:
            raise ValueError(
                f"scale={self.scale} only applies to normalization='none'; with normalization="
                f"{self.normalization!r} set scale to 1.0"
            )
        if self.include_channels is not None:
            excluded = {c.upper() for c in self.exclude_channels}
            both = [c for c in self.include_channels if c.upper() in excluded]
            if both:
                raise ValueError(f"include_channels and exclude_channels both name {both}")
