"""A new SQLite tracking store made by eeg_train (MLflow's migrations on a temporary file, moved into place)
is the store MLflow makes itself, and an existing store is never touched."""

from __future__ import annotations

import sqlite3

import mlflow

from eeg_train import check_tracking_store, create_sqlite_store


def _schema(path) -> tuple[list, list]:
    """Every table and index with its definition, and the migration the store is at. A definition's lines
    are compared as a set: the order in which Alembic writes a rebuilt table's constraints varies from
    process to process (string hashing), also between two stores MLflow makes itself."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
    lines = [(kind, name, table, sorted(x.strip().rstrip(",") for x in (sql or "").splitlines()))
             for kind, name, table, sql in rows]  # fmt: skip
    return sorted(lines), version


def test_the_store_is_the_one_mlflow_makes(tmp_path):
    ours, theirs = tmp_path / "ours.db", tmp_path / "theirs.db"
    assert create_sqlite_store(ours)
    mlflow.MlflowClient(f"sqlite:///{theirs}").search_experiments()  # MLflow creates it in place
    assert _schema(ours) == _schema(theirs)
    assert [p.name for p in tmp_path.iterdir()] and not list(tmp_path.glob(".*creating"))


def test_an_existing_store_is_kept(tmp_path):
    path = tmp_path / "mlflow.db"
    path.write_bytes(b"not ours to replace")
    assert not create_sqlite_store(path)
    assert path.read_bytes() == b"not ours to replace"
    assert not list(tmp_path.glob(".*creating"))


def test_the_check_creates_a_new_store_that_mlflow_uses(tmp_path):
    uri = f"sqlite:///{tmp_path / 'sub' / 'mlflow.db'}"
    assert check_tracking_store(uri, "e") == uri
    assert (tmp_path / "sub" / "mlflow.db").is_file()
    client = mlflow.MlflowClient(uri)
    run = client.create_run(client.create_experiment("e"))
    client.log_metric(run.info.run_id, "loss", 0.5, step=1)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.5}


def test_a_failed_creation_leaves_nothing_behind(tmp_path, monkeypatch):
    import mlflow.store.db.utils as db_utils

    def broken(engine):
        raise RuntimeError("migration failed")

    monkeypatch.setattr(db_utils, "_initialize_tables", broken)
    assert not create_sqlite_store(tmp_path / "mlflow.db")
    assert list(tmp_path.iterdir()) == []


def test_only_a_missing_sqlite_store_is_created_by_the_check(tmp_path, monkeypatch):
    import eeg_train.tracking_store as tracking_store

    existing = tmp_path / "a.db"
    assert create_sqlite_store(existing)
    calls = []
    monkeypatch.setattr(tracking_store, "create_sqlite_store", calls.append)
    check_tracking_store(f"sqlite:///{existing}", "e")
    assert calls == []
    check_tracking_store(f"sqlite:///{tmp_path / 'new.db'}", "e")  # MLflow creates it, as before
    assert calls == [tmp_path / "new.db"]


def test_a_tracker_on_a_new_sqlite_store_makes_it_this_way(tmp_path, monkeypatch):
    """Sweeps and finetune open their MLflow runs without the start-up check: the tracker makes the store."""
    import eeg_train.tracking_store as tracking_store
    from eeg_train import MlflowTracker

    made = []
    real = tracking_store.create_sqlite_store
    monkeypatch.setattr(tracking_store, "create_sqlite_store", lambda path: made.append(path) or real(path))
    tracker = MlflowTracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "e", "run")
    tracker.log_metrics({"loss": 0.5}, step=1)
    tracker.close()
    assert made == [tmp_path / "mlflow.db"]
    assert mlflow.MlflowClient(tracker.uri).get_run(tracker.run_id).data.metrics == {"loss": 0.5}
