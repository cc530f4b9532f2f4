"""Finding the pretrained checkpoint from a pretrain config: single runs and sweep folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from eeg_finetune.config import PretrainedConfig, load_config
from eeg_finetune.errors import FinetuneError
from eeg_finetune.pretrained import resolve_pretrained
from eeg_pretrain.run_folder import CHECKPOINT_BEST


def write_pretrain_yaml(path, raw):
    path.write_text(yaml.safe_dump(raw))
    return str(path)


RUN_NAME = "mamba2_eeg_d16_l1_m40_mae"


def test_single_run_layout(pretrained):
    source = resolve_pretrained(PretrainedConfig(pretrain_config=str(pretrained.config)))
    assert source.checkpoint == pretrained.checkpoint
    assert source.run_name == RUN_NAME and source.mlflow_run_id == "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("depth", ["save_dir/run", "save_dir/sweep/run"])
def test_sweep_run_folders_are_preferred(tmp_path, depth, pretrain_tools):
    pretrain_config, write_pretrained = pretrain_tools.config, pretrain_tools.write
    save_dir = tmp_path / "runs"
    raw = pretrain_config(save_dir)
    config = write_pretrain_yaml(tmp_path / "pretrain.yaml", raw)
    # a sweep leaves one folder per run; a stray single-run checkpoint of another ratio sits at the top
    write_pretrained(save_dir / CHECKPOINT_BEST, {**raw, "masking": {"style": "mae", "ratio": 0.6}})
    folder = save_dir / RUN_NAME if depth == "save_dir/run" else save_dir / "sweep_1" / RUN_NAME
    write_pretrained(folder / CHECKPOINT_BEST, raw, seed=1)
    other = pretrain_config(save_dir)
    other["masking"] = {"style": "mae", "ratio": 0.8}
    write_pretrained(save_dir / "mamba2_eeg_d16_l1_m80_mae" / CHECKPOINT_BEST, other, seed=2)

    source = resolve_pretrained(PretrainedConfig(pretrain_config=config))
    assert source.checkpoint == folder / CHECKPOINT_BEST
    # the 0.8 run of the sweep is found by its own config
    source = resolve_pretrained(
        PretrainedConfig(pretrain_config=write_pretrain_yaml(tmp_path / "p80.yaml", other))
    )
    assert source.run_name == "mamba2_eeg_d16_l1_m80_mae"


def test_checkpoint_only_takes_the_run_name_from_its_run_config(pretrained, tmp_path):
    copy = tmp_path / "anywhere.pt"
    shutil.copy(pretrained.checkpoint, copy)
    source = resolve_pretrained(PretrainedConfig(checkpoint=str(copy)))
    assert source.run_name == RUN_NAME and source.pretrain_config is None


def test_checkpoint_and_pretrain_config_must_agree(pretrained, tmp_path, pretrain_tools):
    raw = pretrain_tools.config(tmp_path / "elsewhere", num_layers=2)
    config = write_pretrain_yaml(tmp_path / "p.yaml", raw)
    with pytest.raises(FinetuneError, match=r"num_layers: checkpoint 1, config 2"):
        resolve_pretrained(PretrainedConfig(checkpoint=str(pretrained.checkpoint), pretrain_config=config))


def test_speed_only_model_settings_may_differ(pretrained, tmp_path, pretrain_tools):
    raw = pretrain_tools.config(pretrained.save_dir, backend="auto", chunk_size=16)
    source = resolve_pretrained(
        PretrainedConfig(pretrain_config=write_pretrain_yaml(tmp_path / "p.yaml", raw))
    )
    assert source.checkpoint == pretrained.checkpoint


def test_the_shipped_config_loads_with_overrides():
    config = load_config(
        Path(__file__).parents[3] / "configs" / "finetune.yaml",
        ["split.method=kfold", "train.class_weights=[1.0, 3.0]"],
    )
    assert config.split.method == "kfold" and config.train.class_weights == (1.0, 3.0)
    assert config.tracking.experiment == "eeg_finetuning_mamba2" and config.model.freeze_backbone
    assert config.split_seed == config.train.seed == 0


def test_the_data_takes_the_encoders_pretraining_normalization_unless_set(pretrained, caplog):
    import logging

    from eeg_finetune.config import build_config
    from eeg_finetune.inputs import data_normalization
    from eeg_finetune.pretrained import resolve_pretrained

    config = build_config({"pretrained": {"checkpoint": str(pretrained.checkpoint)}})
    source = resolve_pretrained(config.pretrained)
    assert (source.normalization, source.scale) == ("sequence", 1.0)  # what the fixture's run config says
    assert data_normalization(config, source) == ("sequence", 1.0)
    caplog.set_level(logging.WARNING, logger="eeg_finetune")
    chosen = build_config(
        {"pretrained": {"checkpoint": str(pretrained.checkpoint)}, "data": {"normalization": "none"}}
    )
    assert data_normalization(chosen, source) == ("none", 1.0)
    assert "differs from the encoder's pretraining normalization sequence" in caplog.text
