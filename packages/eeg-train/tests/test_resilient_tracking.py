"""Tracking that is not a single point of failure (issue #24), with a hand-written fake tracker."""

from __future__ import annotations

import json

import pytest

from eeg_train import JOURNAL, ResilientTracker, TrackingFailed, journal_status, replay_journal


class FakeTracker:
    """Records every call; raises ConnectionError once ``fail_after`` calls have been made."""

    def __init__(self, fail_after: int | None = None, run_id: str = "run-1") -> None:
        self.calls: list[tuple] = []
        self.fail_after = fail_after
        self.run_id = run_id

    def _record(self, *call) -> None:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ConnectionError("[Errno 111] Connection refused")
        self.calls.append(call)

    def log_params(self, params):
        self._record("params", dict(params))

    def log_metrics(self, metrics, step):
        self._record("metrics", dict(metrics), step)

    def set_tags(self, tags):
        self._record("tags", dict(tags))

    def log_artifact(self, path, artifact_path=None):
        self._record("artifact", str(path), artifact_path)

    def log_dataset(self, dataset):
        self._record("dataset", dataset)

    def register_model(self, local_dir, name, tags=None, description=None, model_description=None):
        self._record("register", name, dict(tags or {}), description, model_description)
        return "7"

    def close(self, status="FINISHED"):
        self.calls.append(("close", status))  # ends the local run even when the store is away


def test_a_store_that_goes_away_is_said_once_and_the_rest_is_kept_in_the_journal(tmp_path, caplog):
    inner = FakeTracker(fail_after=2)
    tracker = ResilientTracker(lambda: inner, tmp_path, replay_hint="pretrain log-run X")
    tracker.log_params({"lr": 0.1})
    tracker.log_metrics({"loss": 1.0}, step=1)
    with caplog.at_level("WARNING"):
        tracker.log_metrics({"loss": 0.5}, step=2)  # the store went away
        tracker.log_metrics({"loss": 0.25}, step=3)  # not asked again
    (tmp_path / "summary.json").write_text("{}")
    tracker.log_artifact(tmp_path / "summary.json")
    tracker.close("FINISHED")
    assert (
        "failed (Connection refused): training goes on" in caplog.text and "pretrain log-run X" in caplog.text
    )
    assert len(caplog.records) == 1
    assert inner.calls[:2] == [("params", {"lr": 0.1}), ("metrics", {"loss": 1.0}, 1)]
    records = [json.loads(line) for line in (tmp_path / JOURNAL).read_text().splitlines()]
    assert [r["op"] for r in records] == ["offline", "metrics", "metrics", "artifact", "close"]
    assert journal_status(tmp_path / JOURNAL) == ("run-1", "FINISHED")

    replayed = FakeTracker()
    counts = replay_journal(tmp_path / JOURNAL, replayed)
    assert counts == {"metrics": 2, "artifact": 1}
    assert replayed.calls == [
        ("metrics", {"loss": 0.5}, 2),
        ("metrics", {"loss": 0.25}, 3),
        ("artifact", str((tmp_path / "summary.json").resolve()), None),
    ]


def test_a_store_that_cannot_be_opened_goes_offline_from_the_start(tmp_path):
    def refuse():
        raise ConnectionError("[Errno 111] Connection refused")

    tracker = ResilientTracker(refuse, tmp_path)
    tracker.log_params({"lr": 0.1})
    assert tracker.run_id is None and tracker.offline
    assert journal_status(tmp_path / JOURNAL) == (None, None)


def test_policy_fail_raises_one_line(tmp_path):
    tracker = ResilientTracker(
        lambda: FakeTracker(fail_after=0), tmp_path, on_failure="fail", where="http://x"
    )
    with pytest.raises(TrackingFailed, match=r"^tracking store http://x failed \(Connection refused\)"):
        tracker.log_metrics({"loss": 1.0}, step=1)
    assert not (tmp_path / JOURNAL).exists()


def test_every_kind_of_call_is_kept_offline_and_replayed(tmp_path, corpus_dataset):
    """Datasets, descriptions (tags) and model registrations with their tags are journaled like the rest."""
    dataset = corpus_dataset
    online = ResilientTracker(lambda: FakeTracker(), tmp_path / "online")
    assert online.register_model(tmp_path, "encoder", {"mask_ratio": "0.4"}, "best epoch 2") == "7"

    tracker = ResilientTracker(lambda: FakeTracker(fail_after=0), tmp_path)
    tracker.log_dataset(dataset)
    tracker.set_tags({"mlflow.note.content": "**Pretraining**"})
    assert (
        tracker.register_model(tmp_path, "encoder", {"mask_ratio": "0.4"}, "best epoch 2", "encoders") is None
    )
    tracker.close("FINISHED")

    replayed, registered = FakeTracker(), []
    counts = replay_journal(
        tmp_path / JOURNAL, replayed, register=lambda *args, **details: registered.append((args, details))
    )
    assert counts == {"dataset": 1, "tags": 1, "register": 1}
    assert replayed.calls == [("dataset", dataset), ("tags", {"mlflow.note.content": "**Pretraining**"})]
    assert registered == [
        (
            ("encoder",),
            {"tags": {"mask_ratio": "0.4"}, "description": "best epoch 2", "model_description": "encoders"},
        )
    ]


def test_a_registration_journaled_by_an_older_version_is_replayed_by_name(tmp_path):
    (tmp_path / JOURNAL).write_text(json.dumps({"op": "register", "name": "old_run_name"}) + "\n")
    registered = []
    replay_journal(
        tmp_path / JOURNAL,
        FakeTracker(),
        register=lambda *args, **details: registered.append((args, details)),
    )
    assert registered == [(("old_run_name",), {"tags": {}, "description": None, "model_description": None})]
