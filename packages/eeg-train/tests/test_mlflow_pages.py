"""What MLflow's UI shows of a run, through eeg-train's tracker on a local SQLite store: datasets as run
inputs, one registered model with a version per run, and routes from one run's page to another's."""

from __future__ import annotations

import json

import pytest

from eeg_train import (
    DATASET_CONTEXT_TAG,
    KEY_FIGURES_VIEW,
    MlflowTracker,
    NullTracker,
    RunDataset,
    child_tracker,
    command_line,
    markdown_link,
    run_route,
    save_runs_view,
    view_route,
)


@pytest.fixture
def store(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # artifacts under tmp_path, not in the working directory
    mlflow.MlflowClient(uri).create_experiment("pages", (tmp_path / "artifacts").as_uri())
    return uri


def test_datasets_are_run_inputs_with_digest_profile_schema_and_context(store, corpus_dataset):
    import mlflow

    tracker = MlflowTracker(store, "pages", "run")
    try:
        tracker.log_dataset(corpus_dataset)
        tracker.log_dataset(corpus_dataset)  # a resumed run logs it again
        child = child_tracker(tracker, "fold_01")
        child.log_dataset(RunDataset(name="primary", digest="ab", source="/data/p.parquet", context="test"))
        child.close()
    finally:
        tracker.close()
    (logged,) = mlflow.MlflowClient(store).get_run(tracker.run_id).inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest, logged.dataset.source_type) == (
        "corpus",
        "0123456789abcdef",
        "local",
    )
    assert json.loads(logged.dataset.source) == {"uri": "/data/corpus"}
    assert json.loads(logged.dataset.profile) == {"recordings": 6, "participants": 3}
    assert json.loads(logged.dataset.schema)["mlflow_colspec"][0]["name"] == "FZ"
    assert [(t.key, t.value) for t in logged.tags] == [(DATASET_CONTEXT_TAG, "training")]
    (fold_input,) = mlflow.MlflowClient(store).get_run(child.run_id).inputs.dataset_inputs
    assert fold_input.dataset.name == "primary"
    assert RunDataset.from_dict(json.loads(json.dumps(corpus_dataset.to_dict()))) == corpus_dataset


def test_runs_register_versions_of_one_model(store, tmp_path, capfd):
    import mlflow

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.pt").write_bytes(b"weights")
    versions = []
    for name in ("run_a", "run_b"):
        tracker = MlflowTracker(store, "pages", name)
        versions.append(
            tracker.register_model(folder, "encoder", {"run_name": name}, f"from {name}", "encoders")
        )
        tracker.close()
    assert versions == ["1", "2"]
    # MLflow's own lines about it ("Registered model 'encoder' already exists. Creating a new version ...",
    # "Created version '2' ...") are not printed: the tracker logs one line of its own
    err = capfd.readouterr().err
    assert "already exists" not in err and "Created version" not in err and "Successfully" not in err, err
    client = mlflow.MlflowClient(store)
    assert [(m.name, m.description) for m in client.search_registered_models()] == [("encoder", "encoders")]
    second = client.get_model_version("encoder", "2")
    assert second.tags == {"run_name": "run_b"} and second.description == "from run_b"
    assert NullTracker().register_model(folder, "encoder") is None
    (output,) = client.get_run(tracker.run_id).outputs.model_outputs  # the run page's "Logged models"
    assert client.get_logged_model(output.model_id).name == "run_b"


def test_run_routes_point_at_the_run_page_in_its_store(store):
    import mlflow

    tracker = MlflowTracker(store, "pages", "run")
    tracker.close()
    experiment = mlflow.MlflowClient(store).get_experiment_by_name("pages").experiment_id
    assert run_route(store, tracker.run_id) == f"#/experiments/{experiment}/runs/{tracker.run_id}"
    assert run_route(store, "0123456789abcdef0123456789abcdef") is None  # not in this store
    assert markdown_link("run [1]", "#/x") == "[run \\[1\\]](#/x)" and markdown_link("run", None) == "run"
    assert command_line("pretrain", ["--config", "my config.yaml"]) == "pretrain --config 'my config.yaml'"


def test_a_saved_runs_table_view_shows_the_key_figures_and_is_never_overwritten(store):
    import mlflow

    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name("pages").experiment_id
    assert save_runs_view(store, experiment, "Key figures", metrics=["best_val_skill"], tags=["decision"])
    tag = f"mlflow.sharedViewState.{KEY_FIGURES_VIEW}"
    view = json.loads(client.get_experiment(experiment).tags[tag])
    assert view["name"] == "Key figures" and view["createdAt"] == view["updatedAt"] > 0
    assert json.loads(view["state"])["selectedColumns"] == [
        "attributes.`Dataset`",
        "attributes.`Models`",
        "metrics.`best_val_skill`",
        "tags.`decision`",
    ]
    client.set_experiment_tag(experiment, tag, "a user's own view")
    assert not save_runs_view(store, experiment, "Key figures", metrics=["loss"])
    assert client.get_experiment(experiment).tags[tag] == "a user's own view"
    assert not save_runs_view(store, "999", "Key figures")  # no such experiment: no view, no error
    assert view_route(experiment) == f"#/experiments/{experiment}/runs?viewStateShareKey={KEY_FIGURES_VIEW}"


def test_only_mlflows_registration_lines_are_dropped(capfd):
    import sys

    from eeg_train.tracking import _without_registry_chatter

    with _without_registry_chatter():
        print("Registered model 'x' already exists. Creating a new version of this model...", file=sys.stderr)
        print("Created version '3' of model 'x'.", file=sys.stderr)
        print("WARNING mlflow: something else", file=sys.stderr)
    assert capfd.readouterr().err == "WARNING mlflow: something else\n"
