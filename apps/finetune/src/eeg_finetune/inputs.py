"""Stage 1 of a job: every input a user can get wrong, checked before anything is written (checkpoint,
data, labels, groups, channels, sampling rate, class weights, the split, ``--strict-disjoint``), and the
split itself (:mod:`eeg_eval.splits`, groups kept whole)."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import numpy as np

from eeg_eval import Fold, group_strata, make_folds, resolve_method, sequence_folds
from eeg_finetune.baselines import band_power_edges
from eeg_finetune.config import FinetuneConfig
from eeg_finetune.data import LabelledData, load_labelled, primary_file
from eeg_finetune.errors import FinetuneError
from eeg_finetune.leakage import leakage_report
from eeg_finetune.pretrained import PretrainedSource, resolve_pretrained
from eeg_io import EEGDataError, check_sampling_rate, read_corpus_record
from eeg_ssm import EEGModel, load_pretrained

__all__ = ["Inputs", "data_normalization", "data_sampling_rate", "load_inputs", "split_data"]

log = logging.getLogger("eeg_finetune")


@attrs.frozen(kw_only=True)
class Inputs:
    """What a job works on: the pretrained ``source`` and its ``encoder`` (CPU), the labelled ``data``, the
    ``folds`` over its sequences and the ``leakage`` report (None when the checkpoint cannot tell)."""

    source: PretrainedSource
    encoder: EEGModel
    data: LabelledData
    folds: list[Fold]
    leakage: dict[str, Any] | None


def load_inputs(config: FinetuneConfig) -> Inputs:
    """Check every input and split the data; raises :class:`FinetuneError` (or a library's user error)
    naming the file or key."""
    source = resolve_pretrained(config.pretrained)
    encoder = load_pretrained(source.checkpoint, map_location="cpu", backend=config.pretrained.backend)
    if config.data.data_path is None:
        raise FinetuneError("no primary dataset: give --data-path (data.data_path)")
    normalization, scale = data_normalization(config, source)
    data = load_labelled(
        config.data.data_path,
        channels=config.data.channels,
        window_length=encoder.config.window_length,
        participant_column=config.data.participant_column,
        label_column=config.data.label_column,
        label_level=config.data.label_level,
        group_column=config.data.group_column,
        normalization="none" if normalization == "channel_train" else normalization,  # per fold, in folds
        scale=scale,
        nan_policy=config.data.nan_policy,
        checkpoint=str(source.checkpoint),
    )
    encoder.spatial(list(data.channels))  # a channel the montage lacks raises MontageError, naming it
    _check_sampling_rate(config, encoder, data)
    weights = config.train.class_weights
    if isinstance(weights, tuple) and len(weights) != data.num_classes:
        raise FinetuneError(
            f"train.class_weights: {len(weights)} weights for {data.num_classes} classes "
            f"(labels {', '.join(map(str, data.classes))} in {data.path}); give one weight per class"
        )
    folds = split_data(config, data)
    leakage = leakage_report(source, data, folds, config.data.participant_column)
    if config.evaluation.strict_disjoint:
        if leakage is None:
            raise FinetuneError(
                f"--strict-disjoint: {source.checkpoint} does not record the participants it was pretrained "
                "on (written before pretrain recorded them); cannot show the test groups are unseen"
            )
        if leakage["test_groups_seen"]:
            raise FinetuneError(
                f"--strict-disjoint: the encoder {source.checkpoint} was pretrained on {leakage['test_groups_seen']} "
                f"of the {leakage['test_groups']} test groups ({', '.join(leakage['seen'][:5])}"
                f"{', ...' if leakage['test_groups_seen'] > 5 else ''}); pretrain without them or drop the flag"
            )
    return Inputs(source=source, encoder=encoder, data=data, folds=folds, leakage=leakage)


def resolve_data(config: FinetuneConfig) -> FinetuneConfig:
    """``config`` with the primary file found (``data.data_path`` may name the folder prepare wrote it to)
    and ``data.label_level`` set: as given, else what prepare recorded in the file (``window`` for labels
    from event markers), else ``participant``."""
    data = config.data
    if data.data_path is None:
        raise FinetuneError("no primary dataset: give --data-path (data.data_path)")
    data = attrs.evolve(data, data_path=str(primary_file(data.data_path)))
    if data.label_level is None:
        record = read_corpus_record(data.data_path)
        level = record.label_level if record is not None and record.recorded and record.label_level else None
        if level is not None:
            log.info("data.label_level: %s, as recorded in %s", level, data.data_path)
        data = attrs.evolve(data, label_level=level or "participant")
    return attrs.evolve(config, data=data)


def data_normalization(config: FinetuneConfig, source: PretrainedSource) -> tuple[str, float]:
    """``(normalization, scale)`` for the primary data: ``data.normalization`` (and ``scale``) when set, else
    the encoder's own pretraining normalization; a setting other than the encoder's is a warning."""
    chosen = config.data.normalization
    if chosen is None:
        log.info(
            "data.normalization: %s (scale %g), the encoder's pretraining normalization",
            source.normalization, source.scale,
        )  # fmt: skip
        return source.normalization, source.scale
    if (chosen, config.data.scale) != (source.normalization, source.scale):
        log.warning(
            "data.normalization %s (scale %g) differs from the encoder's pretraining normalization %s (scale %g): "
            "its inputs then look unlike what it learned from",
            chosen, config.data.scale, source.normalization, source.scale,
        )  # fmt: skip
    return chosen, config.data.scale


def data_sampling_rate(config: FinetuneConfig, encoder: EEGModel) -> float:
    """Hz of the primary dataset: ``data.sampling_rate``; or (null) the rate prepare recorded in the primary
    file (:func:`eeg_io.read_corpus_record`); or the checkpoint's ``model.sampling_rate`` (what
    pretraining's ``data.sampling_rate`` was)."""
    if config.data.sampling_rate is not None:
        return float(config.data.sampling_rate)
    record = read_corpus_record(config.data.data_path) if config.data.data_path else None
    if record is not None and record.recorded:
        return float(record.sampling_rate)
    return float(encoder.config.sampling_rate)


def _check_sampling_rate(config: FinetuneConfig, encoder: EEGModel, data: LabelledData) -> None:
    """Where the rate matters (the band-power baseline, or a rate the user set), check it against the
    file's window times as pretraining does, and the baseline's bands against the windows; a rate other
    than the encoder's is a warning."""
    rate, pretrained_rate = data_sampling_rate(config, encoder), float(encoder.config.sampling_rate)
    if rate != pretrained_rate:
        log.warning(
            "data.sampling_rate %g Hz differs from the checkpoint's model.sampling_rate %g Hz: the encoder's "
            "%d-sample windows then hold other frequencies than in pretraining",
            rate, pretrained_rate, encoder.config.window_length,
        )  # fmt: skip
    if not config.compare_baselines and config.data.sampling_rate is None:
        return
    try:
        check_sampling_rate([data.path], rate, window_times=config.data.window_times)
    except EEGDataError as exc:
        if config.data.sampling_rate is not None:
            raise
        recorded = read_corpus_record(data.path)
        origin = (
            "the primary file's record"
            if recorded and recorded.recorded
            else "the checkpoint's model.sampling_rate"
        )
        raise EEGDataError(f"{exc} (data.sampling_rate: null took {origin})") from None
    if config.compare_baselines:
        edges = band_power_edges(config.evaluation, encoder.config.window_length, rate)
        log.info(
            "band_power baseline: %d log-spaced bands from %.3g to %.3g Hz (%g Hz data)",
            len(edges) - 1, edges[0], edges[-1], rate,
        )  # fmt: skip


def split_data(config: FinetuneConfig, data: LabelledData) -> list[Fold]:
    """The folds over sequence indices: groups split by ``config.split``, sequences following their group."""
    sequence_group = data.sequence_group()
    if data.label_level == "window":
        unit_targets = np.concatenate(data.window_targets)
        unit_groups = np.concatenate(
            [np.full(len(t), g) for t, g in zip(data.window_targets, sequence_group, strict=True)]
        )
    else:
        unit_targets, unit_groups = data.targets, sequence_group
    strata, values = group_strata(unit_targets, unit_groups, len(data.group_ids), data.classes)
    method = resolve_method(config.split.method, len(data.group_ids))
    if config.split.method == "auto":
        log.info(
            "split.method auto: %s over %d groups (%s), every group tested once (the default was random "
            "before: one test share of a few groups, too few for a verdict)",
            method, len(data.group_ids), data.group_column,
        )  # fmt: skip
    if data.label_level == "window" and method in ("loso", "logo", "group_kfold"):
        single = [g for g, v in zip(data.group_ids, strata, strict=True) if len(values[v]) == 1]
        if single:
            log.warning(
                "group(s) %s of column %r hold a single class: a stratified split cannot balance their "
                "classes, and a fold testing only them has no AUROC of its own (pooled metrics still count them)",
                ", ".join(single[:10]) + (", ..." if len(single) > 10 else ""),
                data.group_column,
            )
    folds = make_folds(
        strata,
        values,
        method,
        val_ratio=config.split.val_ratio,
        test_ratio=config.split.test_ratio,
        folds=config.split.folds,
        seed=config.split_seed,
        units=(unit_targets, unit_groups),
        group_column=config.data.group_column,
    )
    return sequence_folds(folds, sequence_group)
