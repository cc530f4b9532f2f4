"""ModelConfig: valid defaults, field validators and cross-field checks that name the field, dict round trip."""

from __future__ import annotations

import warnings

import pytest
import yaml

from eeg_config import UserError
from eeg_ssm import CheckpointError, ModelConfig, ModelConfigError


def test_defaults_are_valid_without_warnings_and_fit_the_kernels() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = ModelConfig()
    assert (config.window_length, config.d_model, config.num_layers) == (2048, 128, 6)
    assert config.backend == "auto" and config.bidirectional is False
    assert config.nheads == 8 and config.nheads % config.ngroups == 0
    assert config.d_inner % config.headdim == 0 and 2 <= config.d_conv <= 4


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"d_model": 0}, "d_model"),
        ({"num_layers": 2.5}, "num_layers"),
        ({"window_length": True}, "window_length"),
        ({"backend": "cuda"}, "backend"),
        ({"bidirectional": "yes"}, "bidirectional"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": "lots"}, "dropout"),
        ({"dt_min": 0.0}, "dt_min"),
        ({"missing_channels": "skip"}, "missing_channels"),
        ({"asa_path": ""}, "asa_path"),
        ({"montage": ""}, "montage"),
        ({"montage": "biosemi65"}, "montage"),  # not built in
        ({"montage": "biosemi64", "asa_path": "/caps/cap.elc"}, "montage"),  # two montages
        ({"spatial_seed": -1}, "spatial_seed"),
        ({"headdim": 48}, "headdim"),  # 256 % 48 != 0
        ({"ngroups": 3}, "ngroups"),  # 8 heads % 3 != 0
        ({"d_conv": 5}, "d_conv"),
        ({"d_conv": 1}, "d_conv"),
        ({"chunk_size": 48}, "chunk_size"),
        ({"dt_min": 0.5, "dt_max": 0.1}, "dt_min"),
        ({"backend": "transformer", "transformer_heads": 3}, "transformer_heads"),
    ],
)
def test_invalid_settings_raise_naming_the_field(changes: dict, field: str) -> None:
    with pytest.raises(ModelConfigError, match=rf"ModelConfig\.{field}"):
        ModelConfig(**changes)


def test_errors_are_user_errors_and_value_errors() -> None:
    # apps print a UserError in one line (exit 2); callers may catch either
    for error in (ModelConfigError, CheckpointError):
        assert issubclass(error, UserError) and issubclass(error, ValueError), error


def test_a_head_count_only_the_kernels_mind_is_no_config_warning() -> None:
    # 192 / 32 = 6 heads: the pure-PyTorch Mamba-2 runs it; the kernels warn when they get it (test_model.py)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ModelConfig(d_model=96, headdim=32).nheads == 6


def test_mamba_only_checks_do_not_bind_the_transformer() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = ModelConfig(backend="transformer", d_model=96, headdim=40, transformer_heads=4)
    assert config.is_transformer


def test_numeric_strings_from_yaml_are_accepted_for_floats() -> None:
    raw = yaml.safe_load("dt_min: 1e-4\ndropout: 0\n")
    assert raw["dt_min"] == "1e-4"  # PyYAML's reading of an exponent without a dot
    config = ModelConfig.from_dict(raw)
    assert config.dt_min == 1e-4 and config.dropout == 0.0 and isinstance(config.dropout, float)


def test_to_dict_is_plain_yaml_and_round_trips() -> None:
    config = ModelConfig(d_model=64, headdim=16, bidirectional=True, asa_path="/caps/cap.elc", dropout=0.1)
    data = config.to_dict()
    assert all(isinstance(v, int | float | str | bool | type(None)) for v in data.values())
    assert ModelConfig.from_dict(yaml.safe_load(yaml.safe_dump(data))) == config


def test_from_dict_rejects_unknown_keys_naming_them() -> None:
    with pytest.raises(ModelConfigError, match=r"unknown keys \['d_modle', 'layers'\]"):
        ModelConfig.from_dict({"d_modle": 64, "layers": 2})
    with pytest.raises(ModelConfigError, match="mapping"):
        ModelConfig.from_dict(["d_model"])


def test_config_is_frozen_and_evolve_revalidates() -> None:
    config = ModelConfig()
    with pytest.raises(AttributeError):
        config.d_model = 64  # type: ignore[misc]
    assert config.evolve(backend="torch").backend == "torch"
    with pytest.raises(ModelConfigError, match="backend"):
        config.evolve(backend="jax")
