"""The data section of a run config (plain YAML types only), in three layers that apps compose.

- :class:`NormalizationConfig`: how samples become values (``normalization``, ``scale``, ``nan_policy``); the
  fine-tuning app's labelled-data section builds on it.
- :class:`SequenceConfig`: plus how one ``(file, channel)`` sequence is read (``window_length``,
  ``max_windows``, ``crop``, the decoded cache): what :class:`~eeg_io.ChannelSequenceDataset` needs.
- :class:`DataConfig`: plus where the corpus is, which channels, batching and the validation split.

All three are flat (one YAML mapping) and validate themselves once with :mod:`eeg_config.validators`.
"""

from __future__ import annotations

from typing import Any

import attrs

from eeg_config.validators import (
    FieldError,
    field_error,
    in_range,
    name_list,
    non_empty_str,
    non_negative_int,
    nonzero_number,
    one_of,
    optional,
    optional_tuple,
    positive_int,
    positive_number,
    to_tuple,
)
from eeg_io.cache import CACHE_DTYPES
from eeg_io.index import MISSING_CHANNEL_POLICIES
from eeg_io.normalize import NAN_POLICIES, NORMALIZATIONS
from eeg_io.splits import GROUPS
from eeg_io.subsets import participant_amount
from eeg_io.timing import WINDOW_TIME_UNITS

__all__ = ["CROPS", "DataConfig", "NormalizationConfig", "SequenceConfig"]

CROPS: tuple[str, ...] = ("random", "leading")


@attrs.frozen(kw_only=True)
class NormalizationConfig:
    """How samples become the values a model sees.

    Attributes:
        normalization: ``"sequence"`` (z-score each (file, channel) sequence), ``"window"`` (each
            window), ``"none"`` (raw values times ``scale``).
        scale: constant factor for ``normalization="none"`` (e.g. 1e6 for volts -> µV); must be 1
            with the z-scoring modes, where it would have no meaning.
        nan_policy: non-finite samples are an ``"error"``, set to ``"zero"``, or ``"drop_window"``.
    """

    normalization: str = attrs.field(default="sequence", validator=one_of(NORMALIZATIONS))
    scale: float = attrs.field(default=1.0, validator=nonzero_number)
    nan_policy: str = attrs.field(default="error", validator=one_of(NAN_POLICIES))

    def __attrs_post_init__(self) -> None:
        if self.normalization != "none" and self.scale != 1.0:
            raise field_error(
                self,
                "scale",
                f"must be 1.0 with normalization={self.normalization!r}: scale={self.scale} only applies to "
                "normalization='none'",
            )


@attrs.frozen(kw_only=True)
class SequenceConfig(NormalizationConfig):
    """:class:`NormalizationConfig` plus how one ``(file, channel)`` sequence is read.

    Attributes:
        window_length: W, samples per window; shorter windows are zero-padded, longer ones cut.
        max_windows: cap on sequence length L (null = whole sequences).
        crop: which ``max_windows`` windows are kept: ``"random"`` (seeded per epoch) or ``"leading"``.
        cache_dir: folder for decoded sequences (null = no cache); ``cache_dtype`` ``"float32"`` or ``"float16"``.
    """

    window_length: int = attrs.field(default=2048, validator=positive_int)
    max_windows: int | None = attrs.field(default=None, validator=optional(positive_int))
    crop: str = attrs.field(default="random", validator=one_of(CROPS))
    cache_dir: str | None = attrs.field(default=None, validator=optional(non_empty_str("path string")))
    cache_dtype: str = attrs.field(default="float32", validator=one_of(CACHE_DTYPES))


# the order DataConfig's fields are written in (resolved configs, MLflow params), as before the layers
_DATA_FIELD_ORDER = (
    "dataset_path", "window_length", "include_channels", "exclude_channels", "on_missing_channel",
    "normalization", "scale", "nan_policy", "max_windows", "crop", "cache_dir", "cache_dtype", "num_workers",
    "batch_size", "val_ratio", "split_group", "participants", "participants_seed", "sampling_rate",
    "window_times",
)  # fmt: skip


def _participants(value: Any) -> int | float | None:
    """``data.participants``: None, a count or a fraction (:func:`eeg_io.subsets.participant_amount`);
    the fraction 1.0 is every participant, the same run as None."""
    if value is None:
        return None
    try:
        amount = participant_amount(value)
    except ValueError as exc:
        raise FieldError(f"DataConfig.{exc}", field="participants") from None
    return None if amount == 1.0 and isinstance(amount, float) else amount


def _in_data_order(_cls: type, fields: list[attrs.Attribute]) -> list[attrs.Attribute]:
    return sorted(fields, key=lambda field: _DATA_FIELD_ORDER.index(field.name))


@attrs.frozen(kw_only=True, field_transformer=_in_data_order)
class DataConfig(SequenceConfig):
    """Where the pretraining data is and how sequences are read, normalised and batched.

    Every field is a plain YAML type, so one ``cattrs.Converter(forbid_extra_keys=True)`` structures
    it from a YAML mapping. Validators raise :class:`eeg_config.FieldError` (a ``ValueError``) naming the
    field. :class:`SequenceConfig` and :class:`NormalizationConfig` hold the fields it shares (a DataConfig is one).

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
        participants: train on a subset of the training participants (those the validation split leaves):
            a count (``4``, an integer) or a fraction (``0.25``, a float; ``1.0`` = null = all). Nested: for one seed, a larger subset
            holds every smaller one; validation is the same for every size (:mod:`eeg_io.subsets`).
        participants_seed: the subset's seed (null = the run's seed, as for the split).
        sampling_rate: Hz of the samples (band-power targets and inputs need it); checked against
            ``window_start``/``window_end`` when the files carry them in seconds.
        window_times: how ``window_start``/``window_end`` count: ``"seconds"`` from the recording's
            start, ``"samples"`` within the parent window (the seed's layout), or ``"auto"``: recognised
            from the data (a span equal to the window's samples is samples; :mod:`eeg_io.timing`).
    """

    dataset_path: str = attrs.field(validator=non_empty_str("path string"))
    include_channels: tuple[str, ...] | None = attrs.field(
        default=None, converter=optional_tuple, validator=name_list(allow_empty=False, allow_none=True)
    )
    exclude_channels: tuple[str, ...] = attrs.field(
        default=("VEOG", "HEOG"), converter=to_tuple, validator=name_list()
    )
    on_missing_channel: str = attrs.field(default="error", validator=one_of(MISSING_CHANNEL_POLICIES))
    num_workers: int = attrs.field(default=0, validator=non_negative_int)
    batch_size: int = attrs.field(default=8, validator=positive_int)
    val_ratio: float = attrs.field(default=0.2, validator=in_range(0.0, 1.0))
    split_group: str = attrs.field(default="participant", validator=one_of(GROUPS))
    # a count (int) or a fraction in (0, 1) (float) once converted; None (or 1.0) = every training participant
    participants: Any = attrs.field(default=None, converter=_participants)
    participants_seed: int | None = attrs.field(default=None, validator=optional(non_negative_int))
    sampling_rate: float = attrs.field(default=256.0, validator=positive_number("Hz"))
    window_times: str = attrs.field(default="auto", validator=one_of(WINDOW_TIME_UNITS))

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        if self.include_channels is not None:
            excluded = {c.upper() for c in self.exclude_channels}
            both = [c for c in self.include_channels if c.upper() in excluded]
            if both:
                raise field_error(self, "include_channels", f"and exclude_channels both name {both}")
