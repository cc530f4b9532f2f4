"""Bootstrap intervals over groups on constructed cases, paired differences, and the verdict line."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eeg_finetune.intervals import bootstrap, verdict, verdict_for
from eeg_finetune.metrics import Predictions


def predictions(correct: np.ndarray, groups: list[str], targets: np.ndarray) -> Predictions:
    """Binary predictions that are right where ``correct``; probability 0.9 on the predicted class."""
    predicted = np.where(correct, targets, 1 - targets)
    p1 = np.where(predicted == 1, 0.9, 0.1)
    return Predictions(
        participants=tuple(f"u{i:04d}" for i in range(len(targets))),
        targets=targets,
        predicted=predicted,
        probabilities=np.stack([1 - p1, p1], axis=1),
        folds=np.ones(len(targets), dtype=np.int64),
        groups=tuple(groups),
    )


def test_intervals_contain_the_true_accuracy_and_resample_groups():
    rng = np.random.default_rng(0)
    groups = [f"g{i}" for i in range(150) for _ in range(4)]  # 150 groups of 4 units
    targets = np.tile([0, 1], 300)
    correct = rng.random(600) < 0.7  # true accuracy 0.7
    model = predictions(correct, groups, targets)
    intervals, _ = bootstrap({"m": model}, 2, resamples=200, confidence=0.95, seed=0)
    low, high = intervals["m"]["accuracy"]
    assert low < 0.7 < high and low < correct.mean() < high
    assert 0.03 < high - low < 0.2

    # The same units, but every group's units all right or all wrong: groups, not units, are the
    # independent draws, so the interval is wider than when correctness varies inside groups.
    clustered = np.repeat(rng.random(150) < 0.7, 4)
    wide, _ = bootstrap(
        {"m": predictions(clustered, groups, targets)}, 2, resamples=200, confidence=0.95, seed=0
    )
    assert wide["m"]["accuracy"][1] - wide["m"]["accuracy"][0] > 1.3 * (high - low)


def test_degenerate_intervals():
    groups = [f"g{i // 3}" for i in range(30)]
    targets = np.tile([0, 1, 1], 10)
    perfect = predictions(np.ones(30, dtype=bool), groups, targets)
    intervals, differences = bootstrap(
        {"a": perfect, "b": perfect}, 2, resamples=200, confidence=0.95, seed=1, pairs=[("a", "b")]
    )
    assert intervals["a"]["accuracy"] == [1.0, 1.0] and intervals["a"]["auroc"] == [1.0, 1.0]
    assert differences["a - b"]["auroc"] == {"estimate": 0.0, "low": 0.0, "high": 0.0}
    # one group: every resample is the data itself
    single, _ = bootstrap(
        {"a": predictions(np.arange(6) % 3 > 0, ["g"] * 6, np.tile([0, 1], 3))},
        2,
        resamples=50,
        confidence=0.95,
        seed=0,
    )
    assert single["a"]["accuracy"] == pytest.approx([4 / 6, 4 / 6])
    none, _ = bootstrap({"a": perfect}, 2, resamples=0, confidence=0.95, seed=0)
    assert all(math.isnan(x) for x in none["a"]["auroc"])


def test_paired_difference_interval_excludes_zero_for_a_clearly_better_model():
    rng = np.random.default_rng(3)
    groups = [f"g{i // 5}" for i in range(400)]
    targets = rng.integers(0, 2, 400)
    good = predictions(rng.random(400) < 0.9, groups, targets)
    poor = predictions(rng.random(400) < 0.6, groups, targets)
    _, differences = bootstrap(
        {"good": good, "poor": poor}, 2, resamples=150, confidence=0.95, seed=0, pairs=[("good", "poor")]
    )
    difference = differences["good - poor"]["accuracy"]
    assert difference["low"] > 0 and difference["low"] < difference["estimate"] < difference["high"]


def d(estimate, low, high):
    return {"estimate": estimate, "low": low, "high": high}


def test_verdict_lines():
    helped = verdict("finetuned", d(0.1, 0.04, 0.16), "waveform", d(0.05, 0.01, 0.09))
    assert helped.startswith("pretraining helped: finetuned beats the random encoder")
    assert "+0.100 [+0.040, +0.160]" in helped and "waveform" in helped

    not_random = verdict("linear_probe", d(0.03, -0.02, 0.08), "band_power", d(0.05, 0.01, 0.09))
    assert not_random.startswith("pretraining did not help: linear_probe did not beat the random encoder")

    not_classic = verdict("finetuned", d(0.1, 0.04, 0.16), "waveform", d(-0.1, -0.2, -0.01))
    assert not_classic.startswith(
        "pretraining did not help: finetuned did not beat the best classic baseline, waveform"
    )
    neither = verdict("finetuned", d(0.0, -0.1, 0.1), "waveform", d(math.nan, math.nan, math.nan))
    assert neither.startswith("pretraining did not help: finetuned beats neither")


def test_verdict_for_picks_the_better_pretrained_model_and_classic_baseline():
    metrics = {
        "band_power": {"auroc": 0.7},
        "waveform": {"auroc": 0.8},
        "random_encoder": {"auroc": 0.6},
        "linear_probe": {"auroc": 0.9},
        "finetuned": {"auroc": 0.85},
    }
    differences = {
        "linear_probe - random_encoder": {"auroc": d(0.3, 0.2, 0.4)},
        "linear_probe - waveform": {"auroc": d(0.1, 0.02, 0.2)},
    }
    line, chosen = verdict_for(metrics, differences)
    assert chosen == {"candidate": "linear_probe", "classic": "waveform"}
    assert line.startswith("pretraining helped: linear_probe")
    assert verdict_for({"finetuned": {"auroc": 0.9}}, {})[0].startswith("no verdict")
