"""What ``--resume`` means: which settings may differ from the run that wrote the checkpoint.

The rule (apps/pretrain/README.md, "Resume"), applied to every key of the config, whatever keys the sections
hold:

- keys in :data:`APPLIED` say how or where to compute, not what: a changed value is used from the resumed
  step on, and logged;
- ``train.epochs`` may grow: the learning-rate schedule is recomputed for the new length and the run logs
  "schedule extended to N epochs";
- the ``tracking`` keys that say where the MLflow run lives (:data:`MLFLOW_RUN_KEYS`) may change only when the
  checkpoint has no MLflow run to continue;
- any other difference (data, model, masking, synthetic corpus, seed, optimiser and schedule settings, and
  keys this module has never heard of) is an error listing every difference: the checkpoint's model,
  optimiser state, schedule and data order were made with the old values, so the new ones would be recorded
  in the run's config without taking effect.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import attrs
import torch

from eeg_config import ConfigError, UserError, flatten
from eeg_pretrain.config import PretrainConfig, build_config, config_to_dict

log = logging.getLogger("eeg_pretrain")

#: Settings a resumed run takes from the new config (read afresh each step, epoch or write).
APPLIED = frozenset(
    {
        "data.num_workers",
        "data.cache_dir",
        "model.backend",  # Mamba-2 backends share one state_dict; Mamba-2 <-> Transformer is refused earlier
        "model.chunk_size",  # the SSD scan's block size: same result, other speed
        "train.save_dir",
        "train.device",
        "train.precision",
        "train.compile",
        "train.quiet",
        "train.log_every",
        "train.num_plot_examples",
        "train.patience",
        "train.max_nonfinite_steps",
        "train.grad_clip",
        "tracking.enabled",
        "tracking.register_model",
        "tracking.registered_model_name",
        "tracking.log_checkpoint",
        "tracking.on_failure",
        "tracking.run_name",  # set on the continued MLflow run (and used for registration)
        "tracking.parent_run_id",  # set on the continued MLflow run
    }
)
#: Settings that choose where the MLflow run lives; a resumed run continues the checkpoint's run when it
#: has one, which cannot move to another store or experiment.
MLFLOW_RUN_KEYS = frozenset({"tracking.uri", "tracking.experiment"})
EPOCHS = "train.epochs"


class ResumeError(UserError):
    """The config asks for something a resumed run cannot do; the message lists every difference."""


@attrs.frozen
class ResumePlan:
    """What differs from the checkpoint's run and is taken from the new config."""

    applied: tuple[str, ...] = ()  # "key: checkpoint X, config Y"
    extended_from: int | None = None  # the checkpoint's train.epochs, when the config asks for more


def plan_resume(
    path: str, saved_run_config: Mapping[str, Any] | None, config: PretrainConfig, mlflow_run_id: str | None
) -> ResumePlan:
    """Compare the checkpoint's ``run_config`` with ``config`` and sort every difference by the rule above.

    Raises:
        ResumeError: naming ``path`` and listing each difference that is not allowed.
    """
    if not saved_run_config:  # an older checkpoint: only its model_config can be checked (done by the caller)
        return ResumePlan()
    saved = flatten(_with_defaults(saved_run_config))
    wanted = flatten(config_to_dict(config))
    applied, refused = [], []
    extended_from = None
    for key in sorted(set(saved) | set(wanted)):
        before, after = saved.get(key, "<absent>"), wanted.get(key, "<absent>")
        if _plain(before) == _plain(after):
            continue
        change = f"{key}: checkpoint {before!r}, config {after!r}"
        if key in APPLIED or (key in MLFLOW_RUN_KEYS and mlflow_run_id is None):
            applied.append(change)
        elif key == EPOCHS and isinstance(before, int) and isinstance(after, int) and after > before:
            extended_from = before
        else:
            refused.append(change + (" (train.epochs can only grow)" if key == EPOCHS else ""))
    if refused:
        raise ResumeError(
            f"--resume {path}: the config differs from the checkpoint's run in settings a resumed run cannot "
            f"change: {'; '.join(refused)}. Resume with the checkpoint's values, or start a new run "
            "(another train.save_dir) with the new ones; see 'Resume' in apps/pretrain/README.md"
        )
    return ResumePlan(tuple(applied), extended_from)


def log_plan(plan: ResumePlan, epochs: int) -> None:
    for change in plan.applied:
        log.info("resume: %s (applied)", change)
    if plan.extended_from is not None:
        log.info(
            "resume: schedule extended to %d epochs (the checkpoint's run had %d)", epochs, plan.extended_from
        )


def follow_new_schedule(scheduler: torch.optim.lr_scheduler.LambdaLR) -> None:
    """Set the current learning rates from the (new) schedule at the restored step.

    ``LambdaLR.load_state_dict`` restores the step and base rates but leaves the rates of the old schedule
    in the optimiser until the next step; after an extension the resumed step must use the new schedule.
    """
    step = scheduler.last_epoch
    rates = [
        base * factor(step) for base, factor in zip(scheduler.base_lrs, scheduler.lr_lambdas, strict=True)
    ]
    for group, rate in zip(scheduler.optimizer.param_groups, rates, strict=True):
        group["lr"] = rate
    scheduler._last_lr = rates  # what get_last_lr() reports


def _with_defaults(saved: Mapping[str, Any]) -> dict[str, Any]:
    """The saved run config with today's defaults for keys added since it was written (rebuilt through
    :class:`PretrainConfig`); as saved when it no longer builds (a removed key then shows as a difference)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the run that wrote it has warned already
            return config_to_dict(build_config(saved))
    except (ConfigError, ValueError, TypeError):
        return dict(saved)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value
