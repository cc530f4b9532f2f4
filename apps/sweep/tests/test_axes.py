"""Sweeping any config key: --vary and vary:, the grid plan, run names, up-front errors (in process, no run
is started)."""

import itertools
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_config import apply_overrides, flatten
from eeg_pretrain.run_folder import PretrainConfig, build_config, config_to_dict
from eeg_sweep.axes import Axis, make_axis, value_tag
from eeg_sweep.cli import main
from eeg_sweep.options import resolve_axes
from eeg_sweep.parent import planned_runs, write_state
from eeg_sweep.plan import Action, SweepError, build_plan, decide, plan_grid, run_overrides
from eeg_sweep.settings import SweepSettings


def _exit_code(args):
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


@pytest.fixture
def config_path(tiny_corpus, tmp_path, make_config, write_config):
    return write_config(make_config(tiny_corpus, tmp_path / "sweep", None, train={"epochs": 1}))


def _axes(*vary, ratios=None, styles=None, settings=None):
    return resolve_axes(list(vary), settings or SweepSettings(), "sweep.yaml", ratios, styles)


# ---------------------------------------------------------------------------- options -> axes


def test_values_are_read_as_the_config_expects_them():
    (axis,) = _axes("data.participants=4,8,16")
    assert axis == Axis("data.participants", (4, 8, 16), "--vary data.participants")
    (axis,) = _axes("train.lr=1e-3, 3.0e-3,1e-3")  # repeats dropped; 1e-3 is a number for a float key
    assert axis.values == (0.001, 0.003)
    # text keys keep the text typed: YAML would read these as a mapping, a bool and a number
    (axis,) = _axes("data.dataset_path={corpus},yes,010")
    assert axis.values == ("{corpus}", "yes", "010")
    (axis,) = _axes("model.montage=biosemi64,null")  # null stays null where the key may be null
    assert axis.values == ("biosemi64", None)
    (axis,) = _axes("data.include_channels=[[FP1, FP2], [C3]]")  # YAML list for lists and commas
    assert axis.values == (["FP1", "FP2"], ["C3"])
    (axis,) = _axes("mask_ratio=0.6,0.2")  # an older flat alias; ratios are checked and sorted as --ratios
    assert axis == Axis("masking.ratio", (0.2, 0.6), "--vary masking.ratio")


def test_without_vary_the_sweep_is_the_mask_ratio_sweep_it_was():
    ratio, style = _axes()
    assert (ratio.key, ratio.values, style.key, style.values) == (
        "masking.ratio",
        (0.2, 0.4, 0.6, 0.8),
        "masking.style",
        ("mae",),
    )
    size, ratio = _axes("data.participants=4,8", ratios=("0.3,0.5", "--ratios"))
    assert size.key == "data.participants" and ratio.values == (0.3, 0.5)  # --vary first: the x-axis
    (size,) = _axes(settings=SweepSettings(vary={"data.participants": [4, 8]}))
    assert size == Axis("data.participants", (4, 8), "vary.data.participants in sweep.yaml")
    (seed,) = _axes("train.seed=1", settings=SweepSettings(vary={"data.participants": [4, 8]}))
    assert seed.key == "train.seed"  # --vary replaces the file's vary


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        ("train.nope=1,2", "--vary train.nope: train.nope is not a setting of the pretrain config"),
        ("data=1", "--vary data: data is a section; vary one of its keys"),
        ("train.save_dir=a,b", "the sweep cannot vary train.save_dir"),
        ("tracking.experiment=a,b", "the sweep cannot vary tracking.experiment"),
        ("synthetic.participants=4,8", "the synthetic corpus is written once"),
        ("data.participants", "--vary expects KEY=V1,V2"),
        ("data.participants=", "--vary data.participants: no value given"),
        ("data.include_channels=[FP1", "is not a YAML list"),
        ("masking.ratio=0.2,1.5", "--vary masking.ratio: 1.5 is not a mask ratio"),
    ],
)
def test_bad_axes_are_named(vary, message):
    with pytest.raises(SweepError) as info:
        _axes(vary)
    assert message in str(info.value)


def test_a_key_is_varied_once():
    with pytest.raises(
        SweepError, match=r"--ratios: masking.ratio is varied already \(--vary masking.ratio\)"
    ):
        _axes("masking.ratio=0.2,0.4", ratios=("0.3", "--ratios"))


# ---------------------------------------------------------------------------- the grid


KEYS = {
    "data.participants": [1, 2, 3, 0.5],
    "train.lr": [0.001, 0.003, 0.01],
    "model.d_state": [4, 8, 16],
    "model.d_model": [16, 32],
    "masking.ratio": [0.2, 0.4, 0.6],
    "masking.style": ["mae", "bert"],
    "model.montage": ["biosemi64", None],
    "data.normalization": ["sequence", "window"],
    "data.dataset_path": ["corpora/a", "other/b", "{x}"],
}


@st.composite
def grids(draw):
    keys = draw(st.lists(st.sampled_from(sorted(KEYS)), min_size=1, max_size=3, unique=True))
    return [
        Axis(key, tuple(draw(st.lists(st.sampled_from(KEYS[key]), min_size=1, max_size=3, unique=True))), key)
        for key in keys
    ]


@pytest.fixture(scope="module")
def base(tiny_corpus, tmp_path_factory, make_config):
    return make_config(tiny_corpus, tmp_path_factory.mktemp("grid") / "sweep", None)


def _resolve(base):
    return lambda overrides: build_config(apply_overrides(base, overrides, schema=PretrainConfig))


LAUNCH_KEYS = ("train.save_dir", "tracking.experiment", "tracking.run_name", "tracking.parent_run_id")


@pytest.mark.filterwarnings("ignore:MaskingConfig.ratio")  # BERT-style at high ratios
@settings(max_examples=40, deadline=None)
@given(grids())
def test_a_grid_has_one_named_run_per_combination_first_axis_fastest(base, axes):
    sweep_dir = Path(build_config(base).train.save_dir)
    planned = plan_grid(axes, _resolve(base), sweep_dir)
    runs = [run for run, _ in planned]
    assert len(runs) == math.prod(len(axis.values) for axis in axes)
    assert len({run.name for run in runs}) == len(runs)  # every run its own folder
    assert all(run.folder.parent.name == "sweep" and run.folder.name == run.name for run in runs)
    # deterministic, and in order: the first axis varies fastest
    assert [r.name for r, _ in plan_grid(axes, _resolve(base), runs[0].folder.parent)] == [
        r.name for r in runs
    ]
    expected = [tuple(reversed(c)) for c in itertools.product(*(a.values for a in reversed(axes)))]
    assert [tuple(v for _, v in run.values) for run in runs] == expected
    for run, config in planned:
        flat = flatten(config_to_dict(config))
        for key, value in run.values:
            assert flat[key] == value, key
            assert value_tag(value) in run.name or key in ("model.d_model", "masking.ratio", "masking.style")
        assert run.name.startswith(
            f"mamba2_eeg_d{config.model.d_model}_l1_m{round(config.masking.ratio * 100)}"
        )
        # the overrides a run is launched with make the same config, in the run's folder
        launched = build_config(
            apply_overrides(base, run_overrides(run, "e", "1234e5"), schema=PretrainConfig)
        )
        again = flatten(config_to_dict(launched))
        assert {k: v for k, v in again.items() if k not in LAUNCH_KEYS} == {
            k: v for k, v in flat.items() if k not in LAUNCH_KEYS
        }
        assert (again["train.save_dir"], again["tracking.run_name"]) == (str(run.folder), run.name)


def test_the_default_axes_plan_the_runs_of_before(base, tmp_path):
    ratio = Axis("masking.ratio", (0.2, 0.4), "--ratios")
    style = Axis("masking.style", ("mae", "bert"), "--styles")
    planned = [run for run, _ in plan_grid([ratio, style], _resolve(base), tmp_path)]
    before = build_plan(
        build_config({**base, "train": {**base["train"], "save_dir": str(tmp_path)}}),
        (0.2, 0.4),
        ("mae", "bert"),
    )
    assert planned == before
    assert [r.name for r in planned] == [
        f"mamba2_eeg_d16_l1_m{p}_{s}" for s in ("mae", "bert") for p in (20, 40)
    ]
    assert run_overrides(planned[0], "e", None) == [
        "masking.ratio=0.2",
        "masking.style=mae",
        f"train.save_dir={tmp_path / 'mamba2_eeg_d16_l1_m20_mae'}",
        "tracking.experiment=e",
        "tracking.run_name=mamba2_eeg_d16_l1_m20_mae",
    ]


def test_run_names_read_the_values(base, tmp_path):
    axes = [
        make_axis("data.participants", [4, 0.25, 1.0], "--vary data.participants"),
        make_axis("data.dataset_path", ["/data/corpus_a/"], "--vary data.dataset_path"),
        make_axis("train.seed", [1], "--vary train.seed"),
        make_axis("model.spatial_seed", [2], "--vary model.spatial_seed"),
    ]
    names = [run.name for run, _ in plan_grid(axes, _resolve(base), tmp_path)]
    assert names == [
        f"mamba2_eeg_d16_l1_m40_mae_participants-{p}_dataset_path-corpus_a_seed-1_spatial_seed-2"
        for p in ("4", "0.25", "1.0")  # 1.0 (every participant) is not 1 (one)
    ]
    assert value_tag(["FZ", "CZ"]) == "FZ+CZ" and value_tag(True) == "true" and value_tag("a b/c:d") == "c_d"
    long = value_tag("x" * 100)
    assert len(long) == 49 and long != value_tag("x" * 99)  # cut, with a digest of the whole value


def test_values_that_name_two_runs_alike_are_refused(base, tmp_path):
    axis = make_axis("data.dataset_path", ["a/corpus", "b/corpus"], "--vary data.dataset_path")
    with pytest.raises(
        SweepError, match="would share the run name mamba2_eeg_d16_l1_m40_mae_dataset_path-corpus"
    ):
        plan_grid([axis], _resolve(base), tmp_path)


def test_a_bad_value_names_its_option(base, tmp_path):
    axis = make_axis("data.participants", [4, 2.5], "--vary data.participants")
    with pytest.raises(SweepError) as info:
        plan_grid([axis], _resolve(base), tmp_path)
    assert str(info.value).startswith("--vary data.participants: 2.5 is not a valid value (")
    assert str(info.value).endswith("@ $.data.participants)")


def test_folders_from_before_data_participants_are_the_same_runs(config_path, base, tmp_path):
    from eeg_pretrain.run_folder import load_config

    (run,) = build_plan(load_config(config_path), (0.4,), ("mae",))
    wanted = config_to_dict(load_config(config_path, run_overrides(run, "exp", None)))
    older = {**wanted, "data": {k: v for k, v in wanted["data"].items() if not k.startswith("participants")}}
    run.folder.mkdir(parents=True)
    (run.folder / "config.yaml").write_text(yaml.safe_dump(older))
    run.last_checkpoint.write_bytes(b"checkpoint")
    assert decide(run, wanted).action is Action.RESUME  # not a conflict
    subset = config_to_dict(
        load_config(config_path, [*run_overrides(run, "exp", None), "data.participants=2"])
    )
    decision = decide(run, subset)
    assert decision.action is Action.CONFLICT and "data.participants: folder None, now 2" in decision.reason


def test_the_sweep_folder_records_the_swept_values(tmp_path):
    axis = make_axis("data.participants", [4, 8], "--vary data.participants")
    base = {"data": {"dataset_path": "x", "window_length": 64}, "model": {"d_model": 16, "num_layers": 1}}
    runs = [run for run, _ in plan_grid([axis], _resolve(base), tmp_path)]
    write_state(tmp_path, command=["sweep"], config_path="c", experiment="e", tracking_uri=None,
                parent_run_id=None, runs=runs, torchrun_nproc=None)  # fmt: skip
    assert planned_runs(tmp_path, json.loads((tmp_path / "sweep.json").read_text())) == runs
    # a sweep.json from before other keys could be swept: runs without values (ratio by style)
    older = {"runs": [{"name": "m", "mask_ratio": 0.4, "mask_style": "mae", "folder": "x"}]}
    assert planned_runs(tmp_path, older)[0].values == ()


# ---------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--vary", "train.nope=1,2"],
            "--vary train.nope: train.nope is not a setting of the pretrain config",
        ),
        (["--vary", "data.participants=4,2.5"], "--vary data.participants: 2.5 is not a valid value ("),
        (
            ["--vary", "data.participants=2,5"],
            "--vary data.participants: 5 training participants asked for, but",
        ),
        (
            ["--vary", "data.normalization=window,zscore"],
            "--vary data.normalization: zscore is not a valid value",
        ),
        (
            ["--vary", "data.participants=2", "--set", "data.participants=3"],
            "the sweep varies data.participants",
        ),
        (["--vary", "masking.style=mae", "--styles", "bert"], "masking.style is varied already"),
    ],
)
def test_axis_errors_exit_2_with_one_line_before_any_run(config_path, tmp_path, capsys, extra, message):
    assert _exit_code(["--config", str(config_path), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line
    assert not (tmp_path / "sweep").exists()


def test_the_sweep_config_varies_keys_and_a_dry_run_shows_the_grid(config_path, tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    path.write_text("vary:\n  data.participants: [2, 4]\n  model.d_state: 4\nratios: [0.3, 0.5]\n")
    assert _exit_code(["--config", str(config_path), "--sweep-config", str(path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "sweep of 4 run(s)" in out
    assert "varying data.participants over 2, 4; model.d_state over 4; masking.ratio over 0.3, 0.5" in out
    names = [line.split()[1] for line in out.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert names == [
        f"mamba2_eeg_d16_l1_m{m}_mae_participants-{p}_d_state-4" for m in (30, 50) for p in (2, 4)
    ]
    assert "--set data.participants=2 --set model.d_state=4 --set train.save_dir=" in out
    assert not (tmp_path / "sweep").exists()
    path.write_text("vary: [data.participants]\n")
    assert _exit_code(["--config", str(config_path), "--sweep-config", str(path)]) == 2
    assert "SweepSettings.vary must map pretrain config keys to their values" in capsys.readouterr().err


def test_the_parent_runs_description_names_the_swept_key_and_tabulates_its_values(tmp_path):
    from eeg_sweep.parent import describe_sweep
    from eeg_sweep.plan import PlannedRun

    runs = [
        PlannedRun(
            0.4, "mae", f"p{n}", tmp_path / f"p{n}", (("data.participants", n), ("masking.ratio", 0.4))
        )
        for n in (4, 8)
    ]
    rows = [
        {"run_name": "p4", "data.participants": 4, "mask_ratio": 0.4, "mask_style": "mae", "status": "finished",
         "best_val_loss": 0.5, "val_skill": 0.01},
        {"run_name": "p8", "data.participants": 8, "mask_ratio": 0.4, "mask_style": "mae", "status": "finished",
         "best_val_loss": 0.4, "val_skill": 0.02},
    ]  # fmt: skip
    note = describe_sweep("sweep --vary data.participants=4,8", runs, tmp_path, rows)
    assert note.startswith(
        "**Sweep of data.participants**: 2 pretraining runs (data.participants 4, 8; mask ratios 0.4"
    )
    assert "| run | data.participants | mask ratio | style |" in note
    assert "| p8 | 8 | 0.4 | mae | finished | 0.4000 | +0.020 |" in note
    plain = describe_sweep("sweep", [PlannedRun(0.2, "mae", "r", tmp_path / "r")], tmp_path)
    assert plain.startswith("**Mask-ratio sweep**: 1 pretraining runs (mask ratios 0.2; mae)")
