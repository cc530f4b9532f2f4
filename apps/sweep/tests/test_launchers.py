"""Real sweeps through the two launchers on CPU: parallel local runs (one killed mid-way and resumed) equal
the same runs made alone, and the slurm launcher's code path under submitit's LocalExecutor, with a
2-task job that trains as one DDP run. Each pretrain process costs seconds, so the scenarios are few."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from eeg_sweep.cli import main
from eeg_sweep.devices import cpu_cores

pytestmark = pytest.mark.slow


def _exit_code(args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


def _folder(sweep_dir, percent):
    return sweep_dir / f"mamba2_eeg_d16_l1_m{percent}_mae"


def _attempts(folder):
    return (folder / "pretrain.log").read_text().count("===== sweep ")


def _record(folder):
    return json.loads((folder / "sweep_job.json").read_text())


def _statuses(sweep_dir):
    with (sweep_dir / "sweep_summary.csv").open() as fh:
        return [row["status"] for row in csv.DictReader(fh)]


def test_parallel_runs_equal_runs_made_alone_and_a_killed_one_resumes(
    tiny_corpus, tmp_path, make_config, write_config, capsys, monkeypatch
):
    sweep_dir = tmp_path / "parallel"
    config = write_config(make_config(tiny_corpus, sweep_dir, None, train={"epochs": 4}))
    args = ["--config", str(config), "--ratios", "0.2,0.4,0.6", "--max-parallel", "2", "--quiet"]
    m20, m40, m60 = (_folder(sweep_dir, p) for p in (20, 40, 60))

    # 1. two runs at a time; m40 is killed (kill -9, no checkpoint on the way out) after its first epoch
    proc = subprocess.Popen(
        [sys.executable, "-m", "eeg_sweep.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 600
    while not (m40 / "mamba2_eeg_pretrained_last.pt").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(int(_record(m40)["job_id"]), signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err[-3000:]
    assert "2 run(s) at a time" not in err and "CPU, one process each, " in err  # threads shared out
    assert not (m40 / "summary.json").exists(), "the kill must land before the run ends (4 epochs)"
    assert _record(m40)["state"] == "failed" and "killed by SIGKILL" in _record(m40)["message"]
    assert _statuses(sweep_dir) == ["finished", "failed", "finished"]
    assert "running epoch" in err  # the status table while the sweep waited

    assert _exit_code(["status", str(sweep_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "done (4 epochs" in lines[0] and "done (4 epochs" in lines[2]
    assert "failed (exit status -9): killed by SIGKILL" in lines[1]

    # 2. the same command again: m40 resumes from its last checkpoint, the finished runs are skipped
    assert _exit_code(args) == 0
    assert [_attempts(f) for f in (m20, m40, m60)] == [1, 2, 1]
    assert "resumed from" in (m40 / "pretrain.log").read_text()
    assert _statuses(sweep_dir) == ["finished"] * 3

    # 3. the same runs one at a time, in another folder, with the threads a parallel run had: bit-identical
    monkeypatch.setenv("OMP_NUM_THREADS", str(max(cpu_cores() // 2, 1)))
    alone_dir = tmp_path / "alone"
    alone = [
        "--config",
        str(config),
        "--ratios",
        "0.2,0.4,0.6",
        "--quiet",
        "--set",
        f"train.save_dir={alone_dir}",
    ]
    assert _exit_code(alone) == 0
    capsys.readouterr()
    for percent in (20, 40, 60):
        together, by_itself = _folder(sweep_dir, percent), _folder(alone_dir, percent)
        a = torch.load(together / "mamba2_eeg_pretrained_last.pt", weights_only=True)
        b = torch.load(by_itself / "mamba2_eeg_pretrained_last.pt", weights_only=True)
        assert a["epoch"] == b["epoch"] == 4
        for key, tensor in a["model"].items():
            assert torch.equal(tensor, b["model"][key]), f"m{percent}: {key} differs"
        best = [json.loads((f / "summary.json").read_text())["best_val_loss"] for f in (together, by_itself)]
        assert best[0] == best[1]


def test_the_slurm_launcher_through_submitits_local_executor(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    sweep_dir = tmp_path / "sweep"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = write_config(
        make_config(tiny_corpus, sweep_dir, uri, train={"epochs": 2}, tracking={"register_model": False})
    )
    settings = tmp_path / "sweep.yaml"
    settings.write_text(
        "launcher: slurm\nratios: [0.3]\nslurm: {cluster: local, tasks_per_node: 2, time: 30}\n"
    )
    args = ["--config", str(config), "--sweep-config", str(settings), "--quiet"]
    assert _exit_code(args) == 0, capsys.readouterr().err
    err = capsys.readouterr().err
    assert "one submitit local job per run: 1 node(s) x 2 task(s)" in err

    folder = _folder(sweep_dir, 30)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["finished"] and summary["mask_ratio"] == 0.3
    log = (folder / "pretrain.log").read_text()
    assert "world size 2" in log and "--distributed" in log  # one DDP run over the job's two tasks
    record = _record(folder)
    assert record["launcher"] == "slurm" and record["cluster"] == "local" and record["state"] == "finished"
    jobs = sweep_dir / ".submitit"
    assert {p.name for p in jobs.glob("*_result.pkl")} == {
        f"{record['job_id']}_{task}_result.pkl" for task in (0, 1)
    }  # collected through submitit: each task's result

    # the MLflow parent collects the child the job made
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("eeg_pretraining_mamba2_sweep_mask")
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    (child,) = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert child.info.run_name == folder.name and child.info.status == "FINISHED"
    assert parent.data.tags["sweep.launcher"] == "slurm"

    # once more: finished, so nothing is submitted
    submitted = len(list(jobs.glob("*_submitted.pkl")))
    assert _exit_code(args) == 0
    assert "finished earlier, skipped" in capsys.readouterr().err
    assert len(list(jobs.glob("*_submitted.pkl"))) == submitted and _attempts(folder) == 1


def test_a_slurm_job_that_ended_on_a_failed_node_does_not_keep_its_run_locked(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    """The run's earlier job died with its node (its lock names that node and job); the next sweep call knows
    the job has ended, releases its lock, and the new job resumes the run (issue #24)."""
    from eeg_pretrain.run_folder import LOCK

    sweep_dir = tmp_path / "sweep"
    config = write_config(make_config(tiny_corpus, sweep_dir, None, train={"epochs": 1}))
    settings = tmp_path / "sweep.yaml"
    settings.write_text("launcher: slurm\nratios: [0.3]\nslurm: {cluster: local, time: 30}\n")
    args = ["--config", str(config), "--sweep-config", str(settings), "--quiet"]
    assert _exit_code(args) == 0, capsys.readouterr().err
    folder = _folder(sweep_dir, 30)
    (folder / "summary.json").unlink()  # as if the job had died before its end
    record = {**_record(folder), "state": "failed", "job_id": "424242"}  # a job id that is no process here
    (folder / "sweep_job.json").write_text(json.dumps(record))
    holder = {"host": "node-that-failed", "pid": 1, "slurm_job": "424242", "slurm_restart": "0"}
    (folder / LOCK).write_text(json.dumps({**holder, "started": "earlier", "token": "t"}))
    capsys.readouterr()
    assert _exit_code(args) == 0, capsys.readouterr().err
    assert json.loads((folder / "summary.json").read_text())["finished"]
    assert not (folder / LOCK).exists()
