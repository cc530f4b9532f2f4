"""The pretrained encoder as a scikit-learn transformer: MNE ``Epochs`` or arrays in, embeddings out.

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import Pipeline
    >>> from eeg_ssm.sklearn import EEGEncoderTransformer
    >>> pipe = Pipeline([("encoder", EEGEncoderTransformer("mamba2_eeg_pretrained.pt")),
    ...                  ("clf", LogisticRegression())])
    >>> cross_val_score(pipe, epochs, epochs.events[:, 2])  # doctest: +SKIP

Each epoch's channel is one sequence for the encoder: its samples cut into the checkpoint's windows
(tokens), in time order. The embedding of an epoch is each channel's token features averaged over time,
then concatenated over channels (``channel_pooling="concat"``, ``n_channels * d_model`` features) or
averaged over channels (``"mean"``, ``d_model`` features). An epoch must be sampled at the checkpoint's
rate and hold a whole number of its windows; anything else is refused with one line saying what to
change. scikit-learn is needed only here (``pip install eeg-ssm[sklearn]``); MNE only to pass ``Epochs``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin

from eeg_ssm.checkpoint import load_checkpoint, load_pretrained
from eeg_ssm.model import EEGModel

__all__ = ["EEGEncoderTransformer", "EncoderInputError"]

CHANNEL_POOLINGS = ("concat", "mean")
NORMALIZATIONS = ("sequence", "window", "none")
VOLTS_TO_MICROVOLTS = 1e6  # MNE holds EEG in volts; the corpora prepare writes are in µV


class EncoderInputError(ValueError):
    """Epochs or an array the checkpoint cannot encode (another rate, a partial window, no channel names)."""


class EEGEncoderTransformer(TransformerMixin, BaseEstimator):
    """A pretrained EEG encoder as a scikit-learn transformer: ``(n, channels, samples)`` -> ``(n, dim)``.

    Args:
        checkpoint: a checkpoint path (pretraining or fine-tuning: any with ``model`` and ``model_config``)
            or an :class:`~eeg_ssm.EEGModel`.
        ch_names: channel names of array input, one per row of an epoch (matched case-insensitively to
            the montage of the checkpoint). With MNE ``Epochs``: which channels to use, in that order;
            None takes the EEG channels of the epochs.
        sfreq: sampling rate of array input in Hz (``Epochs`` carry their own); must equal the checkpoint's.
        channel_pooling: ``"concat"`` (the channels' features side by side) or ``"mean"``.
        normalization: how each channel's epoch is scaled before encoding: ``"sequence"`` (z-score over the
            epoch: the epoch is the sequence here, where pretraining z-scored a whole recording),
            ``"window"`` (z-score per window) or ``"none"`` (µV as given); None = what the
            checkpoint's pretraining used (``data.normalization``), else ``"sequence"``.
        batch_size: sequences (epoch × channel) per forward pass.
        device: where the encoder runs (``"cpu"``, ``"cuda"``).
        backend: override the saved Mamba-2 backend (``"torch"`` runs anywhere).

    Array input is in µV; ``Epochs`` are converted from volts. Attributes after :meth:`fit`:
    ``encoder_`` (the model, eval mode), ``sfreq_``, ``window_length_``, ``normalization_``,
    ``channels_`` (the channel names used), ``n_features_out_``.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike[str] | EEGModel,
        *,
        ch_names: Sequence[str] | None = None,
        sfreq: float | None = None,
        channel_pooling: str = "concat",
        normalization: str | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        backend: str | None = None,
    ) -> None:
        self.checkpoint = checkpoint
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.channel_pooling = channel_pooling
        self.normalization = normalization
        self.batch_size = batch_size
        self.device = device
        self.backend = backend

    # --- scikit-learn API ---------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> EEGEncoderTransformer:
        """Load the encoder and check that ``X`` fits it (rate, window, channels). Nothing is trained."""
        self._load()
        data, channels = self._inputs(X)
        self.channels_ = tuple(channels)
        self.n_features_in_ = data.shape[1] * data.shape[2]
        d_model = self.encoder_.config.d_model
        self.n_features_out_ = d_model * (len(channels) if self.channel_pooling == "concat" else 1)
        self.encoder_.spatial(list(channels))  # an electrode the montage lacks fails here, all of them named
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings float32 ``[n_epochs, n_features_out_]`` of ``X`` (``Epochs`` or ``[n, C, T]`` µV)."""
        if not hasattr(self, "encoder_"):
            self.fit(X)
        data, channels = self._inputs(X)
        if tuple(channels) != self.channels_:
            raise EncoderInputError(
                f"EEGEncoderTransformer: fitted on channels {list(self.channels_)}, got {list(channels)}"
            )
        return self._embed(data, list(channels))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``{channel}_{i}`` with ``concat``, ``emb_{i}`` with ``mean``."""
        d_model = self.encoder_.config.d_model
        if self.channel_pooling == "mean":
            return np.array([f"emb_{i}" for i in range(d_model)], dtype=object)
        return np.array([f"{c}_{i}" for c in self.channels_ for i in range(d_model)], dtype=object)

    # --- parts --------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self.channel_pooling not in CHANNEL_POOLINGS:
            raise EncoderInputError(
                f"EEGEncoderTransformer: channel_pooling={self.channel_pooling!r}; expected one of {list(CHANNEL_POOLINGS)}"
            )
        if self.normalization is not None and self.normalization not in NORMALIZATIONS:
            raise EncoderInputError(
                f"EEGEncoderTransformer: normalization={self.normalization!r}; expected one of {list(NORMALIZATIONS)} or None"
            )
        pretrained = "sequence"
        if isinstance(self.checkpoint, EEGModel):
            encoder = self.checkpoint.eval()
            self.source_ = "the given model"
        else:
            run_config = load_checkpoint(self.checkpoint).get("run_config") or {}
            data_section = run_config.get("data") if isinstance(run_config, dict) else None
            if isinstance(data_section, dict) and data_section.get("normalization") in NORMALIZATIONS:
                pretrained = data_section["normalization"]
            encoder = load_pretrained(self.checkpoint, map_location="cpu", backend=self.backend)
            self.source_ = os.fspath(self.checkpoint)
        self.encoder_ = encoder.to(torch.device(self.device))
        self.sfreq_ = float(encoder.config.sampling_rate)
        self.window_length_ = int(encoder.config.window_length)
        self.normalization_ = self.normalization or pretrained

    def _inputs(self, X: Any) -> tuple[np.ndarray, list[str]]:
        """``X`` as float32 ``[n, C, T]`` µV and its channel names, checked against the checkpoint."""
        parts = _epochs_parts(X)
        if parts:  # MNE Epochs, or the list of one-epoch Epochs that scikit-learn's indexing makes of them
            first = parts[0]
            if any(p.ch_names != first.ch_names or p.info["sfreq"] != first.info["sfreq"] for p in parts):
                raise EncoderInputError(
                    "EEGEncoderTransformer: the epochs differ in channels or sampling rate"
                )
            if self.ch_names is not None:
                index = {name.upper(): i for i, name in enumerate(first.ch_names)}
                absent = [name for name in self.ch_names if name.upper() not in index]
                if absent:
                    raise EncoderInputError(
                        f"EEGEncoderTransformer: ch_names {absent} are not in the epochs ({first.ch_names})"
                    )
                picks = [index[name.upper()] for name in self.ch_names]
            else:
                picks = [i for i, kind in enumerate(first.get_channel_types()) if kind == "eeg"]
            if not picks:
                raise EncoderInputError(
                    "EEGEncoderTransformer: the epochs hold no EEG channel; name them with ch_names"
                )
            data = np.concatenate([p.get_data(picks=picks) for p in parts]) * VOLTS_TO_MICROVOLTS
            channels, sfreq = [first.ch_names[i] for i in picks], float(first.info["sfreq"])
            where = "the epochs"
        else:
            data = np.asarray(X)
            if data.ndim != 3:
                raise EncoderInputError(
                    f"EEGEncoderTransformer: expected MNE Epochs or an array (n_epochs, n_channels, n_samples), "
                    f"got shape {data.shape}"
                )
            if self.ch_names is None or self.sfreq is None:
                raise EncoderInputError(
                    "EEGEncoderTransformer: array input needs ch_names (one per channel row) and sfreq (Hz)"
                )
            if len(self.ch_names) != data.shape[1]:
                raise EncoderInputError(
                    f"EEGEncoderTransformer: {len(self.ch_names)} ch_names for {data.shape[1]} channel rows"
                )
            channels, sfreq, where = list(self.ch_names), float(self.sfreq), "the array (sfreq)"
        self._check_timing(sfreq, data.shape[2], where)
        data = np.asarray(data, dtype=np.float32)
        if not np.isfinite(data).all():
            raise EncoderInputError(f"EEGEncoderTransformer: {where} hold NaN or infinite samples")
        return data, channels

    def _check_timing(self, sfreq: float, samples: int, where: str) -> None:
        rate, width = self.sfreq_, self.window_length_
        if not math.isclose(sfreq, rate, rel_tol=0, abs_tol=1e-6):
            raise EncoderInputError(
                f"EEGEncoderTransformer: {where} are sampled at {sfreq:g} Hz but {self.source_} was pretrained at "
                f"{rate:g} Hz; resample them to {rate:g} Hz first (epochs.resample({rate:g}))"
            )
        if samples < width or samples % width:
            below, above = (samples // width) * width, (samples // width + 1) * width
            seconds = width / rate
            options = f"{below} or {above}" if below else f"{above}"
            raise EncoderInputError(
                f"EEGEncoderTransformer: epochs of {samples} samples are not a whole number of the checkpoint's "
                f"{width}-sample windows ({seconds:g} s at {rate:g} Hz); make them {options} samples long (with "
                f"MNE: tmax = tmin + k * {seconds:g} - 1 / sfreq, or epochs.crop)"
            )

    @torch.no_grad()
    def _embed(self, data: np.ndarray, channels: list[str]) -> np.ndarray:
        n, count, samples = data.shape
        width = self.window_length_
        tokens = samples // width
        sequences = _normalize(data.reshape(n * count, tokens, width), self.normalization_)  # (n*C, L, W)
        names = channels * n
        device = torch.device(self.device)
        features = []
        for start in range(0, n * count, self.batch_size):
            chunk = torch.from_numpy(sequences[start : start + self.batch_size]).to(device)
            lengths = torch.full((chunk.shape[0],), tokens, dtype=torch.int64, device=device)
            tokens_out = self.encoder_.encode(chunk, names[start : start + self.batch_size], lengths)
            features.append(tokens_out.float().mean(dim=1).cpu())  # (B, d): the mean over time
        per_channel = torch.cat(features).numpy().reshape(n, count, -1)  # (n, C, d)
        if self.channel_pooling == "mean":
            return per_channel.mean(axis=1)
        return per_channel.reshape(n, -1)


def _epochs_parts(X: Any) -> list[Any]:
    """``[X]`` for MNE ``Epochs``; the list itself for a list of them (``cross_val_score`` indexes Epochs into
    a list of one-epoch Epochs); ``[]`` for anything else."""

    def is_epochs(value: Any) -> bool:
        return hasattr(value, "get_data") and hasattr(value, "info") and hasattr(value, "ch_names")

    if is_epochs(X):
        return [X]
    if isinstance(X, list | tuple) and X and all(is_epochs(value) for value in X):
        return list(X)
    return []


def _normalize(sequences: np.ndarray, normalization: str) -> np.ndarray:
    """Scale ``[S, L, W]`` µV as pretraining did: z-score per sequence or per window, or leave it."""
    out = np.array(sequences, dtype=np.float32, copy=True)
    if normalization == "none":
        return out
    axes = (1, 2) if normalization == "sequence" else (2,)
    mean = out.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = out.std(axis=axes, keepdims=True, dtype=np.float64)
    # eeg_io's rule: a flat stretch (std <= 1e-7 |mean|, or below float32's tiny) is centred, not divided.
    flat = ~((std > 1e-7 * np.abs(mean)) & (std > float(np.finfo(np.float32).tiny)))
    out -= mean.astype(np.float32)
    np.divide(out, std.astype(np.float32), out=out, where=~np.broadcast_to(flat, out.shape))
    return out
