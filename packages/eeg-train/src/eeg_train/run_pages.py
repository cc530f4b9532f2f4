"""What a person sees of a run in MLflow's UI beyond its numbers: the description (the run page's
"Description", MLflow's ``mlflow.note.content`` tag, Markdown), the command that ran, and links from one
run's page to another's.

MLflow's UI routes are ``#/experiments/<experiment id>/runs/<run id>`` relative to the page the UI is
served from; a description in Markdown that links there is clickable in the UI of the store that holds
both runs, and a link to a run on a tracking server can be absolute (``http://host:5000/#/...``).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

__all__ = ["DESCRIPTION_TAG", "command_line", "markdown_link", "run_route"]

#: The tag MLflow's UI shows (and edits) as a run's description, in Markdown.
DESCRIPTION_TAG = "mlflow.note.content"


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
