"""The pretraining run config: library-owned sections (data, model, masking) plus train and tracking.

YAML mirrors the nesting::

    data: {dataset_path: ..., window_length: 2048, ...}     # eeg_io.DataConfig
    model: {d_model: 128, num_layers: 6, ...}               # eeg_ssm.ModelConfig
    masking: {style: mae, ratio: 0.4}                       # eeg_ssl.MaskingConfig
    objective: {target: spectrum}                           # eeg_ssl.ObjectiveConfig
    train: {save_dir: ..., epochs: 10, lr: 1.0e-3, ...}     # TrainConfig
    tracking: {experiment: eeg_pretraining_mamba2, ...}     # TrackingConfig

``window_length`` and ``sampling_rate`` are set in one place, the data section: the model section takes
them from there (:class:`eeg_ssm.ModelConfig` holds them because a model is built from its config alone,
e.g. from a checkpoint). A ``model.window_length`` or ``model.sampling_rate`` in YAML is accepted only when it
equals the data's (resolved configs and older files write both). ``model.target`` follows
``objective.target`` unless given (then they must agree).
The older flat format (``dataset_path``, ``mask_ratio``, ``d_model`` ... at the top level) is mapped
onto the sections by :func:`from_flat`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

import eeg_train
from eeg_config import ConfigError, apply_overrides, read_yaml, structure, unstructure
from eeg_config.validators import (
    at_least,
    boolean,
    field_error,
    in_range,
    non_negative_int,
    non_negative_number,
    one_of,
    optional,
    positive_int,
    positive_number,
)
from eeg_io import CorpusRecord, DataConfig, read_corpus_record
from eeg_ssl import MaskingConfig, ObjectiveConfig
from eeg_ssm import ModelConfig

log = logging.getLogger("eeg_pretrain")
SECTIONS = ("data", "model", "masking", "objective", "train", "tracking", "synthetic")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = eeg_train.DEVICES


@attrs.frozen(kw_only=True)
class TrainConfig:
    """Optimisation, checkpointing and run-control settings."""

    save_dir: str = "runs/pretrain"
    seed: int = attrs.field(default=0, validator=non_negative_int)
    epochs: int = attrs.field(default=10, validator=positive_int)
    grad_accum_steps: int = attrs.field(default=1, validator=positive_int)
    lr: float = attrs.field(default=1e-3, validator=positive_number())
    min_lr_ratio: float = attrs.field(default=0.05, validator=in_range(0.0, 1.0, high_open=False))
    warmup_fraction: float = attrs.field(default=0.05, validator=in_range(0.0, 1.0))
    weight_decay: float = attrs.field(default=0.05, validator=non_negative_number)
    beta1: float = attrs.field(default=0.9, validator=in_range(0.0, 1.0))
    beta2: float = attrs.field(default=0.95, validator=in_range(0.0, 1.0))
    grad_clip: float = attrs.field(default=1.0, validator=non_negative_number)
    precision: str = attrs.field(default="auto", validator=one_of(PRECISIONS))
    compile: bool = attrs.field(default=False, validator=boolean)
    device: str = attrs.field(default="auto", validator=one_of(DEVICES))
    patience: int | None = attrs.field(default=None, validator=optional(positive_int))
    max_nonfinite_steps: int = attrs.field(default=20, validator=positive_int)
    log_every: int = attrs.field(default=10, validator=positive_int)
    num_plot_examples: int = attrs.field(default=4, validator=non_negative_int)
    quiet: bool = attrs.field(default=False, validator=boolean)


@attrs.frozen(kw_only=True)
class TrackingConfig(eeg_train.TrackingConfig):
    """MLflow settings (:class:`eeg_train.TrackingConfig`: the best checkpoint of every run is a version of
    the registered model ``eeg-mamba2-encoder``), plus ``parent_run_id`` (a sweep's parent run),
    ``log_checkpoint`` (the best checkpoint as a run artifact) and ``on_failure``: when the store fails
    during the run, ``continue`` (keep training, keep what would be logged in the run folder for
    ``pretrain log-run``) or ``fail`` (stop with exit 2)."""

    experiment: str = "eeg_pretraining_mamba2"
    registered_model_name: str = attrs.field(default="eeg-mamba2-encoder", validator=eeg_train.model_name)
    parent_run_id: str | None = None
    log_checkpoint: bool = True
    on_failure: str = attrs.field(default="continue", validator=one_of(eeg_train.ON_FAILURE))


@attrs.frozen(kw_only=True)
class SyntheticCorpusConfig:
    """With ``enabled``, a synthetic EEG corpus (eeg-io) is written to ``data.dataset_path`` when that folder
    holds no Parquet files yet: the demo's first run makes its own data."""

    enabled: bool = False
    participants: int = attrs.field(default=8, validator=at_least(2))
    runs: int = attrs.field(default=1, validator=positive_int)
    windows_per_run: int = attrs.field(default=24, validator=at_least(2))
    channels: tuple[str, ...] | None = None
    sfreq: float = attrs.field(default=256.0, validator=positive_number("Hz"))
    seed: int = 0


_DATA_DEFAULTS = {field.name: field.default for field in attrs.fields(DataConfig)}


def _default_model(data: DataConfig, objective: ObjectiveConfig) -> ModelConfig:
    return ModelConfig(
        window_length=data.window_length, sampling_rate=float(data.sampling_rate), target=objective.target
    )


@attrs.frozen(kw_only=True)
class PretrainConfig:
    data: DataConfig
    model: ModelConfig = attrs.field()
    masking: MaskingConfig = attrs.Factory(MaskingConfig)
    objective: ObjectiveConfig = attrs.Factory(ObjectiveConfig)
    train: TrainConfig = attrs.Factory(TrainConfig)
    tracking: TrackingConfig = attrs.Factory(TrackingConfig)
    synthetic: SyntheticCorpusConfig = attrs.Factory(SyntheticCorpusConfig)

    @model.default
    def _model_default(self) -> ModelConfig:
        return _default_model(self.data, self.objective)

    def __attrs_post_init__(self) -> None:
        if self.model.window_length != self.data.window_length:
            raise field_error(
                self,
                "model.window_length",
                f"must equal data.window_length = {self.data.window_length} (set data.window_length only), "
                f"got {self.model.window_length}",
            )
        if self.model.sampling_rate != float(self.data.sampling_rate):
            raise field_error(
                self,
                "model.sampling_rate",
                f"must equal data.sampling_rate = {self.data.sampling_rate:g} (set data.sampling_rate only), "
                f"got {self.model.sampling_rate:g}",
            )
        if self.synthetic.enabled and self.data.pooled:
            raise field_error(
                self,
                "synthetic.enabled",
                "writes one corpus to data.dataset_path; with data.corpora write each corpus first "
                "(python -m eeg_io synth OUT_DIR) and set synthetic.enabled: false",
            )
        if self.model.target != self.objective.target:
            raise field_error(
                self,
                "model.target",
                f"must equal objective.target = {self.objective.target!r} (set objective.target only), "
                f"got {self.model.target!r}",
            )

    @property
    def run_name(self) -> str:
        return self.tracking.run_name or run_name_for(
            self.model.d_model, self.model.num_layers, self.masking.ratio, self.masking.style
        )


def run_name_for(d_model: int, num_layers: int, ratio: float, style: str) -> str:
    """``mamba2_eeg_d{d}_l{L}_m{ratio*100}_{style}``, e.g. ``mamba2_eeg_d128_l6_m40_mae``."""
    return f"mamba2_eeg_d{d_model}_l{num_layers}_m{round(ratio * 100)}_{style}"


# Older single-level configs: flat key -> (section, key). ``window_length`` goes to data (model takes it from there).
FLAT_KEYS: dict[str, tuple[str, str]] = {
    "dataset_path": ("data", "dataset_path"),
    "data_path": ("data", "dataset_path"),
    "window_length": ("data", "window_length"),
    "normalization": ("data", "normalization"),
    "max_windows": ("data", "max_windows"),
    "num_workers": ("data", "num_workers"),
    "val_ratio": ("data", "val_ratio"),
    "cache_dir": ("data", "cache_dir"),
    "include_channels": ("data", "include_channels"),
    "exclude_channels": ("data", "exclude_channels"),
    "asa_path": ("model", "asa_path"),
    "montage": ("model", "montage"),
    "d_model": ("model", "d_model"),
    "num_layers": ("model", "num_layers"),
    "d_state": ("model", "d_state"),
    "d_conv": ("model", "d_conv"),
    "expand": ("model", "expand"),
    "headdim": ("model", "headdim"),
    "dropout": ("model", "dropout"),
    "backend": ("model", "backend"),
    "bidirectional": ("model", "bidirectional"),
    "masking_style": ("masking", "style"),
    "mask_style": ("masking", "style"),
    "mask_ratio": ("masking", "ratio"),
    "masking_ratio": ("masking", "ratio"),
    "save_dir": ("train", "save_dir"),
    "seed": ("train", "seed"),
    "epochs": ("train", "epochs"),
    "num_epochs": ("train", "epochs"),
    "batch_size": ("data", "batch_size"),
    "lr": ("train", "lr"),
    "learning_rate": ("train", "lr"),
    "weight_decay": ("train", "weight_decay"),
    "grad_clip": ("train", "grad_clip"),
    "patience": ("train", "patience"),
    "early_stopping_patience": ("train", "patience"),
    "device": ("train", "device"),
    "mlflow_tracking_uri": ("tracking", "uri"),
    "mlflow_experiment": ("tracking", "experiment"),
    "mlflow_experiment_name": ("tracking", "experiment"),
    "run_name": ("tracking", "run_name"),
}


def is_flat(data: Mapping[str, Any]) -> bool:
    """A config is in the older flat format when none of its top-level values is a section mapping."""
    return bool(data) and not any(
        key in SECTIONS and isinstance(value, Mapping) for key, value in data.items()
    )


def from_flat(data: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """Map an older flat config onto the sections; unknown flat keys are errors naming them."""
    nested: dict[str, dict[str, Any]] = {}
    unknown = sorted(key for key in data if key not in FLAT_KEYS)
    if unknown:
        raise ConfigError(
            [f"unknown key(s) {', '.join(unknown)} in a flat (older-format) config @ $"], source
        )
    for key, value in data.items():
        section, name = FLAT_KEYS[key]
        nested.setdefault(section, {})[name] = value
    return nested


def build_config(data: Mapping[str, Any], source: str | None = None) -> PretrainConfig:
    """Plain (possibly flat) data -> validated :class:`PretrainConfig`; :class:`ConfigError` otherwise."""
    nested = from_flat(data, source) if is_flat(data) else {k: v for k, v in data.items()}
    if "data" not in nested:
        raise ConfigError(["required section missing @ $.data"], source)
    data_section = nested.get("data")
    model_section = nested.get("model")
    copied: dict[str, str] = {}  # YAML path of a value copied here -> the path the user set it at
    if isinstance(data_section, Mapping) and isinstance(model_section, Mapping | type(None)):
        model_section = dict(model_section or {})
        for key in ("window_length", "sampling_rate"):  # set in data; the model derives them
            if key not in model_section:
                model_section[key] = data_section.get(key, _DATA_DEFAULTS[key])
                copied[f"$.model.{key}"] = f"$.data.{key}"
        objective_section = nested.get("objective")
        if isinstance(objective_section, Mapping | type(None)):
            objective_section = dict(objective_section or {})
            if "target" in objective_section and "target" not in model_section:
                model_section["target"] = objective_section["target"]
                copied["$.model.target"] = "$.objective.target"
            elif "target" in model_section and "target" not in objective_section:
                nested["objective"] = {**objective_section, "target": model_section["target"]}
                copied["$.objective.target"] = "$.model.target"
        nested["model"] = model_section
    try:
        return structure(nested, PretrainConfig, source)
    except ConfigError as exc:
        raise ConfigError(_where_the_user_set_it(exc.problems, copied), source) from None


def _where_the_user_set_it(problems: list[str], copied: Mapping[str, str]) -> list[str]:
    """Report a problem with a copied value (``model.window_length`` from ``data.window_length``) once,
    at the key the user wrote: dropped when the original's own check already reported it, else moved
    there (e.g. the model's band-power transform needs longer windows than the data section asks for)."""
    where = [problem.rpartition(" @ ")[2] for problem in problems]
    kept = []
    for problem, path in zip(problems, where, strict=True):
        if path in copied:
            if copied[path] in where:
                continue
            problem = f"{problem.rpartition(' @ ')[0]} @ {copied[path]}"
        kept.append(problem)
    return kept


def load_config(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> PretrainConfig:
    """Read YAML (sectioned or older flat format), apply ``--set`` overrides, take what the user did not
    set from the corpus (:func:`from_the_corpus`), validate."""
    raw = read_yaml(path)
    if is_flat(raw):
        raw = from_flat(raw, str(path))
    raw = apply_overrides(raw, [_dotted(text) for text in overrides], schema=PretrainConfig)
    return build_config(from_the_corpus(raw, str(path)), str(path))


def from_the_corpus(raw: Mapping[str, Any], source: str | None = None) -> dict[str, Any]:
    """``data.window_length`` and ``data.sampling_rate`` the user did not set, taken from the corpus at
    ``data.dataset_path`` (:func:`eeg_io.read_corpus_record`: what prepare recorded in its files, else what
    the data shows); a value the user set that disagrees with a recorded one is a :class:`ConfigError`
    naming both. A corpus that does not exist yet (a synthetic demo's) leaves the config as it is.

    Pooled corpora (``data.corpora``) must agree with each other: every corpus's recorded value must
    equal the user's, and without one, what the corpora record or show must be one value; a disagreement
    names both corpora and says which prepare setting makes them agree."""
    raw = dict(raw)
    data = raw.get("data")
    if not isinstance(data, Mapping):
        return raw
    records = [(name, record) for name, record in _corpus_records(data) if record is not None]
    if not records:
        return raw
    data = dict(data)
    for key in ("window_length", "sampling_rate"):
        found = [(name, record, getattr(record, key)) for name, record in records]
        found = [(name, record, value) for name, record, value in found if value is not None]
        if not found:
            continue
        if key in data:
            for name, record, value in found:
                if record.recorded and data[key] is not None and float(data[key]) != float(value):
                    corpus = f" (corpus {name})" if name else ""
                    raise ConfigError(
                        [f"{data[key]} disagrees with {value:g}, {_where(record)} {record.file}{corpus}; leave "
                         f"data.{key} out to take the corpus's @ $.data.{key}"],
                        source,
                    )  # fmt: skip
            continue
        first_name, first, value = found[0]
        for name, record, other in found[1:]:
            if float(other) != float(value):
                raise ConfigError(
                    [f"corpus {first_name} has {key} {value:g} ({_where(record=first)} {first.file}) but corpus "
                     f"{name} has {other:g} ({_where(record)} {record.file}): pooled corpora need one "
                     f"{key}; re-run prepare on them with one {PREPARE_KEYS[key]} @ $.data.corpora"],
                    source,
                )  # fmt: skip
        data[key] = value
        log.info("data.%s: %g, %s %s", key, value, _where(first), first.file)
    raw["data"] = data
    return raw


#: The prepare setting (configs/processing.yaml) that makes corpora agree on a data setting.
PREPARE_KEYS = {
    "sampling_rate": "signal.sampling_rate",
    "window_length": "windows.window_seconds (at one signal.sampling_rate)",
}


def _where(record: CorpusRecord) -> str:
    return "recorded by prepare in" if record.recorded else "shown by the data of"


def _corpus_records(data: Mapping[str, Any]) -> list[tuple[str | None, CorpusRecord | None]]:
    """``(corpus name or None for data.dataset_path, its record)`` for each corpus of a raw data section
    whose path exists (a corpus not written yet, or a malformed section, has none)."""
    if isinstance(data.get("dataset_path"), str) and data.get("corpora") is None:
        path = data["dataset_path"]
        return [(None, read_corpus_record(path))] if Path(path).exists() else []
    corpora = data.get("corpora")
    if not isinstance(corpora, list) or data.get("dataset_path") is not None:
        return []  # the config's own checks say what is wrong
    records = []
    for corpus in corpora:
        if not isinstance(corpus, Mapping) or not isinstance(corpus.get("path"), str):
            return []
        if Path(corpus["path"]).exists():
            name = corpus.get("name") or Path(corpus["path"]).name or Path(corpus["path"]).resolve().name
            records.append((str(name), read_corpus_record(corpus["path"])))
    return records


def _dotted(override: str) -> str:
    """Let ``--set mask_ratio=0.5`` (an older flat key) mean ``--set masking.ratio=0.5``."""
    key, sep, value = override.partition("=")
    if sep and key.strip() in FLAT_KEYS:
        section, name = FLAT_KEYS[key.strip()]
        return f"{section}.{name}={value}"
    return override


def config_to_dict(config: PretrainConfig) -> dict[str, Any]:
    return unstructure(config)
