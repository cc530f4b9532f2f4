"""Commands that only print start without the heavy libraries: ``--help`` of every command and ``sweep
status`` import none of torch, MLflow, MNE or submitit (each takes seconds to import). Checked in a fresh
interpreter through ``sys.modules``, not by timing (benchmarks/startup.py times them)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "mlflow", "mne", "submitit", "scipy", "matplotlib")


def imported_by(code: str) -> list[str]:
    """The heavy packages in ``sys.modules`` after ``code`` ran (SystemExit allowed) in a new interpreter."""
    program = (
        "import json, sys\n"
        f"try:\n    exec({code!r})\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "module, args",
    [
        ("eeg_pretrain.cli", ["--help"]),
        ("eeg_pretrain.cli", ["log-run", "--help"]),
        ("eeg_sweep.cli", ["--help"]),
        ("eeg_sweep.cli", ["status", "--help"]),
        ("eeg_sweep.cli", ["summarize", "--help"]),
        ("eeg_finetune.cli", ["--help"]),
        ("eeg_prepare.cli", ["--help"]),
    ],
)
def test_help_imports_no_heavy_library(module, args):
    assert imported_by(f"from {module} import main\nmain({args!r})") == []


def test_importing_the_sweep_command_imports_no_heavy_library():
    assert imported_by("import eeg_sweep.cli") == []


def test_sweep_status_imports_no_heavy_library(tmp_path):
    from eeg_sweep.jobs import write_record
    from eeg_sweep.parent import write_state
    from eeg_sweep.plan import PlannedRun

    folder = tmp_path / "sweep"
    runs = [
        PlannedRun(r, "mae", f"run_m{round(r * 100)}", folder / f"run_m{round(r * 100)}") for r in (0.2, 0.4)
    ]
    write_state(folder, command=["sweep"], config_path="c.yaml", experiment="e", tracking_uri=None,
                parent_run_id=None, runs=runs, torchrun_nproc=None)  # fmt: skip
    runs[0].folder.mkdir()
    runs[0].summary_path.write_text(json.dumps({"finished": True, "best_val_loss": 0.25}))
    write_record(runs[0], launcher="local", job_id="1", state="finished", exit_code=0)
    code = f"from eeg_sweep.cli import main\nmain(['status', {str(folder)!r}])"
    assert imported_by(code) == []
    # and it printed the runs (the status ran, not only the import)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and "run_m20" in done.stdout and "run_m40" in done.stdout, done


def test_building_a_run_imports_neither_scipy_signal_nor_matplotlib():
    """Before its first step a run needs no plotting (matplotlib: at the first epoch's end) and no
    scipy.signal (the DPSS tapers come from scipy.linalg, :func:`eeg_ssm.spectral.dpss`)."""
    code = (
        "import eeg_pretrain.trainer\n"
        "from eeg_ssm import BandPower\n"
        "BandPower(2048, 256.0, tapers=3)\n"
        "import sys\n"
        "print('LOADED', sorted(m for m in ('matplotlib', 'scipy.signal') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout, done.stdout
