"""The plan: ratio and style options, run names and folders, per-run overrides, skip/resume/start/conflict."""

import json

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_pretrain.run_folder import config_to_dict, load_config
from eeg_sweep.plan import (
    Action,
    SweepError,
    build_plan,
    check_user_overrides,
    decide,
    parse_ratios,
    parse_styles,
    run_overrides,
)


def test_ratio_lists_and_inclusive_ranges():
    assert parse_ratios("0.2,0.4,0.6,0.8") == (0.2, 0.4, 0.6, 0.8)
    assert parse_ratios(" 0.6, 0.2 ,0.6") == (0.2, 0.6)  # sorted, repeats dropped
    # floating-point steps must neither lose the end point nor print as 0.30000000000000004
    assert parse_ratios("0.2:0.8:0.1") == (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    assert parse_ratios("0.15:0.5:0.1") == (0.15, 0.25, 0.35, 0.45)
    assert parse_ratios("0.5:0.5:0.1") == (0.5,)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("0.2,1.0", "(0, 1)"),
        ("0,0.5", "(0, 1)"),
        ("0.2,abc", "'abc'"),
        ("nan", "finite"),
        ("", "no ratio"),
        ("0.2:0.8", "start:stop:step"),
        ("0.8:0.2:0.1", "start <= stop"),
        ("0.2:0.8:0", "step > 0"),
        ("0.4,0.401", "m40"),
    ],
)
def test_bad_ratios_name_the_option_and_the_problem(text, needle):
    with pytest.raises(SweepError, match="--ratios") as info:
        parse_ratios(text)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError)


@settings(max_examples=25, deadline=None)
@given(st.sets(st.integers(1, 99), min_size=1, max_size=10))
def test_any_set_of_percentages_parses_back_sorted(percents):
    text = ",".join(f"{p / 100}" for p in sorted(percents, reverse=True))
    assert parse_ratios(text) == tuple(p / 100 for p in sorted(percents))


def test_styles():
    assert parse_styles("mae") == ("mae",)
    assert parse_styles("BERT, mae,bert") == ("bert", "mae")
    with pytest.raises(SweepError, match="--styles: unknown masking style 'simmim'"):
        parse_styles("mae,simmim")


@pytest.mark.parametrize(
    ("override", "hint"),
    [
        ("masking.ratio=0.5", "--ratios"),
        ("mask_ratio=0.5", "--ratios"),  # the older flat alias means the same key
        ("masking.style=bert", "--styles"),
        ("tracking.experiment=x", "--experiment"),
        ("tracking.parent_run_id=abc", "parent"),
        ("tracking.run_name=x", "named"),
    ],
)
def test_keys_the_sweep_sets_cannot_be_overridden(override, hint):
    with pytest.raises(SweepError, match="the sweep sets") as info:
        check_user_overrides([override])
    assert hint in str(info.value)


def test_other_overrides_pass_and_malformed_ones_are_named():
    check_user_overrides(["train.epochs=3", "train.save_dir=runs/sweep"])
    with pytest.raises(SweepError, match=r"section\.key=value"):
        check_user_overrides(["train.epochs"])


@pytest.fixture
def config_path(tiny_corpus, tmp_path, make_config, write_config):
    return write_config(make_config(tiny_corpus, tmp_path / "sweep", None, train={"epochs": 1}))


def _resolved(config_path, run, *extra):
    return config_to_dict(load_config(config_path, [*extra, *run_overrides(run, "exp", None)]))


def test_each_run_gets_its_own_name_folder_and_config(config_path, tmp_path):
    base = load_config(config_path)
    runs = build_plan(base, (0.2, 0.4), ("mae", "bert"))
    assert [r.name for r in runs] == [
        "mamba2_eeg_d16_l1_m20_mae",
        "mamba2_eeg_d16_l1_m40_mae",
        "mamba2_eeg_d16_l1_m20_bert",
        "mamba2_eeg_d16_l1_m40_bert",
    ]
    assert len({r.folder for r in runs}) == 4
    assert all(r.folder.parent == tmp_path / "sweep" for r in runs)

    # the overrides survive the YAML parsing of --set, also for ids that look like numbers
    overrides = run_overrides(runs[3], "my sweep: 1", "1234e5")
    with pytest.warns(UserWarning, match="BERT-style masking at ratio 0.4"):
        config = load_config(config_path, overrides)
    assert (config.masking.ratio, config.masking.style) == (0.4, "bert")
    assert config.train.save_dir == str(runs[3].folder)
    assert config.tracking.parent_run_id == "1234e5"
    assert config.tracking.experiment == "my sweep: 1"
    assert config.run_name == runs[3].name


def test_what_a_run_needs_next_comes_from_its_folder(config_path):
    (run,) = build_plan(load_config(config_path), (0.4,), ("mae",))
    wanted = _resolved(config_path, run)
    assert decide(run, wanted).action is Action.START

    run.folder.mkdir(parents=True)
    stored = {**wanted, "train": {**wanted["train"], "quiet": True, "log_every": 99}}
    (run.folder / "config.yaml").write_text(yaml.safe_dump(stored))
    run.last_checkpoint.write_bytes(b"checkpoint")
    decision = decide(run, wanted)
    assert decision.action is Action.RESUME and str(run.last_checkpoint) in decision.reason

    run.summary_path.write_text(json.dumps({"finished": False}))  # a session cut short
    assert decide(run, wanted).action is Action.RESUME
    run.summary_path.write_text(json.dumps({"finished": True}))
    assert decide(run, wanted).action is Action.SKIP

    # the same folder asked for with other settings: neither skipped nor resumed
    other = _resolved(config_path, run, "train.lr=0.01", "model.d_state=4")
    decision = decide(run, other)
    assert decision.action is Action.CONFLICT
    assert "train.lr: folder 0.003, now 0.01" in decision.reason
    assert "model.d_state: folder 8, now 4" in decision.reason
    assert str(run.folder) in decision.reason

    run.last_checkpoint.unlink()
    run.summary_path.write_text("{not json")  # unreadable summary, nothing to resume: start over
    assert decide(run, wanted).action is Action.START
