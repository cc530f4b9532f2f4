"""The trend of a learning curve (a figure against log2(participants), its slope with a t interval) and
its plot. Used by ``benchmarks/learning_curve.py``; numpy and scipy (matplotlib when plotting) only, so its
test loads no model code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Trend", "fit_trend", "plot"]


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


def plot(rows, means, trend, dataset: str, path, judged: str, reference: str) -> None:
    """Left: skill and encoder skill per run and their mean per size, with the fitted trend; right: the mean
    AUROC per size of the ``judged`` probe, the ``reference`` encoder and band power. Saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    sizes = sorted(means)
    steps = {n: [r["steps"] for r in rows if r["participants"] == n] for n in sizes}
    ticks = [  # what each size trained
        f"{n}\n{min(steps[n])}{'' if min(steps[n]) == max(steps[n]) else f'-{max(steps[n])}'} steps"
        for n in sizes
    ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, colour, label in (("encoder_skill", "C0", "encoder skill"), ("skill", "C1", "skill")):
        left.scatter([r["participants"] for r in rows], [r[key] for r in rows], color=colour, alpha=0.4, s=15)
        left.plot(sizes, [means[n][key] for n in sizes], "o-", color=colour, label=f"{label} (mean)")
    if trend is not None:
        x = np.array([min(sizes), max(sizes)], dtype=float)
        left.plot(x, trend.intercept + trend.slope * np.log2(x), "--", color="C0",
                  label=f"fit: {trend.slope:+.3f} [{trend.low:+.3f}, {trend.high:+.3f}] / doubling")  # fmt: skip
    left.axhline(0, color="grey", lw=0.5)
    left.set_xscale("log", base=2)
    left.set(xlabel="pretraining participants", ylabel="on held-out people",
             title=f"{dataset}: masked band-power prediction")  # fmt: skip
    left.set_xticks(sizes, ticks, minor=False)
    left.xaxis.set_minor_formatter(NullFormatter())
    left.legend(fontsize=8)
    for key, colour, label in ((f"auroc_{judged}", "C0", "linear probe"), (f"auroc_{reference}", "C3", "random encoder"),
                               ("auroc_band_power", "C2", "band power")):  # fmt: skip
        right.plot(sizes, [means[n][key] for n in sizes], "o-", color=colour, label=label)
    right.set_xscale("log", base=2)
    right.set(xlabel="pretraining participants", ylabel="AUROC (pooled out-of-fold)",
              title="labelled task, people held out")  # fmt: skip
    right.set_xticks(sizes, ticks, minor=False)
    right.xaxis.set_minor_formatter(NullFormatter())
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
