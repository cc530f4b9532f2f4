"""How often does the verdict say "pretraining helped" when it should not, and how often when it should?

The whole verdict (:func:`eeg_eval.compare_features`: the default split, every group tested once; logistic
regression on each feature set; pooled out-of-fold predictions; 95 % bootstrap intervals over groups;
:func:`eeg_eval.judge` with the linear probe named as the judged model) is run on synthetic grouped data
over many seeds, for 4, 8, 16 and 32 groups, in three worlds:

- ``null_label``: the label is independent of every feature (what a verdict must not call a success);
- ``null_pretraining``: the label shows in every feature set, and the "pretrained" embeddings carry it
  exactly as strongly as the random encoder's (pretraining cannot matter): "helped" is a false positive;
- ``effect``: the pretrained embeddings carry the label more strongly than the random encoder's and the
  classic features (the power: how often a real gain is detected).

Two designs: ``participant`` (one unit per group, one label per person: the clinical case) and ``trial``
(``--units`` units per group, labels varying within the group: trials of a person). Every feature has a
per-group random offset, so units of a group are correlated and only group resampling is honest.

Prints, per world and design, the share of "helped" verdicts with a 95 % Clopper-Pearson interval
(scipy), and how often the verdict was "undecided". Target: false-positive rate <= 5 % at every group
count. A benchmark (a script), not a test:

    uv run --all-packages python benchmarks/verdict_calibration.py [--seeds 200] [--resamples 1000]   # ~35 min
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
from scipy.stats import binomtest
from threadpoolctl import threadpool_limits

from eeg_eval import Units, compare_features

WORLDS = ("null_label", "null_pretraining", "effect")
DESIGNS = ("participant", "trial")
#: Label signal (standardised mean shift) per feature set in each world.
SIGNAL = {
    "null_label": {"linear_probe": 0.0, "random_encoder": 0.0, "band_power": 0.0, "waveform": 0.0},
    "null_pretraining": {"linear_probe": 0.6, "random_encoder": 0.6, "band_power": 0.6, "waveform": 0.6},
    "effect": {"linear_probe": 1.5, "random_encoder": 0.3, "band_power": 0.3, "waveform": 0.3},
}
DIMS = {"linear_probe": 16, "random_encoder": 16, "band_power": 8, "waveform": 16}


def simulate(
    world: str, design: str, groups: int, units: int, seed: int
) -> tuple[Units, dict[str, np.ndarray]]:
    """Units and feature sets of one synthetic study."""
    rng = np.random.default_rng(seed)
    per_group = 1 if design == "participant" else units
    people = np.repeat(np.arange(groups), per_group)
    if design == "participant":
        labels = rng.permutation(np.arange(groups) % 2)  # balanced classes over people
    else:
        labels = np.tile(np.arange(per_group) % 2, groups)  # both classes inside every person
    features = {}
    for name, dim in DIMS.items():
        direction = rng.standard_normal(dim)
        direction /= np.linalg.norm(direction)
        offsets = rng.standard_normal((groups, dim))  # the person's own offset: units of a group correlate
        noise = rng.standard_normal((len(people), dim))
        features[name] = offsets[people] + noise + SIGNAL[world][name] * np.outer(labels - 0.5, direction) * 2
    return Units.build([f"P{p:03d}" for p in people], labels), features


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=200, help="studies per cell")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per study")
    parser.add_argument("--groups", default="4,8,16,32")
    parser.add_argument("--units", type=int, default=10, help="units per group in the trial design")
    parser.add_argument("--worlds", default=",".join(WORLDS))
    parser.add_argument("--designs", default=",".join(DESIGNS))
    args = parser.parse_args()
    threadpool_limits(1)  # small problems: BLAS threads only contend (4x slower on 2 shared cores)
    group_counts = [int(g) for g in args.groups.split(",")]
    print(
        f"verdict calibration: {args.seeds} studies per cell, {args.resamples} bootstrap resamples, judged model "
        "linear_probe vs random_encoder and the best of band_power/waveform; 'helped' share [95% Clopper-Pearson]"
    )
    print(f"{'world':18s} {'design':12s} {'groups':>6s} {'helped':>24s} {'undecided':>10s} {'seconds':>8s}")
    for world in args.worlds.split(","):
        for design in args.designs.split(","):
            for groups in group_counts:
                started = time.perf_counter()
                decisions: Counter[str] = Counter()
                for seed in range(args.seeds):
                    units, features = simulate(world, design, groups, args.units, seed)
                    comparison = compare_features(
                        features,
                        units,
                        judged="linear_probe",
                        resamples=args.resamples,
                        seed=seed,
                        resample=("auroc",),
                    )
                    decisions[comparison.verdict.decision] += 1
                helped = decisions["helped"]
                interval = binomtest(helped, args.seeds).proportion_ci(confidence_level=0.95, method="exact")
                print(
                    f"{world:18s} {design:12s} {groups:6d} {helped / args.seeds:8.3f} [{interval.low:.3f}, {interval.high:.3f}]"
                    f" {decisions['undecided'] / args.seeds:10.3f} {time.perf_counter() - started:8.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
