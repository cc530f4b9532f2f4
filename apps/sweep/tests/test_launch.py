"""Starting a run's process: the command, the log, Ctrl-C forwarding, and the child outliving a killed sweep.

The children here are small Python scripts standing in for pretrain, so no test waits for torch.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from eeg_sweep.devices import DevicePlan
from eeg_sweep.launch import (
    _PDEATHSIG_EXEC,
    StopRequests,
    failure_reason,
    pretrain_command,
)
from eeg_sweep.local import LocalLauncher
from eeg_sweep.plan import PlannedRun


def test_pretrain_commands_single_and_under_torchrun(tmp_path):
    ckpt = tmp_path / "last.pt"
    single = pretrain_command("cfg.yaml", ["masking.ratio=0.2"], resume=ckpt)
    assert single[:3] == [sys.executable, "-m", "eeg_pretrain.cli"]
    assert single[3:] == [
        "--config",
        "cfg.yaml",
        "--resume",
        str(ckpt),
        "--set",
        "masking.ratio=0.2",
    ]
    ddp = pretrain_command("cfg.yaml", [], nproc=2)
    assert ddp[:7] == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "eeg_pretrain.cli",
    ]
    assert "--distributed" in ddp and "--resume" not in ddp


# A stand-in for pretrain: counts SIGINTs, stops at the first like pretrain does (exit 130).
FAKE_RUN = textwrap.dedent(
    """
    import signal, sys, time
    got = []
    signal.signal(signal.SIGINT, lambda *a: got.append(1))
    print("ready", flush=True)
    sys.stdout.write("half a line")
    sys.stdout.flush()
    deadline = time.monotonic() + 60
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # a second forwarded signal would arrive here
    print(f" and the rest; SIGINTs received: {len(got)}", flush=True)
    print("error: stopped", file=sys.stderr)
    sys.exit(130 if got else 1)
    """
)


class StandInLauncher(LocalLauncher):
    """The local launcher, with FAKE_RUN in place of pretrain."""

    def command(self, run, overrides, resume):
        return [sys.executable, "-c", FAKE_RUN]


def test_ctrl_c_reaches_the_run_once_and_its_log_keeps_everything(tmp_path):
    run = PlannedRun(0.4, "mae", "run-a", tmp_path / "run")
    log = run.log_path
    echoed: list[str] = []
    notes: list[str] = []

    def interrupt_when_ready():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if log.exists() and "\nready\n" in log.read_text():  # not the header's copy of the script
                os.kill(os.getpid(), signal.SIGINT)  # what a Ctrl-C in the terminal does to the sweep
                return
            time.sleep(0.05)

    previous = signal.getsignal(signal.SIGINT)
    with StopRequests(announce=notes.append) as stop:
        assert signal.getsignal(signal.SIGINT) is not previous
        thread = threading.Thread(target=interrupt_when_ready)
        thread.start()
        launcher = StandInLauncher("cfg.yaml", DevicePlan(({},), None, "one process"), stop, echoed.append)
        handle = launcher.start(run, [], resume=False)
        while (outcome := launcher.poll(handle)) is None:
            time.sleep(0.05)
        code = outcome.exit_code
        thread.join()
    assert signal.getsignal(signal.SIGINT) is previous
    assert code == 130 and stop.requested
    assert any("stopping run-a after the current step" in n for n in notes)
    text = log.read_text()
    assert text.startswith("\n===== sweep ")
    assert "half a line and the rest; SIGINTs received: 1" in text  # forwarded exactly once
    assert "  | half a line and the rest; SIGINTs received: 1" in echoed
    assert echoed[0] == "  | ready"
    assert failure_reason(log) == "error: stopped"


def test_failure_reason_reads_the_latest_attempt_only(tmp_path):
    log = tmp_path / "pretrain.log"
    log.write_text(
        "\n===== sweep 1\nerror: old problem\n"
        "\n===== sweep 2\nTraceback (most recent call last):\n  File x\nRuntimeError: new problem\n"
    )
    assert failure_reason(log) == "RuntimeError: new problem"
    log.write_text("\n===== sweep 3\n")
    assert failure_reason(log) is None
    assert failure_reason(tmp_path / "missing.log") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_a_run_is_told_to_stop_when_the_sweep_is_killed(tmp_path):
    marker = tmp_path / "got-sigterm"
    child = textwrap.dedent(
        f"""
        import os, signal, sys, time
        def stop(*a):
            # written whole, then renamed: the test polls for the file and must never read it half-written
            with open({str(marker) + ".tmp"!r}, "w") as f:
                f.write("checkpoint written")
            os.replace({str(marker) + ".tmp"!r}, {str(marker)!r})
            sys.exit(130)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(120)
        """
    )
    # a stand-in sweep: starts the child the way start_logged does, then waits to be killed
    sweep = textwrap.dedent(
        """
        import os, subprocess, sys, time
        exec_script, child = sys.argv[1], sys.argv[2]
        subprocess.Popen([sys.executable, "-I", "-S", "-c", exec_script, str(os.getpid()),
                          sys.executable, "-c", child], start_new_session=True)
        time.sleep(120)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", sweep, _PDEATHSIG_EXEC, child], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "ready"
    proc.kill()  # kill -9: no chance to forward anything
    proc.wait()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "checkpoint written"
