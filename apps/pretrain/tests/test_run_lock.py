"""A run folder belongs to one run at a time (issue #24): a second run refuses in one line naming the holder,
a holder killed with -9 is taken over, a requeued SLURM job takes over its own lock, and of several processes
that try at once exactly one wins."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from eeg_config import UserError
from eeg_pretrain.cli import main
from eeg_pretrain.run_folder import LOCK, release_lock_of_ended_job
from eeg_pretrain.run_lock import acquire_run_lock

LAST = "mamba2_eeg_pretrained_last.pt"


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write_lock(folder, **holder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"host": socket.gethostname(), "pid": _dead_pid(), "slurm_job": None, "slurm_restart": "0"}
    (folder / LOCK).write_text(json.dumps({**record, "started": "earlier", "token": "t", **holder}))


def test_a_second_run_refuses_and_a_run_killed_with_9_is_taken_over(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    save = tmp_path / "run"
    cfg = make_config(tiny_corpus, save, None, train={"epochs": 400})
    first_config = write_config(cfg, "first.yaml")
    first = subprocess.Popen(
        [sys.executable, "-m", "eeg_pretrain.cli", "--config", str(first_config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + 120
        while not (save / LAST).exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
        assert (save / LAST).exists() and first.poll() is None, first.stderr.read()
        second = make_config(tiny_corpus, save, None, train={"epochs": 2})
        args = ["--config", str(write_config(second, "second.yaml")), "--stop-after-epochs", "1"]
        with pytest.raises(SystemExit) as info:
            main(args)
        err = capsys.readouterr().err
        assert info.value.code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"error: train.save_dir {save} is in use by another run (host ")
        assert f"pid {first.pid}" in err and f"delete {save / LOCK}" in err
        assert first.poll() is None, "the first run goes on"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert json.loads((save / LOCK).read_text())["pid"] == first.pid  # left behind by kill -9
    with pytest.raises(SystemExit) as info:  # the killed run, resumed for one more epoch
        main(["--config", str(first_config), "--resume", str(save / LAST), "--stop-after-epochs", "1"])
    assert info.value.code == 0, capsys.readouterr().err
    assert not (save / LOCK).exists(), "released at the end"
    assert torch.load(save / LAST, weights_only=True)["epoch"] >= 1


def test_of_processes_that_try_at_once_exactly_one_takes_the_lock(tmp_path):
    folder = tmp_path / "run"
    _write_lock(folder)  # a stale holder: every contender sees it, one takes it over
    go = tmp_path / "go"
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from eeg_config import UserError
        from eeg_pretrain.run_lock import acquire_run_lock
        for _ in range(3000):  # wait for the start signal, 30 s at most
            if Path({str(go)!r}).exists():
                break
            time.sleep(0.01)
        try:
            lock = acquire_run_lock({str(folder)!r})
        except UserError as exc:
            print("refused", exc)
            sys.exit(0)
        print("took")
        sys.stdout.flush()
        time.sleep(3)
        lock.release()
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_env())
        for _ in range(4)
    ]
    time.sleep(2)  # let the interpreters start
    go.touch()
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert sum(out.startswith("took") for out in outs) == 1, outs
    assert all(out.startswith(("took", "refused")) for out in outs), outs
    assert not (folder / LOCK).exists() and [p.name for p in folder.iterdir()] == []


def test_slurm_requeue_takes_over_its_own_lock_and_another_host_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    _write_lock(folder, host="node-a", pid=4242, slurm_job="77", slurm_restart="0")
    lock = acquire_run_lock(folder)  # the same job, requeued onto this host: its earlier attempt has ended
    assert json.loads((folder / LOCK).read_text())["slurm_job"] == "77"
    lock.release()

    _write_lock(folder, host="node-a", pid=4242, slurm_job="77", slurm_restart="1")
    with pytest.raises(UserError, match=r"in use by another run \(host node-a, pid 4242, SLURM job 77"):
        acquire_run_lock(folder)  # the same attempt on another node (e.g. a second srun step): refused
    monkeypatch.delenv("SLURM_JOB_ID")
    _write_lock(folder, host="node-a", pid=4242, slurm_job="78")
    with pytest.raises(UserError, match=r"if that run has ended, e\.g\. its node failed, delete"):
        acquire_run_lock(folder)
    assert not release_lock_of_ended_job(folder, "77")  # another job's lock stays
    assert release_lock_of_ended_job(folder, "78")  # a sweep that knows job 78 has ended
    acquire_run_lock(folder).release()


def test_a_folder_that_cannot_be_written_is_one_line_before_any_data_is_read(
    tmp_path, make_config, write_config, capsys, monkeypatch
):
    """A permission error (faked: the tests run as root, who may write anywhere) is one line naming the
    path; the corpus does not exist either, so the check came before any data was read."""
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if str(path).endswith(LOCK):
            raise PermissionError(13, os.strerror(13), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    save = tmp_path / "run"
    cfg = make_config(tmp_path / "no_such_corpus", save, None)
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(cfg))])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert err == f"error: {save / LOCK}: permission denied (while taking the run folder's lock)\n"
    assert not save.exists(), "the folder it created is removed again"
