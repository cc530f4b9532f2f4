"""``pretrain log-run DIR``: log into MLflow what a run kept in its folder while its tracking store was away.

With ``tracking.on_failure: continue`` a run whose store fails goes on training and writes what it would
have logged (params, metrics, tags and the description, the corpus as dataset, artifacts, the model
registration, its end) to ``DIR/tracking_offline.jsonl``
(:class:`eeg_train.ResilientTracker`). Once the store is back, this command replays that journal: into the
run's own MLflow run when the store knows it (the run continues), else into a new run named as the run
was. It holds the folder's lock meanwhile (a run still training there is refused), and renames the journal
to ``tracking_offline.<time>.logged.jsonl`` when done, so a second call logs nothing twice.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from eeg_config import UserError, atomic_write_text

log = logging.getLogger("eeg_pretrain")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pretrain log-run",
        description="Log into MLflow what a run kept in its folder while its tracking store was away "
        "(tracking_offline.jsonl).",
    )
    parser.add_argument("folder", metavar="DIR", help="the run folder (the run's train.save_dir)")
    parser.add_argument("--uri", help="tracking URI to log to (default: the run's tracking.uri)")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_id, counts = log_run(args.folder, args.uri)
    shown = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "nothing"
    print(f"logged {shown} into MLflow run {run_id}")
    return 0


def log_run(folder: str | os.PathLike[str], uri: str | None = None) -> tuple[str, dict[str, int]]:
    """Replay ``folder``'s journal into MLflow; returns ``(the MLflow run id, records logged per kind)``.

    Raises:
        UserError: no journal or no resolved config in the folder, a run still working there, or a store
            that does not answer (one line each).
    """
    import json

    from eeg_pretrain.run_folder import CHECKPOINT_BEST, RESOLVED_CONFIG, SUMMARY, load_config
    from eeg_pretrain.run_lock import acquire_run_lock
    from eeg_train import JOURNAL, MlflowTracker, check_tracking_store, journal_status, replay_journal

    folder = Path(folder)
    journal = folder / JOURNAL
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; give the run folder (the run's train.save_dir)")
    if not journal.is_file():
        raise UserError(f"{folder}: no {JOURNAL}: nothing to log (its tracking store never went away)")
    if not (folder / RESOLVED_CONFIG).is_file():
        raise UserError(f"{folder}: no {RESOLVED_CONFIG}; give the run folder (the run's train.save_dir)")
    config = load_config(folder / RESOLVED_CONFIG)
    lock = acquire_run_lock(folder)  # a run still training here keeps writing the journal
    try:
        uri = check_tracking_store(uri or config.tracking.uri, config.tracking.experiment)
        run_id, status = journal_status(journal)
        if run_id is not None and not _run_exists(uri, run_id):
            log.warning("MLflow run %s is not in %s: the journal goes into a new run", run_id, uri)
            run_id = None
        tracker = MlflowTracker(
            uri,
            config.tracking.experiment,
            config.run_name,
            run_id=run_id,
            parent_run_id=config.tracking.parent_run_id,
        )

        def register(name: str, **details) -> None:
            if not (folder / CHECKPOINT_BEST).is_file():
                return
            with tempfile.TemporaryDirectory() as staging:
                for file in (CHECKPOINT_BEST, RESOLVED_CONFIG):
                    shutil.copy2(folder / file, staging)
                tracker.register_model(staging, name, **details)

        counts = replay_journal(journal, tracker, register=register)
        tracker.close(status or "KILLED")  # no end recorded: the run was killed while offline
        summary_path = folder / SUMMARY
        if summary_path.is_file():  # a run that went offline at its start has no run id in its summary yet
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
            if summary.get("mlflow_run_id") is None:
                summary["mlflow_run_id"] = tracker.run_id
                atomic_write_text(summary_path, json.dumps(summary, indent=2) + "\n")
        os.replace(journal, folder / f"tracking_offline.{time.strftime('%Y%m%d-%H%M%S')}.logged.jsonl")
        return str(tracker.run_id), counts
    finally:
        lock.release()


def _run_exists(uri: str, run_id: str) -> bool:
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(uri).get_run(run_id)
    except Exception:  # MlflowException RESOURCE_DOES_NOT_EXIST, or a store that lost it
        return False
    return True
