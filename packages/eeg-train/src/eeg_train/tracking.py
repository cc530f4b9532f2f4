"""MLflow behind a tiny protocol, so training code never checks ranks or flags and tests can use fakes.

:class:`MlflowTracker` is one run (new, resumed, or a child of a sweep's parent run);
:func:`child_tracker` nests a run under it through the MLflow client, so the parent stays the active
run meanwhile (finetune's one child run per fold). What a run read is a :class:`RunDataset` (MLflow's
run inputs: the "Datasets" of the run page and the runs table); what it produced is registered as a new
version of one registered model per model family (``register_model``).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from eeg_train.tracking_store import ensure_sqlite_store

__all__ = [
    "DATASET_CONTEXT_TAG",
    "MAX_PARAM_LENGTH",
    "ChildRunTracker",
    "MlflowTracker",
    "NullTracker",
    "RunDataset",
    "Tracker",
    "child_tracker",
]

log = logging.getLogger(__name__)

MAX_PARAM_LENGTH = 6000  # MLflow's limit for a param value
DATASET_CONTEXT_TAG = "mlflow.data.context"  # the input tag MLflow's UI shows beside a dataset


@attrs.frozen(kw_only=True)
class RunDataset:
    """A dataset a run read, as MLflow records it (``mlflow.log_input``) without copying any data.

    ``name``: short (a corpus folder's name); ``digest``: what identifies its content (at most 36
    characters); ``source``: where it is (a path or URI); ``context``: what the run did with it
    (``training``, ``pretraining``, ...); ``profile``: counts (recordings, participants, ...);
    ``schema``: MLflow column specs (``[{"name": "FZ", "type": "array", "items": {"type": "float"}}]``),
    or empty. Plain values only, so a journal can keep it (:mod:`eeg_train.resilient`)."""

    name: str
    digest: str
    source: str
    context: str
    profile: Mapping[str, Any] = attrs.field(factory=dict)
    schema: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source,
            "context": self.context,
            "profile": dict(self.profile),
            "schema": [dict(column) for column in self.schema],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunDataset:
        return cls(**{field.name: data[field.name] for field in attrs.fields(cls) if field.name in data})

    def to_mlflow(self) -> Any:
        """The ``mlflow.entities.DatasetInput`` that ``MlflowClient.log_inputs`` takes."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        entity = Dataset(
            name=self.name,
            digest=self.digest,
            source_type="local" if "://" not in self.source else self.source.split("://", 1)[0],
            source=json.dumps({"uri": self.source}),
            schema=json.dumps({"mlflow_colspec": [dict(c) for c in self.schema]}) if self.schema else None,
            profile=json.dumps(dict(self.profile)),
        )
        return DatasetInput(entity, tags=[InputTag(DATASET_CONTEXT_TAG, self.context)])


class Tracker(Protocol):
    run_id: str | None

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...
    def set_tags(self, tags: Mapping[str, str]) -> None: ...
    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None: ...
    def log_dataset(self, dataset: RunDataset) -> None: ...
    def register_model(
        self,
        local_dir: str | os.PathLike[str],
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        model_description: str | None = None,
    ) -> str | None: ...
    def close(self, status: str = "FINISHED") -> None: ...


class NullTracker:
    """Used on ranks other than 0 and when tracking is disabled."""

    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        pass

    def set_tags(self, tags: Mapping[str, str]) -> None:
        pass

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        pass

    def log_dataset(self, dataset: RunDataset) -> None:
        pass

    def register_model(
        self,
        local_dir: str | os.PathLike[str],
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        model_description: str | None = None,
    ) -> str | None:
        return None

    def close(self, status: str = "FINISHED") -> None:
        pass


class MlflowTracker:
    """One MLflow run: new, resumed (``run_id``), or a child of ``parent_run_id`` (sweeps)."""

    def __init__(
        self,
        uri: str | None,
        experiment: str,
        run_name: str,
        run_id: str | None = None,
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        from eeg_config.progress import interactive

        if not interactive():  # its artifact transfer bars would write carriage returns into log files
            os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        import mlflow

        self._mlflow = mlflow
        if uri:
            mlflow.set_tracking_uri(uri)
        self.uri = mlflow.get_tracking_uri()
        ensure_sqlite_store(self.uri)  # a new SQLite store in about a second, not one sync per migration
        mlflow.set_experiment(experiment)
        all_tags = dict(tags or {})
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        if run_id:
            self.run = mlflow.start_run(run_id=run_id)
            # a resumed run takes the name and parent of the config it resumes with (see resume.py)
            mlflow.set_tags({**all_tags, "mlflow.runName": run_name})
        else:
            self.run = mlflow.start_run(run_name=run_name, tags=all_tags or None)
        self.run_id = self.run.info.run_id
        self.run_name = run_name
        self.experiment_id = self.run.info.experiment_id
        log.info("MLflow run %s (%s) at %s", run_name, self.run_id, self.uri)

    def log_params(self, params: Mapping[str, Any]) -> None:
        clean = {k: str(v)[:MAX_PARAM_LENGTH] for k, v in params.items()}
        existing = self._mlflow.get_run(self.run_id).data.params
        fresh = {k: v for k, v in clean.items() if k not in existing}  # params are write-once in MLflow
        if fresh:
            self._mlflow.log_params(fresh)

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        finite = {k: float(v) for k, v in metrics.items() if v == v and abs(float(v)) != float("inf")}
        if finite:
            self._mlflow.log_metrics(finite, step=step)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Tag the run (values cut to MLflow's limit), through the client: the run need not be active."""
        client = self._mlflow.MlflowClient(tracking_uri=self.uri)
        for key, value in tags.items():
            client.set_tag(self.run_id, key, str(value)[:MAX_PARAM_LENGTH])

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(Path(path)), artifact_path=artifact_path)

    def log_dataset(self, dataset: RunDataset) -> None:
        """Record ``dataset`` as an input of the run (shown under "Datasets"); logging it again is a no-op."""
        client = self._mlflow.MlflowClient(tracking_uri=self.uri)
        client.log_inputs(self.run_id, datasets=[dataset.to_mlflow()])

    def register_model(
        self,
        local_dir: str | os.PathLike[str],
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        model_description: str | None = None,
    ) -> str | None:
        """Register the files in ``local_dir`` (best checkpoint, config) as a new version of the registered
        model ``name`` (one name per model family, created on first use with ``model_description``), with
        ``tags`` and ``description`` on the version. Returns the version, or None where the store has no
        model registry (a warning).

        MLflow 3 registers logged models, so the folder becomes one, named after the run and recorded as the
        run's output.
        """
        try:
            if hasattr(self._mlflow, "initialize_logged_model"):
                model = self._mlflow.initialize_logged_model(
                    name=self.run_name, source_run_id=self.run_id, model_type="eeg-ssm-checkpoint"
                )
                client = self._mlflow.MlflowClient(tracking_uri=self.uri)
                client.log_model_artifacts(model.model_id, str(local_dir))
                self._mlflow.finalize_logged_model(model.model_id, "READY")
                # the run's output: its page's "Logged models" and the runs table's "Models" column
                from mlflow.entities import LoggedModelOutput

                client.log_outputs(self.run_id, [LoggedModelOutput(model.model_id, step=0)])
                uri = f"models:/{model.model_id}"
            else:  # MLflow 2: any run artifact folder can be registered
                self.log_artifact(local_dir, "model")
                uri = f"runs:/{self.run_id}/model"
            registry = self._mlflow.MlflowClient(tracking_uri=self.uri)
            if model_description:
                self._create_registered_model(registry, name, model_description)
            clean = {k: str(v)[:MAX_PARAM_LENGTH] for k, v in (tags or {}).items()}
            with _without_registry_chatter():
                version = self._mlflow.register_model(uri, name, tags=clean or None)
            if description:
                registry.update_model_version(name, version.version, description=description)
            log.info("registered model %s version %s", name, version.version)
            return str(version.version)
        except Exception as exc:  # the file store and some servers have no model registry
            log.warning("model not registered in MLflow (%s): %s", self.uri, str(exc).splitlines()[0])
            return None

    @staticmethod
    def _create_registered_model(registry: Any, name: str, description: str) -> None:
        """Create the registered model ``name`` with ``description`` unless it exists (a sweep's runs may
        finish together: the one that creates it first wins)."""
        from mlflow.exceptions import MlflowException

        try:
            registry.get_registered_model(name)
        except MlflowException:
            with contextlib.suppress(MlflowException):
                registry.create_registered_model(name, description=description)

    def close(self, status: str = "FINISHED") -> None:
        self._mlflow.end_run(status=status)


# What mlflow.register_model prints to stderr on every registration (the model exists already on every run
# but the family's first: the run creates it with its description just before). The run logs its own line.
_REGISTRY_CHATTER = re.compile(
    r"Registered model '.*' already exists\. Creating a new version of this model\.\.\."
    r"|Successfully registered model '.*'\."
    r"|Created version '\d+' of model '.*'\."
)


@contextlib.contextmanager
def _without_registry_chatter():
    """Drop MLflow's registration lines (:data:`_REGISTRY_CHATTER`) from stderr within the block; anything
    else written to stderr (an MLflow warning) is passed on."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    finally:
        kept = [
            line
            for line in buffer.getvalue().splitlines(True)
            if not _REGISTRY_CHATTER.fullmatch(line.strip())
        ]
        if kept:
            sys.stderr.write("".join(kept))


class ChildRunTracker:
    """A run tagged ``mlflow.parentRunId`` = the parent's run id, in the parent's experiment."""

    def __init__(self, parent: MlflowTracker, run_name: str, tags: Mapping[str, str] | None = None) -> None:
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(parent.uri)
        run = self.client.create_run(
            parent.run.info.experiment_id,
            run_name=run_name,
            tags={"mlflow.parentRunId": parent.run_id, **(tags or {})},
        )
        self.run_id: str | None = run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)[:MAX_PARAM_LENGTH]) for k, v in params.items()]
        )

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        finite = [
            Metric(k, float(v), now, step)
            for k, v in metrics.items()
            if v == v and abs(float(v)) != float("inf")
        ]
        if finite:
            self.client.log_batch(self.run_id, metrics=finite)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value)[:MAX_PARAM_LENGTH])

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(Path(path)), artifact_path)

    def log_dataset(self, dataset: RunDataset) -> None:
        self.client.log_inputs(self.run_id, datasets=[dataset.to_mlflow()])

    def register_model(
        self,
        local_dir: str | os.PathLike[str],
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        model_description: str | None = None,
    ) -> str | None:
        """Models are registered from the parent run only."""
        return None

    def close(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status)


def child_tracker(parent: Tracker, run_name: str, tags: Mapping[str, str] | None = None) -> Tracker:
    """A nested run under ``parent``; a :class:`NullTracker` when the parent does not track."""
    if isinstance(parent, MlflowTracker):
        return ChildRunTracker(parent, run_name, tags)
    return NullTracker()
