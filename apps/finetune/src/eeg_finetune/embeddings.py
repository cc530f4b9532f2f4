"""Encoder embeddings of the primary dataset, and the logistic-regression baseline that uses them.

An embedding is the encoder's token features averaged over a sequence's windows (``[d_model]`` per
participant × channel), or the features of each window (``[d_model]`` per participant × channel ×
window). The baseline averages the channel embeddings of a participant and fits a scikit-learn
logistic regression (after standardisation) on the training and validation participants of each fold.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eeg_finetune.data import LabelledData
from eeg_finetune.metrics import Predictions
from eeg_finetune.splits import Fold
from eeg_ssm import EEGModel

__all__ = ["encode_participant", "logistic_regression_baseline", "participant_embeddings"]


@torch.no_grad()
def encode_participant(
    encoder: EEGModel, windows: np.ndarray, channels: list[str], device: torch.device, batch_size: int = 16
) -> np.ndarray:
    """Token features float32 ``[C, L, d_model]`` of one participant's windows ``[C, L, W]`` (eval mode).

    Channels are encoded in batches of ``batch_size`` sequences; all share the participant's length, so
    there is no padding.
    """
    encoder.eval()
    count, length, _ = windows.shape
    out = []
    for start in range(0, count, batch_size):
        chunk = torch.from_numpy(np.ascontiguousarray(windows[start : start + batch_size])).to(device)
        lengths = torch.full((chunk.shape[0],), length, dtype=torch.int64, device=device)
        out.append(encoder.encode(chunk, channels[start : start + batch_size], lengths).float().cpu())
    return torch.cat(out).numpy()


def participant_embeddings(encoder: EEGModel, data: LabelledData, device: torch.device) -> np.ndarray:
    """``[P, d_model]``: per participant, the mean over channels of each channel's mean window feature."""
    return np.stack(
        [
            encode_participant(encoder, windows, list(data.channels), device).mean(axis=1).mean(axis=0)
            for windows in data.windows
        ]
    )


def logistic_regression_baseline(
    embeddings: np.ndarray, data: LabelledData, fold: Fold, class_weights: str | tuple[float, ...], seed: int
) -> Predictions:
    """Fit on the fold's training + validation participants (nothing to stop early), predict its test set.

    ``class_weights`` as in the training config: ``none``, ``balanced`` or one weight per class.
    """
    fit_on = list(fold.train) + list(fold.val)
    if class_weights == "none":
        weight = None
    elif class_weights == "balanced":
        weight = "balanced"
    else:
        weight = dict(enumerate(class_weights))
    model = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight=weight, random_state=seed)
    )
    model.fit(embeddings[fit_on], data.targets[fit_on])
    test = list(fold.test)
    # predict_proba's columns follow model.classes_: the classes seen in training (all, as splits are
    # stratified); place them in the full class axis to be safe.
    seen = model.predict_proba(embeddings[test])
    probabilities = np.zeros((len(test), data.num_classes))
    probabilities[:, model.classes_] = seen
    return Predictions(
        participants=tuple(data.participants[p] for p in test),
        targets=data.targets[test],
        predicted=probabilities.argmax(axis=1),
        probabilities=probabilities,
        folds=np.full(len(test), fold.index, dtype=np.int64),
    )
