"""How a pretraining run ends before its last epoch: on request (Ctrl-C or SIGTERM: finish the step, write the
last checkpoint, raise :class:`Interrupted`) or because it diverged (:class:`TrainingDiverged`)."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

from eeg_config import UserError

log = logging.getLogger("eeg_pretrain")


class TrainingDiverged(UserError):
    """Too many consecutive non-finite losses; the last good checkpoint is left as it was."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: the last checkpoint was written; the run can be resumed."""


class StopRequest:
    """Whether Ctrl-C / SIGTERM asked the run to stop: the trainer checks :attr:`requested` after each step."""

    def __init__(self) -> None:
        self.requested = False

    @contextlib.contextmanager
    def listening(self) -> Iterator[None]:
        """While inside: the first Ctrl-C / SIGTERM sets :attr:`requested`, a second one aborts at once
        (``KeyboardInterrupt``). The previous handlers come back on exit."""

        def request_stop(signum: int, _frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            log.warning("%s received: stopping after this step", signal.Signals(signum).name)

        previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
