"""The data section of a run config (plain YAML types only), in three layers that apps compose.

- :class:`NormalizationConfig`: how samples become values (``normalization``, ``scale``, ``nan_policy``); the
  fine-tuning app's labelled-data section builds on it.
- :class:`SequenceConfig`: plus how one ``(file, channel)`` sequence is read (``window_length``,
  ``max_windows``, ``crop``, the decoded cache): what :class:`~eeg_io.ChannelSequenceDataset` needs.
- :class:`DataConfig`: plus where the corpus is (one folder, ``dataset_path``, or several pooled ones,
  ``corpora``: :class:`CorpusConfig`), which channels, batching and the validation split.

All three are flat (one YAML mapping) and validate themselves once with :mod:`eeg_config.validators`.
"""

from __future__ import annotations

import re
from pathlib import Path
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
    to_float,
    to_tuple,
)
from eeg_io.cache import CACHE_DTYPES
from eeg_io.index import MISSING_CHANNEL_POLICIES
from eeg_io.normalize import NAN_POLICIES, NORMALIZATIONS
from eeg_io.splits import GROUPS
from eeg_io.subsets import participant_amount
from eeg_io.timing import WINDOW_TIME_UNITS

__all__ = ["CROPS", "CorpusConfig", "DataConfig", "NormalizationConfig", "SequenceConfig"]

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


#: What a corpus name may hold: it prefixes the corpus's participant ids (``blink/sub-001``) and its
#: metrics (``blink/val_skill``).
CORPUS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _folder_name(corpus: CorpusConfig) -> str:
    path = Path(corpus.path)
    return path.name or path.resolve().name  # "." has no name of its own


@attrs.frozen(kw_only=True)
class CorpusConfig:
    """One corpus of a pool (``data.corpora``): a folder searched recursively for ``*.parquet``.

    Attributes:
        path: the folder (or one file).
        weight: the corpus's share of a training epoch, relative to the others' (``2.0`` beside ``1.0``:
            twice as many of the epoch's sequences come from it, whatever the corpora's sizes).
        name: what the run calls it (the folder's name by default): it prefixes the corpus's participant
            ids (``blink/sub-001``; two corpora's ``sub-001`` are different people) and its validation
            metrics (``blink/val_skill``). Letters, digits, ``_``, ``.`` and ``-``.
    """

    path: str = attrs.field(validator=non_empty_str("path string"))
    weight: float = attrs.field(default=1.0, converter=to_float, validator=positive_number())
    name: str = attrs.field(default=attrs.Factory(_folder_name, takes_self=True))

    @name.validator
    def _check_name(self, _attribute: attrs.Attribute, value: object) -> None:
        if not isinstance(value, str) or not CORPUS_NAME.match(value):
            raise field_error(
                self,
                "name",
                f"must be letters, digits, '_', '.' or '-' (starting with a letter or digit), got {value!r}"
                + (
                    ""
                    if value != _folder_name(self)
                    else f" (the name of the folder {self.path}): set a name"
                ),
            )


# the order DataConfig's fields are written in (resolved configs, MLflow params), as before the layers
_DATA_FIELD_ORDER = (
    "dataset_path", "corpora", "window_length", "include_channels", "exclude_channels", "on_missing_channel",
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
        corpora: several corpora pooled into one run instead (:class:`CorpusConfig`: path, weight, name);
            exclusive with ``dataset_path``. Names are unique and no corpus lies inside another. Every other
            setting applies to each corpus: the split and ``participants`` are made per corpus (each
            validates on the held-out people a run on it alone would hold out, and keeps the subset a
            run on it alone would keep), channels are chosen per file as with one corpus.
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

    dataset_path: str | None = attrs.field(default=None, validator=optional(non_empty_str("path string")))
    corpora: tuple[CorpusConfig, ...] | None = attrs.field(default=None, converter=optional_tuple)
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
        self._check_corpora()
        if self.include_channels is not None:
            excluded = {c.upper() for c in self.exclude_channels}
            both = [c for c in self.include_channels if c.upper() in excluded]
            if both:
                raise field_error(self, "include_channels", f"and exclude_channels both name {both}")

    @property
    def pooled(self) -> bool:
        """Whether the run pools ``corpora`` (participant ids and metrics then carry the corpus's name)."""
        return self.corpora is not None

    @property
    def corpus_list(self) -> tuple[CorpusConfig, ...]:
        """The corpora of the run: ``corpora``, or the one corpus at ``dataset_path`` (named after it)."""
        if self.corpora is not None:
            return self.corpora
        assert self.dataset_path is not None
        return (CorpusConfig(path=self.dataset_path, name=_folder_name_or_data(self.dataset_path)),)

    @property
    def where(self) -> str:
        """The data in words, for log lines: the folder, or ``name (path), ...`` of a pool."""
        if self.corpora is None:
            return str(self.dataset_path)
        return ", ".join(f"{c.name} ({c.path})" for c in self.corpora)

    def _check_corpora(self) -> None:
        if self.dataset_path is not None and self.corpora is not None:
            raise field_error(
                self,
                "corpora",
                "and DataConfig.dataset_path are exclusive: give one corpus as dataset_path or several as "
                "corpora, not both",
            )
        if self.corpora is None:
            if self.dataset_path is None:
                raise field_error(
                    self, "dataset_path", "is required (a folder of Parquet files), or data.corpora"
                )
            return
        if not self.corpora:
            raise field_error(self, "corpora", "must list at least one corpus ({path: ..., weight: ...})")
        for corpus in self.corpora:
            if not isinstance(corpus, CorpusConfig):
                raise field_error(
                    self, "corpora", f"must be a list of {{path, weight, name}}, got {corpus!r}"
                )
        names: dict[str, CorpusConfig] = {}
        for corpus in self.corpora:
            if corpus.name in names:
                raise field_error(
                    self,
                    "corpora",
                    f"names must be unique: {names[corpus.name].path} and {corpus.path} are both named "
                    f"{corpus.name!r}; set name: on one of them",
                )
            names[corpus.name] = corpus
        folders = [(corpus, Path(corpus.path).resolve()) for corpus in self.corpora]
        for i, (first, a) in enumerate(folders):
            for second, b in folders[i + 1 :]:
                if a == b or a in b.parents or b in a.parents:
                    raise field_error(
                        self,
                        "corpora",
                        f"{first.name} ({first.path}) and {second.name} ({second.path}) share files: a corpus "
                        "may not lie inside another (each file would be read twice)",
                    )


def _folder_name_or_data(path: str) -> str:
    """A valid name for the single corpus at ``path`` (its folder's name, else ``data``)."""
    name = Path(path).name or Path(path).resolve().name
    return name if CORPUS_NAME.match(name) else "data"
