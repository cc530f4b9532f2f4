"""The ``slurm`` launcher: one submitit job per run (``sbatch`` through submitit's AutoExecutor).

Each job runs :class:`PretrainJob` in every task (one task per GPU, on every node). With more than one
task, the tasks export submitit's torch distributed environment (``MASTER_ADDR``, ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``) and run ``pretrain --distributed``, so DDP spans the allocated nodes;
rank 0 alone writes the run's log, checkpoints and MLflow run, as under torchrun.

Before the time limit (and when submitit emulates preemption) SLURM sends SIGUSR2; submitit then calls
:meth:`PretrainJob.checkpoint` on rank 0, which asks pretrain to stop after its current step (SIGTERM: it
writes its last checkpoint), and requeues the same job. The requeued job finds the checkpoint and
resumes from it. A job that ends any other way is resumed by the next ``sweep`` call.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import attrs
import submitit

from eeg_config import pid_alive
from eeg_sweep.job import PretrainJob
from eeg_sweep.jobs import QUEUED, RUNNING
from eeg_sweep.launch import pretrain_command
from eeg_sweep.local import Outcome
from eeg_sweep.plan import PlannedRun, SweepError
from eeg_sweep.settings import SlurmSettings

SUBMITIT_FOLDER = ".submitit"
EXIT_INTERRUPTED = 130  # pretrain's status after writing its last checkpoint on SIGTERM / Ctrl-C
# sacct states of a job waiting for its nodes (every other state of an unfinished job counts as running)
_WAITING = {"PENDING", "REQUEUED", "CONFIGURING", "READY", "SUSPENDED", "REQUEUE_HOLD", "REQUEUE_FED"}


def check_slurm_available(settings: SlurmSettings) -> None:
    """``launcher: slurm`` needs ``sbatch`` (and submitit needs ``srun``) on the PATH."""
    if settings.cluster != "slurm":
        return
    missing = [tool for tool in ("sbatch", "srun") if shutil.which(tool) is None]
    if missing:
        raise SweepError(
            f"launcher: slurm needs {' and '.join(missing)} on the PATH (not found); run the sweep on a "
            "SLURM login node, or use --launcher local"
        )


def executor_parameters(settings: SlurmSettings, name: str) -> dict[str, Any]:
    """submitit AutoExecutor parameters for one run's job (generic ones, then ``slurm_`` ones)."""
    params: dict[str, Any] = {
        "name": name,
        "timeout_min": settings.time,
        "nodes": settings.nodes,
        "tasks_per_node": settings.tasks,
        "gpus_per_node": settings.gpus_per_node,
        "slurm_signal_delay_s": settings.signal_delay_s,
    }
    if settings.cpus_per_task is not None:
        params["cpus_per_task"] = settings.cpus_per_task
    if settings.mem_gb is not None:
        params["mem_gb"] = settings.mem_gb
    if settings.partition is not None:
        params["slurm_partition"] = settings.partition
    if settings.account is not None:
        params["slurm_account"] = settings.account
    if settings.qos is not None:
        params["slurm_qos"] = settings.qos
    if settings.sbatch_options:
        params["slurm_additional_parameters"] = dict(settings.sbatch_options)
    if settings.setup:
        params["slurm_setup"] = list(settings.setup)
        params["local_setup"] = list(settings.setup)
    return params


def make_executor(settings: SlurmSettings, folder: Path, name: str) -> Any:
    """submitit's AutoExecutor for ``settings.cluster`` with one run's job parameters."""
    try:
        executor = submitit.AutoExecutor(
            folder=folder, cluster=settings.cluster, slurm_max_num_timeout=settings.max_requeues
        )
        executor.update_parameters(**executor_parameters(settings, name))
    except (RuntimeError, ValueError, NameError, AssertionError) as exc:
        raise SweepError(f"slurm: submitit refused the settings: {str(exc).splitlines()[0]}") from None
    return executor


@attrs.define
class SubmititHandle:
    run: PlannedRun
    job: Any  # submitit Job
    cluster: str
    attached: bool = False  # re-found from a record (a job submitted by an earlier sweep call)

    @property
    def job_id(self) -> str:
        return str(self.job.job_id)


@attrs.define
class SubmititLauncher:
    """Submits one job per run and polls them through submitit; at most ``max_parallel`` at a time."""

    config_path: str
    settings: SlurmSettings
    folder: Path
    max_parallel: int | None = None
    name: str = "slurm"

    @property
    def capacity(self) -> int:
        return self.max_parallel or 1_000_000

    def command(self, run: PlannedRun, overrides: list[str], resume: bool) -> list[str]:
        """The command each task runs (``--resume`` is added by the job itself when it starts)."""
        return pretrain_command(self.config_path, overrides)

    def start(self, run: PlannedRun, overrides: list[str], resume: bool) -> SubmititHandle:
        executor = make_executor(self.settings, self.folder, run.name)
        run.folder.mkdir(parents=True, exist_ok=True)
        job = executor.submit(
            PretrainJob(
                self.command(run, overrides, resume),
                str(run.folder),
                str(run.log_path),
                str(run.last_checkpoint),
            )
        )
        return SubmititHandle(run, job, self.settings.cluster)

    def attach(self, run: PlannedRun, record: dict) -> SubmititHandle | None:
        """The job an earlier sweep call submitted for ``run``, when it is still queued or running."""
        job_id, folder = record.get("job_id"), record.get("submitit_folder")
        if record.get("launcher") != "slurm" or not job_id or not folder:
            return None
        tasks = list(range(int(record.get("tasks") or 1)))
        cluster = record.get("cluster", "slurm")
        if cluster == "slurm":
            job = submitit.SlurmJob(folder=folder, job_id=str(job_id), tasks=tasks)
            handle = SubmititHandle(run, job, cluster, attached=True)
        else:
            job = submitit.LocalJob(folder=folder, job_id=str(job_id), tasks=tasks)
            handle = SubmititHandle(run, job, cluster, attached=True)
        return handle if self._active(handle) else None

    def _active(self, handle: SubmititHandle) -> bool:
        if handle.cluster == "local" and handle.attached:
            return pid_alive(int(handle.job_id))  # submitit's local jobs are known to their own process only
        return not handle.job.done()

    def state(self, handle: SubmititHandle) -> str:
        if handle.cluster == "slurm":
            return QUEUED if str(handle.job.state).split()[0].upper() in _WAITING else RUNNING
        return RUNNING

    def poll(self, handle: SubmititHandle) -> Outcome | None:
        if self._active(handle):
            return None
        try:
            results = handle.job.results()
        except Exception as exc:  # the job ended without a result: killed, cancelled, out of memory...
            where = handle.job.paths.folder
            reason = _first_line(exc)
            return Outcome(
                None, f"job {handle.job_id} ended without a result ({reason}); submitit logs in {where}"
            )
        code = results[0]
        if code == EXIT_INTERRUPTED and handle.cluster == "slurm":
            # pretrain stopped on SLURM's SIGTERM (preemption): when SLURM requeued the job itself, the
            # result is the old attempt's and the job will run (and resume) again, so keep waiting
            state = str(handle.job.state).split()[0].upper() if handle.job.state else ""
            if state in _WAITING or state == "RUNNING":
                return None
        return Outcome(code if isinstance(code, int) else None)

    def abandon(self, handle: SubmititHandle) -> None:
        """Nothing to do: a submitted job keeps going; the next sweep call finds it."""

    def detach_note(self) -> str | None:
        return "jobs already submitted keep running; `sweep status` shows them, the same sweep command waits for them"

    def record_fields(self, handle: SubmititHandle) -> dict[str, Any]:
        return {
            "submitit_folder": str(self.folder),
            "cluster": self.settings.cluster,
            "tasks": self.settings.world_size,
        }


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__

    return True


__all__ = ["PretrainJob", "SubmititLauncher", "check_slurm_available", "make_executor"]
