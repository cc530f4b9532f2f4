"""eeg-train alone: the schedule, device choice, DDP helpers without a process group, MLflow runs."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from eeg_config import UserError
from eeg_train import (
    DistInfo,
    MlflowTracker,
    NullTracker,
    adamw_with_schedule,
    all_reduce_sum,
    any_rank,
    child_tracker,
    pick_device,
    warmup_cosine,
)


def test_warmup_then_cosine_to_the_floor():
    factor = warmup_cosine(total_steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert [factor(s) for s in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert factor(10) == pytest.approx(1.0)
    assert factor(60) == pytest.approx(0.55)  # half way down the cosine
    assert factor(110) == pytest.approx(0.1) and factor(500) == pytest.approx(0.1)


@given(total=st.integers(1, 500), warmup=st.integers(0, 50), floor=st.floats(0.0, 1.0))
def test_schedule_stays_between_floor_and_one(total, warmup, floor):
    factor = warmup_cosine(total, warmup, floor)
    values = [factor(step) for step in range(total + 5)]
    assert all(0.0 < v <= 1.0 + 1e-12 or (v == floor == 0.0) for v in values)
    after_warmup = values[warmup:]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(after_warmup))  # never rises
    assert math.isclose(values[-1], floor, abs_tol=1e-9) or total <= warmup


def _decay_groups(layer: torch.nn.Linear, weight_decay: float) -> list[dict]:
    """The two AdamW groups a model's parameters come in (eeg_ssm.param_groups): decayed weights, bare biases."""
    return [
        {"params": [layer.weight], "weight_decay": weight_decay},
        {"params": [layer.bias], "weight_decay": 0.0},
    ]


def test_adamw_with_schedule_warms_up_then_decays_each_group_from_its_own_peak():
    head, backbone = torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)
    groups = [*_decay_groups(head, 0.01), *({**g, "lr": 1e-4} for g in _decay_groups(backbone, 0.01))]
    optimizer, scheduler = adamw_with_schedule(
        groups, lr=1e-2, betas=(0.8, 0.95), total_steps=20, warmup_fraction=0.1, min_lr_ratio=0.05
    )
    assert [g["betas"] for g in optimizer.param_groups] == [(0.8, 0.95)] * 4
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0, 0.01, 0.0]
    factor = warmup_cosine(20, 2, 0.05)  # int(0.1 * 20) warmup steps
    for step in range(25):
        peaks = [1e-2, 1e-2, 1e-4, 1e-4]
        assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([p * factor(step) for p in peaks])
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 1e-2)


def test_device_choice():
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device("auto") == torch.device("cpu")
        with pytest.raises(UserError, match=r"train\.device is 'cuda'"):
            pick_device("cuda")


def test_collectives_are_identities_without_a_process_group():
    alone = DistInfo()
    assert alone.is_main and alone.world_size == 1
    value = torch.tensor([1.5, 2.0])
    assert all_reduce_sum(value, alone) is value
    assert any_rank(True, alone) is True and any_rank(False, alone) is False


def test_null_tracker_has_no_children():
    tracker = NullTracker()
    tracker.set_tags({"a": "b"})
    assert isinstance(child_tracker(tracker, "fold-1"), NullTracker)


def test_mlflow_parent_and_child_runs(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parent = MlflowTracker(uri, "plumbing", "parent")
    try:
        parent.log_params({"a": 1, "long": "x" * 10_000})
        parent.log_params({"a": 2})  # params are write-once: the second value is dropped, not an error
        parent.log_metrics({"loss": 0.5, "nan": float("nan")}, step=3)
        child = child_tracker(parent, "fold-1", {"fold": "1"})
        child.log_metrics({"auroc": 0.75}, step=0)
        child.set_tags({"verdict": "did not help"})
        child.close()
        parent.set_tags({"sweep": "mask_ratio"})
    finally:
        parent.close()
    client = mlflow.tracking.MlflowClient(uri)
    parent_run = client.get_run(parent.run_id)
    assert parent_run.data.params["a"] == "1" and len(parent_run.data.params["long"]) == 6000
    assert parent_run.data.metrics == {"loss": 0.5}
    assert parent_run.data.tags["sweep"] == "mask_ratio"
    child_run = client.get_run(child.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.run_id and child_run.data.tags["fold"] == "1"
    assert child_run.data.tags["verdict"] == "did not help"
    assert child_run.data.metrics == {"auroc": 0.75} and child_run.info.status == "FINISHED"
