"""Warnings about a config name the key and come from the config's own module, not cattrs' generated code
(issue #14): run as users run it, so the printed origin is what they see."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("change", "module", "key"),
    [
        ({"model": {"headdim": 8}}, "eeg_ssm/config.py", "ModelConfig.headdim: 4 heads"),  # 16 * 2 / 8 = 4
        (
            {"masking": {"style": "bert", "ratio": 0.6}},
            "eeg_ssl/config.py",
            "MaskingConfig.ratio: BERT-style",
        ),
    ],
)
def test_config_warning_origin_is_the_config_module(
    change, module, key, tiny_corpus, tmp_path, make_config, write_config
):
    path = write_config(make_config(tiny_corpus, tmp_path / "run", None, **change))
    out = subprocess.run(
        [sys.executable, "-m", "eeg_pretrain.cli", "--config", str(path), "--print-config"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    warning_lines = [line for line in out.stderr.splitlines() if "UserWarning" in line]
    assert len(warning_lines) == 1, out.stderr
    assert module in warning_lines[0].replace(os.sep, "/") and key in warning_lines[0], out.stderr
    assert "cattrs generated" not in out.stderr
