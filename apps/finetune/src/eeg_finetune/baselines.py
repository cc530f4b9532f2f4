"""The baselines a fine-tuned encoder must beat, on the same folds and the same samples and units:

- ``band_power``: log band power per channel in Hz bands (pretraining's bands, :func:`eeg_ssm.band_edges`,
  computed by :func:`eeg_eval.band_power`) + logistic regression;
- ``waveform``: each channel's window downsampled to ``waveform_bins`` bin means + logistic regression;
- ``linear_probe``: logistic regression on the frozen pretrained encoder's pooled embedding of each
  sample (the mean over channels of the mean token feature, or of the classified window's token);
- ``random_encoder`` (trained in ``folds``): the fine-tuned classifier's head on a randomly initialised
  encoder.

The classic features are computed per window and averaged over a sample's windows (a window-label sample
is one window). **They see what the encoder sees**: with per-window labels and ``window_context:
context`` the encoder reads the whole run, so each window's classic features are joined by the mean of
its run's (the context's), and the comparison stays one of representations, not of access to context.
Every model is :func:`eeg_eval.logistic_probabilities` (standardisation + logistic regression) fitted on
the fold's training and validation samples; its sample probabilities become unit predictions exactly like
the fine-tuned model's (:func:`eeg_finetune.units.unit_predictions`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

import eeg_eval
from eeg_eval import Fold, Predictions, downsampled_waveform
from eeg_finetune.data import LabelledData, Sample, sample_target
from eeg_finetune.embeddings import SpanCache, encode_spans
from eeg_finetune.errors import FinetuneError
from eeg_finetune.units import unit_predictions
from eeg_ssm import SpectralConfigError, band_edges

__all__ = [
    "CLASSIC",
    "band_power",
    "band_power_edges",
    "classic_window_features",
    "logistic_predictions",
    "probe_embeddings",
    "sample_features",
]

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
    """Log band power ``[..., C * n_bands]`` of windows ``[..., C, W]`` in pretraining's bands:
    ``bands`` log-spaced bands between ``fmin`` and ``fmax`` Hz (:func:`eeg_ssm.band_edges`, unset values
    derived from the windows), each the mean Hann periodogram over its bins (:func:`eeg_eval.band_power`).
    Settings the window length and rate cannot satisfy raise :class:`eeg_ssm.SpectralConfigError`."""
    edges = band_edges(windows.shape[-1], float(sampling_rate), bands, fmin, fmax)  # (n_bands + 1,) Hz
    return eeg_eval.band_power(windows, float(sampling_rate), edges)


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


#: name -> per-window feature function ``(windows [L, C, W], evaluation config, sampling rate Hz) -> [L, F]``.
CLASSIC: dict[str, Callable[[np.ndarray, object, float], np.ndarray]] = {
    "band_power": lambda w, cfg, rate: band_power(w, rate, cfg.bands, cfg.fmin, cfg.fmax),
    "waveform": lambda w, cfg, rate: downsampled_waveform(w, cfg.waveform_bins),
}


def sample_features(
    data: LabelledData, samples: Sequence[Sample], per_window: Sequence[np.ndarray]
) -> np.ndarray:
    """``[N, F]`` (``[N, 2F]`` for window labels read in context): per sample, the mean of
    ``per_window[sequence]`` (``[L_s, F]``) over its windows; for window labels the classified window's
    features, joined, when the encoder reads it in its run's context (``Sample.token`` set), by the mean
    over the windows the encoder reads (the same context)."""
    rows = []
    for s in samples:
        features = per_window[s.sequence]
        if data.label_level != "window":
            rows.append(features[s.start : s.stop].mean(axis=0))
        elif s.token is None:
            rows.append(features[s.window])
        else:
            rows.append(np.concatenate([features[s.window], features[s.start : s.stop].mean(axis=0)]))
    return np.stack(rows)


def classic_window_features(
    data: LabelledData, name: str, evaluation, sampling_rate: float
) -> list[np.ndarray]:
    """The classic feature ``name`` of every window (``sampling_rate`` Hz): ``[L_s, F]`` per sequence."""
    return [CLASSIC[name](np.moveaxis(windows, 1, 0), evaluation, sampling_rate) for windows in data.windows]


@torch.no_grad()
def probe_embeddings(
    classifier,
    data: LabelledData,
    samples: Sequence[Sample],
    device: torch.device,
    batch_size: int = 16,
    cache: SpanCache | None = None,
) -> np.ndarray:
    """``[N, d_model]``: the frozen encoder's embedding of each sample, as its classifier sees it: the
    sample's span encoded (eval mode; :func:`eeg_finetune.embeddings.encode_spans`, kept in ``cache``), the
    token features averaged over channels, then over the span's windows (or the classified window's token
    alone)."""
    spans = encode_spans(
        classifier, data, list(dict.fromkeys(s.span for s in samples)), device,
        {} if cache is None else cache, batch_size,
    )  # fmt: skip
    features = {span: f.mean(dim=0).float().cpu().numpy() for span, f in spans.items()}  # (l, d)
    rows = []
    for s in samples:
        tokens = features[s.span]
        rows.append(tokens[s.token - s.start] if s.token is not None else tokens.mean(axis=0))
    return np.stack(rows)


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
    """:func:`eeg_eval.logistic_probabilities` fitted on the samples ``fit_on`` (indices into ``samples``
    and the rows of ``features``), unit predictions of the samples ``test``."""
    targets = np.asarray([sample_target(data, s) for s in samples])
    probabilities = eeg_eval.logistic_probabilities(
        features,
        targets,
        np.asarray(fit_on),
        np.asarray(test),
        data.num_classes,
        weights=class_weights,
        seed=seed,
    )
    return unit_predictions(data, [samples[i] for i in test], probabilities, aggregation, fold.index)
