"""The slurm launcher's pieces without a cluster: the sbatch file submitit writes (with stand-in ``sbatch``
and ``srun`` on the PATH), and the checkpoint hook that submitit calls before a requeue."""

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eeg_sweep.job import PretrainJob
from eeg_sweep.settings import load_settings
from eeg_sweep.submit import make_executor

SLURM_SECTION = textwrap.dedent(
    """
    launcher: slurm
    slurm:
      partition: gpu
      time: "1-00:00:00"
      nodes: 2
      gpus_per_node: 4
      cpus_per_task: 8
      mem_gb: 64
      account: eeg-lab
      qos: normal
      sbatch_options: {constraint: a100, mail-type: END}
      setup: ["module load cuda/12.4"]
    """
)


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """``sbatch`` that accepts any job as 4242 and ``srun`` that exists: what submitit needs to submit."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 'Submitted batch job 4242'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_the_sbatch_file_for_two_nodes_of_four_gpus(tmp_path, fake_slurm):
    config = tmp_path / "sweep.yaml"
    config.write_text(SLURM_SECTION)
    settings = load_settings(str(config)).slurm
    assert settings.world_size == 8 and settings.time == 24 * 60

    executor = make_executor(settings, tmp_path / "jobs", "mamba2_eeg_d16_l1_m40_mae")
    job = executor.submit(PretrainJob(["python", "-m", "eeg_pretrain.cli"], "f", "f/log", "f/last.pt"))
    assert job.job_id == "4242" and job.num_tasks == 8
    sbatch = job.paths.submission_file.read_text()
    flags = {line for line in sbatch.splitlines() if line.startswith("#SBATCH")}
    assert {
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",  # one process per GPU
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=64GB",
        "#SBATCH --time=1440",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=eeg-lab",
        "#SBATCH --qos=normal",
        "#SBATCH --constraint=a100",
        "#SBATCH --mail-type=END",
        "#SBATCH --job-name=mamba2_eeg_d16_l1_m40_mae",
        "#SBATCH --signal=USR2@120",  # two minutes to write the last checkpoint before the limit
    } <= flags
    assert "module load cuda/12.4" in sbatch
    assert "srun --unbuffered" in sbatch and "-m submitit.core._submit" in sbatch


def test_sbatch_options_take_yaml_numbers_and_true_as_a_flag_without_value(tmp_path, fake_slurm):
    config = tmp_path / "sweep.yaml"
    config.write_text(
        "slurm:\n  sbatch_options: {exclusive: true, threads-per-core: 1, mem-per-cpu: 2.5G, nice: 0.5}\n"
    )
    settings = load_settings(str(config)).slurm
    assert settings.sbatch_options == {
        "exclusive": True,
        "threads-per-core": "1",
        "mem-per-cpu": "2.5G",
        "nice": "0.5",
    }
    executor = make_executor(settings, tmp_path / "jobs", "run")
    job = executor.submit(PretrainJob(["true"], "f", "f/log", "f/last.pt"))
    flags = {
        line for line in job.paths.submission_file.read_text().splitlines() if line.startswith("#SBATCH")
    }
    assert {
        "#SBATCH --exclusive",
        "#SBATCH --threads-per-core=1",
        "#SBATCH --mem-per-cpu=2.5G",
        "#SBATCH --nice=0.5",
    } <= flags


# A stand-in for pretrain: on SIGTERM it "writes its last checkpoint" and exits 130, as pretrain does.
STAND_IN = textwrap.dedent(
    """
    import signal, sys, time
    def stop(*_):
        open(sys.argv[1], "w").write("checkpoint")
        sys.exit(130)
    signal.signal(signal.SIGTERM, stop)
    print("training", flush=True)
    time.sleep(120)
    """
)


def test_the_checkpoint_hook_lets_pretrain_write_its_checkpoint_then_requeues_the_same_job(tmp_path):
    last = tmp_path / "last.pt"
    job = PretrainJob(
        [sys.executable, "-c", STAND_IN, str(last)], str(tmp_path), str(tmp_path / "log"), str(last)
    )
    job._child = subprocess.Popen(job.command, stdout=subprocess.PIPE, text=True)
    assert job._child.stdout.readline().strip() == "training"
    delayed = job.checkpoint()
    assert job._child.returncode == 130 and last.read_text() == "checkpoint"
    requeued = delayed.function
    assert isinstance(requeued, PretrainJob) and requeued is not job
    assert (requeued.command, requeued.last_checkpoint) == (job.command, job.last_checkpoint)
    assert pickle.loads(pickle.dumps(job))._child is None  # what submitit pickles carries no process


def test_the_checkpoint_hook_before_pretrain_started(tmp_path):
    job = PretrainJob(["true"], str(tmp_path), str(tmp_path / "log"), str(tmp_path / "last.pt"))
    assert isinstance(job.checkpoint().function, PretrainJob)


# A stand-in for pretrain that writes the arguments it got into the run's log.
SHOW_ARGS = "import json, sys; print(json.dumps(sys.argv[1:]))"


@pytest.fixture
def one_task_job(tmp_path, monkeypatch):
    """The environment of task 0 of a 1-task submitit local job, and a run folder."""
    for key, value in {
        "SUBMITIT_EXECUTOR": "local",
        "SUBMITIT_LOCAL_JOB_ID": "77",
        "SUBMITIT_LOCAL_NTASKS": "1",
        "SUBMITIT_LOCAL_GLOBALID": "0",
        "SUBMITIT_LOCAL_LOCALID": "0",
    }.items():
        monkeypatch.setenv(key, value)
    folder = tmp_path / "run"
    folder.mkdir()
    return PretrainJob(
        [sys.executable, "-c", SHOW_ARGS, "--config", "c.yaml"],
        str(folder),
        str(folder / "pretrain.log"),
        str(folder / "mamba2_eeg_pretrained_last.pt"),
    )


def _logged_args(job):
    """The arguments the stand-in printed last (the log's last line)."""
    return json.loads(Path(job.log_path).read_text().strip().splitlines()[-1])


def test_a_job_resumes_from_the_last_checkpoint_it_finds(one_task_job):
    assert one_task_job() == 0
    assert _logged_args(one_task_job) == ["--config", "c.yaml"]  # nothing to resume: one task, no DDP
    Path(one_task_job.last_checkpoint).write_bytes(b"checkpoint")
    assert one_task_job() == 0  # e.g. after a requeue
    assert _logged_args(one_task_job) == ["--config", "c.yaml", "--resume", one_task_job.last_checkpoint]
    log = Path(one_task_job.log_path).read_text()
    assert log.count("===== sweep ") == 2 and "job 77, 1 task(s)" in log


def test_a_requeued_job_of_a_finished_run_does_nothing(one_task_job):
    (Path(one_task_job.folder) / "summary.json").write_text('{"finished": true}')
    assert one_task_job() == 0
    assert not os.path.exists(one_task_job.log_path)


def test_a_slurm_task_unpickles_its_job_without_importing_torch():
    # every task of every job imports eeg_sweep.job; pretrain, which it starts, imports torch itself
    code = (
        "import sys, eeg_sweep.job, eeg_pretrain.run_files as f;"
        "assert eeg_sweep.job.SUMMARY == f.SUMMARY;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'numpy'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
