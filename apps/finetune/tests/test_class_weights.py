"""Cross-entropy class weights of the fine-tuned head."""

from __future__ import annotations

import pytest

from eeg_finetune.training import class_weight_vector


def test_class_weights():
    balanced = class_weight_vector("balanced", [0, 0, 0, 1], 2)
    assert balanced.tolist() == pytest.approx([4 / (2 * 3), 4 / (2 * 1)])
    assert class_weight_vector("none", [0, 1], 2) is None
    assert class_weight_vector((1.0, 2.5), [0, 1], 2).tolist() == [1.0, 2.5]
