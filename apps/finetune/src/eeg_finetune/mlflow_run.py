"""A job's MLflow run as people meet it in MLflow's UI.

At the start (:func:`open_run`): the flattened config and data facts as params, the labelled data as the
run's dataset (context ``train/test``) beside the corpus the encoder was pretrained on (context
``pretraining``, the pretraining run's dataset, same name and digest), the tags ``pretrained.mlflow_run_id``
and ``pretrained.run_name``, and a description (Markdown) with the command and a link to the pretraining
run's page. At the end (:func:`finish_run`): the runs table's figures (``judged.test_auroc`` and its
interval: the model the verdict judged; tags ``decision``, ``verdict``), the model files as a new version
of the registered model ``tracking.registered_model_name``, and the description with the verdict. The
experiment gets a saved view of its runs table, "Key figures", with those figures as columns.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import attrs

from eeg_config import flatten
from eeg_eval import Verdict
from eeg_finetune.config import FinetuneConfig, config_to_dict
from eeg_finetune.data import LabelledData
from eeg_finetune.inputs import Inputs
from eeg_finetune.pretrained import PretrainedSource
from eeg_io import fingerprints_digest
from eeg_io.fingerprint import column_fingerprints
from eeg_io.layout import channel_columns, find_column, open_parquet
from eeg_train import (
    DESCRIPTION_TAG,
    MlflowTracker,
    NullTracker,
    RunDataset,
    Tracker,
    markdown_link,
    run_route,
    save_runs_view,
)

__all__ = ["RunPage", "finish_run", "labelled_dataset", "open_run", "pretrained_link"]

#: the columns of the experiment's saved runs-table view "Key figures" (:func:`eeg_train.save_runs_view`)
KEY_METRICS = ("judged.test_auroc", "test_auroc")
KEY_TAGS = ("decision", "judged_model")
#: The registered model's description, set when its first version is registered.
CLASSIFIER_MODEL_DESCRIPTION = (
    "EEG classifiers on a pretrained Mamba-2 encoder (the `finetune` command). Each version is one job's "
    "model file(s), one per fold, with its resolved config; its tags name the job, its split and decision, its "
    "description the verdict. Load one with `eeg_finetune.model.load_finetuned(path)`."
)


@attrs.frozen(kw_only=True)
class RunPage:
    """What the description says besides the results: the command and the pretraining run (Markdown)."""

    command: str | None
    pretrained: str
    data: str


def labelled_dataset(config: FinetuneConfig, data: LabelledData) -> RunDataset:
    """The labelled data as an MLflow dataset: named after the file, its digest that of every row's
    participant, label and window fingerprints of the channels used (:mod:`eeg_io.fingerprint`: a copy of
    the file, or the same rows written in another order, has the same digest; a relabelled one does not),
    counts as profile, the participant, label and channel columns as schema."""
    with open_parquet(data.path) as parquet_file:
        schema = parquet_file.schema_arrow
        channels = channel_columns(schema, data.path)
        participant = find_column(schema, config.data.participant_column)
        label = find_column(schema, config.data.label_column)
        wanted = [channels[c] for c in data.channels if c in channels]
        table = parquet_file.read(columns=[participant, label, *wanted], use_threads=False)
    owners = [str(v) for v in table.column(0).to_pylist()]
    labels = [str(v) for v in table.column(1).to_pylist()]
    windows = [column_fingerprints(table.column(i)) for i in range(2, table.num_columns)]
    rows = ("|".join(row) for row in zip(owners, labels, *windows, strict=True))
    counts = Counter(labels)
    return RunDataset(
        name=data.path.stem,
        digest=fingerprints_digest(rows),
        source=str(data.path.resolve()),
        context="train/test",
        profile={
            "participants": len(set(data.participants)),
            "groups": len(data.group_ids),
            "group_column": data.group_column,
            "sequences": len(data.groups),
            "windows": table.num_rows,
            "channels": len(data.channels),
            "label_column": config.data.label_column,
            "label_level": data.label_level,
            "rows_per_label": {k: counts[k] for k in sorted(counts)},
        },
        schema=[
            {"name": participant, "type": "string"},
            {"name": label, "type": "long"},
            *({"name": c, "type": "array", "items": {"type": "float"}} for c in wanted),
        ],
    )


def pretrained_link(uri: str | None, source: PretrainedSource) -> str:
    """The pretraining run in Markdown: a link to its page when this store (``uri``) holds it, or when its own
    store is a tracking server; otherwise its name and MLflow run id as text."""
    if source.mlflow_run_id is None:
        return f"`{source.run_name}` (its checkpoint names no MLflow run)"
    route = run_route(uri, source.mlflow_run_id)
    if route is None and (source.tracking_uri or "").startswith(("http://", "https://")):
        route = run_route(source.tracking_uri, source.mlflow_run_id)
    if route is None:
        where = source.tracking_uri or "MLflow's default store where it ran"
        return f"`{source.run_name}` (MLflow run `{source.mlflow_run_id}` in {where}, not in this store)"
    return markdown_link(source.run_name, route)


def _describe(config: FinetuneConfig, page: RunPage, result: str | None = None) -> str:
    model = config.model
    training = "frozen" if model.freeze_backbone else "fine-tuned"
    lines = [
        f"**Fine-tuning** a classifier ({model.mode}, {training} encoder) on the encoder pretrained by "
        f"{page.pretrained}; {config.split.method} split, groups kept whole.",
    ]
    if page.command:
        lines.append(f"Command: `{page.command}`")
    lines.append(page.data)
    if result:
        lines.append(result)
    return "\n\n".join(lines)


def open_run(
    config: FinetuneConfig, name: str, inputs: Inputs, command: str | None
) -> tuple[Tracker, RunPage]:
    """Start the job's MLflow run (see the module docstring); a :class:`NullTracker` when tracking is off."""
    track, source, data = config.tracking, inputs.source, inputs.data
    if not track.enabled:
        return NullTracker(), RunPage(command=command, pretrained="", data="")
    tracker = MlflowTracker(track.uri, track.experiment, name)
    save_runs_view(tracker.uri, tracker.experiment_id, "Key figures", metrics=KEY_METRICS, tags=KEY_TAGS)
    params = flatten(config_to_dict(config))
    params.update(
        {
            "pretrained.checkpoint_path": str(source.checkpoint.resolve()),
            "pretrained.run_name": source.run_name,
            "pretrained.mlflow_run_id": source.mlflow_run_id,
            "data.participants": len(set(data.participants)),
            "data.groups": len(data.group_ids),
            "data.classes": list(data.classes),
            "data.channels_used": list(data.channels),
            "split.num_folds": len(inputs.folds),
        }
    )
    tracker.log_params(params)
    dataset = labelled_dataset(config, data)
    tracker.log_dataset(dataset)
    if source.pretraining_dataset is not None:
        tracker.log_dataset(source.pretraining_dataset)
    tags = {"pretrained.run_name": source.run_name}
    if source.mlflow_run_id is not None:
        tags["pretrained.mlflow_run_id"] = source.mlflow_run_id
    profile = dataset.profile
    page = RunPage(
        command=command,
        pretrained=pretrained_link(tracker.uri, source),
        data=(
            f"Data: `{dataset.name}`, {profile['participants']} participants, label `{profile['label_column']}` "
            f"per {profile['label_level']}, digest `{dataset.digest}`; checkpoint `{source.checkpoint}`."
        ),
    )
    tracker.set_tags({**tags, DESCRIPTION_TAG: _describe(config, page)})
    return tracker, page


def finish_run(
    config: FinetuneConfig,
    tracker: Tracker,
    name: str,
    page: RunPage,
    results: dict[str, Any],
    verdict: Verdict,
    model_files: list[Path],
    resolved: Path,
) -> None:
    """Log the runs table's figures, register the model files (with the resolved config) as a new version of
    ``tracking.registered_model_name`` (or log them as artifacts under ``model/`` when registering is off),
    and write the verdict into the description."""
    if isinstance(tracker, NullTracker):
        return
    judged = verdict.judged or config.evaluation.judged_model
    if judged in results:
        auroc, (low, high) = results[judged]["metrics"]["auroc"], results[judged]["interval"]["auroc"]
        tracker.log_metrics(
            {"judged.test_auroc": auroc, "judged.test_auroc_ci_low": low, "judged.test_auroc_ci_high": high},
            step=0,
        )
    tracker.set_tags({"judged_model": judged})
    result = f"**Verdict**: {verdict.line}"
    track = config.tracking
    if not track.register_model:
        for path in model_files:
            tracker.log_artifact(path, "model")
    else:
        with tempfile.TemporaryDirectory() as folder:
            for path in [*model_files, resolved]:
                shutil.copy2(path, folder)
            tags = {"run_name": name, "decision": verdict.decision, "split": config.split.method}
            if "finetuned" in results:
                tags["test_auroc"] = f"{results['finetuned']['metrics']['auroc']:.4f}"
            version = tracker.register_model(
                folder, track.registered_model_name, tags, verdict.line, CLASSIFIER_MODEL_DESCRIPTION
            )
        if version is not None:
            route = f"#/models/{track.registered_model_name}/versions/{version}"
            result += f"\n\nRegistered as [{track.registered_model_name} version {version}]({route})."
    tracker.set_tags({DESCRIPTION_TAG: _describe(config, page, result)})
