from __future__ import annotations

import attrs
import pytest

from eeg_io import DataConfig

cattrs = pytest.importorskip("cattrs")
yaml = pytest.importorskip("yaml")

YAML = """
dataset_path: data/pretrain
window_length: 1024
include_channels: [Fz, Cz, pz]
exclude_channels: []
normalization: window
nan_policy: drop_window
max_windows: 64
crop: leading
cache_dir: /tmp/eeg-cache
cache_dtype: float16
num_workers: 2
batch_size: 16
val_ratio: 0.25
split_group: run
"""


def test_defaults():
    config = DataConfig(dataset_path="data")
    assert (config.window_length, config.include_channels, config.exclude_channels) == (
        2048,
        None,
        ("VEOG", "HEOG"),
    )
    assert (config.normalization, config.scale, config.nan_policy, config.max_windows, config.crop) == (
        "sequence", 1.0, "error", None, "random"
    )  # fmt: skip
    assert (config.cache_dir, config.cache_dtype, config.num_workers, config.val_ratio) == (
        None,
        "float32",
        0,
        0.2,
    )
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.window_length = 3


def test_structures_from_yaml_with_one_strict_converter():
    converter = cattrs.Converter(forbid_extra_keys=True)
    config = converter.structure(yaml.safe_load(YAML), DataConfig)
    assert config.include_channels == ("Fz", "Cz", "pz") and config.exclude_channels == ()
    assert (config.window_length, config.max_windows, config.cache_dtype, config.split_group) == (
        1024,
        64,
        "float16",
        "run",
    )
    assert converter.structure(converter.unstructure(config), DataConfig) == config
    with pytest.raises(Exception) as excinfo:
        converter.structure({**yaml.safe_load(YAML), "windowlength": 3}, DataConfig)
    assert "windowlength" in repr(excinfo.value) or "windowlength" in str(
        cattrs.transform_error(excinfo.value)
    )


def test_lists_become_tuples_so_the_config_is_hashable():
    config = DataConfig(dataset_path="d", include_channels=["Cz"], exclude_channels=["VEOG"])
    assert config.include_channels == ("Cz",) and hash(config)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset_path": ""}, "dataset_path must be a non-empty path string"),
        ({"window_length": 0}, "window_length must be a positive integer, got 0"),
        ({"window_length": True}, "window_length must be a positive integer"),
        ({"window_length": 2048.0}, "window_length must be a positive integer"),
        ({"include_channels": []}, "include_channels must name at least one channel"),
        ({"include_channels": ["Cz", "cz"]}, "include_channels names CZ twice"),
        ({"exclude_channels": "VEOG"}, "exclude_channels must be a list of channel names"),
        (
            {"normalization": "zscore"},
            "normalization must be one of 'sequence', 'window', 'none'; got 'zscore'",
        ),
        ({"nan_policy": "skip"}, "nan_policy must be one of"),
        ({"scale": 0.0, "normalization": "none"}, "scale must be a finite non-zero number"),
        ({"scale": 2.0}, "scale=2.0 only applies to normalization='none'"),
        ({"max_windows": -4}, "max_windows must be a positive integer"),
        ({"crop": "center"}, "crop must be one of"),
        ({"cache_dir": ""}, "cache_dir must be a non-empty path string"),
        ({"cache_dtype": "bfloat16"}, "cache_dtype must be one of"),
        ({"num_workers": -1}, "num_workers must be an integer >= 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"val_ratio": 1.0}, r"val_ratio must be a number in \[0, 1\)"),
        ({"split_group": "channel"}, "split_group must be one of"),
        ({"on_missing_channel": "ignore"}, "on_missing_channel must be one of"),
        ({"include_channels": ["Cz", "VEOG"]}, r"include_channels and exclude_channels both name \['VEOG'\]"),
    ],
)
def test_validators_name_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**{"dataset_path": "d", **kwargs})


def test_validator_messages_survive_cattrs():
    converter = cattrs.Converter(forbid_extra_keys=True)
    with pytest.raises(Exception) as excinfo:
        converter.structure({"dataset_path": "d", "normalization": "zscore"}, DataConfig)
    # cattrs' default formatter says only "invalid value"; an app's formatter that keeps ValueError
    # text (as STYLE.md asks) gets the field's message.
    lines = cattrs.transform_error(
        excinfo.value,
        format_exception=lambda exc, type_: str(exc) if isinstance(exc, ValueError) else repr(exc),
    )
    assert lines == ["DataConfig.normalization must be one of 'sequence', 'window', 'none'; got 'zscore' @ $"]


def test_data_errors_are_user_errors_and_value_errors():
    from eeg_config import UserError
    from eeg_io import EEGDataError

    # apps print a UserError in one line (exit 2); callers may catch either
    assert issubclass(EEGDataError, UserError) and issubclass(EEGDataError, ValueError)
