"""The MLflow section of a run config, shared by the apps (each sets its own experiment name), and the
device choices of their train sections."""

from __future__ import annotations

import attrs

from eeg_config.validators import Check

__all__ = ["DEVICES", "TrackingConfig"]

#: ``train.device`` choices (see :func:`eeg_train.pick_device`)
DEVICES = ("auto", "cpu", "cuda")


#: MLflow's rule for registered model names: not empty, no ``/`` or ``:``.
model_name = Check(
    "a model name without '/' or ':'",
    lambda value: isinstance(value, str) and bool(value.strip()) and not {"/", ":"} & set(value),
)


@attrs.frozen(kw_only=True)
class TrackingConfig:
    """MLflow settings. ``uri: null`` uses MLflow's own default (``MLFLOW_TRACKING_URI`` or the local
    store); ``run_name: null`` lets the app name the run; ``register_model`` registers the best model as a
    new version of the registered model ``registered_model_name`` (one name per model family: each app
    sets its own default)."""

    enabled: bool = True
    uri: str | None = None
    experiment: str = "eeg_mamba2"
    run_name: str | None = None
    register_model: bool = True
    registered_model_name: str = attrs.field(default="eeg-mamba2", validator=model_name)
