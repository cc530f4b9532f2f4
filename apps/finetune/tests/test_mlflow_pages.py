"""What a fine-tuning job shows in MLflow's UI (issue #26): the labelled data and the pretraining corpus as
the run's datasets, the link to the pretraining run in the same store, one registered model with a version
per job, the verdict in the description and the judged model's AUROC as a runs-table figure."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
import torch

from eeg_finetune.cli import main
from eeg_finetune.config import build_config
from eeg_finetune.data import load_labelled
from eeg_finetune.mlflow_run import labelled_dataset
from eeg_io import fingerprints_digest
from eeg_ssm import save_checkpoint
from eeg_train import DATASET_CONTEXT_TAG, DESCRIPTION_TAG, KEY_FIGURES_VIEW

NAME = "mamba2_eeg_d16_l1_m40_mae_finetuned"
FINGERPRINTS = ["00000000000000aa", "00000000000000bb"]


def _finetune(args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 0


def test_the_job_links_its_pretraining_run_and_versions_one_classifier(
    labelled, ft_config, write_config, pretrain_tools, tmp_path
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    client.create_experiment("tests", (tmp_path / "artifacts").as_uri())
    pretraining_experiment = client.create_experiment("pretraining", (tmp_path / "artifacts").as_uri())
    pretraining_run = client.create_run(pretraining_experiment, run_name=pretrain_tools.run_name).info.run_id

    # a checkpoint whose pretraining run is in the same store, recording the corpus it was trained on
    raw = pretrain_tools.config(tmp_path / "runs")
    checkpoint = pretrain_tools.write(tmp_path / "runs" / "mamba2_eeg_pretrained.pt", raw)
    payload = torch.load(checkpoint, weights_only=True)
    payload["mlflow_run_id"] = pretraining_run
    payload["pretraining_data"] = {
        "participants": ["S1", "S2"],
        "files": ["/corpus/S1.parquet", "/corpus/S2.parquet"],
        "val_participants": ["S3"],
        "val_files": ["/corpus/S3.parquet"],
        "fingerprints": FINGERPRINTS,
    }
    save_checkpoint(checkpoint, payload)

    out = tmp_path / "models"
    config = ft_config(SimpleNamespace(config=None), labelled, out, uri, compare_baselines=True)
    config["pretrained"] = {"checkpoint": str(checkpoint)}
    config_path = write_config(config, "finetune.yaml")
    _finetune(["--config", str(config_path)])
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    _finetune(["--config", str(config_path), "--set", "train.seed=1"])  # a second job: version 2

    run = client.get_run(summary["mlflow_run_id"])
    assert run.data.tags["pretrained.mlflow_run_id"] == pretraining_run
    note = run.data.tags[DESCRIPTION_TAG]
    link = f"[{pretrain_tools.run_name}](#/experiments/{pretraining_experiment}/runs/{pretraining_run})"
    assert link in note
    assert f"Command: `finetune --config {config_path}`" in note
    assert f"**Verdict**: {summary['verdict']}" in note
    assert "[eeg-mamba2-classifier version 1](#/models/eeg-mamba2-classifier/versions/1)" in note

    inputs = {
        {t.key: t.value for t in i.tags}[DATASET_CONTEXT_TAG]: i.dataset for i in run.inputs.dataset_inputs
    }
    assert sorted(inputs) == ["pretraining", "train/test"]
    assert inputs["train/test"].name == labelled.stem
    assert json.loads(inputs["train/test"].profile)["participants"] == 12
    assert inputs["pretraining"].name == "corpus"  # pretrain_config's data.dataset_path: <root>/corpus
    assert inputs["pretraining"].digest == fingerprints_digest(FINGERPRINTS)
    assert json.loads(inputs["pretraining"].profile)["recordings"] == 3

    judged = summary["verdict_models"]["judged"]
    assert run.data.tags["judged_model"] == judged
    assert run.data.metrics["judged.test_auroc"] == pytest.approx(
        summary["models"][judged]["metrics"]["auroc"]
    )
    assert run.data.tags["decision"] == summary["decision"]

    view = json.loads(
        client.get_experiment(run.info.experiment_id).tags[f"mlflow.sharedViewState.{KEY_FIGURES_VIEW}"]
    )
    assert {"metrics.`judged.test_auroc`", "tags.`decision`"} <= set(
        json.loads(view["state"])["selectedColumns"]
    )

    versions = client.search_model_versions("name = 'eeg-mamba2-classifier'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    (first,) = [v for v in versions if int(v.version) == 1]
    assert first.run_id == summary["mlflow_run_id"] and first.description == summary["verdict"]
    assert first.tags["decision"] == summary["decision"] and first.tags["run_name"] == NAME
    assert client.get_registered_model("eeg-mamba2-classifier").description.startswith("EEG classifiers")


def test_a_pretraining_run_in_another_store_is_named_not_linked(
    pretrained, labelled, ft_config, write_config, tmp_path
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.MlflowClient(uri).create_experiment("tests", (tmp_path / "artifacts").as_uri())
    out = tmp_path / "models"
    config = ft_config(pretrained, labelled, out, uri, tracking={"register_model": False})
    _finetune(["--config", str(write_config(config, "finetune.yaml"))])
    summary = json.loads((out / f"{NAME}_summary.json").read_text())
    run = mlflow.MlflowClient(uri).get_run(summary["mlflow_run_id"])
    note = run.data.tags[DESCRIPTION_TAG]
    assert f"MLflow run `{summary['pretrain_mlflow_run_id']}` in MLflow's default store" in note
    assert "](#/" not in note and "Registered as" not in note
    assert run.data.tags["pretrained.mlflow_run_id"] == summary["pretrain_mlflow_run_id"]


def test_the_labelled_data_digest_follows_rows_and_labels_not_the_file(labelled, ft_config, tmp_path):
    config = build_config(ft_config(SimpleNamespace(config="pretrain.yaml"), labelled, tmp_path / "out"))

    def digest(path):
        data = load_labelled(path, channels=["AF7", "AF8"], window_length=64)
        return labelled_dataset(config, data).digest

    table = pq.read_table(labelled)
    shutil.copy(labelled, tmp_path / "copy.parquet")
    pq.write_table(table.take(list(reversed(range(table.num_rows)))), tmp_path / "reordered.parquet")
    owners, labels = table.column("Participant").to_pylist(), table.column("Remission").to_pylist()
    flipped = [
        1 - label if owner == owners[0] else label for owner, label in zip(owners, labels, strict=True)
    ]
    relabelled = table.set_column(table.schema.get_field_index("Remission"), "Remission", [flipped])
    pq.write_table(relabelled, tmp_path / "relabelled.parquet")
    original = digest(labelled)
    assert digest(tmp_path / "copy.parquet") == digest(tmp_path / "reordered.parquet") == original
    assert digest(tmp_path / "relabelled.parquet") != original
