"""The baselines a fine-tuned encoder must beat, on the same folds and the same samples and units:

- ``band_power``: log band power per channel in Hz bands (the periodogram pretraining's spectrum uses,
  ``bands`` log-spaced bands between ``fmin`` and ``fmax``, see :func:`band_power`) + logistic regression;
- ``waveform``: each channel's window downsampled to ``waveform_bins`` bin means + logistic regression;
- ``linear_probe``: logistic regression on the frozen pretrained encoder's pooled embedding of each
  sample (the mean over channels of the mean token feature, or of the classified window's token);
- ``random_encoder`` (trained in ``job``): the fine-tuned classifier's head on a randomly initialised
  encoder.

The classic features are computed per window and averaged over a sample's windows (a window-label sample
is one window). Every model is a scikit-learn pipeline (standardisation + logistic regression) fitted on
the fold's training and validation samples; its sample probabilities become unit predictions exactly like
the fine-tuned model's (:func:`eeg_finetune.metrics.unit_predictions`). Band power needs the data's
sampling rate (``data.sampling_rate``, by default the checkpoint's; see ``job``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eeg_finetune.data import LabelledData, Sample, collate_windows, sample_target
from eeg_finetune.errors import FinetuneError
from eeg_finetune.metrics import Predictions, unit_predictions
from eeg_finetune.splits import Fold
from eeg_ssm import SpectralConfigError, band_edges, band_psd

__all__ = [
    "CLASSIC",
    "band_power",
    "band_power_edges",
    "downsampled_waveform",
    "logistic_predictions",
    "probe_embeddings",
    "sample_features",
]


#: Added to the mean band power (data units² / Hz) before the log10: a flat channel stays finite.
POWER_FLOOR = 1e-12

#: The config key behind each setting :func:`eeg_ssm.band_edges` may reject.
_SETTINGS = {
    "n_bands": "evaluation.bands",
    "fmin": "evaluation.fmin",
    "fmax": "evaluation.fmax",
    "sampling_rate": "data.sampling_rate",
    "window_length": "window_length",
}


def band_power(
    windows: np.ndarray,
    sampling_rate: float,
    bands: int | None = 8,
    fmin: float | None = None,
    fmax: float | None = None,
) -> np.ndarray:
    """Log band power ``[..., C * n_bands]`` of windows ``[..., C, W]`` sampled at ``sampling_rate`` Hz.

    The bands are pretraining's (:func:`eeg_ssm.band_edges`): ``bands`` log-spaced bands between ``fmin``
    and ``fmax`` Hz, unset values derived from the window's frequency resolution (by default 1 Hz to
    ``min(45 Hz, Nyquist)``; ``bands: None`` as many as fit, up to 30). Each window's one-sided PSD is
    the periodogram of the mean-removed, Hann-tapered window that pretraining computes
    (:func:`eeg_ssm.band_psd`, equal to scipy's ``periodogram``), averaged over the bins of each band;
    log10 of it plus :data:`POWER_FLOOR`. Settings that the window length
    and rate cannot satisfy raise :class:`eeg_ssm.SpectralConfigError` naming the argument.
    """
    edges = band_edges(windows.shape[-1], float(sampling_rate), bands, fmin, fmax)  # (n_bands + 1,) Hz
    x = torch.from_numpy(np.asarray(windows, dtype=np.float64))
    banded = band_psd(x, float(sampling_rate), edges).numpy()  # (..., C, n_bands)
    return np.log10(banded + POWER_FLOOR).reshape(*banded.shape[:-2], -1)


def band_power_edges(evaluation, window_length: int, sampling_rate: float) -> np.ndarray:
    """The ``band_power`` baseline's band edges (Hz) for the evaluation section's ``bands``, ``fmin``
    and ``fmax``; settings the windows cannot satisfy are a :class:`FinetuneError` naming the config key."""
    try:
        return band_edges(
            window_length, float(sampling_rate), evaluation.bands, evaluation.fmin, evaluation.fmax
        )
    except SpectralConfigError as error:
        reason, windows = str(error).partition(": ")[2], f"{window_length}-sample windows"
        where = "" if windows in reason else f" of {windows} at {sampling_rate:g} Hz"
        raise FinetuneError(
            f"{_SETTINGS.get(error.key, error.key)}: {reason} (the band_power baseline{where})"
        ) from None


def downsampled_waveform(windows: np.ndarray, bins: int) -> np.ndarray:
    """Bin means ``[..., C * bins]`` of windows ``[..., C, W]``: each window cut into ``bins`` near-equal
    consecutive parts (``np.array_split``), each replaced by its mean."""
    parts = np.array_split(windows, min(bins, windows.shape[-1]), axis=-1)
    return np.stack([p.mean(axis=-1) for p in parts], axis=-1).reshape(*windows.shape[:-2], -1)


#: name -> per-window feature function ``(windows [L, C, W], evaluation config, sampling rate Hz) -> [L, F]``.
CLASSIC: dict[str, Callable[[np.ndarray, object, float], np.ndarray]] = {
    "band_power": lambda w, cfg, rate: band_power(w, rate, cfg.bands, cfg.fmin, cfg.fmax),
    "waveform": lambda w, cfg, rate: downsampled_waveform(w, cfg.waveform_bins),
}


def sample_features(
    data: LabelledData, samples: Sequence[Sample], per_window: Sequence[np.ndarray]
) -> np.ndarray:
    """``[N, F]``: per sample, the mean of ``per_window[sequence]`` (``[L_s, F]``) over its windows (the
    classified window alone for window labels)."""
    rows = []
    for s in samples:
        features = per_window[s.sequence]
        if data.label_level == "window":
            rows.append(features[s.window])
        else:
            rows.append(features[s.start : s.stop].mean(axis=0))
    return np.stack(rows)


def classic_window_features(
    data: LabelledData, name: str, evaluation, sampling_rate: float
) -> list[np.ndarray]:
    """The classic feature ``name`` of every window (``sampling_rate`` Hz): ``[L_s, F]`` per sequence."""
    return [CLASSIC[name](np.moveaxis(windows, 1, 0), evaluation, sampling_rate) for windows in data.windows]


@torch.no_grad()
def probe_embeddings(
    classifier, data: LabelledData, samples: Sequence[Sample], device: torch.device, batch_size: int = 16
) -> np.ndarray:
    """``[N, d_model]``: the frozen encoder's embedding of each sample, as its classifier sees it: the
    sample's span encoded (eval mode), the token features averaged over channels, then over the span's
    windows (or the classified window's token alone)."""
    classifier.encoder.eval()
    spans = list(dict.fromkeys(s.span for s in samples))
    features: dict[tuple[int, int, int], np.ndarray] = {}
    for i in range(0, len(spans), batch_size):
        chunk = spans[i : i + batch_size]
        windows, lengths = collate_windows(data, chunk)
        encoded = classifier.features(windows.to(device), lengths.to(device)).mean(dim=1)  # (B, L, d)
        for b, span in enumerate(chunk):
            features[span] = encoded[b, : span[2] - span[1]].float().cpu().numpy()  # (l, d)
    rows = []
    for s in samples:
        tokens = features[s.span]
        rows.append(tokens[s.token - s.start] if s.token is not None else tokens.mean(axis=0))
    return np.stack(rows)


def _class_weight(setting: str | tuple[float, ...]):
    if setting == "none":
        return None
    if setting == "balanced":
        return "balanced"
    return dict(enumerate(setting))


def logistic_predictions(
    features: np.ndarray,
    samples: Sequence[Sample],
    data: LabelledData,
    fold: Fold,
    fit_on: Sequence[int],
    test: Sequence[int],
    class_weights: str | tuple[float, ...],
    aggregation: str,
    seed: int,
) -> Predictions:
    """Standardisation + logistic regression fitted on the samples ``fit_on`` (indices into ``samples``
    and the rows of ``features``), unit predictions of the samples ``test``."""
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(max_iter=5000, class_weight=_class_weight(class_weights), random_state=seed),
    )
    targets = np.asarray([sample_target(data, samples[i]) for i in fit_on])
    model.fit(features[list(fit_on)], targets)
    seen = model.predict_proba(features[list(test)])
    probabilities = np.zeros((len(test), data.num_classes))
    probabilities[:, model.classes_] = seen  # the classes seen in training, placed in the full class axis
    return unit_predictions(data, [samples[i] for i in test], probabilities, aggregation, fold.index)
