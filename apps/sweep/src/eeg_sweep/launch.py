"""Starting one ``pretrain`` process (alone or under torchrun), logging it, and passing Ctrl-C on to it.

Each run is its own process group (``start_new_session``), so a Ctrl-C in the terminal reaches the sweep
alone and the sweep forwards exactly one SIGINT: pretrain treats a second one as "abort without a
checkpoint". On Linux the child also gets SIGTERM if the sweep dies without a chance to forward anything
(``kill -9``, a closed terminal), so it writes its last checkpoint instead of training on unattended.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

PRETRAIN_MODULE = "eeg_pretrain.cli"
POLL_SECONDS = 0.5
# After an unexpected error in the sweep itself: how long a child may take to stop gracefully.
CLEANUP_SECONDS = 120.0

# Run by the child's interpreter before it becomes pretrain: ask Linux to send SIGTERM when the sweep
# dies (PR_SET_PDEATHSIG = 1), give up if the sweep is already gone, then exec the real command.
# SIGUSR2 is ignored (the disposition survives exec): SLURM sends it to a whole job step before the
# time limit, and its default action would kill pretrain before submitit's hook could ask it to stop.
_PDEATHSIG_EXEC = (
    "import ctypes, os, signal, sys\n"
    "signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('the sweep stopped before this run started')\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def pretrain_command(
    config_path: str | os.PathLike[str],
    overrides: Sequence[str],
    resume: Path | None = None,
    nproc: int | None = None,
) -> list[str]:
    """The ``pretrain`` command line for one run; under ``torchrun`` with ``nproc`` processes if given.

    Its output goes to the run's log file, where pretrain writes a plain progress line now and then instead
    of a bar (its stderr is not a terminal), so a long epoch shows in the log and in the sweep's echo."""
    if nproc is None:
        command = [sys.executable, "-m", PRETRAIN_MODULE]
    else:
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            "-m",
            PRETRAIN_MODULE,
        ]
    command += ["--config", str(config_path)]
    if nproc is not None:
        command.append("--distributed")
    if resume is not None:
        command += ["--resume", str(resume)]
    for override in overrides:
        command += ["--set", override]
    return command


class StopRequests:
    """Counts Ctrl-C / SIGTERM / SIGHUP while the sweep runs and forwards each to the running children.

    The first signal asks each child to stop after its current step and write its last checkpoint
    (SIGINT stays SIGINT; SIGTERM and SIGHUP become SIGTERM); a second one is forwarded too, which
    pretrain takes as "abort now". Use as a context manager; handlers are restored on exit.
    """

    SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s)

    def __init__(self, announce: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> None:
        self.count = 0
        self.children: dict[str, subprocess.Popen] = {}
        self._announce = announce
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.count > 0

    def __enter__(self) -> StopRequests:
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        running = {n: c for n, c in self.children.items() if c.poll() is None}
        if not running:
            self._announce(f"{name} received: the sweep starts no further run")
            return
        forward = signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM
        for child in running.values():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(forward)
        names = ", ".join(running)
        if self.count == 1:
            self._announce(
                f"{name} received: stopping {names} after the current step (the last checkpoint is "
                "kept); press Ctrl-C again to abort at once"
            )
        else:
            self._announce(f"aborting {names}")


class LogFollower:
    """Echoes the lines a child appends to its log file (the child never depends on the sweep's pipes)."""

    def __init__(
        self, path: Path, echo: Callable[[str], None] | None, prefix: str = "  | ", offset: int | None = None
    ) -> None:
        self.path, self.echo, self.prefix = path, echo, prefix
        if offset is None:
            offset = path.stat().st_size if path.exists() else 0
        self.offset = offset
        self._partial = b""

    def pump(self, final: bool = False) -> None:
        if self.echo is None:
            return
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if final and self._partial:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            # \r-separated progress updates: show the latest state only
            text = line.decode("utf-8", errors="replace").rstrip().rsplit("\r", 1)[-1]
            if text:
                self.echo(self.prefix + text)


def start_logged(
    command: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen, int]:
    """Start ``command`` in its own session with stdout and stderr appended to ``log_path`` (after a
    ``===== sweep`` header); ``env`` is added to this process's environment. Returns the process and
    the log's size after the header (where the run's own output starts)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}  # log lines appear as they happen
    argv = list(command)
    if sys.platform.startswith("linux"):
        argv = [sys.executable, "-I", "-S", "-c", _PDEATHSIG_EXEC, str(os.getpid()), *argv]
    with log_path.open("ab") as log:
        stamp = datetime.now().isoformat(timespec="seconds")
        placed = "".join(f"{k}={v} " for k, v in sorted((env or {}).items()))
        log.write(f"\n===== sweep {stamp}: {placed}{subprocess.list2cmdline(command)}\n".encode())
        log.flush()
        start = log.tell()
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            start_new_session=True,
        ), start


def stop_child(child: subprocess.Popen) -> None:
    """SIGTERM (pretrain writes its last checkpoint), then SIGKILL after :data:`CLEANUP_SECONDS`."""
    with contextlib.suppress(ProcessLookupError):
        child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CLEANUP_SECONDS
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    if child.poll() is None:
        child.kill()
        child.wait()


def log_tail(path: Path, lines: int = 400) -> Iterator[str]:
    """The last ``lines`` lines of a log (for finding the error a failed run printed)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return iter(())
    return iter(text.splitlines()[-lines:])


def failure_reason(path: Path) -> str | None:
    """The ``error: ...`` line pretrain printed last, else the last line of a traceback, else None."""
    tail = [line.strip() for line in log_tail(path) if line.strip()]
    # Only what the latest attempt wrote (each attempt starts with a ===== sweep header).
    for i in range(len(tail) - 1, -1, -1):
        if tail[i].startswith("===== sweep "):
            tail = tail[i + 1 :]
            break
    for line in reversed(tail):
        if line.startswith("error:"):
            return line
    for line in reversed(tail):
        if "Error" in line.split(":", 1)[0] or "Exception" in line.split(":", 1)[0]:
            return line
    return tail[-1] if tail else None
