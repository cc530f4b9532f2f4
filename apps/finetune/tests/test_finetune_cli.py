"""End to end through the ``finetune`` command on CPU: random, k-fold and LOSO splits, MLflow, outputs,
metrics against scikit-learn, and the frozen backbone."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score, roc_auc_score

from eeg_finetune.cli import main
from eeg_finetune.model import load_finetuned
from eeg_ssm import load_checkpoint

NAME = "mamba2_eeg_d16_l1_m40_mae_finetuned"


def run(args: list[str], expect: int = 0) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == expect


def run_config(write_config, config: dict, *extra: str, expect: int = 0) -> None:
    run(["--config", str(write_config(config, "finetune.yaml")), *extra], expect)


def read_predictions(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def sklearn_metrics(rows):
    y = np.array([int(r["label"]) for r in rows])
    pred = np.array([int(r["predicted"]) for r in rows])
    score = np.array([float(r["prob_1"]) for r in rows])
    return {
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": balanced_accuracy_score(y, pred),
        "auroc": roc_auc_score(y, score),
        "f1": f1_score(y, pred),
        "sensitivity": recall_score(y, pred, pos_label=1),
        "specificity": recall_score(y, pred, pos_label=0),
    }


def test_random_split_with_baselines_mlflow_and_a_frozen_encoder(
    pretrained, labelled, ft_config, write_config, tmp_path, capsys
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # Artifacts under tmp_path, not MLflow's default ./mlruns in the working directory.
    mlflow.tracking.MlflowClient(uri).create_experiment("tests", (tmp_path / "artifacts").as_uri())
    out = tmp_path / "models"
    config = ft_config(pretrained, labelled, out, uri, compare_baselines=True)
    run_config(write_config, config)
    printed = capsys.readouterr().out
    for variant in ("band_power", "waveform", "random_encoder", "linear_probe", "finetuned"):
        assert variant in printed  # the summary table shows every model side by side
    assert "verdict: " in printed

    model_file = out / f"{NAME}.pt"
    names = {p.name for p in out.iterdir()}
    assert names == {
        f"{NAME}.pt",
        f"{NAME}_predictions.csv",
        f"{NAME}_summary.json",
        f"{NAME}_summary.csv",
        f"{NAME}_roc_curve.png",
        f"{NAME}_confusion_matrix.png",
        f"{NAME}_config.yaml",
    }
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    assert set(summary["models"]) == {"band_power", "waveform", "random_encoder", "linear_probe", "finetuned"}
    assert summary["pretrain_mlflow_run_id"] == "0123456789abcdef0123456789abcdef"
    assert summary["pretrained_checkpoint"] == str(pretrained.checkpoint.resolve())

    # Frozen backbone (the default): the saved encoder is the pretrained one, weight for weight.
    saved, before = load_checkpoint(model_file), load_checkpoint(pretrained.checkpoint)
    assert saved["model"].keys() == before["model"].keys()
    for key, tensor in before["model"].items():
        assert torch.equal(saved["model"][key], tensor), key
    classifier, info = load_finetuned(model_file)
    assert info["classes"] == [0, 1] and classifier.channels == ["AF7", "AF8"]
    split = info["split"]
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 12

    # MLflow: one parent run named after the pretraining run, one nested run for the fold.
    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("tests")
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if r.info.run_name == NAME)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert [c.info.run_name for c in children] == ["fold_01"]
    assert parent.info.run_id == summary["mlflow_run_id"] == info["mlflow_run_id"]
    assert parent.data.params["pretrained.mlflow_run_id"] == "0123456789abcdef0123456789abcdef"
    assert parent.data.params["pretrained.checkpoint_path"] == str(pretrained.checkpoint.resolve())
    assert parent.data.params["split.method"] == "random"
    assert parent.data.tags["verdict"] == parent.data.params["verdict"] == summary["verdict"]
    assert "linear_probe.test_auroc_ci_low" in parent.data.metrics
    for metric in (
        "test_auroc",
        "test_balanced_accuracy",
        "random_encoder.test_auroc",
        "linear_probe.test_accuracy",
    ):
        assert metric in parent.data.metrics, metric
    assert len(client.get_metric_history(children[0].info.run_id, "val_loss")) == 10  # per epoch
    assert len(client.get_metric_history(children[0].info.run_id, "random_encoder.train_loss")) == 10
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {f"{NAME}_predictions.csv", f"{NAME}_summary.csv", "plots"} <= artifacts
    (version,) = client.search_model_versions("name = 'eeg-mamba2-classifier'")
    assert version.run_id == parent.info.run_id and version.tags["run_name"] == NAME


def test_kfold_beats_chance_and_its_metrics_equal_sklearns(
    pretrained, labelled, ft_config, write_config, tmp_path
):
    out = tmp_path / "models"
    config = ft_config(pretrained, labelled, out, split={"method": "kfold", "folds": 3, "val_ratio": 0.25})
    run_config(write_config, config)
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    rows = [r for r in read_predictions(out / f"{NAME}_predictions.csv") if r["model"] == "finetuned"]
    assert sorted(r["participant"] for r in rows) == [f"P{i:02d}" for i in range(1, 13)]  # each tested once
    assert sorted({int(r["fold"]) for r in rows}) == [1, 2, 3]

    pooled = summary["models"]["finetuned"]["metrics"]
    for name, value in sklearn_metrics(rows).items():
        assert pooled[name] == pytest.approx(value), name
    for fold in summary["models"]["finetuned"]["per_fold"]:
        fold_rows = [r for r in rows if int(r["fold"]) == fold["fold"]]
        for name, value in sklearn_metrics(fold_rows).items():
            assert fold[name] == pytest.approx(value), (fold["fold"], name)
    spread = summary["models"]["finetuned"]
    assert spread["fold_mean"]["accuracy"] == pytest.approx(
        np.mean([f["accuracy"] for f in spread["per_fold"]])
    )

    # Classes differ in their dominant rhythm: the classifier must beat chance (0.5) clearly.
    assert pooled["balanced_accuracy"] >= 0.75 and pooled["auroc"] >= 0.8, pooled

    models = sorted(out.glob(f"{NAME}_fold*.pt"))
    assert [p.name for p in models] == [f"{NAME}_fold0{i}.pt" for i in (1, 2, 3)]
    tested = [set(load_checkpoint(p)["split"]["test"]) for p in models]
    assert set().union(*tested) == {r["participant"] for r in rows} and sum(map(len, tested)) == 12


def test_loso_in_window_mode(pretrained, labelled, ft_config, write_config, tmp_path):
    out = tmp_path / "models"
    config = ft_config(
        pretrained,
        labelled,
        out,
        split={"method": "loso", "val_ratio": 0.0},
        model={"mode": "window", "window_group": 3, "aggregation": "majority_vote"},
        train={"epochs": 6},
    )
    run_config(write_config, config)
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    result = summary["models"]["finetuned"]
    assert summary["folds"] == 12 and len(result["per_fold"]) == 12
    assert all(fold["auroc"] is None for fold in result["per_fold"])  # one participant: no AUROC of its own
    assert result["metrics"]["auroc"] is not None  # ... but the pooled out-of-fold predictions have one
    assert result["fold_mean"]["accuracy"] == pytest.approx(result["metrics"]["accuracy"])
    rows = read_predictions(out / f"{NAME}_predictions.csv")
    for name, value in sklearn_metrics(rows).items():
        assert result["metrics"][name] == pytest.approx(value), name
    for row in rows:  # majority vote: probabilities are vote fractions over 2 or 3 window groups
        assert float(row["prob_0"]) + float(row["prob_1"]) == pytest.approx(1.0)
        assert float(row["prob_1"]) in {0.0, 1 / 3, 0.5, 2 / 3, 1.0}
    assert len(list(out.glob(f"{NAME}_fold*.pt"))) == 12


@pytest.mark.parametrize(
    "model", [{"freeze_backbone": False}, {"freeze_backbone": True, "unfreeze_epoch": 3}]
)
def test_an_unfrozen_encoder_is_trained(pretrained, labelled, ft_config, write_config, tmp_path, model):
    out = tmp_path / "models"
    config = ft_config(pretrained, labelled, out, model=model, train={"epochs": 4}, split={"val_ratio": 0.0})
    run_config(write_config, config)
    saved, before = load_checkpoint(out / f"{NAME}.pt"), load_checkpoint(pretrained.checkpoint)
    changed = [k for k, t in before["model"].items() if not torch.equal(saved["model"][k], t)]
    assert "input_projection.linear.weight" in changed or any(
        k.startswith("input_projection") for k in changed
    )
    assert not any(k == "spatial.projection" for k in changed)  # a fixed buffer, never trained
    assert saved["best_epoch"] == 4


def test_checkpoint_flag_overrides_the_lookup_and_names_the_model(
    pretrained, labelled, ft_config, write_config, tmp_path
):
    out = tmp_path / "models"
    config = ft_config(pretrained, labelled, out, train={"epochs": 2})
    config["pretrained"] = {}
    run_config(
        write_config, config, "--checkpoint", str(pretrained.checkpoint), "--output-dir", str(tmp_path / "o2")
    )
    # the run name comes from the checkpoint's own run_config
    assert (tmp_path / "o2" / f"{NAME}.pt").is_file() and not out.exists()


def test_print_config_resolves_flags(pretrained, labelled, write_config, capsys):
    run(["--data-path", str(labelled), "--set", "split.method=loso", "--print-config"])
    text = capsys.readouterr().out
    assert f"data_path: {labelled}" in text and "method: loso" in text


def test_same_config_and_seed_give_identical_results(pretrained, labelled, ft_config, write_config, tmp_path):
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        config = ft_config(
            pretrained, labelled, out, model={"dropout": 0.2}, train={"epochs": 3}, compare_baselines=True
        )
        run_config(write_config, config)
        outputs.append(out)
    a, b = (o / f"{NAME}_predictions.csv" for o in outputs)
    assert a.read_bytes() == b.read_bytes()
    first, second = (load_checkpoint(o / f"{NAME}.pt")["head"] for o in outputs)
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_three_classes(pretrained, ft_config, write_config, tmp_path):
    from eeg_finetune.synthetic import write_synthetic_primary

    data = write_synthetic_primary(tmp_path / "three.parquet", participants=12, rhythms_hz=(4.0, 10.0, 20.0))
    out = tmp_path / "models"
    run_config(write_config, ft_config(pretrained, data, out, train={"epochs": 4}))
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    assert summary["classes"] == [0, 1, 2]
    metrics = summary["models"]["finetuned"]["metrics"]
    assert len(metrics["confusion_matrix"]) == 3 and metrics["auroc"] is not None
    rows = read_predictions(out / f"{NAME}_predictions.csv")
    assert {r["label"] for r in rows} == {"0", "1", "2"}  # stratified: every class in the test set
    assert all(sum(float(r[f"prob_{k}"]) for k in range(3)) == pytest.approx(1.0) for r in rows)
    assert (out / f"{NAME}_roc_curve.png").is_file()
