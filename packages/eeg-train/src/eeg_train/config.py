"""The MLflow section of a run config, shared by the apps (each sets its own experiment name)."""

from __future__ import annotations

import attrs

__all__ = ["TrackingConfig"]


@attrs.frozen(kw_only=True)
class TrackingConfig:
    """MLflow settings. ``uri: null`` uses MLflow's own default (``MLFLOW_TRACKING_URI`` or the local
    store); ``run_name: null`` lets the app name the run; ``register_model`` registers the best model."""

    enabled: bool = True
    uri: str | None = None
    experiment: str = "eeg_mamba2"
    run_name: str | None = None
    register_model: bool = True
