"""Every fold's heads trained at once (``eeg_finetune.heads_together``) equal the same heads trained one
after another: the stacked AdamW bit for bit, per-head gradient clipping to rounding, and a whole
leave-one-group-out job (unequal groups, a partial last batch, dropout, class weights, validation and
early stopping) to the rounding of batched matrix products."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from eeg_finetune import heads_together
from eeg_finetune.cli import main
from eeg_finetune.heads_together import StackedAdamW
from eeg_finetune.synthetic import write_synthetic_windows
from eeg_train import adamw_with_schedule, warmup_cosine

NAME = "mamba2_eeg_d16_l1_m40_mae_finetuned"


def test_stacked_adamw_equals_torch_adamw_per_member_and_leaves_idle_members_alone():
    """Three members with their own schedules; member 1 idles on some steps. Every active member's
    parameters equal torch.optim.AdamW + LambdaLR on that member alone, bit for bit; an idle step
    changes nothing."""
    torch.manual_seed(0)
    members, steps, total = 3, 12, [12, 9, 20]
    shapes = [(5, 4), (5,)]
    decays = [0.01, 0.0]
    stacked = [torch.randn(members, *s) for s in shapes]
    schedules = [warmup_cosine(t, max(1, t // 5), 0.05) for t in total]
    optimiser = StackedAdamW(stacked, decays, 1e-2, schedules)
    references = []
    for k in range(members):
        params = [p[k].clone().requires_grad_(True) for p in stacked]
        groups = [{"params": [params[0]], "weight_decay": 0.01}, {"params": [params[1]], "weight_decay": 0.0}]
        opt, sched = adamw_with_schedule(
            groups, lr=1e-2, total_steps=total[k], warmup_fraction=max(1, total[k] // 5) / total[k],
            min_lr_ratio=0.05,
        )  # fmt: skip
        references.append((params, opt, sched))
    rng = np.random.default_rng(0)
    for _ in range(steps):
        active = np.array([True, bool(rng.integers(2)), True])
        grads = [torch.randn(members, *s) * 3 for s in shapes]
        before = [p.clone() for p in stacked]
        optimiser.step(grads, active)
        for k in range(members):
            params, opt, sched = references[k]
            if not active[k]:
                for p, b in zip(stacked, before, strict=True):
                    assert torch.equal(p[k], b[k])
                continue
            for p, g in zip(params, grads, strict=True):
                p.grad = g[k].clone()
            opt.step()
            sched.step()
            for p, q in zip(stacked, params, strict=True):
                assert torch.equal(p[k], q.detach()), k
            assert optimiser.lr(k) == opt.param_groups[0]["lr"]


@pytest.fixture(scope="module")
def unequal_trials(tmp_path_factory):
    """8 people in 4 groups, 2 runs x 7 windows; one person keeps only their first run, so the groups
    differ in size (heads of different fold sizes, partial last batches)."""
    root = tmp_path_factory.mktemp("unequal")
    path = write_synthetic_windows(root / "full.parquet", people=8, runs=2, windows=7)
    table = pq.read_table(path)
    people, runs = table.column("Participant").to_pylist(), table.column("run").to_pylist()
    dropped = people[0]
    keep = [not (p == dropped and r != runs[0]) for p, r in zip(people, runs, strict=True)]
    out = root / "trials.parquet"
    pq.write_table(table.filter(keep), out)
    return out


def run(ft_config, write_config, pretrained, data, out, monkeypatch, together: bool):
    monkeypatch.setattr(heads_together, "HEADS_TOGETHER", together)
    config = ft_config(
        pretrained, data, out,
        data={"label_column": "Label", "label_level": "window", "group_column": "Person"},
        split={"method": "logo", "val_ratio": 0.34},
        train={"epochs": 9, "patience": 3, "batch_size": 8, "class_weights": "balanced"},
        model={"dropout": 0.2},
        evaluation={"bootstrap_resamples": 50},
        compare_baselines=True,
    )  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config, f"finetune_{together}.yaml"))])
    assert info.value.code == 0
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    with (out / f"{NAME}_predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    return summary, rows


def test_a_job_trains_the_same_heads_together_as_one_at_a_time(
    pretrained, unequal_trials, ft_config, write_config, tmp_path, monkeypatch
):
    one, one_rows = run(
        ft_config, write_config, pretrained, unequal_trials, tmp_path / "one", monkeypatch, False
    )
    all_, all_rows = run(
        ft_config, write_config, pretrained, unequal_trials, tmp_path / "all", monkeypatch, True
    )
    assert len(one_rows) == len(all_rows) == 5 * (8 * 2 * 7 - 7)  # five models, one row per window
    probability = [k for k in one_rows[0] if k.startswith("prob")]
    assert probability, one_rows[0].keys()
    compared = 0
    for a, b in zip(one_rows, all_rows, strict=True):
        assert {k: v for k, v in a.items() if not k.startswith("prob")} == {
            k: v for k, v in b.items() if not k.startswith("prob")
        }
        for key in probability:
            if a[key] and b[key]:
                assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-5), (a, b)
                compared += 1
    assert compared >= len(one_rows)
    for model in ("finetuned", "random_encoder"):
        assert one["models"][model]["metrics"]["auroc"] == pytest.approx(
            all_["models"][model]["metrics"]["auroc"], abs=1e-3
        )
    assert one["best_epochs"] == all_["best_epochs"]
