"""The verdict on fixed cases: it concludes only from enough test groups, non-degenerate intervals and an
encoder that did not see the test groups (unless declared), and it judges the model named before."""

from __future__ import annotations

import math

import pytest

from eeg_eval import MIN_TEST_GROUPS, judge

METRICS = {
    "band_power": {"auroc": 0.7},
    "waveform": {"auroc": 0.8},
    "random_encoder": {"auroc": 0.6},
    "linear_probe": {"auroc": 0.9},
    "finetuned": {"auroc": 0.95},
}


def d(estimate, low, high, groups=20, undefined=0.0, distinct=1000):
    return {
        "auroc": {
            "estimate": estimate,
            "low": low,
            "high": high,
            "groups": groups,
            "undefined": undefined,
            "distinct": distinct,
        }
    }


def differences(vs_random, vs_waveform, judged="linear_probe", vs_band_power=None):
    return {
        f"{judged} - random_encoder": vs_random,
        f"{judged} - waveform": vs_waveform,
        f"{judged} - band_power": vs_band_power or vs_waveform,
    }


def test_helped_did_not_help_and_the_best_classic_baseline():
    v = judge(METRICS, differences(d(0.3, 0.2, 0.4), d(0.1, 0.02, 0.2)))
    assert v.decision == "helped" and v.classic == "waveform" and v.judged == "linear_probe"
    assert v.line.startswith(
        "pretraining helped: linear_probe beats the random encoder (auroc +0.300 [+0.200, +0.400])"
    )
    assert "the best classic baseline, waveform (auroc +0.100 [+0.020, +0.200])" in v.line
    v = judge(METRICS, differences(d(0.03, -0.02, 0.08), d(0.1, 0.02, 0.2)))
    assert v.decision == "did not help" and "did not beat the random encoder" in v.line
    v = judge(METRICS, differences(d(0.3, 0.2, 0.4), d(-0.1, -0.2, -0.01)))
    assert v.line.startswith("pretraining did not help: linear_probe did not beat the best classic baseline")
    v = judge(METRICS, differences(d(0.0, -0.1, 0.1), d(-0.1, -0.2, -0.01)))
    assert v.line.startswith("pretraining did not help: linear_probe beats neither")


def test_the_judged_model_is_the_one_named_not_the_best_scoring():
    # finetuned scores higher, but linear_probe was named: its (losing) comparison decides
    diffs = differences(d(0.0, -0.1, 0.1), d(-0.1, -0.2, 0.0))
    diffs |= differences(d(0.35, 0.25, 0.45), d(0.15, 0.05, 0.25), judged="finetuned")
    assert judge(METRICS, diffs).decision == "did not help"
    assert judge(METRICS, diffs, judged="finetuned").decision == "helped"


@pytest.mark.parametrize("groups", [2, 4, MIN_TEST_GROUPS - 1])
def test_too_few_test_groups_are_undecided_whatever_the_intervals(groups):
    v = judge(METRICS, differences(d(0.5, 0.5, 0.6, groups=groups), d(0.5, 0.4, 0.6, groups=groups)))
    assert v.decision == "undecided" and v.line.startswith("undecided: ")
    assert f"only {groups} test group(s) took part; a verdict needs at least {MIN_TEST_GROUPS}" in v.line
    assert "helped" not in v.line.split("(")[0]


def test_degenerate_intervals_are_undecided():
    zero_width = judge(METRICS, differences(d(0.5, 0.5, 0.5), d(0.1, 0.02, 0.2)))
    assert zero_width.decision == "undecided" and "zero width" in zero_width.line
    sparse = judge(METRICS, differences(d(0.3, 0.2, 0.4, undefined=0.3), d(0.1, 0.02, 0.2)))
    assert sparse.decision == "undecided" and "rests on 70% of the resamples" in sparse.line
    missing = judge(METRICS, differences(d(math.nan, math.nan, math.nan), d(0.1, 0.02, 0.2)))
    assert missing.decision == "undecided" and "no interval" in missing.line


def test_an_encoder_that_saw_test_groups_cannot_say_helped_unless_declared():
    diffs = differences(d(0.3, 0.2, 0.4), d(0.1, 0.02, 0.2))
    seen = judge(METRICS, diffs, seen_groups=2)
    assert seen.decision == "undecided"
    assert "the encoder saw 2 of 20 test groups while pretraining" in seen.line
    assert "evaluation.transductive: true" in seen.line
    declared = judge(METRICS, diffs, seen_groups=2, transductive=True)
    assert declared.decision == "helped"
    assert declared.line.endswith(
        "transductive pretraining, as declared: the encoder saw 2 of 20 test groups while pretraining"
    )
    unknown = judge(METRICS, diffs, seen_groups=None)
    assert unknown.decision == "undecided" and "does not record what it was pretrained on" in unknown.line
    # leakage only flatters the encoder: a loss stands, with the overlap named
    lost = judge(METRICS, differences(d(0.0, -0.1, 0.1), d(0.1, 0.02, 0.2)), seen_groups=2)
    assert lost.decision == "did not help" and lost.line.endswith(
        "(the encoder saw 2 of 20 test groups while pretraining)"
    )


def test_no_baselines_no_verdict():
    v = judge({"linear_probe": {"auroc": 0.9}}, {})
    assert v.decision == "undecided" and "random_encoder" in v.line
