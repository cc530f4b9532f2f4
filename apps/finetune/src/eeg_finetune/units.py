"""From the predictions of samples (participants, window groups, windows) to the predictions of units,
the rows :mod:`eeg_eval` evaluates: a window with per-window labels, a participant-run sequence
otherwise (its samples aggregated)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eeg_eval import Predictions, aggregate
from eeg_finetune.data import LabelledData, Sample, unit_of

__all__ = ["unit_predictions"]


def unit_predictions(
    data: LabelledData, samples: Sequence[Sample], probabilities: np.ndarray, how: str, fold: int
) -> Predictions:
    """Predictions per unit from the predictions of ``samples``.

    Window labels: a unit is a window (one sample each). Participant labels: a unit is a sequence, its
    samples (window groups) aggregated by ``how`` (:func:`eeg_eval.aggregate`).

    Args:
        probabilities: float ``[len(samples), K]``.
    """
    units = [unit_of(data, s) for s in samples]
    index = {u: i for i, u in enumerate(dict.fromkeys(units))}
    order, probs, predicted = aggregate([index[u] for u in units], probabilities, how)
    keys = list(index)
    chosen = [keys[i] for i in order]
    return Predictions(
        participants=tuple(data.participants[s] for s, _ in chosen),
        targets=np.asarray(
            [int(data.window_targets[s][0 if w is None else w]) for s, w in chosen], dtype=np.int64
        ),
        predicted=predicted,
        probabilities=probs,
        folds=np.full(len(chosen), fold, dtype=np.int64),
        groups=tuple(data.groups[s] for s, _ in chosen),
        runs=tuple(data.runs[s] or "" for s, _ in chosen),
        windows=np.asarray([-1 if w is None else w for _, w in chosen], dtype=np.int64),
    )
