"""Window (trial) labels end to end through the CLI: people as groups, group k-fold and leave one group
out, every baseline on the same windows, intervals, the verdict, per-run aggregation, and metrics equal
to scikit-learn's on the saved predictions."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

from eeg_finetune.cli import main
from eeg_finetune.synthetic import write_synthetic_windows

NAME = "mamba2_eeg_d16_l1_m40_mae_finetuned"
MODELS = ("band_power", "waveform", "random_encoder", "linear_probe", "finetuned")


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    """8 people in 4 groups (G1..G4), 2 runs of 6 windows each, labels per run; classes differ only in
    the power of an 8 Hz rhythm of random phase."""
    return write_synthetic_windows(
        tmp_path_factory.mktemp("trials") / "trials.parquet", people=8, runs=2, windows=6
    )


def run_cli(write_config, config: dict, *extra: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config, "finetune.yaml")), *extra])
    assert info.value.code == 0


def window_config(ft_config, pretrained, data, out, **sections):
    base = ft_config(
        pretrained,
        data,
        out,
        data={"label_column": "Label", "label_level": "window", "group_column": "Person"},
        train={"epochs": 4},
        compare_baselines=True,
    )
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return base


@pytest.mark.parametrize(
    "split", [{"method": "group_kfold", "folds": 2, "val_ratio": 0.0}, {"method": "logo", "val_ratio": 0.3}]
)
def test_window_labels_with_groups(pretrained, trials, ft_config, write_config, tmp_path, capsys, split):
    out = tmp_path / "out"
    run_cli(write_config, window_config(ft_config, pretrained, trials, out, split=split))
    printed = capsys.readouterr().out
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    assert summary["unit"] == "window" and summary["units"] == 8 * 2 * 6
    assert summary["group_column"] == "Person" and summary["groups"] == 4
    # 4 groups: fewer than a verdict can rest on, whatever the intervals say
    assert summary["decision"] == "undecided"
    assert summary["verdict"].startswith("undecided: only 4 test group(s) took part"), summary["verdict"]
    assert f"verdict: {summary['verdict']}" in printed
    assert set(summary["models"]) == set(MODELS)

    with open(out / f"{NAME}_predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for model in MODELS:
        mine = [r for r in rows if r["model"] == model]
        assert len(mine) == 96  # every window once, out of fold
        # no group is ever tested in two folds
        folds_of = {}
        for r in mine:
            folds_of.setdefault(r["group"], set()).add(r["fold"])
        assert all(len(f) == 1 for f in folds_of.values()), folds_of
        y = np.array([int(r["label"]) for r in mine])
        pred = np.array([int(r["predicted"]) for r in mine])
        score = np.array([float(r["prob_1"]) for r in mine])
        metrics = summary["models"][model]["metrics"]
        assert metrics["accuracy"] == pytest.approx(accuracy_score(y, pred)), model
        assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred)), model
        assert metrics["auroc"] == pytest.approx(roc_auc_score(y, score)), model
        low, high = summary["models"][model]["interval"]["auroc"]
        assert low <= metrics["auroc"] <= high, model

    # the label is constant per run (not per participant): predictions are also aggregated per run
    assert set(summary["levels"]) == {"run"}
    assert summary["levels"]["run"]["finetuned"]["metrics"]["units"] == 16
    for pair in ("finetuned - random_encoder", "linear_probe - band_power", "finetuned - waveform"):
        difference = summary["differences"][pair]["auroc"]
        assert difference["low"] <= difference["estimate"] <= difference["high"], pair

    # Power-only classes: the log band power baseline sees them, far above chance.
    assert summary["models"]["band_power"]["metrics"]["auroc"] > 0.8


def test_windows_encoded_alone(pretrained, trials, ft_config, write_config, tmp_path):
    out = tmp_path / "out"
    config = window_config(
        ft_config,
        pretrained,
        trials,
        out,
        split={"method": "logo", "val_ratio": 0.0},
        model={"window_context": "alone"},
    )
    config["compare_baselines"] = False
    run_cli(write_config, config)
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    assert summary["window_context"] == "alone" and summary["units"] == 96
    assert summary["verdict"].startswith("no verdict")


def channel_config(ft_config, pretrained, trials, out, split):
    config = window_config(ft_config, pretrained, trials, out, split=split)
    config["data"]["normalization"] = "channel_train"
    return config


def test_channel_standardisation_is_fitted_on_the_training_folds_only(
    pretrained, trials, ft_config, write_config, tmp_path
):
    import numpy as np

    from eeg_finetune.config import build_config
    from eeg_finetune.data import load_labelled
    from eeg_finetune.folds import fold_view
    from eeg_finetune.inputs import split_data

    config = build_config(channel_config(ft_config, pretrained, trials, tmp_path / "o", {"method": "logo"}))
    raw = load_labelled(
        trials,
        channels=None,
        window_length=64,
        label_column="Label",
        label_level="window",
        group_column="Person",
        normalization="none",
    )
    fold = split_data(config, raw)[0]
    view = fold_view(config, raw, fold)
    seen = np.concatenate([view.windows[s] for s in (*fold.train, *fold.val)], axis=1)  # (C, L, W)
    np.testing.assert_allclose(seen.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(seen.std(axis=(1, 2)), 1.0, rtol=1e-4)
    # the test groups never inform it: changing them leaves the training data's view unchanged
    moved = tuple(w + 1000.0 if s in fold.test else w for s, w in enumerate(raw.windows))
    import attrs

    again = fold_view(config, attrs.evolve(raw, windows=moved), fold)
    for s in fold.train:
        np.testing.assert_array_equal(again.windows[s], view.windows[s])
    # offsets survive: a sequence's mean is not forced to 0
    assert max(abs(float(view.windows[s].mean())) for s in fold.train) > 1e-3
    run_cli(
        write_config,
        channel_config(
            ft_config, pretrained, trials, tmp_path / "out", {"method": "group_kfold", "folds": 2}
        ),
    )
