"""Classic EEG features and the logistic regression every feature set is judged with.

- :func:`band_power`: log10 of the mean one-sided PSD in each band (Hann periodogram of the mean-removed
  window, scipy's ``periodogram``; bins in ``[edges[i], edges[i+1])``, the last band including its upper
  edge): what pretraining's spectrum computes (``eeg_ssm.band_psd``, one taper), without torch;
- :func:`downsampled_waveform`: each window cut into near-equal parts, each replaced by its mean;
- :func:`logistic_probabilities`: standardisation + logistic regression fitted on some rows, class
  probabilities of others (every model's probabilities, classic or embedding, come from it).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import periodogram
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["POWER_FLOOR", "band_power", "class_weight", "downsampled_waveform", "logistic_probabilities"]

#: Added to the mean band power (data units² / Hz) before the log10: a flat channel stays finite.
POWER_FLOOR = 1e-12


def band_power(windows: np.ndarray, sampling_rate: float, edges: np.ndarray) -> np.ndarray:
    """Log band power ``[..., C * n_bands]`` of windows ``[..., C, W]`` sampled at ``sampling_rate`` Hz, in
    the bands between consecutive ``edges`` (Hz, increasing; e.g. ``np.geomspace(1, 45, 9)`` for 8
    log-spaced bands). A band that holds no frequency bin of the windows is a ``ValueError``."""
    edges = np.asarray(edges, dtype=np.float64)
    freqs, psd = periodogram(
        np.asarray(windows, dtype=np.float64),
        fs=float(sampling_rate),
        window="hann",
        detrend="constant",
        axis=-1,
    )  # (F,), (..., C, F)
    index = np.searchsorted(edges, freqs, side="right") - 1  # band of each bin, -1 below the first edge
    index[freqs == edges[-1]] = len(edges) - 2
    inside = (index >= 0) & (index < len(edges) - 1)
    counts = np.bincount(index[inside], minlength=len(edges) - 1)
    if (counts == 0).any():
        raise ValueError(
            f"bands {np.flatnonzero(counts == 0).tolist()} hold no frequency bin of {windows.shape[-1]}-sample "
            f"windows at {sampling_rate:g} Hz"
        )
    matrix = np.zeros((len(freqs), len(edges) - 1))
    matrix[np.flatnonzero(inside), index[inside]] = 1.0 / counts[index[inside]]
    banded = psd @ matrix  # (..., C, n_bands)
    return np.log10(banded + POWER_FLOOR).reshape(*banded.shape[:-2], -1)


def downsampled_waveform(windows: np.ndarray, bins: int) -> np.ndarray:
    """Bin means ``[..., C * bins]`` of windows ``[..., C, W]``: each window cut into ``bins`` near-equal
    consecutive parts (``np.array_split``), each replaced by its mean."""
    parts = np.array_split(windows, min(bins, windows.shape[-1]), axis=-1)
    return np.stack([p.mean(axis=-1) for p in parts], axis=-1).reshape(*windows.shape[:-2], -1)


def class_weight(setting: str | tuple[float, ...] | None) -> str | dict[int, float] | None:
    """scikit-learn's ``class_weight`` for ``"none"``, ``"balanced"`` or one weight per class index."""
    if setting in (None, "none"):
        return None
    if setting == "balanced":
        return "balanced"
    return dict(enumerate(setting))


def logistic_probabilities(
    features: np.ndarray,
    targets: np.ndarray,
    fit_on: np.ndarray,
    test: np.ndarray,
    num_classes: int,
    *,
    weights: str | tuple[float, ...] | None = "balanced",
    seed: int = 0,
) -> np.ndarray:
    """Standardisation + logistic regression fitted on rows ``fit_on`` of ``features`` ``[N, F]`` (their
    class indices ``targets[fit_on]``), probabilities ``[len(test), num_classes]`` of rows ``test``; a class
    absent from training gets probability 0."""
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=5000, class_weight=class_weight(weights), random_state=seed),
    )
    fit_on, test = np.asarray(fit_on, dtype=np.int64), np.asarray(test, dtype=np.int64)
    model.fit(features[fit_on], np.asarray(targets)[fit_on])
    probabilities = np.zeros((len(test), num_classes))
    probabilities[:, model.classes_] = model.predict_proba(features[test])
    return probabilities
