"""The sweep's own settings: a YAML file (``--sweep-config``) whose keys mirror the command-line options,
plus a ``slurm:`` section for the SLURM launcher. Options given on the command line win over the file.

```yaml
vary: {data.participants: [4, 8, 16]}   # any pretrain config keys (default: the mask ratio, below)
ratios: 0.2,0.4,0.6,0.8      # or a list: [0.2, 0.4]
styles: mae
launcher: slurm              # local | slurm
max_parallel: null           # local: 1; slurm: no limit
slurm:
  partition: gpu
  time: "12:00:00"           # minutes (720) or [D-]HH:MM:SS
  nodes: 1
  gpus_per_node: 4
  cpus_per_task: 8
  mem_gb: 64
  sbatch_options: {constraint: a100, exclusive: true}   # any other #SBATCH option; true: a bare flag
```
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from eeg_config import read_yaml, structure
from eeg_config.validators import (
    FieldError,
    at_least,
    field_error,
    non_negative_int,
    one_of,
    optional,
    positive_int,
    positive_number,
)

LAUNCHERS = ("local", "slurm")
# submitit executors the slurm launcher may use: the real one, or submitit's LocalExecutor, which runs
# the same pickled jobs as processes of this machine (to try a SLURM set-up without a cluster).
CLUSTERS = ("slurm", "local")


def _time_minutes(value: Any) -> int:
    """``720``, ``"720"``, ``"12:00:00"``, ``"1-00:00:00"`` or ``"30:00"`` (MM:SS as sbatch reads it) ->
    whole minutes (rounded up). A converter knows no class, so its errors name the field themselves."""
    if isinstance(value, bool):
        raise FieldError(f"expected minutes or [D-]HH:MM:SS for time, got {value!r}", field="time")
    if isinstance(value, int):
        minutes = value
    else:
        text = str(value).strip()
        match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
        if match is None:
            raise FieldError(f"expected minutes or [D-]HH:MM:SS for time, got {value!r}", field="time")
        days, first, second, third = match.groups()
        parts = [int(p) for p in (first, second, third) if p is not None]
        if days is None and len(parts) == 1:
            seconds = parts[0] * 60
        elif len(parts) == 2 and days is None:
            seconds = parts[0] * 60 + parts[1]  # MM:SS
        else:
            parts += [0] * (3 - len(parts))
            seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
        seconds += int(days or 0) * 86400
        minutes = -(-seconds // 60)
    if minutes < 1:
        raise FieldError(f"expected time of at least one minute, got {value!r}", field="time")
    return minutes


def _sbatch_options(value: Any) -> dict[str, str | bool]:
    """YAML ``{key: value}`` -> what submitit writes as ``#SBATCH --key=value``: strings as they are,
    numbers as text (``threads-per-core: 1``), ``true`` as a bare flag (``exclusive: true`` ->
    ``--exclusive``: submitit writes that for the value ``True``). ``false`` is refused rather than
    dropped: PyYAML reads an unquoted ``no`` as false, and a yes/no option (``kill-on-invalid-dep: no``)
    must not vanish."""
    if not isinstance(value, Mapping):
        raise FieldError(
            f"SlurmSettings.sbatch_options must be a mapping of sbatch option -> value, got {value!r}",
            field="sbatch_options",
        )
    options: dict[str, str | bool] = {}
    for key, option in value.items():
        field = f"sbatch_options.{key}"
        if not isinstance(key, str) or not key.strip():
            raise FieldError(f"SlurmSettings.sbatch_options: expected option names, got {key!r}", field=field)
        if option is True or isinstance(option, str):
            options[key] = option
        elif option is False:
            raise FieldError(
                f"SlurmSettings.{field} is false: leave the option out, or quote a yes/no value ('no')",
                field=field,
            )
        elif isinstance(option, int | float) and math.isfinite(option):
            options[key] = str(option)
        else:
            raise FieldError(
                f"SlurmSettings.{field} must be a string, a number or true (a flag without value), "
                f"got {option!r}",
                field=field,
            )
    return options


@attrs.frozen(kw_only=True)
class SlurmSettings:
    """One SLURM job per run, submitted with submitit. ``gpus_per_node`` GPUs and ``tasks_per_node``
    processes on each of ``nodes`` nodes; with more than one process in all, the run is one DDP job
    (submitit's distributed environment: rank 0 writes files and talks to MLflow)."""

    partition: str | None = None
    time: Any = attrs.field(default=60, converter=_time_minutes)  # minutes (int) once converted
    nodes: int = attrs.field(default=1, validator=positive_int)
    gpus_per_node: int = attrs.field(default=0, validator=non_negative_int)
    tasks_per_node: int | None = attrs.field(
        default=None, validator=optional(positive_int)
    )  # default: GPUs, or 1
    cpus_per_task: int | None = attrs.field(default=None, validator=optional(positive_int))
    mem_gb: float | None = attrs.field(default=None, validator=optional(positive_number("GB")))
    account: str | None = None
    qos: str | None = None
    # any other #SBATCH --key=value (str values; True for a flag without value) once converted
    sbatch_options: Any = attrs.field(factory=dict, converter=_sbatch_options)
    setup: tuple[str, ...] = ()  # shell lines run before the job (module load ..., source .venv/bin/activate)
    max_requeues: int = attrs.field(default=3, validator=non_negative_int)  # requeues after a time-out
    signal_delay_s: int = attrs.field(default=120, validator=at_least(10))  # warning before the time limit
    folder: str | None = None  # submitit's job files; default <sweep folder>/.submitit
    cluster: str = attrs.field(default="slurm", validator=one_of(CLUSTERS))

    def __attrs_post_init__(self) -> None:
        if self.cluster == "local" and self.nodes > 1:
            raise field_error(
                self, "nodes", "must be 1 with cluster 'local' (submitit's LocalExecutor runs on one node)"
            )

    @property
    def tasks(self) -> int:
        """Processes per node: one per GPU, or ``tasks_per_node``, or 1."""
        return self.tasks_per_node or max(self.gpus_per_node, 1)

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks


def _vary(value: Any) -> dict[str, Any] | None:
    """``vary: {key: [values]}``: a mapping of pretrain config keys (checked with the command line's
    ``--vary``, in :mod:`eeg_sweep.options`) to a list of values or one value."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value:
        raise FieldError(
            f"SweepSettings.vary must map pretrain config keys to their values, e.g. "
            f"{{data.participants: [4, 8, 16]}}, got {value!r}",
            field="vary",
        )
    return dict(value)


@attrs.frozen(kw_only=True)
class SweepSettings:
    """Everything the command line also sets; None means "not given" (the option's default applies)."""

    vary: Any = attrs.field(default=None, converter=_vary)  # key -> values (a dict once converted)
    ratios: str | None = None
    styles: str | None = None
    experiment: str | None = None
    launcher: str | None = attrs.field(default=None, validator=optional(one_of(LAUNCHERS)))
    max_parallel: int | None = None  # checked with the command line's value (one message for both)
    gpus_per_run: int | None = None
    torchrun: bool | None = None
    nproc: int | None = None
    slurm: SlurmSettings = attrs.Factory(SlurmSettings)


def load_settings(path: str | None) -> SweepSettings:
    """The sweep config at ``path`` (strict: unknown keys are errors), or the defaults."""
    if path is None:
        return SweepSettings()
    data = read_yaml(Path(path))
    ratios = data.get("ratios")
    if isinstance(ratios, list):  # a YAML list of numbers is accepted too
        data["ratios"] = ",".join(str(r) for r in ratios)
    elif isinstance(ratios, int | float) and not isinstance(ratios, bool):
        data["ratios"] = str(ratios)
    styles = data.get("styles")
    if isinstance(styles, list):
        data["styles"] = ",".join(str(s) for s in styles)
    return structure(data, SweepSettings, source=str(path))
