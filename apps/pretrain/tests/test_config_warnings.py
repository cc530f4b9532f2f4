"""A warning about the user's config is one line that names the key (issue #14), without the path of the
code that raised it (issue #26); a setting only the mamba_ssm kernels mind says nothing where they do not
run. Run as users run it, so what is printed is what they see."""

from __future__ import annotations

import os
import subprocess
import sys


def _print_config(path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eeg_pretrain.cli", "--config", str(path), "--print-config"],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_a_config_warning_is_one_line_naming_the_key(tiny_corpus, tmp_path, make_config, write_config):
    change = {"masking": {"style": "bert", "ratio": 0.6}}
    out = _print_config(write_config(make_config(tiny_corpus, tmp_path / "run", None, **change)))
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == [
        "warning: MaskingConfig.ratio: BERT-style masking at ratio 0.6 > 0.2: 10% of the selected windows "
        "stay unchanged, so at high ratios the model is scored on windows it can see; prefer style 'mae'"
    ]


def test_a_head_count_only_the_kernels_mind_says_nothing_without_them(
    tiny_corpus, tmp_path, make_config, write_config
):
    # 16 * 2 / 8 = 4 heads, backend auto: on a machine without CUDA the pure-PyTorch Mamba-2 runs it
    change = {"model": {"headdim": 8, "backend": "auto"}}
    out = _print_config(write_config(make_config(tiny_corpus, tmp_path / "run", None, **change)))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
