"""What each task of a run's SLURM job executes (:class:`PretrainJob`).

Kept apart and light (standard library, submitit and the run folder's file names from
``eeg_pretrain.run_files``): every task of every job unpickles it, and pretrain, which it starts, imports
torch itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import submitit

from eeg_pretrain.run_files import SUMMARY  # not run_folder: that imports torch
from eeg_sweep.launch import _PDEATHSIG_EXEC

STOP_SECONDS = 100.0  # how long checkpoint() waits for pretrain to write its last checkpoint


class PretrainJob(submitit.helpers.Checkpointable):
    """What each task of a run's SLURM job executes: ``pretrain`` for one run, resumed from the run's
    last checkpoint when there is one. Returns pretrain's exit status (rank 0's is the run's)."""

    def __init__(self, command: list[str], folder: str, log_path: str, last_checkpoint: str) -> None:
        self.command = list(command)
        self.folder = folder
        self.log_path = log_path
        self.last_checkpoint = last_checkpoint
        self._child: subprocess.Popen | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_child"] = None  # a process does not travel
        return state

    def __call__(self) -> int:
        job_env = submitit.JobEnvironment()
        command = list(self.command)
        if job_env.num_tasks > 1:
            # CUDA_VISIBLE_DEVICES stays as SLURM set it: pretrain picks cuda:LOCAL_RANK among them
            submitit.helpers.TorchDistributedEnvironment().export(
                set_cuda_visible_devices=False, overwrite=True
            )
            command.append("--distributed")
        if _finished(Path(self.folder) / SUMMARY):
            return 0  # requeued after it had finished: nothing left to do
        if Path(self.last_checkpoint).is_file():
            command += ["--resume", self.last_checkpoint]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if "SLURM_CPUS_PER_TASK" in env and "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = env["SLURM_CPUS_PER_TASK"]
        argv = command
        if sys.platform.startswith("linux"):
            argv = [sys.executable, "-I", "-S", "-c", _PDEATHSIG_EXEC, str(os.getpid()), *command]
        if job_env.global_rank == 0:
            log = open(self.log_path, "ab")  # noqa: SIM115 (the child writes to it until it ends)
            stamp = datetime.now().isoformat(timespec="seconds")
            header = f"\n===== sweep {stamp}: job {job_env.job_id}, {job_env.num_tasks} task(s): "
            log.write((header + subprocess.list2cmdline(command) + "\n").encode())
            log.flush()
        else:
            log = None  # the other ranks' output stays in submitit's task logs
        try:
            # In the task's process group, so SLURM's process tracking sees it (scancel's SIGTERM makes it
            # write its last checkpoint); it ignores the SIGUSR2 meant for submitit's hook (see launch).
            self._child = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
            return self._child.wait()
        finally:
            if log is not None:
                log.close()

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """submitit's hook before a requeue: let pretrain write its last checkpoint, then requeue the
        same job (it resumes from that checkpoint when it starts again)."""
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            # past the wait, the last finished epoch's checkpoint is still there
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=STOP_SECONDS)
        fresh = PretrainJob(self.command, self.folder, self.log_path, self.last_checkpoint)
        return submitit.helpers.DelayedSubmission(fresh, *args, **kwargs)


def _finished(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("finished") is True
