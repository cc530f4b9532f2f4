"""Running the planned runs one after another: skip, resume or start each, and record how it ended."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from eeg_sweep.launch import StopRequests, failure_reason, pretrain_command, run_logged
from eeg_sweep.plan import Action, Decision, PlannedRun, decide, read_summary, run_overrides
from eeg_sweep.summary import FAILED, FINISHED, INTERRUPTED, NOT_RUN, RunResult


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@attrs.define
class SweepRunner:
    """Runs a sweep's runs in order as separate ``pretrain`` processes.

    ``overrides`` are the user's ``--set`` values (passed to every run before the run's own);
    ``wanted`` maps each run name to its resolved config (plain data) for the conflict check;
    ``nproc`` runs each under torchrun with that many processes (None: one plain process)."""

    config_path: str
    overrides: Sequence[str]
    experiment: str
    parent_run_id: str | None
    wanted: Mapping[str, Mapping[str, Any]]
    nproc: int | None = None
    continue_on_error: bool = True
    echo: Callable[[str], None] | None = None
    say: Callable[[str], None] = _say

    def run_all(self, runs: Sequence[PlannedRun], stop: StopRequests) -> list[RunResult]:
        """Every run, in order, until the end, a stop request, or (without continue_on_error) a failure.
        Runs not reached are reported as not run."""
        results: list[RunResult] = []
        halted = False
        for index, run in enumerate(runs, 1):
            if halted or stop.requested:
                results.append(RunResult(run, NOT_RUN))
                continue
            decision = decide(run, self.wanted[run.name])
            self.say(
                f"[{index}/{len(runs)}] {run.name} (mask ratio {run.ratio:g}, {run.style}): {decision.reason}"
            )
            result = self.execute(run, decision, stop)
            self.say("    " + describe(result))
            results.append(result)
            halted = result.status == FAILED and not self.continue_on_error
        return results

    def command(self, run: PlannedRun, resume: bool) -> list[str]:
        overrides = [*self.overrides, *run_overrides(run, self.experiment, self.parent_run_id)]
        return pretrain_command(
            self.config_path, overrides, run.last_checkpoint if resume else None, self.nproc
        )

    def execute(self, run: PlannedRun, decision: Decision, stop: StopRequests) -> RunResult:
        if decision.action is Action.SKIP:
            return RunResult(run, FINISHED, summary=read_summary(run.summary_path), skipped=True)
        if decision.action is Action.CONFLICT:
            run.folder.mkdir(parents=True, exist_ok=True)
            with run.log_path.open("a", encoding="utf-8") as log:
                stamp = datetime.now().isoformat(timespec="seconds")
                log.write(f"\n===== sweep {stamp}: not started: {decision.reason}\n")
            return RunResult(run, FAILED, message=decision.reason)

        command = self.command(run, resume=decision.action is Action.RESUME)
        code = run_logged(command, run.log_path, stop, run.name, self.echo)
        summary = read_summary(run.summary_path)
        if code == 0 and summary is not None and summary.get("finished") is True:
            return RunResult(run, FINISHED, summary=summary, exit_code=code)
        if stop.requested:
            kept = run.last_checkpoint if run.last_checkpoint.is_file() else None
            message = f"its last checkpoint is {kept}" if kept else "stopped before its first checkpoint"
            return RunResult(run, INTERRUPTED, exit_code=code, message=message)
        if code == 0:
            reason = "pretrain ended without a finished summary.json"
        else:
            reason = failure_reason(run.log_path) or "no output"
        return RunResult(run, FAILED, exit_code=code, message=reason)


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
