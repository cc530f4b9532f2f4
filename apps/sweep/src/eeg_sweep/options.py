"""The sweep's options, each from the command line where given, else from the sweep config
(``--sweep-config``), else its default; and the axes they make (:mod:`eeg_sweep.axes`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import attrs

from eeg_sweep.axes import (
    RATIO,
    STYLE,
    Axis,
    AxisError,
    check_key,
    command_line_values,
    file_axes,
    make_axis,
    split_vary,
)
from eeg_sweep.plan import (
    DEFAULT_EXPERIMENT,
    DEFAULT_RATIOS,
    DEFAULT_STYLES,
    SweepError,
    parse_ratios,
    parse_styles,
)
from eeg_sweep.settings import SweepSettings, load_settings


@attrs.frozen
class Options:
    """The sweep's options: the command line's where given, else the sweep config's, else defaults.
    ``axes``: what the sweep varies, the first axis fastest (the summary plot's x-axis)."""

    axes: tuple[Axis, ...]
    experiment: str
    launcher: str
    max_parallel: int | None
    gpus_per_run: int | None
    torchrun: bool
    nproc: int | None
    settings: SweepSettings


def resolve_options(args: argparse.Namespace) -> Options:
    settings = load_settings(args.sweep_config)

    def pick(name: str, default: Any = None) -> Any:
        given = getattr(args, name)
        return (
            given
            if given is not None
            else getattr(settings, name)
            if getattr(settings, name) is not None
            else default
        )

    def where(name: str) -> str:
        """How the user set ``name``: the option, or the key of the sweep config."""
        if getattr(args, name) is not None:
            return "--" + name.replace("_", "-")
        return f"{name} in {args.sweep_config}"

    experiment = pick("experiment", DEFAULT_EXPERIMENT)
    if not experiment.strip():
        raise SweepError(f"{where('experiment')}: expected an MLflow experiment name")
    max_parallel = pick("max_parallel")
    if max_parallel is not None and max_parallel < 1:
        raise SweepError(
            f"{where('max_parallel')}: expected a positive number of runs at a time, got {max_parallel}"
        )
    launcher = pick("launcher", "local")
    torchrun = bool(pick("torchrun", False))
    if launcher == "slurm":
        for name in ("gpus_per_run", "nproc"):
            if pick(name) is not None:
                raise SweepError(
                    f"{where(name)}: not used with the slurm launcher (slurm.gpus_per_node, slurm.nodes and "
                    "slurm.tasks_per_node in the sweep config set each job's GPUs and processes)"
                )
        if torchrun:
            raise SweepError(
                f"{where('torchrun')}: not used with the slurm launcher (a job with several tasks is a DDP run)"
            )
    ratios = None if pick("ratios") is None else (pick("ratios"), where("ratios"))
    styles = None if pick("styles") is None else (pick("styles"), where("styles"))
    return Options(
        axes=resolve_axes(args.vary, settings, args.sweep_config, ratios, styles),
        experiment=experiment,
        launcher=launcher,
        max_parallel=max_parallel,
        gpus_per_run=pick("gpus_per_run"),
        torchrun=torchrun,
        nproc=pick("nproc"),
        settings=settings,
    )


def resolve_axes(
    vary: Sequence[str],
    settings: SweepSettings,
    source: str | None,
    ratios: tuple[str, str] | None,
    styles: tuple[str, str] | None,
) -> tuple[Axis, ...]:
    """The axes: each ``--vary`` (or, without any, each key of the sweep config's ``vary:``) in order, then
    ``ratios`` and ``styles`` (``(text, where it was given)``) when given. Without ``--vary`` or ``vary:``,
    the mask-ratio sweep: ratios (default 0.2,0.4,0.6,0.8) by styles (default mae).

    Raises:
        SweepError: an unknown or refused key, a value that is not one (for ratios and styles), a key
            given twice; one line naming the option.
    """
    axes: list[Axis] = []
    try:
        if vary:
            for text in vary:
                key, values = split_vary(text)
                axes.append(_axis(key, values, f"--vary {key}", from_text=True))
        elif settings.vary:
            for key, values, option in file_axes(settings.vary, str(source)):
                axes.append(_axis(key, values, option, from_text=False))
    except AxisError as exc:
        raise SweepError(str(exc)) from None
    if not axes:
        ratios = ratios or (DEFAULT_RATIOS, "--ratios")
        styles = styles or (DEFAULT_STYLES, "--styles")
    if ratios is not None:
        axes.append(Axis(RATIO, parse_ratios(ratios[0], ratios[1]), ratios[1]))
    if styles is not None:
        axes.append(Axis(STYLE, parse_styles(styles[0], styles[1]), styles[1]))
    seen: dict[str, str] = {}
    for axis in axes:
        if axis.key in seen:
            raise SweepError(f"{axis.option}: {axis.key} is varied already ({seen[axis.key]}); give it once")
        seen[axis.key] = axis.option
    return tuple(axes)


def _axis(key: str, values: Any, option: str, *, from_text: bool) -> Axis:
    expected = check_key(key, option)
    if key == RATIO:  # the same checks as --ratios and --styles (each value names its own run)
        text = values if from_text else ",".join(str(v) for v in values)
        return Axis(key, parse_ratios(text, option), option)
    if key == STYLE:
        text = values if from_text else ",".join(str(v) for v in values)
        return Axis(key, parse_styles(text, option), option)
    parsed = command_line_values(values, expected, option) if from_text else list(values)
    return make_axis(key, parsed, option)
