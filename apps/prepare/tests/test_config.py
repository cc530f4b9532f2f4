"""The processing config: documented defaults, strict parsing, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from eeg_config import ConfigError, unstructure
from eeg_prepare.config import (
    PrepareConfig,
    build_config,
    default_primary_name,
    load_config,
    settings_of,
)

REPO = Path(__file__).resolve().parents[3]
PROCESSING_YAML = REPO / "configs" / "processing.yaml"


def test_processing_yaml_spells_out_exactly_the_defaults():
    from_file = load_config(PROCESSING_YAML)
    assert unstructure(from_file) == unstructure(PrepareConfig())


def test_every_setting_of_processing_yaml_has_a_comment():
    import yaml

    flat_keys = set()

    def walk(node: dict, prefix: str = "") -> None:
        for key, value in node.items():
            if isinstance(value, dict) and value:
                walk(value, prefix + key + ".")
            else:
                flat_keys.add(key)

    walk(yaml.safe_load(PROCESSING_YAML.read_text()))
    lines = PROCESSING_YAML.read_text().splitlines()
    # A setting is documented on its line; one that appears in both commands' sections at least once.
    undocumented = sorted(
        key
        for key in flat_keys
        if not any(line.lstrip().startswith(f"{key}:") and "#" in line for line in lines)
    )
    assert undocumented == []


def test_defaults_match_the_issue():
    config = PrepareConfig()
    assert config.signal.sampling_rate == 256.0
    assert config.window_length == 2048
    assert config.primary.channels.pick == ("AF7", "AF8", "TP9", "TP10")
    assert default_primary_name(config) == "8s_af7-af8-tp9-tp10_primary_dataset.parquet"
    assert config.windows.incomplete == "drop"


def test_prepare_imports_neither_torch_nor_mlflow():
    import subprocess
    import sys

    code = (
        "import sys, eeg_prepare.cli, eeg_prepare.pipeline, eeg_prepare.tasks; "
        "print(sorted(m for m in ('torch', 'mlflow', 'eeg_pretrain') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_overrides_and_their_type_errors_name_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("windows:\n  window_seconds: 4\n")
    config = load_config(path, ["signal.notch=[50]", "primary.channels.pick=[Fz, Cz]"])
    assert config.window_length == 1024 and config.signal.notch == (50.0,)
    assert default_primary_name(config) == "4s_fz-cz_primary_dataset.parquet"
    with pytest.raises(ConfigError, match=r"expected float, got 'abc' @ \$\.windows\.window_seconds"):
        load_config(path, ["windows.window_seconds=abc"])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) sampling_rat @ \$\.signal"):
        load_config(path, ["signal.sampling_rat=100"])
    with pytest.raises(ConfigError, match=r"expected true or false, got 'yes!' @ \$\.windows\.remove_dc"):
        load_config(path, ["windows.remove_dc=yes!"])


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"signal": {"h_freq": 128.0}},
            r"h_freq 128 Hz must be below 128 Hz, half the sampling rate 256 Hz @ \$\.signal\.h_freq",
        ),
        (
            {"signal": {"l_freq": 50.0, "h_freq": 40.0}},
            r"l_freq 50 Hz must be below h_freq 40 Hz @ \$\.signal",
        ),
        ({"signal": {"notch": [200.0]}}, r"notch frequencies \[200\.0\] .* @ \$\.signal\.notch"),
        ({"signal": {"reference": "channels"}}, r"needs reference_channels .* @ \$\.signal"),
        ({"signal": {"reference": "bipolar"}}, r"@ \$\.signal\.reference"),
        (
            {"windows": {"window_seconds": 1.001}},
            r"windows\.window_seconds 1\.001 s is .* whole number of samples",
        ),
        ({"windows": {"overlap_seconds": 8.0}}, r"overlap_seconds 8 must be below window_seconds 8"),
        (
            {"windows": {"parent_window_seconds": 4.0}},
            r"parent_window_seconds 4 must be at least window_seconds 8",
        ),
        (
            {"artifacts": {"max_peak_to_peak_uv": -1.0}},
            r"max_peak_to_peak_uv must be a positive number or null, got -1.0 @ \$\.artifacts\.max_peak_to_peak_uv",
        ),
        ({"primary": {"channels": {"pick": ["AF7", "af7"]}}}, r"pick names AF7 twice"),
        (
            {"pretraining": {"input": {"root": "r", "pattern": "{run}.edf"}}},
            r"contain \{participant\}, got '\{run\}\.edf' @ \$\.pretraining\.input\.pattern",
        ),
        (
            {"pretraining": {"input": {"root": "r", "formats": ["mp3"]}}},
            r"expected formats among edf, bdf, .* @ \$\.pretraining\.input\.formats",
        ),
        ({"pretraining": {"channels": {"on_missing": "ignore"}}}, r"@ \$\.pretraining\.channels\.on_missing"),
        (
            {"windows": {"window_seconds": 2}, "artifacts": {"flat_seconds": 3.0}},
            r"flat_seconds 3 must not exceed",
        ),
    ],
)
def test_invalid_settings_are_one_line_naming_the_key(data, expected):
    with pytest.raises(ConfigError, match=expected):
        build_config(data, "test.yaml")


def test_settings_record_what_changes_the_numbers():
    base = PrepareConfig()
    other = build_config({"signal": {"notch": [50.0]}})
    assert settings_of(base, "pretraining") != settings_of(other, "pretraining")
    renamed = build_config({"pretraining": {"output_dir": "elsewhere"}})
    assert settings_of(base, "pretraining") == settings_of(renamed, "pretraining")
    assert "labels" in settings_of(base, "primary") and "labels" not in settings_of(base, "pretraining")


def test_set_keeps_a_pattern_in_braces_as_text():
    """YAML reads {participant} as a mapping; the pattern is text, so --set keeps it as typed."""
    config = load_config(None, ["pretraining.input.pattern={participant}", "pretraining.input.root=raw"])
    assert config.pretraining.input.pattern == "{participant}"
