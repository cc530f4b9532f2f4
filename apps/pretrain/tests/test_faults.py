"""Faults of the environment a long run meets (issue #24): a full disk, a tracking store that is not usable.

Each ends in one ``error: ...`` line and exit 2 (or the documented policy), with what is on disk intact.
The run-folder lock has its own file, ``test_run_lock.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from eeg_pretrain.cli import main

LAST = "mamba2_eeg_pretrained_last.pt"
BEST = "mamba2_eeg_pretrained.pt"


def run(args: list[str], capsys, expect: int = 0) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == expect, err
    if expect == 2:
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_a_full_disk_is_one_line_keeps_the_checkpoints_and_resume_continues_once_space_is_freed(
    one_of_two_epochs, tmp_path, write_config, capsys, full_disk
):
    source, cfg = one_of_two_epochs
    folder = tmp_path / "run"
    shutil.copytree(source, folder)
    config = write_config({**cfg, "train": {**cfg["train"], "save_dir": str(folder)}})
    resume = ["--config", str(config), "--resume", str(folder / LAST)]
    before = {name: (folder / name).read_bytes() for name in (LAST, BEST)}
    disk = full_disk(folder, free=8192)  # config.yaml fits, a checkpoint does not
    err = run(resume, capsys, expect=2)
    assert (
        f"error: {folder / LAST}: cannot write the checkpoint: no space left on the device (it needs" in err
    )
    assert f"{folder / LAST} is intact: free some space, then continue with --resume {folder / LAST}" in err
    assert {name: (folder / name).read_bytes() for name in (LAST, BEST)} == before
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]

    disk.free = 0  # not even the resolved config fits: the same one line, naming that file
    err = run(resume, capsys, expect=2)
    assert err == f"error: {folder / 'config.yaml'}: no space left on the device\n"

    disk.free = 10**10  # space freed
    run(resume, capsys)
    assert torch.load(folder / LAST, weights_only=True)["epoch"] == 2
    assert (folder / "summary.json").is_file()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def unbounded_by_the_user(monkeypatch):
    """MLflow's request settings as a user who never set them has them."""
    for name in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_tracking_store_that_does_not_answer_is_one_line_before_any_data_is_read(
    tmp_path, make_config, write_config, capsys, unbounded_by_the_user
):
    """A closed port on 127.0.0.1 (MLflow alone would retry for minutes), a SQLite store under a regular
    file. The corpus does not exist: the store was checked first."""
    save = tmp_path / "run"
    uri = f"http://127.0.0.1:{_free_port()}"
    cfg = make_config(tmp_path / "no_such_corpus", save, uri)
    err = run(["--config", str(write_config(cfg))], capsys, expect=2)
    assert err.startswith(f"error: tracking.uri {uri}: the tracking store is not usable (Connection refused)")
    assert "tracking.enabled=false" in err
    assert not save.exists(), "nothing is left behind"

    regular = tmp_path / "notes.txt"
    regular.write_text("a file")
    cfg = make_config(tmp_path / "no_such_corpus", save, f"sqlite:///{regular}/mlflow.db")
    err = run(["--config", str(write_config(cfg))], capsys, expect=2)
    assert (
        err
        == f"error: tracking.uri sqlite:///{regular}/mlflow.db: {regular} is a file, not a folder; choose another tracking.uri\n"
    )


def _goes_away(calls: int):
    """MLflow's metric logging that works for ``calls`` calls, then fails as a server that went away does."""
    from mlflow.exceptions import MlflowException

    from eeg_train import MlflowTracker

    real, left = MlflowTracker.log_metrics, [calls]

    def log_metrics(tracker, metrics, step):
        left[0] -= 1
        if left[0] < 0:
            raise MlflowException(
                "API request to http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch failed with exception "
                "HTTPConnectionPool(host='127.0.0.1', port=5000): Max retries exceeded (Caused by "
                'NewConnectionError("...: Failed to establish a new connection: [Errno 111] Connection refused"))'
            )
        return real(tracker, metrics, step)

    return log_metrics


def test_a_tracking_store_that_goes_away_mid_run_does_not_stop_it_and_the_run_is_logged_afterwards(
    tiny_corpus, tmp_path, make_config, write_config, capsys, caplog, monkeypatch
):
    import mlflow

    from eeg_train import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    save = tmp_path / "run"
    cfg = make_config(tiny_corpus, save, uri, train={"epochs": 2, "log_every": 1})
    config = write_config(cfg)
    monkeypatch.setattr(MlflowTracker, "log_metrics", _goes_away(calls=3))  # during the first epoch
    caplog.set_level("WARNING", logger="eeg_train")
    run(["--config", str(config)], capsys)  # exit 0: the run trained to its end
    warnings = [r.getMessage() for r in caplog.records if "tracking store" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "failed (Connection refused): training goes on" in warnings[0]
    assert f"pretrain log-run {save}" in warnings[0]
    assert torch.load(save / LAST, weights_only=True)["epoch"] == 2
    journal = save / "tracking_offline.jsonl"
    kept = [line for line in journal.read_text().splitlines() if '"op": "metrics"' in line]
    assert any('"val_loss"' in line for line in kept)
    run_id = torch.load(save / LAST, weights_only=True)["mlflow_run_id"]
    client = mlflow.tracking.MlflowClient(uri)
    assert "val_loss" not in client.get_run(run_id).data.metrics

    monkeypatch.undo()  # the store is back; a new process, as a user runs it
    done = subprocess.run(
        [sys.executable, "-m", "eeg_pretrain.cli", "log-run", str(save)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("logged ") and run_id in done.stdout
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    assert len(client.get_metric_history(run_id, "val_loss")) == 2  # both epochs
    assert {a.path for a in client.list_artifacts(run_id)} >= {"summary.json", "config.yaml"}
    # what the end of the run logs, while offline, comes too: the model version and the final description
    (version,) = client.search_model_versions("name = 'eeg-mamba2-encoder'")
    assert version.run_id == run_id and version.tags["run_name"] == logged.info.run_name
    assert "**Result**: best epoch" in logged.data.tags["mlflow.note.content"]
    assert not journal.exists() and len(list(save.glob("tracking_offline.*.logged.jsonl"))) == 1
    err = run(["log-run", str(save)], capsys, expect=2)  # nothing is logged twice
    assert "nothing to log" in err


def test_tracking_on_failure_fail_stops_the_run_in_one_line(
    tiny_corpus, tmp_path, make_config, write_config, capsys, monkeypatch
):
    from eeg_train import MlflowTracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    save = tmp_path / "run"
    cfg = make_config(tiny_corpus, save, uri, train={"epochs": 2}, tracking={"on_failure": "fail"})
    monkeypatch.setattr(MlflowTracker, "log_metrics", _goes_away(calls=0))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(cfg))])
    err = capsys.readouterr().err.splitlines()  # MLflow's own INFO lines (creating the store) come first
    assert info.value.code == 2 and "Traceback" not in "\n".join(err)
    assert err[-1].startswith(
        f"error: tracking store {uri} failed (Connection refused) and tracking.on_failure"
    )
    assert err[-1].endswith(
        "is 'fail'; the run folder is as the last checkpoint left it (continue with --resume once the store is back)"
    )
    assert not (save / "tracking_offline.jsonl").exists()


def test_a_channel_the_montage_cannot_place_fails_before_the_data_is_read(
    tiny_corpus, tmp_path, make_config, write_config, capsys, caplog
):
    import pyarrow.parquet as pq

    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    renamed = sorted(corpus.rglob("*.parquet"))[0]
    table = pq.read_table(renamed)
    pq.write_table(table.rename_columns(["EXG1" if n == "O2" else n for n in table.column_names]), renamed)
    caplog.set_level("INFO", logger="eeg_pretrain")
    err = run(["--config", str(write_config(make_config(corpus, tmp_path / "run", None)))], capsys, expect=2)
    assert "model.montage: standard_1005 cannot place 1 of the 7 channels" in err and "'EXG1'" in err
    assert not any(r.getMessage().startswith("data checks on ") for r in caplog.records), (
        "data was read first"
    )
    assert not (tmp_path / "run").exists()


def test_a_resumed_run_trains_on_when_its_store_is_away_at_start_up(
    tiny_corpus, tmp_path, make_config, write_config, capsys, caplog
):
    """A requeued job while the server is down: the run it continues had used the store, so (under
    tracking.on_failure: continue) it starts offline with one warning; a new run would be refused."""
    import mlflow

    store = tmp_path / "store"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    save = tmp_path / "run"
    config = write_config(make_config(tiny_corpus, save, uri, train={"epochs": 2}))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config), "--stop-after-epochs", "1"])
    assert info.value.code == 0
    run_id = torch.load(save / LAST, weights_only=True)["mlflow_run_id"]
    store.rename(tmp_path / "store.away")
    store.write_text("the store's folder is gone: a file stands in its place")
    capsys.readouterr()
    caplog.set_level("WARNING", logger="eeg_train")
    run(["--config", str(config), "--resume", str(save / LAST)], capsys)
    assert torch.load(save / LAST, weights_only=True)["epoch"] == 2
    (warning,) = [r.getMessage() for r in caplog.records if "tracking store" in r.getMessage()]
    assert "is a file, not a folder" in warning and "training goes on" in warning
    assert torch.load(save / LAST, weights_only=True)["mlflow_run_id"] == run_id  # still the run's

    store.unlink()
    (tmp_path / "store.away").rename(store)
    from eeg_pretrain.log_run import log_run

    assert log_run(save)[0] == run_id
    client = mlflow.tracking.MlflowClient(uri)
    history = client.get_metric_history(run_id, "val_loss")
    assert sorted(m.step for m in history) == [1, 2]  # step = epoch, each once
    (dataset,) = client.get_run(run_id).inputs.dataset_inputs  # logged by both sessions (one offline): once
    assert dataset.dataset.name == tiny_corpus.name
    assert '"op": "dataset"' in next(save.glob("tracking_offline.*.logged.jsonl")).read_text()


def test_a_device_too_small_for_the_checkpoints_is_one_line_before_any_data_is_read(
    tmp_path, make_config, write_config, capsys, monkeypatch
):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    save = tmp_path / "run"
    err = run(
        ["--config", str(write_config(make_config(tmp_path / "no_such_corpus", save, None)))], capsys, 2
    )
    assert err.startswith(f"error: train.save_dir {save}: 0.0 MB free, the run's checkpoints need about ")
    assert "(last, best and a temporary copy)" in err
    assert not save.exists()
