"""The command's user errors, dry run and folder lock (in process, no run is started)."""

import pytest

from eeg_sweep.cli import main
from eeg_sweep.parent import sweep_lock
from eeg_sweep.plan import SweepError


def _exit_code(args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


@pytest.fixture
def config_path(tiny_corpus, tmp_path, make_config, write_config):
    return write_config(make_config(tiny_corpus, tmp_path / "sweep", None, train={"epochs": 1}))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ratios", "0.2,1.5"], "--ratios: 1.5 is not a mask ratio"),
        (["--styles", "mae,xyz"], "--styles: unknown masking style 'xyz'"),
        (["--set", "masking.ratio=0.5"], "the sweep sets masking.ratio for every run (use --ratios)"),
        (["--set", "train.nope=1"], "unknown key(s) nope @ $.train"),
        (["--set", "train.epochs=0"], "train.epochs"),
        (["--nproc", "2"], "--nproc is only used with --torchrun"),
        (["--torchrun", "--nproc", "0"], "--nproc expects a positive number"),
        (["--max-parallel", "0"], "--max-parallel: expected a positive number of runs at a time, got 0"),
        (["--max-parallel", "-2"], "--max-parallel: expected a positive number of runs at a time, got -2"),
        (["--gpus-per-run", "64"], "--gpus-per-run 64: "),  # no GPU here, or fewer than 64
        (["--launcher", "slurm"], "launcher: slurm needs sbatch and srun on the PATH (not found)"),
        (["--launcher", "slurm", "--torchrun"], "--torchrun: not used with the slurm launcher"),
    ],
)
def test_user_errors_exit_2_with_one_message_before_any_run(
    config_path, tmp_path, capsys, monkeypatch, extra, message
):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no sbatch here
    assert _exit_code(["--config", str(config_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("error: ") == 1 and "Traceback" not in err
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("max_parallel: 0\n", "max_parallel in "),
        ("launcher: slurm\nslurm: {partition: gpu, nodez: 2}\n", "unknown key(s) nodez @ $.slurm"),
        ("slurm: {time: soon}\n", "expected minutes or [D-]HH:MM:SS for time, got 'soon' @ $.slurm.time"),
        (
            "slurm: {sbatch_options: {constraint: a100, gres: [gpu, 2]}}\n",
            "got ['gpu', 2] @ $.slurm.sbatch_options.gres",
        ),
        (
            "slurm: {sbatch_options: {mail: {type: END}}}\n",
            "got {'type': 'END'} @ $.slurm.sbatch_options.mail",
        ),
        (
            "slurm: {sbatch_options: {exclusive: false}}\n",
            "exclusive is false: leave the option out, or quote a yes/no value ('no') "
            "@ $.slurm.sbatch_options.exclusive",
        ),
    ],
)
def test_sweep_config_errors_name_the_key(config_path, tmp_path, capsys, settings, message):
    path = tmp_path / "sweep.yaml"
    path.write_text(settings)
    assert _exit_code(["--config", str(config_path), "--sweep-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert err.count(" @ $") <= 1  # one problem, one line
    assert not (tmp_path / "sweep").exists()


def test_the_sweep_config_sets_defaults_and_options_win(config_path, tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text("ratios: [0.3, 0.5]\nstyles: bert\nmax_parallel: 2\nexperiment: from-file\n")
    assert _exit_code(["--config", str(config_path), "--sweep-config", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "sweep of 2 run(s)" in out and "2 at a time" not in out  # CPU: threads, not GPUs
    assert "mamba2_eeg_d16_l1_m30_bert" in out and "MLflow experiment from-file" in out
    assert "thread(s) per process" in out
    args = ["--config", str(config_path), "--sweep-config", str(path), "--ratios", "0.6", "--dry-run"]
    assert _exit_code(args) == 0
    out = capsys.readouterr().out
    assert "sweep of 1 run(s)" in out and "m60_bert" in out


def test_missing_config_file(tmp_path, capsys):
    assert _exit_code(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_writes_nothing(config_path, tmp_path, capsys):
    args = ["--config", str(config_path), "--ratios", "0.2:0.4:0.2", "--styles", "mae,bert", "--dry-run"]
    args += ["--set", "train.save_dir=" + str(tmp_path / "elsewhere")]
    assert _exit_code(args) == 0
    out = capsys.readouterr().out
    assert f"sweep of 4 run(s) in {tmp_path / 'elsewhere'}" in out
    assert "eeg_pretraining_mamba2_sweep_mask" in out
    for name in ("m20_mae", "m40_mae", "m20_bert", "m40_bert"):
        assert f"mamba2_eeg_d16_l1_{name}" in out
    assert out.count(": start") == 4
    assert "-m eeg_pretrain.cli --config" in out and "--set masking.ratio=0.4" in out
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "sweep").exists()


def test_two_sweeps_cannot_share_a_folder(tmp_path):
    busy = pytest.raises(SweepError, match="another sweep is running in this folder")
    with sweep_lock(tmp_path / "sweep"), busy, sweep_lock(tmp_path / "sweep"):
        pass
    with sweep_lock(tmp_path / "sweep"):  # released when the first sweep ends
        pass
