"""The MLflow section of a run config, shared by the apps (each sets its own experiment name), and the
device choices of their train sections."""

from __future__ import annotations

import attrs

__all__ = ["DEVICES", "TrackingConfig"]

#: ``train.device`` choices (see :func:`eeg_train.pick_device`)
DEVICES = ("auto", "cpu", "cuda")


@attrs.frozen(kw_only=True)
class TrackingConfig:
    """MLflow settings. ``uri: null`` uses MLflow's own default (``MLFLOW_TRACKING_URI`` or the local
    store); ``run_name: null`` lets the app name the run; ``register_model`` registers the best model."""

    enabled: bool = True
    uri: str | None = None
    experiment: str = "eeg_mamba2"
    run_name: str | None = None
    register_model: bool = True
