"""The learning-curve benchmark's trend fit (``benchmarks/trend.py``, used by ``learning_curve.py``) on numbers
worked by hand."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "trend.py"


@pytest.fixture(scope="module")
def fit_trend():
    spec = importlib.util.spec_from_file_location("trend", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["trend"] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["trend"]
    return module.fit_trend


def test_a_line_in_log2_participants_is_recovered_exactly(fit_trend):
    sizes = [4, 8, 16, 32, 64] * 2
    trend = fit_trend(sizes, [0.01 + 0.02 * math.log2(n) for n in sizes])
    assert trend.slope == pytest.approx(0.02)
    assert trend.intercept == pytest.approx(0.01)
    assert trend.low == pytest.approx(0.02) and trend.high == pytest.approx(0.02)  # no scatter, no width
    assert trend.points == 10


def test_the_slope_interval_is_the_t_interval_worked_by_hand(fit_trend):
    # x = log2(2, 4, 8) = 1, 2, 3 and y = 0, 1, 1: slope 1/2, intercept -1/3, residuals -1/6, 1/3, -1/6,
    # s^2 = (1/6) / (3 - 2), Sxx = 2, so the slope's standard error is sqrt(1/12); t(0.975, 1 df) = 12.7062
    trend = fit_trend([2, 4, 8], [0.0, 1.0, 1.0])
    half = 12.706204736 * math.sqrt(1 / 12)
    assert trend.slope == pytest.approx(0.5)
    assert trend.intercept == pytest.approx(-1 / 3)
    assert (trend.low, trend.high) == pytest.approx((0.5 - half, 0.5 + half))


@pytest.mark.parametrize(
    ("sizes", "values", "message"),
    [
        ([4, 8], [0.0, 1.0], "need >= 3 points"),
        ([8, 8, 8], [0.0, 1.0, 2.0], "need >= 3 points at >= 2 sizes, got 3 points at 1 sizes"),
        ([4, 8, 16], [0.0, 1.0], "3 sizes for 2 values"),
    ],
)
def test_too_little_to_fit_is_refused(fit_trend, sizes, values, message):
    with pytest.raises(ValueError, match=message):
        fit_trend(sizes, values)
