"""What a sweep varies: pretrain config keys (axes), each with its values; the runs are their grid.

An axis comes from ``--vary KEY=V1,V2`` (repeatable; ``KEY=[V1, V2]`` for values that hold commas or are
lists), from ``vary: {KEY: [V1, V2]}`` in the sweep config, or from ``--ratios`` / ``--styles`` (the axes
``masking.ratio`` and ``masking.style``). Without ``--vary`` the sweep is the mask-ratio sweep it always
was: ``--ratios`` (default 0.2 ... 0.8) by ``--styles`` (default mae).

Keys are checked against :class:`~eeg_pretrain.run_folder.PretrainConfig` when they are read, and values
typed on the command line are read the way ``pretrain --set`` reads them: YAML, except where the config
expects text (``{participant}`` stays a string).

A run is named ``mamba2_eeg_d{d}_l{L}_m{ratio*100}_{style}`` (:func:`run_name_for`, as without axes),
followed by ``_{key}-{value}`` for each swept key that this stem does not already show, e.g.
``mamba2_eeg_d128_l6_m40_mae_participants-8``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

import attrs
import yaml

from eeg_config import ConfigError, field_type, parse_value
from eeg_config.schema import MISSING

# pretrain's config (FLAT_KEYS, PretrainConfig) imports torch: it is imported where keys are read, so
# `sweep status` and `--help` (which read values through this module) start without it.

RATIO, STYLE = "masking.ratio", "masking.style"
# keys the run name's stem shows already (mamba2_eeg_d{d_model}_l{num_layers}_m{ratio}_{style})
IN_STEM = frozenset({RATIO, STYLE, "model.d_model", "model.num_layers"})
# keys a sweep cannot vary, with the reason
NOT_VARIED = {
    "train.save_dir": "each run's folder is <train.save_dir>/<run name>; --set train.save_dir=DIR moves the sweep",
    "tracking.": "the sweep sets its runs' tracking (--experiment, run names, the parent run)",
    "synthetic.": "the synthetic corpus is written once, by the first run, for every run; vary "
    "data.participants or data.dataset_path instead",
}
TAG_LENGTH = 40  # a longer value text is cut and followed by a digest of the whole value


class AxisError(ValueError):
    """A bad ``--vary`` or ``vary:`` entry (the sweep turns it into its own one-line error)."""


@attrs.frozen
class Axis:
    """One swept key: ``key`` a dotted pretrain config key, ``values`` in the order given (repeats dropped),
    ``option`` how the user gave it (``--vary data.participants``, ``--ratios``), for messages."""

    key: str
    values: tuple[Any, ...]
    option: str


def split_vary(text: str) -> tuple[str, str]:
    """``KEY=V1,V2`` -> ``(KEY, "V1,V2")``."""
    key, sep, values = text.partition("=")
    if not sep or not key.strip() or any(not part for part in key.strip().split(".")):
        raise AxisError(f"--vary expects KEY=V1,V2,... (e.g. data.participants=4,8,16), got {text!r}")
    return canonical_key(key.strip()), values


def canonical_key(key: str) -> str:
    """An older flat alias (``mask_ratio``) as its dotted key (``masking.ratio``)."""
    from eeg_pretrain.run_folder import FLAT_KEYS

    return ".".join(FLAT_KEYS[key]) if key in FLAT_KEYS else key


def check_key(key: str, option: str) -> Any:
    """The type the pretrain config expects at ``key``; AxisError when it has no such setting, or the
    sweep cannot vary it."""
    from eeg_pretrain.run_folder import PretrainConfig

    expected = field_type(PretrainConfig, key.split("."))
    if expected is MISSING:
        raise AxisError(
            f"{option}: {key} is not a setting of the pretrain config (see configs/pretrain.yaml)"
        )
    if attrs.has(expected):
        raise AxisError(f"{option}: {key} is a section; vary one of its keys (e.g. {key}.<key>)")
    for refused, why in NOT_VARIED.items():
        if key == refused or (refused.endswith(".") and key.startswith(refused)):
            raise AxisError(f"{option}: the sweep cannot vary {key} ({why})")
    return expected


def command_line_values(text: str, expected: Any, option: str) -> list[Any]:
    """``V1,V2`` (each read as ``pretrain --set`` reads a value) or a YAML list ``[V1, [V2, V3]]``."""
    if text.strip().startswith("["):
        try:
            values = yaml.safe_load(text)
        except yaml.YAMLError:
            values = None
        if not isinstance(values, list):
            raise AxisError(f"{option}: {text!r} is not a YAML list; expected e.g. [a, b] or a,b")
        return values
    return [parse_value(part, expected) for part in text.split(",") if part.strip()]


def make_axis(key: str, values: Sequence[Any], option: str) -> Axis:
    """An axis of ``values`` (repeats dropped, order kept); AxisError when there are none."""
    kept: dict[str, Any] = {}
    for value in values:
        kept.setdefault(json.dumps(value, sort_keys=True, default=str), value)
    if not kept:
        raise AxisError(f"{option}: no value given")
    return Axis(key, tuple(kept.values()), option)


def value_text(value: Any) -> str:
    """How a value reads in messages and ``--set`` overrides: YAML flow style (``0.25``, ``[FZ, CZ]``)."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf).strip()
    return text.removesuffix("...").strip()


def override_value(value: Any) -> str:
    """``value`` as the text after ``--set KEY=``, reading back as this very value."""
    text = value_text(value)
    if isinstance(value, str):
        try:
            if yaml.safe_load(text) == value:
                return text
        except yaml.YAMLError:
            pass
        return json.dumps(value)
    return text


def labels(keys: Sequence[str]) -> dict[str, str]:
    """A short label per key for run names and tables: its last part (``participants``), or the whole key
    with ``-`` for ``.`` where two keys share a last part (``train-seed``, ``model-spatial_seed``)."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {
        key: (short if last.count(short) == 1 else key.replace(".", "-"))
        for key, short in zip(keys, last, strict=True)
    }


def value_tag(value: Any) -> str:
    """A value as part of a folder name: numbers as written (``0.25``, ``8``), booleans and null as
    ``true`` / ``false`` / ``none``, a path by its last part, a list joined by ``+``; characters other
    than letters, digits and ``._+-`` become ``_``. Long texts are cut, with a digest of the whole value."""
    if value is None:
        text = "none"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = format(value, ".10g")
        text += ".0" if text.lstrip("-").isdigit() else ""  # 1.0 (a fraction) is not 1 (a count)
    elif isinstance(value, str):
        text = PurePosixPath(value).name if "/" in value.rstrip("/") else value  # a path: its last part
    elif isinstance(value, list | tuple):
        text = "+".join(value_tag(v) for v in value) or "empty"
    else:
        text = json.dumps(value, sort_keys=True)
    text = re.sub(r"[^A-Za-z0-9._+-]", "_", text) or "_"
    if len(text) > TAG_LENGTH:
        digest = hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:8]
        text = f"{text[:TAG_LENGTH]}-{digest}"
    return text


def name_suffix(values: Sequence[tuple[str, Any]], keys: Sequence[str]) -> str:
    """``_{label}-{tag}`` for each swept key of ``values`` that the run name's stem does not show."""
    label = labels(keys)
    return "".join(f"_{label[key]}-{value_tag(value)}" for key, value in values if key not in IN_STEM)


def problem_key(problem: str) -> str | None:
    """The dotted key a ``ConfigError`` problem line (``... @ $.data.participants``) is about."""
    _, sep, where = problem.rpartition(" @ $.")
    return where.strip() if sep else None


def blame(exc: ConfigError, axes: Sequence[Axis], values: Sequence[tuple[str, Any]]) -> str:
    """One line for a run config that does not build: the first problem, with the option and value of the
    axis it is about, else with every swept value of the run."""
    problem = exc.problems[0] if exc.problems else str(exc)
    by_key = {axis.key: axis for axis in axes}
    key = problem_key(problem)
    for swept, value in values:
        if swept == key or (key is not None and key.startswith(swept + ".")):
            return f"{by_key[swept].option}: {value_text(value)} is not a valid value ({problem})"
    run = ", ".join(f"{k}={value_text(v)}" for k, v in values)
    return f"the run with {run} has an invalid config: {problem}"


def file_axes(vary: Mapping[str, Any], source: str) -> list[tuple[str, list[Any], str]]:
    """``vary:`` of the sweep config -> ``(key, values, option)`` entries; values as YAML read them."""
    entries = []
    for key, values in vary.items():
        option = f"vary.{key} in {source}"
        if not isinstance(key, str) or not key.strip():
            raise AxisError(f"vary in {source}: expected config keys, got {key!r}")
        entries.append((canonical_key(key.strip()), values if isinstance(values, list) else [values], option))
    return entries
