"""The fine-tuning run config: YAML sections -> frozen attrs classes (strict, see ``eeg_config``).

YAML mirrors the nesting::

    pretrained: {checkpoint: null, pretrain_config: configs/pretrain.yaml}
    data: {data_path: ..., channels: [AF7, AF8, TP9, TP10], label_column: Remission, ...}
    split: {method: random, val_ratio: 0.0, test_ratio: 0.1, folds: 5}
    model: {mode: participant, pooling: mean, freeze_backbone: true, ...}
    train: {epochs: 100, lr: 1.0e-2, backbone_lr: 1.0e-4, class_weights: balanced, ...}
    tracking: {experiment: eeg_finetuning_mamba2, ...}
    evaluation: {bootstrap_resamples: 1000, confidence: 0.95, strict_disjoint: false, ...}
    output_dir: finetuned_models
    compare_baselines: true

Every key is documented in ``configs/finetune.yaml``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import attrs

import eeg_train
from eeg_config import apply_overrides, read_yaml, structure, unstructure
from eeg_config.validators import (
    at_least,
    boolean,
    field_error,
    in_range,
    name_list,
    non_negative_int,
    non_negative_number,
    one_of,
    optional,
    optional_float,
    optional_tuple,
    positive_int,
    positive_number,
)
from eeg_eval import PRETRAINED, SPLIT_METHODS
from eeg_io import WINDOW_TIME_UNITS, NormalizationConfig
from eeg_io.normalize import NORMALIZATIONS
from eeg_ssm import MAMBA_BACKENDS, POOLINGS

LABEL_LEVELS = ("participant", "window")
WINDOW_CONTEXTS = ("context", "alone")
MODES = ("participant", "window")
AGGREGATIONS = ("mean_probability", "majority_vote")
EARLY_STOPPING = ("auroc", "loss")
CLASS_WEIGHTING = ("none", "balanced")
DEVICES = eeg_train.DEVICES
#: a pretrained encoder is a Mamba-2; it runs on any Mamba-2 backend
BACKENDS = MAMBA_BACKENDS


def _class_weights(value: object) -> object:
    """``none`` | ``balanced`` | a list of numbers (one per class, in sorted label order)."""
    if isinstance(value, list | tuple) and all(
        isinstance(w, int | float) and not isinstance(w, bool) for w in value
    ):
        return tuple(float(w) for w in value)
    return value


def _check_class_weights(instance: object, attribute: attrs.Attribute, value: object) -> None:
    if isinstance(value, str) and value in CLASS_WEIGHTING:
        return
    if isinstance(value, tuple) and len(value) >= 2 and all(math.isfinite(w) and w > 0 for w in value):
        return
    raise field_error(
        instance,
        attribute.name,
        "must be 'none', 'balanced' or a list of positive weights, one per class "
        f"(e.g. [1.0, 2.5]), got {value!r}",
    )


@attrs.frozen(kw_only=True)
class PretrainedConfig:
    """Where the pretrained encoder comes from: ``checkpoint`` wins over the lookup from ``pretrain_config``."""

    checkpoint: str | None = None
    pretrain_config: str | None = None
    backend: str | None = attrs.field(default=None, validator=optional(one_of(BACKENDS)))


@attrs.frozen(kw_only=True)
class DataSection(NormalizationConfig):
    """The primary (labelled) dataset: one Parquet file. ``channels: null`` uses every channel column.

    ``normalization``, ``scale`` and ``nan_policy`` are :class:`eeg_io.NormalizationConfig`'s (the same fields and
    rules as pretraining's ``data`` section, whose values the encoder was trained on); ``normalization: null``
    (the default) takes the checkpoint's pretraining normalization and scale, and a value that differs from
    it is a warning. ``channel_train`` (fine-tuning only) standardises each channel with the mean and standard
    deviation of the fold's training and validation samples alone, keeping every sequence's offset: for
    data whose offset is the signal (slow cortical potentials, DC shifts), which ``sequence`` deletes. ``sampling_rate``
    (Hz; the band-power baseline needs it) defaults to null: the checkpoint's ``model.sampling_rate``, which
    pretraining copied from its own ``data.sampling_rate``. Like pretraining's, it is checked against the
    file's ``window_start``/``window_end`` when it carries them in seconds; ``window_times`` says how they
    count (``auto``, ``seconds``, ``samples``: :mod:`eeg_io.timing`), as in pretraining (see ``job``)."""

    # null: the encoder's own pretraining normalization (and scale), read from the checkpoint
    normalization: str | None = attrs.field(
        default=None, validator=optional(one_of((*NORMALIZATIONS, "channel_train")))
    )
    data_path: str | None = None
    channels: tuple[str, ...] | None = attrs.field(
        default=None, converter=optional_tuple, validator=name_list(allow_empty=False, allow_none=True)
    )
    participant_column: str = "Participant"
    label_column: str = "Remission"
    # null: what prepare recorded in the primary file (window for labels from events), else participant
    label_level: str | None = attrs.field(default=None, validator=optional(one_of(LABEL_LEVELS)))
    group_column: str | None = None
    sampling_rate: float | None = attrs.field(
        default=None, converter=optional_float, validator=optional(positive_number("Hz"))
    )
    window_times: str = attrs.field(default="auto", validator=one_of(WINDOW_TIME_UNITS))


@attrs.frozen(kw_only=True)
class SplitConfig:
    """Splits by group (``data.group_column``; default: the participant), never by window.

    ``auto`` (the default): every group is tested exactly once: leave one group out up to
    ``eeg_eval.LOGO_MAX_GROUPS`` groups, stratified group k-fold (``folds``) above.
    ``random``: one stratified train/val/test split of the groups (a few test groups: its verdict is
    usually undecided). ``kfold``: stratified k-fold over
    groups (stratified by each group's majority class). ``group_kfold``: scikit-learn's
    StratifiedGroupKFold over the samples (windows or participants), keeping groups whole.
    ``loso`` / ``logo``: leave one group out (with the default group, one participant). In every method
    but ``random`` a stratified ``val_ratio`` of each fold's training groups is held out for early
    stopping; ``test_ratio`` applies to ``random`` only."""

    method: str = attrs.field(default="auto", validator=one_of(SPLIT_METHODS))
    # 0: no validation share, the last epoch is the model (early stopping on a handful of validation
    # participants picked noise in the README demo; the head then lost to the linear probe).
    val_ratio: float = attrs.field(default=0.0, validator=in_range(0.0, 1.0))
    test_ratio: float = attrs.field(default=0.1, validator=in_range(0.0, 1.0, low_open=True))
    folds: int = attrs.field(default=5, validator=at_least(2))
    seed: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.method == "random" and self.val_ratio + self.test_ratio >= 1.0:
            raise field_error(
                self,
                "test_ratio",
                f"plus val_ratio must leave participants for training, got val_ratio + test_ratio = "
                f"{self.val_ratio:g} + {self.test_ratio:g} >= 1",
            )


@attrs.frozen(kw_only=True)
class ClassifierConfig:
    """The classifier on top of the encoder.

    ``mode: participant``: one sample per participant (every channel's whole sequence of windows is
    encoded, pooled over time, then averaged over channels). ``mode: window``: one sample per group of
    ``window_group`` consecutive windows of a participant; the participant's prediction aggregates its
    groups by ``aggregation``. With window labels (``data.label_level: window``) every window is a sample
    and ``mode`` / ``window_group`` are not used: ``window_context: context`` encodes the whole run and
    classifies each window's token, ``alone`` encodes each window as a sequence of one.
    """

    mode: str = attrs.field(default="participant", validator=one_of(MODES))
    window_context: str = attrs.field(default="context", validator=one_of(WINDOW_CONTEXTS))
    window_group: int = attrs.field(default=4, validator=positive_int)
    aggregation: str = attrs.field(default="mean_probability", validator=one_of(AGGREGATIONS))
    pooling: str = attrs.field(default="mean", validator=one_of(POOLINGS))
    hidden: int | None = attrs.field(default=None, validator=optional(non_negative_int))
    dropout: float = attrs.field(default=0.1, validator=in_range(0.0, 1.0))
    freeze_backbone: bool = attrs.field(default=True, validator=boolean)
    unfreeze_epoch: int | None = attrs.field(default=None, validator=optional(positive_int))

    def __attrs_post_init__(self) -> None:
        if self.unfreeze_epoch is not None and not self.freeze_backbone:
            raise field_error(
                self,
                "unfreeze_epoch",
                "needs freeze_backbone: true (the backbone is then trained from that epoch on)",
            )


@attrs.frozen(kw_only=True)
class FinetuneTrainConfig:
    """Optimisation and early stopping. Epochs are 1-based in logs and in ``unfreeze_epoch``."""

    epochs: int = attrs.field(default=100, validator=positive_int)
    batch_size: int = attrs.field(default=8, validator=positive_int)
    lr: float = attrs.field(default=1e-2, validator=positive_number())
    backbone_lr: float = attrs.field(default=1e-4, validator=positive_number())
    weight_decay: float = attrs.field(default=0.01, validator=non_negative_number)
    warmup_fraction: float = attrs.field(default=0.05, validator=in_range(0.0, 1.0))
    min_lr_ratio: float = attrs.field(default=0.05, validator=in_range(0.0, 1.0, high_open=False))
    grad_clip: float = attrs.field(default=1.0, validator=non_negative_number)
    class_weights: Any = attrs.field(
        default="balanced", converter=_class_weights, validator=_check_class_weights
    )
    early_stopping: str = attrs.field(default="auroc", validator=one_of(EARLY_STOPPING))
    patience: int | None = attrs.field(default=10, validator=optional(positive_int))
    seed: int = 0
    device: str = attrs.field(default="auto", validator=one_of(DEVICES))
    quiet: bool = attrs.field(default=False, validator=boolean)


@attrs.frozen(kw_only=True)
class FinetuneTrackingConfig(eeg_train.TrackingConfig):
    """MLflow (:class:`eeg_train.TrackingConfig`); ``run_name: null`` is ``{pretrain run name}_finetuned``;
    every job's model is a version of the registered model ``eeg-mamba2-classifier``."""

    experiment: str = "eeg_finetuning_mamba2"
    registered_model_name: str = attrs.field(default="eeg-mamba2-classifier", validator=eeg_train.model_name)


@attrs.frozen(kw_only=True)
class EvaluationConfig:
    """Classic features of the baselines and the bootstrap over groups.

    The ``band_power`` baseline's bands are pretraining's (:func:`eeg_ssm.band_edges`): ``bands``
    log-spaced bands between ``fmin`` and ``fmax`` Hz; null values are derived from the windows'
    frequency resolution (``fmin`` 1 Hz or the lowest bin, ``fmax`` min(45 Hz, Nyquist), ``bands`` as many
    as fit, up to 30). What the window length and sampling rate cannot satisfy (``fmax`` above Nyquist,
    a band without a frequency bin) is checked once they are known, before anything is written.

    The verdict (:func:`eeg_eval.judge`) judges ``judged_model`` (named before the results: the linear
    probe by default, or ``finetuned``); ``transductive: true`` declares that pretraining on the test
    groups (without their labels) is intended, and only then may a verdict say "helped" for an encoder
    that saw them."""

    bootstrap_resamples: int = attrs.field(default=1000, validator=non_negative_int)
    confidence: float = attrs.field(default=0.95, validator=in_range(0.0, 1.0, low_open=True))
    bands: int | None = attrs.field(default=8, validator=optional(positive_int))
    fmin: float | None = attrs.field(
        default=None, converter=optional_float, validator=optional(positive_number("Hz"))
    )
    fmax: float | None = attrs.field(
        default=None, converter=optional_float, validator=optional(positive_number("Hz"))
    )
    waveform_bins: int = attrs.field(default=16, validator=positive_int)
    strict_disjoint: bool = attrs.field(default=False, validator=boolean)
    judged_model: str = attrs.field(default="linear_probe", validator=one_of(PRETRAINED))
    transductive: bool = attrs.field(default=False, validator=boolean)

    def __attrs_post_init__(self) -> None:
        if self.fmin is not None and self.fmax is not None and self.fmin >= self.fmax:
            raise field_error(self, "fmin", f"must lie below fmax = {self.fmax:g} Hz, got {self.fmin:g}")


@attrs.frozen(kw_only=True)
class FinetuneConfig:
    pretrained: PretrainedConfig = attrs.Factory(PretrainedConfig)
    data: DataSection = attrs.Factory(DataSection)
    split: SplitConfig = attrs.Factory(SplitConfig)
    model: ClassifierConfig = attrs.Factory(ClassifierConfig)
    train: FinetuneTrainConfig = attrs.Factory(FinetuneTrainConfig)
    tracking: FinetuneTrackingConfig = attrs.Factory(FinetuneTrackingConfig)
    evaluation: EvaluationConfig = attrs.Factory(EvaluationConfig)
    output_dir: str = "finetuned_models"
    compare_baselines: bool = True

    @property
    def split_seed(self) -> int:
        return self.train.seed if self.split.seed is None else self.split.seed


def build_config(data: dict[str, Any], source: str | None = None) -> FinetuneConfig:
    """Plain data -> validated :class:`FinetuneConfig`, or ``ConfigError`` with one line per problem."""
    return structure(data, FinetuneConfig, source)


def load_config(path: str | os.PathLike[str] | None, overrides: Iterable[str] = ()) -> FinetuneConfig:
    """Read YAML (or start from the defaults when ``path`` is None), apply ``--set`` overrides, validate."""
    raw = read_yaml(path) if path is not None else {}
    return build_config(
        apply_overrides(raw, overrides, schema=FinetuneConfig), None if path is None else str(path)
    )


def config_to_dict(config: FinetuneConfig) -> dict[str, Any]:
    return unstructure(config)
