"""What a pretraining run tells people while it trains: the MLflow run (its params, the corpus as its
dataset, its description), a log line at the start, and each epoch's metrics (to MLflow) and log line. Only
rank 0 opens an MLflow run (the others get a :class:`~eeg_train.NullTracker`); what the finished run leaves
behind is :mod:`eeg_pretrain.run_folder`'s.

MLflow metrics: per epoch at step = epoch (``train_*``, ``val_*``, ``r2_gap``, ``epoch_seconds``, and the
run's figures so far, ``best_val_loss``, ``best_val_skill``, ``best_epoch``: the runs table's columns);
per optimiser step, every ``train.log_every`` steps, at step = optimiser step and named ``step/...``
(:data:`STEP_PREFIX`), so the two kinds never share a chart's x-axis. The experiment gets a saved view of
its runs table, "Key figures", with the best figures and the masking as columns.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from eeg_config import flatten
from eeg_pretrain.config import PretrainConfig, config_to_dict
from eeg_pretrain.data import PretrainingData
from eeg_pretrain.run_folder import pretraining_dataset
from eeg_ssm import EEGModel
from eeg_train import (
    DESCRIPTION_TAG,
    DistInfo,
    MlflowTracker,
    NullTracker,
    ResilientTracker,
    RunDataset,
    Tracker,
    save_runs_view,
)

log = logging.getLogger("eeg_pretrain")

#: the names of per-optimiser-step metrics start with this (``step/loss``, ``step/lr``, ...)
STEP_PREFIX = "step/"
#: the columns of the experiment's saved runs-table view "Key figures" (:func:`eeg_train.save_runs_view`)
KEY_METRICS = ("best_val_skill", "best_val_loss", "best_epoch")
KEY_PARAMS = ("masking.ratio", "masking.style")


def run_facts(data: PretrainingData, model: EEGModel, dist: DistInfo) -> dict[str, int | str]:
    """What the config alone does not say about the run: data sizes, world size, the model backend used."""
    facts: dict[str, int | str] = {
        "dataset_sequences": data.num_sequences,
        "train_sequences": len(data.train_set),
        "val_sequences": len(data.val_set) if data.val_set else 0,
        "train_participants": len(data.record["participants"]),  # after data.participants' subset
        "val_participants": len(data.record["val_participants"]),
        "world_size": dist.world_size,
        "backend_used": model.backend_name,
    }
    quotas = getattr(data.train_sampler, "quotas", None)  # a pool's sequences per corpus and epoch
    for name, split, quota in zip(data.corpora, data.splits, quotas or (), strict=False):
        facts.update(
            {
                f"{name}/train_sequences": len(split.train),
                f"{name}/val_sequences": len(split.val),
                f"{name}/train_participants": len({item.participant for item in split.train}),
                f"{name}/val_participants": len({item.participant for item in split.val}),
                f"{name}/epoch_sequences": quota,
            }
        )
    return facts


def corpus_dataset(config: PretrainConfig, data: PretrainingData) -> RunDataset | None:
    """The corpus this run reads, as its MLflow dataset (:func:`eeg_pretrain.run_folder.pretraining_dataset`);
    a pool of corpora is one dataset named ``name1+name2...``, its source the first corpus's folder and its
    profile the number of corpora."""
    corpora = config.data.corpora or ()
    pool = {"name": "+".join(c.name for c in corpora), "corpora": len(corpora)} if corpora else {}
    return pretraining_dataset(
        data.record,
        corpora[0].path if corpora else config.data.dataset_path,
        channels=data.channels,
        **pool,
        sequences=data.num_sequences,
        window_length=config.data.window_length,
        sampling_rate=config.data.sampling_rate,
    )


def describe_run(
    config: PretrainConfig,
    dataset: RunDataset | None,
    command: str | None,
    resumed_at: int | None = None,
    result: str | None = None,
) -> str:
    """The run's description in MLflow (Markdown): what it trains, the command that ran (the session that
    resumed it, at epoch ``resumed_at``), the corpus, and ``result`` once it has one."""
    model, masking = config.model, config.masking
    lines = [
        f"**Pretraining** of a Mamba-2 EEG encoder (d_model {model.d_model}, {model.num_layers} layers) by "
        f"masked reconstruction: {masking.style.upper()} masking of {masking.ratio:g} of the windows, "
        f"target `{config.objective.target}`, input `{model.input}`.",
    ]
    if command:
        when = f" (resumed at epoch {resumed_at})" if resumed_at else ""
        lines.append(f"Command{when}: `{command}`")
    if dataset is not None:
        profile = dataset.profile
        lines.append(
            f"Data: `{dataset.name}`, {profile.get('recordings')} recordings of {profile.get('participants')} "
            f"participants ({profile.get('val_participants')} held out for validation), digest "
            f"`{dataset.digest}`; run folder `{config.train.save_dir}`."
        )
    if result:
        lines.append(result)
    return "\n\n".join(lines)


def open_tracker(
    config: PretrainConfig,
    facts: dict[str, int | str],
    dist: DistInfo,
    run_id: str | None,
    away: str | None = None,
    dataset: RunDataset | None = None,
    description: str | None = None,
) -> Tracker:
    """The MLflow run (continuing ``run_id`` on resume) with the flattened config and ``facts`` as params,
    ``dataset`` as its input and ``description``, behind :class:`eeg_train.ResilientTracker`
    (``tracking.on_failure``: a store that fails mid-run does not stop the run). ``away``: the start-up
    check found the store away (a resumed run under ``continue``): the run starts offline."""
    track = config.tracking
    if not (track.enabled and dist.is_main):
        return NullTracker()

    def open_mlflow() -> Tracker:
        tracker = MlflowTracker(
            track.uri, track.experiment, config.run_name, run_id=run_id, parent_run_id=track.parent_run_id
        )
        save_runs_view(
            tracker.uri, tracker.experiment_id, "Key figures", metrics=KEY_METRICS, params=KEY_PARAMS
        )
        return tracker

    tracker = ResilientTracker(
        open_mlflow,
        config.train.save_dir,
        track.on_failure,
        where=track.uri or "(MLflow's default)",
        replay_hint=f"pretrain log-run {config.train.save_dir}",
        away=away,
        run_id=run_id,
    )
    tracker.log_params({**config_params(config), **facts})
    if dataset is not None:
        tracker.log_dataset(dataset)
    if description:
        tracker.set_tags({DESCRIPTION_TAG: description})
    return tracker


def config_params(config: PretrainConfig) -> dict[str, object]:
    """The flattened config as MLflow params; a pool's corpora one param per setting
    (``data.corpora.blink.path``, ``data.corpora.blink.weight``), comparable across runs."""
    params = flatten(config_to_dict(config))
    corpora = params.pop("data.corpora", None) or []
    for corpus in corpora:
        params.update({f"data.corpora.{corpus['name']}.{key}": corpus[key] for key in ("path", "weight")})
    return params


def best_so_far(best_metrics: dict[str, Any], best_loss: float) -> dict[str, float]:
    """The run's figures so far, logged every epoch (their last value is the run's): ``best_val_loss``,
    ``best_val_skill`` (the skill at that epoch) and ``best_epoch`` (training figures without validation)."""
    figures = {"best_val_loss": best_loss}
    skill = best_metrics.get("val_skill", best_metrics.get("train_skill"))
    if skill is not None:
        figures["best_val_skill"] = float(skill)
    if "best_epoch" in best_metrics:
        figures["best_epoch"] = float(best_metrics["best_epoch"])
    return figures


def log_start(
    config: PretrainConfig, facts: dict[str, int | str], model: EEGModel, device: torch.device
) -> None:
    log.info(
        "%d sequences (%d train, %d val; %d + %d participants) from %s; model %s backend, %.2fM parameters; "
        "device %s, world size %d",
        facts["dataset_sequences"],
        facts["train_sequences"],
        facts["val_sequences"],
        facts["train_participants"],
        facts["val_participants"],
        config.data.where,
        facts["backend_used"],
        sum(p.numel() for p in model.parameters()) / 1e6,
        device,
        facts["world_size"],
    )
    for corpus in config.data.corpora or ():
        log.info(
            "corpus %s (%s): %d training sequences (%d participants), %d validation (%d); weight %g: %d of "
            "each epoch's %d sequences",
            corpus.name,
            corpus.path,
            facts[f"{corpus.name}/train_sequences"],
            facts[f"{corpus.name}/train_participants"],
            facts[f"{corpus.name}/val_sequences"],
            facts[f"{corpus.name}/val_participants"],
            corpus.weight,
            facts[f"{corpus.name}/epoch_sequences"],
            facts["train_sequences"],
        )


def epoch_metrics(
    train: dict[str, float],
    val: dict[str, float],
    epoch: int,
    seconds: float,
    context_rate: torch.Tensor | None = None,
) -> dict[str, float]:
    """One epoch's metrics: ``train_*`` and ``val_*`` (the meters' summaries; a pool's corpus figures
    ``{name}/{key}`` become ``{name}/val_{key}``), ``r2_gap``, epoch, seconds, and with
    ``model.local_context`` the learned ``context_rate``."""
    metrics = {f"train_{k}": v for k, v in train.items()}
    metrics.update({_val_key(k): v for k, v in val.items()})
    if val:  # overfitting shows as a growing gap
        metrics["r2_gap"] = train["r2"] - val["r2"]
    metrics.update(epoch=float(epoch), epoch_seconds=seconds)
    if context_rate is not None:
        metrics["context_rate"] = float(context_rate.detach())
    return metrics


def _val_key(key: str) -> str:
    corpus, _, name = key.rpartition("/")
    return f"{corpus}/val_{name}" if corpus else f"val_{key}"


def log_epoch(
    epoch: int,
    epochs: int,
    train: dict[str, float],
    val: dict[str, float],
    seconds: float,
    context_rate: float | None = None,
) -> None:
    # the model's own (learned) context is worth a figure only when it differs from the context mean
    own = context_rate is not None and val
    log.info(
        "epoch %d/%d: train loss %.4f (r2 %.3f, skill %.3f)%s%s, %.1fs",
        epoch,
        epochs,
        train["loss"],
        train["r2"],
        train["skill"],
        f", val loss {val['loss']:.4f} r2 {val['r2']:.3f} skill {val['skill']:.3f} (zero "
        f"{val['zero_baseline']:.4f}, interp {val['interp_baseline']:.4f}, context mean "
        f"{val['context_mean_baseline']:.4f}, local mean {val['local_mean_baseline']:.4f})"
        if val
        else "",
        f"; local context (rate {context_rate:.3f}) {val['model_context_baseline']:.4f}, encoder skill "
        f"{val['encoder_skill']:.3f}"
        if own
        else "",
        seconds,
    )
    for corpus in dict.fromkeys(key.partition("/")[0] for key in val if "/" in key):
        log.info(
            "  corpus %s: val loss %.4f r2 %.3f skill %.3f%s",
            corpus,
            val[f"{corpus}/loss"],
            val[f"{corpus}/r2"],
            val[f"{corpus}/skill"],
            f", encoder skill {val[f'{corpus}/encoder_skill']:.3f}" if own else "",
        )


def done_line(best: dict[str, float], best_loss: float, epochs: int, held_out: str, save_dir: str) -> str:
    """The run's last log line: the best epoch's validation loss next to what it beat, the context mean
    (``skill``) and, with ``model.local_context``, the model's own context alone (``encoder skill``: what the
    encoder adds beyond the learned rate). ``best``: the best epoch's metrics; ``held_out``: what the
    validation split holds (``data.split_group``). Without validation metrics only the loss."""
    where = f"checkpoints in {save_dir}"
    if "val_skill" not in best:
        return f"done: best loss {best_loss:.4f}; {where}"
    line = (
        f"done: on the held-out {held_out}s, best epoch {int(best['best_epoch'])} of {epochs}: loss "
        f"{best_loss:.4f}, skill {best['val_skill']:+.3f} against the context mean "
        f"({best['val_context_mean_baseline']:.4f})"
    )
    if "context_rate" in best and "val_encoder_skill" in best:
        line += (
            f", encoder skill {best['val_encoder_skill']:+.3f} against the model's own context alone "
            f"({best['val_model_context_baseline']:.4f}, rate {best['context_rate']:.3f})"
        )
    return f"{line}; {where}"
