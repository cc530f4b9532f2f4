"""The commands as users run them: a subprocess per run (entry point, torchrun, signals, MLflow server)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]
PRETRAIN_DIR = REPO / "apps" / "pretrain"


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}


def test_python_apps_pretrain_help():
    out = subprocess.run(
        [sys.executable, str(PRETRAIN_DIR), "--help"], capture_output=True, text=True, env=_env()
    )
    assert out.returncode == 0 and "--distributed" in out.stdout and "--resume" in out.stdout


def test_sigterm_writes_the_last_checkpoint_and_says_how_to_resume(
    tiny_corpus, tmp_path, make_config, write_config
):
    save = tmp_path / "sig"
    cfg = make_config(tiny_corpus, save, None, train={"epochs": 400})
    proc = subprocess.Popen(
        [sys.executable, "-m", "eeg_pretrain.cli", "--config", str(write_config(cfg))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    last = save / "mamba2_eeg_pretrained_last.pt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert last.exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and str(last) in err
    payload = torch.load(last, weights_only=True)
    assert 1 <= payload["epoch"] < 400


@pytest.mark.slow
@pytest.mark.parametrize(
    "objective",
    [
        pytest.param({}, id="raw"),
        # both target parts, the spectral input, multitaper band power and the learned local context (the
        # configs' defaults; tiny_corpus: 64-sample windows at 32 Hz)
        pytest.param(
            {
                "objective": {"target": "both"},
                "model": {"input": "raw+spectrum", "tapers": 3, "local_context": True},
            },
            id="spectral",
        ),
    ],
)
def test_ddp_two_gloo_ranks_match_one_process(tiny_corpus, tmp_path, make_config, write_config, objective):
    """Weights identical on both ranks, and equal to one process over the same global batches."""

    def make(save, batch_size):
        cfg = make_config(tiny_corpus, save, None, train={"epochs": 2}, data={"batch_size": batch_size})
        if objective:
            cfg["data"]["sampling_rate"] = 32.0
            for section, values in objective.items():
                cfg.setdefault(section, {}).update(values)
        return cfg

    # 4 train participants x 6 channels = 24 sequences: 2 ranks x batch 3 = one process x batch 6, no padding
    ddp_cfg = make(tmp_path / "ddp", 3)
    ddp_path = write_config(ddp_cfg, "ddp.yaml")
    script = Path(__file__).with_name("ddp_worker.py")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(ddp_path),
            str(tmp_path / "ddp"),
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rank0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True)
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name

    single_cfg = make(tmp_path / "single", 6)
    single = subprocess.run(
        [sys.executable, "-m", "eeg_pretrain.cli", "--config", str(write_config(single_cfg, "single.yaml"))],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    ref = torch.load(tmp_path / "single" / "mamba2_eeg_pretrained_last.pt", weights_only=True)["model"]
    for name, tensor in rank0.items():
        torch.testing.assert_close(tensor, ref[name], atol=1e-5, rtol=1e-5, msg=name)
    # rank 0 alone wrote the checkpoints
    assert (tmp_path / "ddp" / "mamba2_eeg_pretrained_last.pt").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_against_a_real_mlflow_tracking_server(tiny_corpus, tmp_path, make_config, write_config):
    import mlflow

    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=_env(),
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(0.5)
        cfg = make_config(tiny_corpus, tmp_path / "srv", uri, train={"epochs": 1})
        out = subprocess.run(
            [sys.executable, "-m", "eeg_pretrain.cli", "--config", str(write_config(cfg))],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        client = mlflow.tracking.MlflowClient(uri)
        (run,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id])
        assert "val_loss" in run.data.metrics and run.data.params["masking.style"] == "mae"
        names = {a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")}
        assert "checkpoints/mamba2_eeg_pretrained.pt" in names
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
