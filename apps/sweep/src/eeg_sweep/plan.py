"""The sweep plan: which (mask ratio, style) runs, their names and folders, and what each needs next.

A sweep over ratios ``r`` and styles ``s`` is one pretraining run per pair, each in its own folder
``<train.save_dir>/<run_name>`` with ``run_name = mamba2_eeg_d{d}_l{L}_m{round(r*100)}_{s}``. What a run
needs next is read from its folder alone (``summary.json``, the last checkpoint, ``config.yaml``), so a
re-run of the same command skips, resumes or starts each run without any other bookkeeping.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from eeg_config import ConfigError, UserError, parse_override, read_yaml
from eeg_config import config_differences as differences
from eeg_pretrain.run_folder import (
    CHECKPOINT_LAST,
    FLAT_KEYS,
    RESOLVED_CONFIG,
    SUMMARY,
    PretrainConfig,
    read_summary,
    run_name_for,
)
from eeg_ssl import MASKING_STYLES

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
    """One pretraining run of the sweep. ``ratio`` in (0, 1); ``folder`` = sweep folder / ``name``."""

    ratio: float
    style: str
    name: str
    folder: Path

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


def parse_ratios(text: str) -> tuple[float, ...]:
    """``"0.2,0.4,0.6"`` or ``"start:stop:step"`` (``stop`` included when on the grid) -> sorted ratios.

    Every ratio must lie in (0, 1) and give its own run name (``m{round(r*100)}``)."""
    text = text.strip()
    if ":" in text:
        values = _ratio_range(text)
    else:
        values = [_ratio_number(part, text) for part in text.split(",") if part.strip()]
    if not values:
        raise SweepError(f"--ratios: no ratio in {text!r}; expected e.g. 0.2,0.4 or 0.2:0.8:0.1")
    for value in values:
        if not 0.0 < value < 1.0:
            raise SweepError(f"--ratios: {value:g} is not a mask ratio; expected values in (0, 1)")
    by_tag: dict[int, float] = {}
    for value in sorted(set(values)):
        tag = round(value * 100)
        if tag in by_tag:
            raise SweepError(
                f"--ratios: {by_tag[tag]:g} and {value:g} would share the run name suffix m{tag}; "
                "use ratios that differ by at least 0.01"
            )
        by_tag[tag] = value
    return tuple(sorted(by_tag.values()))


def _ratio_number(part: str, text: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise SweepError(f"--ratios: {part.strip()!r} in {text!r} is not a number") from None
    if not math.isfinite(value):
        raise SweepError(f"--ratios: {part.strip()!r} is not a finite number")
    return value


def _ratio_range(text: str) -> list[float]:
    parts = text.split(":")
    if len(parts) != 3:
        raise SweepError(f"--ratios: a range is start:stop:step, got {text!r}")
    start, stop, step = (_ratio_number(p, text) for p in parts)
    if step <= 0 or stop < start:
        raise SweepError(f"--ratios: {text!r} needs step > 0 and start <= stop")
    # The tolerance keeps 0.2:0.8:0.1 from losing 0.8 to floating-point error.
    count = math.floor((stop - start) / step + 1e-9) + 1
    return [round(start + i * step, 10) for i in range(count)]


def parse_styles(text: str) -> tuple[str, ...]:
    """``"mae"`` or ``"mae,bert"`` -> the styles in the order given, without repeats."""
    styles: list[str] = []
    for part in text.split(","):
        style = part.strip().lower()
        if not style:
            continue
        if style not in MASKING_STYLES:
            raise SweepError(f"--styles: unknown masking style {part.strip()!r}; expected {MASKING_STYLES}")
        if style not in styles:
            styles.append(style)
    if not styles:
        raise SweepError(f"--styles: no style in {text!r}; expected e.g. mae or mae,bert")
    return tuple(styles)


def check_user_overrides(overrides: Sequence[str]) -> None:
    """Refuse ``--set`` keys the sweep sets itself (flat aliases such as ``mask_ratio`` included)."""
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


# ---------------------------------------------------------------------------- plan


def build_plan(config: PretrainConfig, ratios: Sequence[float], styles: Sequence[str]) -> list[PlannedRun]:
    """One run per (style, ratio), style by style, in folders under ``config.train.save_dir``."""
    sweep_dir = Path(config.train.save_dir)
    runs = []
    for style in styles:
        for ratio in ratios:
            name = run_name_for(config.model.d_model, config.model.num_layers, ratio, style)
            runs.append(PlannedRun(ratio=ratio, style=style, name=name, folder=sweep_dir / name))
    return runs


def run_overrides(run: PlannedRun, experiment: str, parent_run_id: str | None) -> list[str]:
    """The ``--set`` overrides that make ``run`` out of the sweep's config."""
    overrides = [
        f"masking.ratio={run.ratio!r}",
        f"masking.style={_yaml_string(run.style)}",
        f"train.save_dir={_yaml_string(str(run.folder))}",
        f"tracking.experiment={_yaml_string(experiment)}",
        f"tracking.run_name={_yaml_string(run.name)}",
    ]
    if parent_run_id:
        overrides.append(f"tracking.parent_run_id={_yaml_string(parent_run_id)}")
    return overrides


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
        stored, wanted, labels=("folder", "now"), ignore=FREE_KEYS, ignore_prefixes=FREE_KEY_PREFIXES
    )
