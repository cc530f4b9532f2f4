"""Real sweeps of tiny pretraining runs on CPU: each run is a pretrain process (5-10 s of start-up each),
so the scenarios are combined to start as few as possible."""

import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from eeg_pretrain.run_folder import config_to_dict, load_config
from eeg_sweep.cli import main
from eeg_sweep.plan import DEFAULT_EXPERIMENT, build_plan, run_overrides

pytestmark = pytest.mark.slow


def _exit_code(args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


def _folders(sweep_dir, *percents):
    return [sweep_dir / f"mamba2_eeg_d16_l1_m{p}_mae" for p in percents]


def _csv(sweep_dir):
    with (sweep_dir / "sweep_summary.csv").open() as fh:
        return list(csv.DictReader(fh))


def _attempts(folder):
    """How many times the sweep started (or refused to start) this run: one log header each."""
    return (folder / "pretrain.log").read_text().count("===== sweep ")


def _mlflow_runs(uri):
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1, "every run of the sweep is a child of its one parent run"
    return client, parent, {r.info.run_name: r for r in children}


def _tiny(tiny_corpus, sweep_dir, uri, make_config, write_config, epochs):
    # progress on, as users run it: a run's log file still gets plain lines only (no carriage return)
    train = {"epochs": epochs, "quiet": False}
    config = make_config(tiny_corpus, sweep_dir, uri, train=train, tracking={"register_model": False})
    return write_config(config)


def test_an_interrupted_sweep_continues_where_it_stopped_then_skips_finished_runs(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep_dir = tmp_path / "sweep"
    config = _tiny(tiny_corpus, sweep_dir, uri, make_config, write_config, epochs=4)
    args = ["--config", str(config), "--ratios", "0.2,0.4", "--quiet"]
    first, second = _folders(sweep_dir, 20, 40)

    # 1. Ctrl-C while the second run trains: it stops after its current step, keeping its checkpoint
    proc = subprocess.Popen(
        [sys.executable, "-m", "eeg_sweep.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    last = second / "mamba2_eeg_pretrained_last.pt"
    deadline = time.monotonic() + 600
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    assert "Continue with:\n  sweep " + shlex.join(args) in err
    assert json.loads((first / "summary.json").read_text())["finished"] is True
    assert not (second / "summary.json").exists()
    stopped = torch.load(last, weights_only=True)
    assert 1 <= stopped["epoch"] < 4, "the interrupt must land before the run ends (4 epochs)"
    assert [r["status"] for r in _csv(sweep_dir)] == ["finished", "interrupted"]
    assert "interrupted" in out

    # 2. the same command again: the finished run is skipped, the interrupted one resumed
    assert _exit_code(args) == 0
    capsys.readouterr()
    assert _attempts(first) == 1 and _attempts(second) == 2
    assert "resumed from" in (second / "pretrain.log").read_text()
    # bytes: read_text() would turn a carriage return into a newline
    assert all(b"\r" not in (f / "pretrain.log").read_bytes() for f in (first, second))
    summaries = [json.loads((f / "summary.json").read_text()) for f in (first, second)]
    assert all(s["finished"] and s["epochs"] == 4 for s in summaries)
    assert summaries[1]["mlflow_run_id"] == stopped["mlflow_run_id"]  # one MLflow run across sessions
    for folder, ratio in ((first, 0.2), (second, 0.4)):
        resolved = yaml.safe_load((folder / "config.yaml").read_text())
        assert resolved["masking"]["ratio"] == ratio and resolved["train"]["save_dir"] == str(folder)
        assert (folder / "mamba2_eeg_pretrained.pt").is_file()

    client, parent, children = _mlflow_runs(uri)
    assert sorted(children) == [first.name, second.name]
    assert all(c.info.status == "FINISHED" for c in children.values())
    assert children[second.name].info.run_id == stopped["mlflow_run_id"]
    assert children[first.name].data.params["masking.ratio"] == "0.2"
    assert parent.info.status == "FINISHED" and parent.data.tags["sweep.ratios"] == "0.2,0.4"
    assert json.loads((sweep_dir / "sweep.json").read_text())["parent_run_id"] == parent.info.run_id
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"sweep.json", "sweep_summary.csv", "sweep_summary.png"} <= artifacts
    # the parent's description: the command, and each run linked to its page with its figures
    note = parent.data.tags["mlflow.note.content"]
    assert f"Command: `sweep {shlex.join(args)}`" in note
    experiment = parent.info.experiment_id
    for folder, summary in zip((first, second), summaries, strict=True):
        run_id = children[folder.name].info.run_id
        assert f"| [{folder.name}](#/experiments/{experiment}/runs/{run_id}) |" in note
        assert f"| finished | {summary['best_val_loss']:.4f} | {summary['val_skill']:+.3f} |" in note

    rows = _csv(sweep_dir)
    assert [(r["mask_ratio"], r["mask_style"], r["status"]) for r in rows] == [
        ("0.2", "mae", "finished"),
        ("0.4", "mae", "finished"),
    ]
    for row, summary in zip(rows, summaries, strict=True):
        assert float(row["best_val_loss"]) == pytest.approx(summary["best_val_loss"])
        assert float(row["val_interp_baseline"]) > 0 and row["val_r2"] != ""
        assert row["epochs"] == "4" and os.path.isfile(row["checkpoint"])
    assert (sweep_dir / "sweep_summary.png").stat().st_size > 0

    # 3. once more: nothing left to do, nothing started, nothing new in MLflow
    assert _exit_code(args) == 0
    captured = capsys.readouterr()
    assert captured.err.count("finished earlier, skipped") == 2
    assert "0.40   mae    finished" in captured.out
    assert _attempts(first) == 1 and _attempts(second) == 2
    _, again, children_again = _mlflow_runs(uri)
    assert again.info.run_id == parent.info.run_id and sorted(children_again) == sorted(children)


def test_failed_runs_are_reported_and_the_others_complete(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep_dir = tmp_path / "sweep"
    config = _tiny(tiny_corpus, sweep_dir, uri, make_config, write_config, epochs=1)
    args = ["--config", str(config), "--ratios", "0.2,0.4,0.6", "--quiet"]
    m20, m40, m60 = _folders(sweep_dir, 20, 40, 60)

    # m20 was finished earlier with another override (--set train.lr=0.01): neither skip nor resume it
    run20 = build_plan(load_config(config), (0.2,), ("mae",))[0]
    earlier = load_config(config, ["train.lr=0.01", *run_overrides(run20, DEFAULT_EXPERIMENT, None)])
    m20.mkdir(parents=True)
    (m20 / "config.yaml").write_text(yaml.safe_dump(config_to_dict(earlier)))
    (m20 / "summary.json").write_text(json.dumps({"finished": True, "best_val_loss": 0.1}))
    # m60 holds a last checkpoint pretrain cannot read: its process fails
    m60.mkdir(parents=True)
    (m60 / "mamba2_eeg_pretrained_last.pt").write_bytes(b"not a checkpoint")

    assert _exit_code(args) == 1
    err = capsys.readouterr().err
    assert (
        f"FAILED {m20.name}: {m20} holds a run made with other settings (train.lr: folder 0.01, now 0.003)"
        in err
    )
    assert f"FAILED {m60.name} (exit status 2): error: {m60 / 'mamba2_eeg_pretrained_last.pt'}" in err
    assert f"log: {m60 / 'pretrain.log'}" in err
    assert json.loads((m40 / "summary.json").read_text())["finished"] is True
    assert [r["status"] for r in _csv(sweep_dir)] == ["failed", "finished", "failed"]
    assert json.loads((m20 / "summary.json").read_text())["best_val_loss"] == 0.1  # left as it was
    _, parent, children = _mlflow_runs(uri)
    assert parent.info.status == "FAILED" and sorted(children) == [m40.name]

    # without --continue-on-error the sweep stops at the first failure
    assert _exit_code([*args, "--no-continue-on-error"]) == 1
    assert [r["status"] for r in _csv(sweep_dir)] == ["failed", "not run", "not run"]
    assert _attempts(m60) == 1


def test_a_torchrun_sweep_on_cpu(tiny_corpus, tmp_path, make_config, write_config, capsys):
    sweep_dir = tmp_path / "sweep"
    config = _tiny(tiny_corpus, sweep_dir, None, make_config, write_config, epochs=1)  # no MLflow
    args = ["--config", str(config), "--ratios", "0.3", "--torchrun", "--nproc", "2", "--quiet"]
    assert _exit_code(args) == 0, capsys.readouterr().err
    (folder,) = _folders(sweep_dir, 30)
    log = (folder / "pretrain.log").read_text()
    assert "torch.distributed.run --standalone --nproc_per_node=2 -m eeg_pretrain.cli" in log
    assert "world size 2" in log
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["finished"] and summary["mask_ratio"] == 0.3 and summary["mlflow_run_id"] is None
    assert json.loads((sweep_dir / "sweep.json").read_text())["torchrun_nproc"] == 2
    assert [r["status"] for r in _csv(sweep_dir)] == ["finished"]


def test_a_data_size_sweep_trains_nested_subsets_validated_on_the_same_people(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep_dir = tmp_path / "sweep"
    config = _tiny(tiny_corpus, sweep_dir, uri, make_config, write_config, epochs=1)
    args = ["--config", str(config), "--vary", "data.participants=1,3", "--quiet"]  # of 4 (2 validate)
    assert _exit_code(args) == 0, capsys.readouterr().err
    capsys.readouterr()
    folders = [sweep_dir / f"mamba2_eeg_d16_l1_m40_mae_participants-{n}" for n in (1, 3)]
    summaries = [json.loads((f / "summary.json").read_text()) for f in folders]
    one, three = (set(s["train_participants"]) for s in summaries)
    assert len(one) == 1 and len(three) == 3 and one < three  # nested
    assert summaries[0]["val_participants"] == summaries[1]["val_participants"]  # the same held-out people
    assert len(summaries[0]["val_participants"]) == 2 and not three & set(summaries[0]["val_participants"])
    record = torch.load(folders[0] / "mamba2_eeg_pretrained.pt", weights_only=True)["pretraining_data"]
    assert record["participants"] == sorted(one)  # what finetune's leakage guard reads
    assert yaml.safe_load((folders[1] / "config.yaml").read_text())["data"]["participants"] == 3

    rows = _csv(sweep_dir)
    assert [(r["run_name"], r["data.participants"], r["status"]) for r in rows] == [
        (folders[0].name, "1", "finished"),
        (folders[1].name, "3", "finished"),
    ]
    assert (sweep_dir / "sweep_summary.png").stat().st_size > 0
    _, parent, children = _mlflow_runs(uri)
    assert sorted(children) == [f.name for f in folders]
    assert children[folders[1].name].data.params["data.participants"] == "3"
    assert children[folders[1].name].data.params["train_participants"] == "3"
    assert parent.data.tags["sweep"] == "data.participants"
    assert parent.data.tags["sweep.axes"] == "data.participants=1,3"
    assert "data.participants" not in parent.data.params  # it differs between the children

    # the same command again: both runs are finished, nothing starts
    assert _exit_code(args) == 0
    assert capsys.readouterr().err.count("finished earlier, skipped") == 2
    assert [_attempts(f) for f in folders] == [1, 1]
    assert _exit_code(["summarize", str(sweep_dir)]) == 0  # from the folder alone: the swept key too
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["participants", "ratio", "style"] and table[2].split()[:2] == [
        "3",
        "0.40",
    ]
