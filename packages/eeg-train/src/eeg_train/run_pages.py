"""What a person sees of a run in MLflow's UI beyond its numbers: the description (the run page's
"Description", MLflow's ``mlflow.note.content`` tag, Markdown), the command that ran, links from one
run's page to another's, and a saved view of the runs table with the figures that compare runs.

MLflow's UI routes are ``#/experiments/<experiment id>/runs/<run id>`` relative to the page the UI is
served from; a description in Markdown that links there is clickable in the UI of the store that holds
both runs, and a link to a run on a tracking server can be absolute (``http://host:5000/#/...``).
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from collections.abc import Sequence

__all__ = [
    "DESCRIPTION_TAG",
    "KEY_FIGURES_VIEW",
    "command_line",
    "markdown_link",
    "run_route",
    "save_runs_view",
    "view_route",
]

log = logging.getLogger(__name__)

#: The tag MLflow's UI shows (and edits) as a run's description, in Markdown.
DESCRIPTION_TAG = "mlflow.note.content"
#: The id of the runs-table view the apps save in their experiments ("Views" > "Key figures").
KEY_FIGURES_VIEW = "eeg-key-figures"
#: Experiment tags holding the UI's saved views, ``<prefix><view id>``.
SAVED_VIEW_PREFIX = "mlflow.sharedViewState."


def command_line(program: str, argv: Sequence[str]) -> str:
    """The command as a user would type it again: ``program`` and its arguments, quoted for a shell."""
    return shlex.join([program, *argv])


def run_route(uri: str | None, run_id: str) -> str | None:
    """The UI's address of run ``run_id`` in the store at ``uri`` (None: MLflow's default): the route
    ``#/experiments/<id>/runs/<run_id>``, prefixed with the server's address for an ``http(s)`` store.
    None when the store does not hold the run or does not answer (asked once, with bounded retries)."""
    from mlflow.tracking import MlflowClient

    from eeg_train.tracking_store import bounded_requests

    try:
        with bounded_requests():
            run = MlflowClient(uri).get_run(run_id)
    except Exception:  # RESOURCE_DOES_NOT_EXIST, a store that is away or unreadable: no link, no failure
        return None
    route = f"#/experiments/{run.info.experiment_id}/runs/{run_id}"
    if uri and uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{route}"
    return route


def markdown_link(text: str, target: str | None) -> str:
    """``[text](target)``, or ``text`` alone without a target; brackets in ``text`` are escaped."""
    shown = text.replace("[", "\\[").replace("]", "\\]")
    return f"[{shown}]({target})" if target else shown


def view_route(experiment_id: str, view_id: str = KEY_FIGURES_VIEW) -> str:
    """The UI's address of the runs table of experiment ``experiment_id`` in the saved view ``view_id``."""
    return f"#/experiments/{experiment_id}/runs?viewStateShareKey={view_id}"


def save_runs_view(
    uri: str | None,
    experiment_id: str,
    name: str,
    *,
    metrics: Sequence[str] = (),
    params: Sequence[str] = (),
    tags: Sequence[str] = (),
    view_id: str = KEY_FIGURES_VIEW,
) -> bool:
    """Save a view of experiment ``experiment_id``'s runs table, called ``name`` in the UI's "Views" menu,
    whose columns are each run's dataset and logged models, then ``metrics``, ``params`` and ``tags`` (by
    default MLflow's runs table shows no metric, param or tag columns). An experiment that has a view of
    that id keeps it (people may have changed it). Returns whether a view was saved.

    MLflow's UI keeps its saved views in experiment tags ``mlflow.sharedViewState.<id>``: JSON with the
    view's ``name``, ``createdAt`` and ``updatedAt`` (ms) and its ``state`` (JSON: ``selectedColumns``, keys
    ``metrics.`name```). That format is the UI's (read from MLflow 3.17's), not its API's: a UI that reads
    another one ignores the tag. A store that refuses the tag costs a debug line, nothing else."""
    from mlflow.tracking import MlflowClient

    columns = ["attributes.`Dataset`", "attributes.`Models`"]
    for kind, names in (("metrics", metrics), ("params", params), ("tags", tags)):
        columns += [f"{kind}.`{key}`" for key in names]
    now = int(time.time() * 1000)
    envelope = {
        "name": name,
        "createdAt": now,
        "updatedAt": now,
        "state": json.dumps({"selectedColumns": columns}),
    }
    tag = f"{SAVED_VIEW_PREFIX}{view_id}"
    try:
        client = MlflowClient(uri)
        if tag in client.get_experiment(experiment_id).tags:
            return False
        client.set_experiment_tag(experiment_id, tag, json.dumps(envelope))
    except Exception as exc:  # a cosmetic extra: never a reason to stop a run
        log.debug("runs-table view not saved in experiment %s: %s", experiment_id, exc)
        return False
    return True
