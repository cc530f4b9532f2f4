"""A config that is not valid YAML is one line ``error: FILE:LINE:COL: problem`` in every command (issue #14)."""

from __future__ import annotations

import pytest

from eeg_finetune.cli import main as finetune
from eeg_prepare.cli import main as prepare
from eeg_pretrain.cli import main as pretrain
from eeg_sweep.cli import main as sweep

BROKEN = {
    # an unclosed flow sequence: PyYAML reports it where the next key starts
    "unclosed_bracket": (
        "data:\n  include_channels: [AF7, AF8\ntrain:\n  lr: 1\n",
        ":3:6: expected ',' or ']'",
    ),
    "tab_indent": ("data:\n\twindow_length: 64\n", ":2:1: found character '\\t' that cannot start any token"),
}
COMMANDS = {
    "pretrain": lambda path: pretrain(["--config", path]),
    "finetune": lambda path: finetune(["--config", path]),
    "sweep": lambda path: sweep(["--config", path, "--dry-run"]),
    "prepare": lambda path: prepare(["pretraining", "--config", path, "--dry-run"]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_yaml_syntax_error_is_one_line_with_file_line_and_column(command, case, tmp_path, capsys):
    text, expected = BROKEN[case]
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(SystemExit) as info:
        COMMANDS[command](str(path))
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.startswith(f"error: {path}{expected}"), err
    assert err.count("\n") == 1 and "^" not in err and "<unicode string>" not in err, err
