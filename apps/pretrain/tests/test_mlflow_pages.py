"""What a pretraining run shows in MLflow's UI (issue #26): the corpus as the run's dataset, one registered
model with a version per run, per-epoch metrics against epochs, the description, the runs table's figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from eeg_io import fingerprints_digest
from eeg_pretrain.cli import main
from eeg_train import DATASET_CONTEXT_TAG, DESCRIPTION_TAG, KEY_FIGURES_VIEW

BEST, LAST = "mamba2_eeg_pretrained.pt", "mamba2_eeg_pretrained_last.pt"


def _run(args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 0


def test_two_runs_show_their_corpus_one_registered_model_and_epochs(
    tiny_corpus, tmp_path, make_config, write_config
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first, second = tmp_path / "m40", tmp_path / "m60"
    config_first = write_config(make_config(tiny_corpus, first, uri), "first.yaml")
    _run(["--config", str(config_first), "--stop-after-epochs", "1"])
    stopped = mlflow.MlflowClient(uri).get_run(torch.load(first / LAST, weights_only=True)["mlflow_run_id"])
    assert (
        "**Result**: so far (stopped; --resume continues the run): best epoch 1 of 1"
        in (stopped.data.tags[DESCRIPTION_TAG])
    )
    _run(["--config", str(config_first), "--resume", str(first / LAST)])  # the same MLflow run goes on
    config_second = write_config(make_config(tiny_corpus, second, uri, masking={"ratio": 0.6}), "second.yaml")
    _run(["--config", str(config_second)])

    client = mlflow.MlflowClient(uri)
    run_ids = [torch.load(folder / BEST, weights_only=True)["mlflow_run_id"] for folder in (first, second)]
    runs = [client.get_run(run_id) for run_id in run_ids]

    # the corpus is each run's one dataset, with the digest of the fingerprints its checkpoint records
    record = torch.load(first / BEST, weights_only=True)["pretraining_data"]
    for run in runs:
        (dataset_input,) = run.inputs.dataset_inputs  # logged again on resume: still one
        dataset = dataset_input.dataset
        assert dataset.name == Path(tiny_corpus).name and dataset.source_type == "local"
        assert dataset.digest == fingerprints_digest(record["fingerprints"])
        assert json.loads(dataset.source)["uri"] == str(Path(tiny_corpus).resolve())
        profile = json.loads(dataset.profile)
        assert profile["recordings"] == 6 and profile["participants"] == 6 and profile["channels"] == 6
        assert profile["train_participants"] + profile["val_participants"] == 6
        assert {t.key: t.value for t in dataset_input.tags}[DATASET_CONTEXT_TAG] == "training"

    # one registered model, a version per run, in the order the runs finished
    versions = client.search_model_versions("name = 'eeg-mamba2-encoder'")
    assert sorted((int(v.version), v.run_id) for v in versions) == [(1, run_ids[0]), (2, run_ids[1])]
    assert {v.tags["mask_ratio"] for v in versions} == {"0.4", "0.6"}
    assert all(v.description.startswith("best epoch 2 of 2, loss") for v in versions)
    (model,) = client.search_registered_models()
    assert model.description.startswith("Mamba-2 EEG encoders pretrained by masked reconstruction")

    # per-epoch metrics at step = epoch (across the resume), per-step ones apart, at the optimiser steps
    steps = torch.load(first / LAST, weights_only=True)["step"]
    assert [m.step for m in client.get_metric_history(run_ids[0], "val_loss")] == [1, 2]
    assert sorted(m.step for m in client.get_metric_history(run_ids[0], "step/loss")) == list(
        range(1, steps + 1)
    )
    assert steps > 2 and "loss" not in runs[0].data.metrics

    # the runs table's figures: the best epoch's, as the run's last values
    summary = json.loads((second / "summary.json").read_text())
    metrics = client.get_run(run_ids[1]).data.metrics
    assert metrics["best_val_loss"] == pytest.approx(summary["best_val_loss"])
    assert metrics["best_val_skill"] == pytest.approx(summary["val_skill"])
    assert metrics["best_epoch"] == summary["best_epoch"]

    # the experiment's saved view of the runs table ("Views" > "Key figures") shows those figures
    view = json.loads(
        client.get_experiment(runs[0].info.experiment_id).tags[f"mlflow.sharedViewState.{KEY_FIGURES_VIEW}"]
    )
    assert {"metrics.`best_val_skill`", "params.`masking.ratio`"} <= set(
        json.loads(view["state"])["selectedColumns"]
    )

    # the description: the command of the last session, the corpus, the result and the registered version
    first_note = runs[0].data.tags[DESCRIPTION_TAG]
    assert (
        f"Command (resumed at epoch 1): `pretrain --config {config_first} --resume {first / LAST}`"
        in first_note
    )
    assert f"Data: `{Path(tiny_corpus).name}`, 6 recordings of 6 participants" in first_note
    second_note = runs[1].data.tags[DESCRIPTION_TAG]
    assert f"Command: `pretrain --config {config_second}`" in second_note
    assert "[eeg-mamba2-encoder version 2](#/models/eeg-mamba2-encoder/versions/2)" in second_note
    assert f"skill {summary['val_skill']:+.3f}" in second_note
