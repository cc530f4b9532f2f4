"""The trend of a learning curve: a figure against log2(participants), its slope with a t interval.

Used by ``benchmarks/learning_curve.py``; numpy and scipy only, so its test loads no model code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Trend", "fit_trend"]


@dataclass(frozen=True)
class Trend:
    """``value = intercept + slope * log2(participants)``; ``low``..``high`` the slope's interval."""

    slope: float
    low: float
    high: float
    intercept: float
    points: int

    def line(self, what: str = "encoder skill") -> str:
        return (
            f"{what} = {self.intercept:+.4f} {self.slope:+.4f} x log2(participants); slope per doubling "
            f"{self.slope:+.4f} [{self.low:+.4f}, {self.high:+.4f}] (95 %, {self.points} runs)"
        )


def fit_trend(participants, values, confidence: float = 0.95) -> Trend:
    """Least-squares line of ``values`` on ``log2(participants)`` with a two-sided ``confidence`` t interval
    (``points - 2`` degrees of freedom) on the slope. Needs at least 3 points and 2 distinct sizes."""
    x = np.log2(np.asarray(participants, dtype=np.float64))
    y = np.asarray(values, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} sizes for {len(y)} values")
    if len(x) < 3 or len(set(x)) < 2:
        raise ValueError(f"need >= 3 points at >= 2 sizes, got {len(x)} points at {len(set(x))} sizes")
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 2) * fit.stderr
    return Trend(
        float(fit.slope), float(fit.slope - half), float(fit.slope + half), float(fit.intercept), len(x)
    )
