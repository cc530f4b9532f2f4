"""Running the planned runs through a launcher: skip, resume or start each, keep up to the launcher's
capacity going at once, record each run's job and state, and report how each ended.

A launcher (``local.LocalLauncher``, ``submit.SubmititLauncher``) has ``capacity``, ``name``,
``start(run, overrides, resume) -> handle``, ``attach(run, record) -> handle | None`` (a job an earlier
sweep call left queued or running), ``state(handle)``, ``poll(handle) -> Outcome | None``, ``abandon(handle)``
and ``detach_note()``.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from eeg_pretrain.run_folder import release_lock_of_ended_job
from eeg_sweep.jobs import (
    ACTIVE_STATES,
    JOB_RECORD,
    QUEUED,
    RUNNING,
    format_status,
    read_record,
    write_record,
)
from eeg_sweep.jobs import DONE as JOB_DONE
from eeg_sweep.jobs import FAILED as JOB_FAILED
from eeg_sweep.jobs import INTERRUPTED as JOB_INTERRUPTED
from eeg_sweep.launch import POLL_SECONDS, StopRequests, failure_reason
from eeg_sweep.local import Outcome
from eeg_sweep.plan import Action, Decision, PlannedRun, decide, read_summary, run_overrides
from eeg_sweep.status import recorded_job_active
from eeg_sweep.summary import FAILED, FINISHED, INTERRUPTED, NOT_RUN, RunResult

# How often the status table is printed again while runs make progress (it is printed at once
# whenever a run starts, is queued, begins running or ends).
STATUS_SECONDS = 60.0
EXIT_INTERRUPTED = 130


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@attrs.define
class SweepRunner:
    """Runs a sweep's runs through ``launcher``.

    ``overrides`` are the user's ``--set`` values (passed to every run before the run's own);
    ``wanted`` maps each run name to its resolved config (plain data) for the conflict check."""

    launcher: Any
    overrides: Sequence[str]
    experiment: str
    parent_run_id: str | None
    wanted: Mapping[str, Mapping[str, Any]]
    continue_on_error: bool = True
    say: Callable[[str], None] = _say
    poll_seconds: float = POLL_SECONDS

    def command(self, run: PlannedRun, resume: bool) -> list[str]:
        return self.launcher.command(run, self.run_overrides(run), resume)

    def run_overrides(self, run: PlannedRun) -> list[str]:
        return [*self.overrides, *run_overrides(run, self.experiment, self.parent_run_id)]

    def run_all(self, runs: Sequence[PlannedRun], stop: StopRequests) -> list[RunResult]:
        """Every run until the end, a stop request, or (without continue_on_error) a failure. Runs not
        reached are reported as not run."""
        results: dict[str, RunResult] = {}
        waiting: list[tuple[int, PlannedRun, Decision]] = []
        active: dict[str, Any] = {}
        states: dict[str, str | None] = {}
        total = len(runs)
        halted = False
        for index, run in enumerate(runs, 1):
            if halted:
                break  # the runs after a failure are not run (without continue_on_error)
            record = read_record(run)
            active_record = record.get("state") in ACTIVE_STATES
            handle = self.launcher.attach(run, record) if active_record else None
            other_launcher = record.get("launcher") not in (None, self.launcher.name)
            # e.g. a SLURM job still queued, and this sweep is local: never launch a run twice
            if active_record and handle is None and other_launcher and recorded_job_active(run, record):
                message = (
                    f"its {record.get('launcher')} job {record.get('job_id')} is still {record['state']}; "
                    f"wait for it (`sweep status`) or cancel it before launching the run another way"
                )
                self.say(f"[{index}/{total}] {run.name}: {message}")
                results[run.name] = RunResult(run, FAILED, message=message)
                states[run.name] = record["state"]
                continue
            if handle is not None:
                self.say(
                    f"[{index}/{total}] {run.name}: job {handle.job_id} is still {record['state']}; waiting for it"
                )
                active[run.name] = handle
                states[run.name] = record["state"]
                continue
            decision = decide(run, self.wanted[run.name])
            if decision.action is Action.SKIP:
                self.say(f"[{index}/{total}] {run.name} ({run.describe()}): {decision.reason}")
                result = RunResult(run, FINISHED, summary=read_summary(run.summary_path), skipped=True)
                self.say("    " + describe(result))
                results[run.name] = result
                states[run.name] = JOB_DONE
            elif decision.action is Action.CONFLICT:
                self.say(f"[{index}/{total}] {run.name} ({run.describe()}): conflict")
                results[run.name] = self._conflict(run, decision)
                states[run.name] = JOB_FAILED
                self.say("    " + describe(results[run.name]))
                halted = not self.continue_on_error
            else:
                waiting.append((index, run, decision))

        last_table = time.monotonic()
        while True:
            changed = False
            while waiting and len(active) < self.launcher.capacity and not (halted or stop.requested):
                index, run, decision = waiting.pop(0)
                self.say(f"[{index}/{total}] {run.name} ({run.describe()}): {decision.reason}")
                ended = read_record(run)
                if ended.get("launcher") == "slurm" and ended.get("job_id"):
                    # its job has ended (else it was attached above), perhaps on a node that failed: its
                    # lock must not keep the new job, which may land on another node, out of the folder
                    release_lock_of_ended_job(run.folder, str(ended["job_id"]))
                handle = self.launcher.start(run, self.run_overrides(run), decision.action is Action.RESUME)
                active[run.name] = handle
                states[run.name] = self.launcher.state(handle)
                write_record(
                    run,
                    launcher=self.launcher.name,
                    job_id=handle.job_id,
                    state=states[run.name],
                    exit_code=None,
                    message=None,
                    log=str(run.log_path),
                    **self._record_fields(handle),
                )
                changed = True
            if not active:
                break
            for name, handle in list(active.items()):
                run = handle.run
                try:
                    outcome = self.launcher.poll(handle)
                except BaseException:
                    for other in active.values():
                        self.launcher.abandon(other)
                    raise
                if outcome is None:
                    state = self.launcher.state(handle)
                    if state != states.get(name):
                        states[name] = state
                        write_record(run, state=state)
                        changed = True
                    continue
                del active[name]
                result = self._ended(run, outcome, stop)
                results[name] = result
                states[name] = {FINISHED: JOB_DONE, FAILED: JOB_FAILED}.get(result.status, JOB_INTERRUPTED)
                write_record(run, state=states[name], exit_code=result.exit_code, message=result.message)
                self.say(f"    {run.name}: " + describe(result))
                halted = halted or (result.status == FAILED and not self.continue_on_error)
                changed = True
            if stop.requested and self.launcher.detach_note() is not None:
                break  # submitted jobs keep going on the cluster; the next sweep call finds them
            if changed or (active and time.monotonic() - last_table > STATUS_SECONDS):
                if active or waiting:
                    records = {r.name: read_record(r) for r in runs}
                    epochs = {r.name: self.wanted[r.name]["train"]["epochs"] for r in runs}
                    self.say(format_status(runs, states, records, epochs))
                last_table = time.monotonic()
            if active:
                time.sleep(self.poll_seconds)

        for name, handle in active.items():  # left running after a stop request (submitted jobs)
            results[name] = RunResult(
                handle.run,
                INTERRUPTED,
                message=f"job {handle.job_id} is still {states.get(name) or RUNNING}; {self.launcher.detach_note()}",
            )
        return [results.get(r.name) or RunResult(r, NOT_RUN) for r in runs]

    def _record_fields(self, handle: Any) -> dict[str, Any]:
        fields = getattr(self.launcher, "record_fields", None)
        return fields(handle) if fields is not None else {}

    def _conflict(self, run: PlannedRun, decision: Decision) -> RunResult:
        run.folder.mkdir(parents=True, exist_ok=True)
        with run.log_path.open("a", encoding="utf-8") as log:
            stamp = datetime.now().isoformat(timespec="seconds")
            log.write(f"\n===== sweep {stamp}: not started: {decision.reason}\n")
        # the folder's own job record is left alone: it describes the run that is there
        if (run.folder / JOB_RECORD).is_file():
            write_record(run, state=JOB_FAILED, message=decision.reason)
        return RunResult(run, FAILED, message=decision.reason)

    def _ended(self, run: PlannedRun, outcome: Outcome, stop: StopRequests) -> RunResult:
        code = outcome.exit_code
        summary = read_summary(run.summary_path)
        # an attached job from an earlier call may have no readable result; its folder says it finished
        if code in (0, None) and summary is not None and summary.get("finished") is True:
            return RunResult(run, FINISHED, summary=summary, exit_code=code)
        if code == EXIT_INTERRUPTED or (stop.requested and code is not None and code != 0):
            kept = run.last_checkpoint if run.last_checkpoint.is_file() else None
            message = f"its last checkpoint is {kept}" if kept else "stopped before its first checkpoint"
            return RunResult(run, INTERRUPTED, exit_code=code, message=message)
        if code == 0:
            reason = "pretrain ended without a finished summary.json"
        elif code is not None and code < 0:
            reason = f"killed by {_signal_name(-code)}"
        else:
            reason = outcome.message or failure_reason(run.log_path) or "no output"
        return RunResult(run, FAILED, exit_code=code, message=reason)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe(result: RunResult) -> str:
    """One line on how a run ended, for the console."""
    if result.status == FINISHED:
        summary = result.summary or {}
        what = "finished earlier, skipped" if result.skipped else "finished"
        return (
            f"{what}: best val loss {_num(summary.get('best_val_loss'), '.4f')}, "
            f"r2 {_num(summary.get('val_r2'), '.3f')}, {summary.get('epochs', '?')} epochs"
        )
    if result.status == FAILED:
        exit_part = f" (exit status {result.exit_code})" if result.exit_code is not None else ""
        return f"FAILED{exit_part}: {result.message}; log: {result.run.log_path}"
    if result.status == INTERRUPTED:
        return f"interrupted: {result.message}; log: {result.run.log_path}"
    return result.status


def _num(value: Any, spec: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return format(value, spec)
    return "-"


__all__ = ["QUEUED", "RUNNING", "SweepRunner", "describe"]
