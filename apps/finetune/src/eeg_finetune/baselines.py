"""The baselines a fine-tuned encoder must beat, on the same folds and the same samples and units:

- ``band_power``: log band power per channel (Welch periodogram, ``bands`` log-spaced bands from the
  second frequency bin to Nyquist) + logistic regression;
- ``waveform``: each channel's window downsampled to ``waveform_bins`` bin means + logistic regression;
- ``linear_probe``: logistic regression on the frozen pretrained encoder's pooled embedding of each
  sample (the mean over channels of the mean token feature, or of the classified window's token);
- ``random_encoder`` (trained in ``job``): the fine-tuned classifier's head on a randomly initialised
  encoder.

The classic features are computed per window and averaged over a sample's windows (a window-label sample
is one window). Every model is a scikit-learn pipeline (standardisation + logistic regression) fitted on
the fold's training and validation samples; its sample probabilities become unit predictions exactly like
the fine-tuned model's (:func:`eeg_finetune.metrics.unit_predictions`). Bands are relative to the sampling
rate, so no rate is needed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.signal import welch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eeg_finetune.data import LabelledData, Sample, collate_windows, sample_target
from eeg_finetune.metrics import Predictions, unit_predictions
from eeg_finetune.splits import Fold

__all__ = [
    "CLASSIC",
    "band_power",
    "downsampled_waveform",
    "logistic_predictions",
    "probe_embeddings",
    "sample_features",
]


def band_power(windows: np.ndarray, bands: int) -> np.ndarray:
    """Log band power ``[..., C * bands]`` of windows ``[..., C, W]`` (any leading axes).

    Welch's periodogram (``nperseg = min(W, 256)``, sampling rate 1: frequencies in cycles per sample),
    summed over ``bands`` log-spaced bands from the second non-zero frequency bin to Nyquist; log10 of
    the band power plus a floor that keeps flat channels finite.
    """
    width = windows.shape[-1]
    frequencies, power = welch(windows, fs=1.0, nperseg=min(width, 256), axis=-1)  # (..., C, F)
    low = frequencies[min(2, len(frequencies) - 1)] if len(frequencies) > 2 else frequencies[-1]
    edges = np.geomspace(max(low, 1e-6), 0.5, bands + 1)
    columns = []
    for a, b in itertools.pairwise(edges):
        inside = (
            (frequencies >= a) & (frequencies <= b)
            if b == edges[-1]
            else (frequencies >= a) & (frequencies < b)
        )
        if not inside.any():  # a band narrower than a bin: the nearest bin
            inside = np.abs(frequencies - np.sqrt(a * b)) == np.abs(frequencies - np.sqrt(a * b)).min()
        columns.append(power[..., inside].sum(axis=-1))  # (..., C)
    stacked = np.stack(columns, axis=-1)  # (..., C, bands)
    return np.log10(stacked + 1e-12).reshape(*stacked.shape[:-2], -1)


def downsampled_waveform(windows: np.ndarray, bins: int) -> np.ndarray:
    """Bin means ``[..., C * bins]`` of windows ``[..., C, W]``: each window cut into ``bins`` near-equal
    consecutive parts (``np.array_split``), each replaced by its mean."""
    parts = np.array_split(windows, min(bins, windows.shape[-1]), axis=-1)
    return np.stack([p.mean(axis=-1) for p in parts], axis=-1).reshape(*windows.shape[:-2], -1)


#: name -> per-window feature function ``(windows [L, C, W], evaluation config) -> [L, F]``.
CLASSIC: dict[str, Callable[[np.ndarray, object], np.ndarray]] = {
    "band_power": lambda w, cfg: band_power(w, cfg.bands),
    "waveform": lambda w, cfg: downsampled_waveform(w, cfg.waveform_bins),
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


def classic_window_features(data: LabelledData, name: str, evaluation) -> list[np.ndarray]:
    """The classic feature ``name`` of every window: ``[L_s, F]`` per sequence."""
    return [CLASSIC[name](np.moveaxis(windows, 1, 0), evaluation) for windows in data.windows]


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
