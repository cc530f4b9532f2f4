"""One run at a time in a run folder: the lock file :data:`~eeg_pretrain.run_files.LOCK` in ``train.save_dir``.

Two runs writing one folder (a re-typed command, a sweep and a manual run) would replace each other's best
checkpoint and ``summary.json`` without a word. The first run creates the lock file (``O_EXCL``: atomic, on
NFS too) holding its host, pid, process start time and SLURM job; a second run refuses with one line naming
the holder. A holder that cannot be running any more is taken over, with a warning:

- same host, and its pid is gone (killed with -9) or belongs to another process now (its start time differs);
- the same SLURM job, restarted (``SLURM_RESTART_COUNT`` differs): SLURM ends every process of a job before it
  requeues it, on whichever node the job runs next.

A holder on another host that is not this SLURM job cannot be checked from here: the run refuses, and the
message says to delete the lock file if that run has ended (e.g. its node failed). A sweep that knows a
SLURM job has ended releases that job's lock itself (:func:`release_lock_of_ended_job`). Under DDP, rank 0
alone takes the lock. The lock is removed when the run ends in any way but kill -9.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from eeg_config import UserError, environment_error, pid_alive
from eeg_pretrain.run_files import LOCK

__all__ = ["RunLock", "acquire_run_lock", "release_lock_of_ended_job", "slurm_job_id"]

log = logging.getLogger("eeg_pretrain")

# A lock file still empty (or unreadable) after this long was left by a process that died while writing it.
_UNREADABLE_STALE_SECONDS = 10.0


def slurm_job_id(environ: Any = None) -> str | None:
    """This process's SLURM job as submitit and ``sacct`` name it (``123`` or ``123_4`` in an array), or None."""
    env = os.environ if environ is None else environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID") or None


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _this_process() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "process_start": _process_start(os.getpid()),
        "slurm_job": slurm_job_id(),
        "slurm_restart": os.environ.get("SLURM_RESTART_COUNT", "0"),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "token": uuid.uuid4().hex,
    }


def _describe(holder: dict[str, Any]) -> str:
    job = f", SLURM job {holder['slurm_job']}" if holder.get("slurm_job") else ""
    return f"host {holder.get('host')}, pid {holder.get('pid')}{job}, since {holder.get('started')}"


def _gone_because(holder: dict[str, Any], me: dict[str, Any]) -> str | None:
    """Why the lock's holder cannot be running any more, or None when it may be."""
    same_job = holder.get("slurm_job") and holder.get("slurm_job") == me["slurm_job"]
    if same_job and str(holder.get("slurm_restart")) != me["slurm_restart"]:
        return f"SLURM requeued job {holder['slurm_job']}"
    if holder.get("host") != me["host"]:
        return None
    pid = holder.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return "its process is gone"
    started = holder.get("process_start")
    if started is not None and _process_start(pid) not in (None, started):
        return "its process is gone (the pid belongs to another process now)"
    return None


class RunLock:
    """The lock this process holds on a run folder; :meth:`release` removes it (only if still its own)."""

    def __init__(self, path: Path, holder: dict[str, Any], created_folder: bool) -> None:
        self.path, self.holder, self.created_folder = path, holder, created_folder

    def release(self) -> None:
        """Remove the lock file, and the folder when this run created it and left nothing in it."""
        try:
            if json.loads(self.path.read_text(encoding="utf-8")).get("token") == self.holder["token"]:
                self.path.unlink()
        except (OSError, ValueError):
            pass
        if self.created_folder:
            with contextlib.suppress(OSError):  # only when empty: a run that failed before writing anything
                self.path.parent.rmdir()


def _read(path: Path) -> tuple[str, dict[str, Any] | None]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except FileNotFoundError:
        raise
    except (OSError, ValueError):
        return "", None
    return text, data if isinstance(data, dict) else None


def _take_over(path: Path, seen: str) -> bool:
    """Move the stale lock out of the way, unless another process replaced it since it was read."""
    grave = path.with_name(f"{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.stale")
    try:
        os.rename(path, grave)
    except FileNotFoundError:
        return False  # another run took it over first
    try:
        if grave.read_text(encoding="utf-8") != seen:  # a live lock, written after the stale one was read
            with contextlib.suppress(FileExistsError):  # give it back, unless yet another lock took its place
                os.link(grave, path)
            return False
        return True
    finally:
        grave.unlink(missing_ok=True)


def acquire_run_lock(save_dir: str | os.PathLike[str]) -> RunLock:
    """Take ``save_dir``'s lock (creating the folder), taking over a holder that cannot be running.

    Raises:
        UserError: another run holds the folder (one line naming its host, pid and start), or the folder
            cannot be written (permission, read-only file system, full disk).
    """
    folder = Path(save_dir)
    path = folder / LOCK
    me = _this_process()
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(50):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    seen, holder = _read(path)
                except FileNotFoundError:
                    continue  # released meanwhile
                if holder is None:
                    try:
                        age = time.time() - path.stat().st_mtime
                    except FileNotFoundError:
                        continue
                    if age < _UNREADABLE_STALE_SECONDS:
                        time.sleep(0.1)  # being written
                        continue
                    reason = "its lock file is unreadable"
                else:
                    reason = _gone_because(holder, me)
                if reason is None:
                    raise UserError(
                        f"train.save_dir {folder} is in use by another run ({_describe(holder)}); wait for it or "
                        f"stop it, or choose another train.save_dir (if that run has ended, e.g. its node "
                        f"failed, delete {path})"
                    ) from None
                if _take_over(path, seen):
                    what = _describe(holder) if holder is not None else "unknown"
                    log.warning(
                        "%s: took over the lock of a run that has ended (%s): %s", folder, what, reason
                    )
                continue
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(json.dumps(me) + "\n")
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            return RunLock(path, me, created)
    except OSError as exc:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        user_error = environment_error(exc, "taking the run folder's lock")
        if user_error is None:
            raise
        raise user_error from exc
    raise UserError(f"train.save_dir {folder}: could not take {path}: other runs keep taking it")


def release_lock_of_ended_job(save_dir: str | os.PathLike[str], job_id: str) -> bool:
    """Remove ``save_dir``'s lock when SLURM job ``job_id`` holds it, for a caller that knows the job has
    ended (a sweep, before it submits the run again: the new job may land on another node). Returns whether
    a lock was removed."""
    path = Path(save_dir) / LOCK
    try:
        seen, holder = _read(path)
    except FileNotFoundError:
        return False
    if holder is None or holder.get("slurm_job") != job_id or not _take_over(path, seen):
        return False
    log.info("%s: removed the lock of SLURM job %s, which has ended", save_dir, job_id)
    return True
