"""The sweep plan: which runs, their names and folders, and what each needs next.

A sweep is one pretraining run per combination of its axes' values (:mod:`eeg_sweep.axes`; by default
mask ratios ``r`` by styles ``s``), each in its own folder ``<train.save_dir>/<run_name>`` with
``run_name = mamba2_eeg_d{d}_l{L}_m{round(r*100)}_{s}`` and a ``_{key}-{value}`` part per other swept key.
What a run needs next is read from its folder alone (``summary.json``, the last checkpoint,
``config.yaml``), so a re-run of the same command skips, resumes or starts each run without any other
bookkeeping.
"""

from __future__ import annotations

import enum
import itertools
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import yaml

from eeg_config import ConfigError, UserError, parse_override, read_yaml
from eeg_config import config_differences as differences
from eeg_pretrain.run_files import CHECKPOINT_LAST, RESOLVED_CONFIG, SUMMARY, read_summary
from eeg_sweep.axes import RATIO, STYLE, Axis, blame, name_suffix, override_value, value_text

# `sweep status` and `--help` read sweep folders through this module, so it imports no torch:
# eeg_pretrain.config (run_folder) and eeg_ssl do, and are imported where a plan is made; eeg_io (pyarrow,
# numpy) where the data sizes are checked.
if TYPE_CHECKING:
    from eeg_pretrain.run_folder import PretrainConfig

DEFAULT_RATIOS = "0.2,0.4,0.6,0.8"
DEFAULT_STYLES = "mae"
DEFAULT_EXPERIMENT = "eeg_pretraining_mamba2_sweep_mask"
RUN_LOG = "pretrain.log"

# Keys the sweep sets for every run; a user's --set on them would make runs collide or lie about
# their parent, so they are refused with the option to use instead.
CONTROLLED_KEYS = {
    "masking.ratio": "use --ratios",
    "masking.style": "use --styles",
    "tracking.experiment": "use --experiment",
    "tracking.run_name": "each run is named after its ratio and style",
    "tracking.parent_run_id": "the sweep's own MLflow run is every run's parent",
}

# Settings that may change between two sessions of one run without making it a different run: speed
# knobs, logging, where MLflow lives, where the folder is (a moved sweep folder is the same sweep).
# Everything else must match the run already in the folder.
FREE_KEY_PREFIXES = ("tracking.", "synthetic.")
FREE_KEYS = frozenset(
    {
        "train.save_dir",
        "train.quiet",
        "train.log_every",
        "train.num_plot_examples",
        "train.compile",
        "train.device",
        "data.num_workers",
        "data.cache_dir",
        "model.backend",
        "model.chunk_size",
    }
)


class SweepError(UserError, ValueError):
    """A sweep option, override or sweep folder the user can fix; the message names it."""


class Action(enum.Enum):
    """What a run needs when the sweep reaches it."""

    SKIP = "skip"  # summary.json says finished
    RESUME = "resume"  # a last checkpoint and no finished summary
    START = "start"  # nothing to continue from
    CONFLICT = "conflict"  # the folder holds a run made with different settings


@attrs.frozen
class PlannedRun:
    """One pretraining run of the sweep. ``ratio`` in (0, 1) and ``style``: its masking; ``folder`` = sweep
    folder / ``name``; ``values``: ``(key, value)`` of each swept key, in the order of the axes."""

    ratio: float
    style: str
    name: str
    folder: Path
    values: tuple[tuple[str, Any], ...] = ()

    @property
    def swept(self) -> dict[str, Any]:
        return dict(self.values)

    def describe(self) -> str:
        """``data.participants 8, mask ratio 0.4, mae``: its swept values, then its masking."""
        others = [f"{key} {value_text(value)}" for key, value in self.values if key not in (RATIO, STYLE)]
        return ", ".join([*others, f"mask ratio {self.ratio:g}", self.style])

    @property
    def log_path(self) -> Path:
        return self.folder / RUN_LOG

    @property
    def last_checkpoint(self) -> Path:
        return self.folder / CHECKPOINT_LAST

    @property
    def summary_path(self) -> Path:
        return self.folder / SUMMARY


@attrs.frozen
class Decision:
    action: Action
    reason: str


# ---------------------------------------------------------------------------- options


def parse_ratios(text: str, option: str = "--ratios") -> tuple[float, ...]:
    """``"0.2,0.4,0.6"`` or ``"start:stop:step"`` (``stop`` included when on the grid) -> sorted ratios.

    Every ratio must lie in (0, 1) and give its own run name (``m{round(r*100)}``). ``option`` names where
    the text came from in messages."""
    text = text.strip()
    if ":" in text:
        values = _ratio_range(text, option)
    else:
        values = [_ratio_number(part, text, option) for part in text.split(",") if part.strip()]
    if not values:
        raise SweepError(f"{option}: no ratio in {text!r}; expected e.g. 0.2,0.4 or 0.2:0.8:0.1")
    for value in values:
        if not 0.0 < value < 1.0:
            raise SweepError(f"{option}: {value:g} is not a mask ratio; expected values in (0, 1)")
    by_tag: dict[int, float] = {}
    for value in sorted(set(values)):
        tag = round(value * 100)
        if tag in by_tag:
            raise SweepError(
                f"{option}: {by_tag[tag]:g} and {value:g} would share the run name suffix m{tag}; "
                "use ratios that differ by at least 0.01"
            )
        by_tag[tag] = value
    return tuple(sorted(by_tag.values()))


def _ratio_number(part: str, text: str, option: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise SweepError(f"{option}: {part.strip()!r} in {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"{option}: {part.strip()!r} is not a finite number")
    return value


def _ratio_range(text: str, option: str) -> list[float]:
    parts = text.split(":")
    if len(parts) != 3:
        raise SweepError(f"{option}: a range is start:stop:step, got {text!r}")
    start, stop, step = (_ratio_number(p, text, option) for p in parts)
    if step <= 0 or stop < start:
        raise SweepError(f"{option}: {text!r} needs step > 0 and start <= stop")
    # The tolerance keeps 0.2:0.8:0.1 from losing 0.8 to floating-point error.
    count = math.floor((stop - start) / step + 1e-9) + 1
    return [round(start + i * step, 10) for i in range(count)]


def parse_styles(text: str, option: str = "--styles") -> tuple[str, ...]:
    """``"mae"`` or ``"mae,bert"`` -> the styles in the order given, without repeats."""
    from eeg_ssl import MASKING_STYLES

    styles: list[str] = []
    for part in text.split(","):
        style = part.strip().lower()
        if not style:
            continue
        if style not in MASKING_STYLES:
            raise SweepError(f"{option}: unknown masking style {part.strip()!r}; expected {MASKING_STYLES}")
        if style not in styles:
            styles.append(style)
    if not styles:
        raise SweepError(f"{option}: no style in {text!r}; expected e.g. mae or mae,bert")
    return tuple(styles)


def check_user_overrides(overrides: Sequence[str], axes: Sequence[Axis] = ()) -> None:
    """Refuse ``--set`` keys the sweep sets itself (flat aliases such as ``mask_ratio`` included), and the
    keys it varies."""
    from eeg_pretrain.run_folder import FLAT_KEYS

    varied = {axis.key: axis.option for axis in axes}
    for text in overrides:
        try:
            path, _ = parse_override(text)
        except ConfigError as exc:
            raise SweepError(str(exc.problems[0])) from None
        key = ".".join(path)
        if len(path) == 1 and key in FLAT_KEYS:
            key = ".".join(FLAT_KEYS[key])
        if key in CONTROLLED_KEYS:
            raise SweepError(f"--set {text!r}: the sweep sets {key} for every run ({CONTROLLED_KEYS[key]})")
        if key in varied:
            raise SweepError(f"--set {text!r}: the sweep varies {key} ({varied[key]}); set it in one place")


# ---------------------------------------------------------------------------- plan


def build_plan(config: PretrainConfig, ratios: Sequence[float], styles: Sequence[str]) -> list[PlannedRun]:
    """One run per (style, ratio), style by style, in folders under ``config.train.save_dir``."""
    from eeg_pretrain.run_folder import run_name_for

    sweep_dir = Path(config.train.save_dir)
    runs = []
    for style in styles:
        for ratio in ratios:
            name = run_name_for(config.model.d_model, config.model.num_layers, ratio, style)
            values = ((RATIO, ratio), (STYLE, style))
            runs.append(
                PlannedRun(ratio=ratio, style=style, name=name, folder=sweep_dir / name, values=values)
            )
    return runs


def plan_grid(
    axes: Sequence[Axis], resolve: Callable[[list[str]], PretrainConfig], sweep_dir: Path
) -> list[tuple[PlannedRun, PretrainConfig]]:
    """One run per combination of the axes' values, with its config (``resolve(overrides)``: the sweep's
    config with the user's ``--set`` and these). The first axis varies fastest: with ``--ratios`` and
    ``--styles`` (the default axes), ratio by ratio within each style, as :func:`build_plan`.

    Raises:
        SweepError: a value that makes an invalid config (naming its option), or two runs with one name.
    """
    from eeg_pretrain.run_folder import run_name_for

    planned: list[tuple[PlannedRun, PretrainConfig]] = []
    keys = [axis.key for axis in axes]
    by_name: dict[str, PlannedRun] = {}
    for combination in itertools.product(*(axis.values for axis in reversed(axes))):
        values = tuple(zip(keys, reversed(combination), strict=True))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # each run's own log carries its warnings
                config = resolve(axis_overrides(values))
        except ConfigError as exc:
            raise SweepError(blame(exc, axes, values)) from None
        model, masking = config.model, config.masking
        name = run_name_for(model.d_model, model.num_layers, masking.ratio, masking.style)
        name += name_suffix(values, keys)
        run = PlannedRun(masking.ratio, masking.style, name, sweep_dir / name, values)
        if name in by_name:
            raise SweepError(
                f"{by_name[name].describe()} and {run.describe()} would share the run name {name}; "
                "give values that differ in their names"
            )
        by_name[name] = run
        planned.append((run, config))
    return planned


def axis_overrides(values: Sequence[tuple[str, Any]]) -> list[str]:
    """``--set`` overrides for swept values (masking ratio and style first, as :func:`run_overrides`)."""
    ordered = sorted(values, key=lambda item: (item[0] != RATIO, item[0] != STYLE))
    return [f"{key}={override_value(value)}" for key, value in ordered]


def run_overrides(run: PlannedRun, experiment: str, parent_run_id: str | None) -> list[str]:
    """The ``--set`` overrides that make ``run`` out of the sweep's config."""
    overrides = [
        f"masking.ratio={run.ratio!r}",
        f"masking.style={_yaml_string(run.style)}",
        *(f"{key}={override_value(value)}" for key, value in run.values if key not in (RATIO, STYLE)),
        f"train.save_dir={_yaml_string(str(run.folder))}",
        f"tracking.experiment={_yaml_string(experiment)}",
        f"tracking.run_name={_yaml_string(run.name)}",
    ]
    if parent_run_id:
        overrides.append(f"tracking.parent_run_id={_yaml_string(parent_run_id)}")
    return overrides


def check_data_sizes(planned: Sequence[tuple[PlannedRun, PretrainConfig]], axes: Sequence[Axis]) -> None:
    """Before any run starts: each run with ``data.participants`` gets its subset from a corpus that exists
    now (a synthetic corpus that the first run will write is not checked).

    Raises:
        SweepError: a count larger than the corpus's training participants, naming the option.
    """
    from eeg_io import EEGDataError, index_corpora, pooled_split

    options = {axis.key: axis.option for axis in axes}
    indexes: dict[tuple[Any, ...], list[Any]] = {}
    for _, config in planned:
        data = config.data
        if data.participants is None or not all(Path(c.path).exists() for c in data.corpus_list):
            continue
        where = (data.corpus_list, data.include_channels, data.exclude_channels, data.on_missing_channel)
        if where not in indexes:
            indexes[where] = index_corpora(data)
        try:
            pooled_split(indexes[where], data, config.train.seed)
        except EEGDataError as exc:
            option = options.get("data.participants", "data.participants")
            raise SweepError(f"{option}: {str(exc).removeprefix('data.participants: ')}") from None


def _yaml_string(text: str) -> str:
    """``text`` as a ``--set`` value that reads back as this very string: as is when YAML agrees,
    JSON-quoted otherwise (a run id like ``1234e5`` would read as a number, ``a: b`` as a mapping)."""
    try:
        if yaml.safe_load(text) == text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)


def decide(run: PlannedRun, wanted: Mapping[str, Any]) -> Decision:
    """What ``run`` needs next, from its folder. ``wanted`` is the run's resolved config as plain data.

    A folder that holds progress (a summary or a checkpoint) made with other settings is a conflict:
    skipping it would report the wrong run, resuming it would mix two configs."""
    summary = read_summary(run.summary_path)
    has_last = run.last_checkpoint.is_file()
    if summary is None and not has_last:
        return Decision(Action.START, "new run")
    differences = config_differences(run.folder / RESOLVED_CONFIG, wanted)
    if differences:
        return Decision(
            Action.CONFLICT,
            f"{run.folder} holds a run made with other settings ({'; '.join(differences)}); "
            "use another train.save_dir or move that folder away",
        )
    if summary is not None and summary.get("finished") is True:
        return Decision(Action.SKIP, "finished")
    if has_last:
        return Decision(Action.RESUME, f"resume from {run.last_checkpoint}")
    return Decision(Action.START, "unfinished, no checkpoint to resume from")


def config_differences(stored_path: Path, wanted: Mapping[str, Any]) -> list[str]:
    """``key: folder X, now Y`` for each setting (outside :data:`FREE_KEYS`) that differs between the
    config a run folder was made with and the one the sweep would use now. No stored config: none."""
    if not stored_path.is_file():
        return []
    try:
        stored = read_yaml(stored_path)
    except ConfigError as exc:
        raise SweepError(f"{stored_path}: unreadable run config ({exc.problems[0]})") from None
    return differences(
        _with_defaults(stored),
        wanted,
        labels=("folder", "now"),
        ignore=FREE_KEYS,
        ignore_prefixes=FREE_KEY_PREFIXES,
    )


def _with_defaults(stored: dict[str, Any]) -> dict[str, Any]:
    """A run folder's config with today's defaults for keys added since it was written (a folder made
    before ``data.participants`` existed is the same run without a subset); as stored when it no longer
    builds (its unknown keys then show as differences)."""
    from eeg_pretrain.run_folder import build_config, config_to_dict

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return config_to_dict(build_config(stored))
    except (ConfigError, ValueError, TypeError):
        return stored
