"""``sweep status`` and ``sweep summarize`` on a folder written by hand: finished, failed, interrupted and
missing runs (in process; nothing is launched)."""

import csv
import json
import os

import pytest

from eeg_sweep.cli import main
from eeg_sweep.jobs import write_record
from eeg_sweep.parent import sweep_lock, write_state
from eeg_sweep.plan import PlannedRun


def _exit_code(args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


@pytest.fixture
def sweep_dir(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    runs = [
        PlannedRun(
            r,
            "mae",
            f"mamba2_eeg_d16_l1_m{round(r * 100)}_mae",
            folder / f"mamba2_eeg_d16_l1_m{round(r * 100)}_mae",
        )
        for r in (0.2, 0.4, 0.6, 0.8)
    ]
    write_state(
        folder,
        command=["sweep"],
        config_path="c.yaml",
        experiment="e",
        tracking_uri=None,
        parent_run_id=None,
        runs=runs,
        torchrun_nproc=None,
    )
    finished, failed, interrupted, _missing = runs
    finished.folder.mkdir()
    finished.summary_path.write_text(
        json.dumps({"finished": True, "best_val_loss": 0.25, "epochs": 3, "val_r2": 0.1})
    )
    write_record(finished, launcher="local", job_id="11", state="finished", exit_code=0)
    failed.folder.mkdir()
    failed.log_path.write_text("\n===== sweep x\nerror: data.dataset_path: no Parquet files\n")
    write_record(
        failed, launcher="local", job_id="12", state="failed", exit_code=2, message="error: no Parquet files"
    )
    interrupted.folder.mkdir()
    interrupted.last_checkpoint.write_bytes(b"checkpoint")
    interrupted.log_path.write_text(
        "\n===== sweep x\n12:00:01 INFO eeg_pretrain.trainer: epoch 1/3: train loss 1.0\n"
        "12:00:02 INFO eeg_pretrain.trainer: epoch 2/3: train loss 0.9\n"
    )
    write_record(interrupted, launcher="local", job_id="13", state="running")  # its sweep died
    return folder


def test_status_prints_one_line_per_run(sweep_dir, capsys):
    assert _exit_code(["status", str(sweep_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("0.20  mae   mamba2_eeg_d16_l1_m20_mae")
    assert "done (3 epochs, best val loss 0.2500)" in lines[0]
    assert "failed (exit status 2): error: no Parquet files; log: " in lines[1]
    assert str(sweep_dir / "mamba2_eeg_d16_l1_m40_mae" / "pretrain.log") in lines[1]
    assert "interrupted after epoch 2 of 3 (resumes on the next sweep call)" in lines[2]
    assert lines[3].endswith("not started")


def test_status_while_a_sweep_holds_the_folder(sweep_dir, capsys):
    with sweep_lock(sweep_dir):  # as if the sweep that launched the run were still waiting for it
        assert _exit_code(["status", str(sweep_dir)]) == 0
    assert "running epoch 3 of 3 [job 13]" in capsys.readouterr().out.splitlines()[2]


def test_summarize_writes_the_summary_on_demand(sweep_dir, capsys):
    assert _exit_code(["summarize", str(sweep_dir)]) == 0
    with (sweep_dir / "sweep_summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["status"] for r in rows] == ["finished", "failed", "interrupted", "not run"]
    assert rows[0]["best_val_loss"] == "0.25"
    assert (sweep_dir / "sweep_summary.png").stat().st_size > 0
    assert "0.20   mae    finished" in capsys.readouterr().out


def test_status_of_a_folder_that_is_not_a_sweep(tmp_path, capsys):
    assert _exit_code(["status", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a sweep folder (no sweep.json)" in err


@pytest.fixture
def queued_on_slurm(sweep_dir, tmp_path, monkeypatch):
    """The last run was submitted as SLURM job 4242, which a stand-in ``sacct`` reports as pending."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sacct = bin_dir / "sacct"
    sacct.write_text("#!/bin/sh\nprintf 'JobID|State|NodeList\\n4242|PENDING|None assigned\\n'\n")
    sacct.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    run = PlannedRun(0.8, "mae", "mamba2_eeg_d16_l1_m80_mae", sweep_dir / "mamba2_eeg_d16_l1_m80_mae")
    write_record(
        run,
        launcher="slurm",
        cluster="slurm",
        job_id="4242",
        state="queued",
        tasks=8,
        submitit_folder=str(sweep_dir / ".submitit"),
    )
    return run


def test_status_asks_slurm_about_a_recorded_job(sweep_dir, queued_on_slurm, capsys):
    assert _exit_code(["status", str(sweep_dir)]) == 0
    assert capsys.readouterr().out.splitlines()[3].endswith("queued [job 4242]")


def test_a_queued_slurm_job_is_not_launched_again(
    sweep_dir, queued_on_slurm, tiny_corpus, make_config, write_config, capsys
):
    config = write_config(make_config(tiny_corpus, sweep_dir, None, train={"epochs": 1}))
    assert _exit_code(["--config", str(config), "--ratios", "0.8", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "its slurm job 4242 is still queued; wait for it" in err
    assert not queued_on_slurm.log_path.exists()  # nothing was started
