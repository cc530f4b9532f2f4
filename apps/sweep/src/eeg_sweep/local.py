"""The ``local`` launcher: each run is a ``pretrain`` process (or a torchrun) of this machine, in a slot of
the device plan, its output appended to the run's log."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import attrs

from eeg_sweep.devices import DevicePlan
from eeg_sweep.jobs import RUNNING
from eeg_sweep.launch import LogFollower, StopRequests, pretrain_command, start_logged, stop_child
from eeg_sweep.plan import PlannedRun


@attrs.define
class LocalHandle:
    run: PlannedRun
    process: subprocess.Popen
    slot: int
    follower: LogFollower

    @property
    def job_id(self) -> str:
        return str(self.process.pid)


@attrs.define
class Outcome:
    """How a launched run ended: its exit status (None when unknown) and what the launcher knows of why."""

    exit_code: int | None
    message: str | None = None


@attrs.define
class LocalLauncher:
    """Up to ``plan.parallel`` runs at a time, each with its slot's environment (GPUs or threads)."""

    config_path: str
    plan: DevicePlan
    stop: StopRequests
    echo: Callable[[str], None] | None = None
    name: str = "local"
    _free: list[int] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._free = list(range(self.plan.parallel))

    @property
    def capacity(self) -> int:
        return self.plan.parallel

    def command(self, run: PlannedRun, overrides: list[str], resume: bool) -> list[str]:
        return pretrain_command(
            self.config_path, overrides, run.last_checkpoint if resume else None, self.plan.nproc
        )

    def start(self, run: PlannedRun, overrides: list[str], resume: bool) -> LocalHandle:
        slot = self._free.pop(0)
        process, offset = start_logged(
            self.command(run, overrides, resume), run.log_path, self.plan.slots[slot]
        )
        prefix = "  | " if self.plan.parallel == 1 else f"  | {run.name}: "
        self.stop.children[run.name] = process
        return LocalHandle(run, process, slot, LogFollower(run.log_path, self.echo, prefix, offset))

    def attach(self, run: PlannedRun, record: dict) -> None:
        """A local run recorded as running belonged to a sweep that has ended (the folder lock is ours
        now, and the run got SIGTERM when that sweep died): nothing to wait for."""
        return None

    def state(self, handle: LocalHandle) -> str:
        return RUNNING

    def poll(self, handle: LocalHandle) -> Outcome | None:
        handle.follower.pump()
        code = handle.process.poll()
        if code is None:
            return None
        handle.follower.pump(final=True)
        self.stop.children.pop(handle.run.name, None)
        self._free.append(handle.slot)
        self._free.sort()
        return Outcome(code)

    def abandon(self, handle: LocalHandle) -> None:
        """The sweep itself failed: let the run stop cleanly (it writes its last checkpoint)."""
        self.stop.children.pop(handle.run.name, None)
        if handle.process.poll() is None:
            stop_child(handle.process)

    def detach_note(self) -> str | None:
        return None
