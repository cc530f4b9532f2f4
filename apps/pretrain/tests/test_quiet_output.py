"""What a normal CPU run prints (issue #26): no warning, nothing about mamba_ssm, and where the output goes
to a file (or runs under CI) plain progress lines instead of a bar, so no carriage return lands in a log."""

from __future__ import annotations

import logging
import re

import pytest

import eeg_config.progress
import eeg_pretrain.data_report
from eeg_pretrain.cli import main

PROGRESS_LINE = re.compile(r"[\w\- /]+: \d+/\d+ \w+ \(\d+%\)")  # "epoch 2/2: 3/6 batches (50%), ..."


def test_a_cpu_run_logs_plain_progress_lines_and_nothing_about_mamba_ssm(
    tiny_corpus, tmp_path, make_config, write_config, monkeypatch, capsys, caplog
):
    monkeypatch.delenv("CI", raising=False)  # plain lines because stderr is captured (not a terminal)
    # a line at every step instead of every 30 s (10 s for the start-up stages): no timing in the test
    monkeypatch.setattr(eeg_config.progress, "PLAIN_SECONDS", 0.0)
    monkeypatch.setattr(eeg_pretrain.data_report, "STARTUP_PROGRESS_SECONDS", 0.0)
    # a result cache of its own: band statistics another test kept would skip their progress lines
    monkeypatch.setenv("EEG_MAMBA_CACHE_DIR", str(tmp_path / "result-cache"))
    config = make_config(
        tiny_corpus,
        tmp_path / "run",
        None,
        # backend auto with 4 heads (16 * 2 / 8): only the mamba_ssm kernels would mind, and they do not run
        model={"backend": "auto", "headdim": 8, "input": "spectrum"},
        objective={"target": "spectrum"},  # band statistics: a start-up stage with progress
        train={"quiet": False, "epochs": 2},
    )
    caplog.set_level(logging.INFO)  # everything a user sees
    caplog.set_level(logging.DEBUG, logger="eeg_ssm")
    with pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config))])
    assert info.value.code == 0
    out = capsys.readouterr()
    shown = [r for r in caplog.records if r.levelno >= logging.INFO]
    printed = out.out + out.err + "\n".join(r.getMessage() for r in shown)
    assert "\r" not in printed
    assert "mamba_ssm" not in printed
    assert [r.getMessage() for r in shown if r.levelno >= logging.WARNING] == []
    assert "warning:" not in printed and "Warning" not in printed  # run_cli's line, or Python's (UserWarning)
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "eeg_pretrain" and PROGRESS_LINE.match(r.getMessage())
    ]
    assert any(line.startswith("data checks: ") and " files (" in line for line in lines), lines
    assert any(line.startswith("band-power statistics: ") and " sequences (" in line for line in lines), lines
    assert any(
        line.startswith("epoch 2/2: ") and " batches (" in line and "; loss " in line for line in lines
    )
    assert any(line.startswith("validation 1/2: ") for line in lines), lines
    # the pure-PyTorch choice is still there for whoever asks (DEBUG)
    assert any("pure-PyTorch" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_quiet_shows_no_progress_at_all(
    tiny_corpus, tmp_path, make_config, write_config, monkeypatch, caplog
):
    monkeypatch.setattr(eeg_config.progress, "PLAIN_SECONDS", 0.0)
    monkeypatch.setattr(eeg_pretrain.data_report, "STARTUP_PROGRESS_SECONDS", 0.0)
    config = make_config(tiny_corpus, tmp_path / "run", None, train={"quiet": True, "epochs": 1})
    with caplog.at_level(logging.INFO, logger="eeg_pretrain"), pytest.raises(SystemExit) as info:
        main(["--config", str(write_config(config))])
    assert info.value.code == 0
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if PROGRESS_LINE.match(m)], messages
    assert any(m.startswith("epoch 1/1: train loss") for m in messages)  # the epoch's own line stays
