"""Progress: a bar on a terminal, plain lines (no carriage returns) in log files and under CI."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from eeg_config.progress import PlainProgress, interactive, progress

log = logging.getLogger("eeg_config.tests.progress")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("stream", "ci", "expected"),
    [
        (Terminal(), None, True),
        (Terminal(), "false", True),
        (Terminal(), "true", False),  # CI services that emulate a terminal still get plain lines
        (Terminal(), "1", False),
        (io.StringIO(), None, False),  # a file or a pipe
    ],
)
def test_interactive_means_a_terminal_outside_ci(stream, ci, expected, monkeypatch):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    assert interactive(stream) is expected


def test_a_log_file_gets_plain_lines_at_most_every_interval(caplog):
    clock = Clock()
    bar = PlainProgress(total=800, description="epoch 1/5", unit="batch", log=log, every=30.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=log.name):
        for step in range(1, 801):
            clock.now += 0.125  # 8 batches/s: 100 s for the epoch
            bar.update(1)  # as the trainer does: the postfix shown is the step before's
            bar.set_postfix({"loss": f"{1 / step:.4f}"}, lr="3.00e-03")  # tqdm's two forms
        bar.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "epoch 1/5: 240/800 batches (30%), 8 batches/s, about 70 s left; loss 0.0042, lr 3.00e-03",
        "epoch 1/5: 480/800 batches (60%), 8 batches/s, about 40 s left; loss 0.0021, lr 3.00e-03",
        "epoch 1/5: 720/800 batches (90%), 8 batches/s, about 10 s left; loss 0.0014, lr 3.00e-03",
    ]
    assert not any("\r" in line for line in lines)


def test_work_shorter_than_the_interval_writes_nothing_and_disable_writes_nothing(caplog):
    clock = Clock()
    quick = PlainProgress(total=10, description="quick", unit="file", log=log, every=30.0, clock=clock)
    off = PlainProgress(
        total=10, description="off", unit="file", log=log, every=0.0, disable=True, clock=clock
    )
    with caplog.at_level(logging.INFO, logger=log.name):
        for _ in range(10):
            clock.now += 1.0
            quick.update()
            off.update()
    assert caplog.records == []


def test_slow_work_is_counted_in_seconds_per_unit_and_iteration_updates(caplog):
    clock = Clock()
    files = ["a.parquet", "b.parquet", "c.parquet"]
    bar = PlainProgress(
        files, total=3, description="data checks", unit="file", log=log, every=10.0, clock=clock
    )
    seen = []
    with caplog.at_level(logging.INFO, logger=log.name):
        for file in bar:
            clock.now += 12.0
            seen.append(file)
    assert seen == files
    assert [r.getMessage() for r in caplog.records] == [
        "data checks: 1/3 files (33%), 12 s per file, about 24 s left",
        "data checks: 2/3 files (67%), 12 s per file, about 12 s left",
        "data checks: 3/3 files (100%), 12 s per file",
    ]


def test_progress_is_plain_off_a_terminal_and_a_bar_on_one(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(progress(total=3, description="x", log=log), PlainProgress)
    assert len(list(progress([1, 2, 3], description="x", log=log))) == 3
    tqdm = pytest.importorskip("tqdm").tqdm
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = progress(total=3, description="x", log=log)
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setenv("CI", "true")
    assert isinstance(progress(total=3, description="x", log=log), PlainProgress)


def test_lines_go_to_a_function_for_commands_that_print_instead_of_logging():
    clock, lines = Clock(), []
    bar = PlainProgress(
        total=4, description="pretraining", unit="recording", log=lines.append, every=5.0, clock=clock
    )
    for _ in range(4):
        clock.now += 5.0
        bar.update()
    assert (
        lines[0] == "pretraining: 1/4 recordings (25%), 5 s per recording, about 15 s left"
        and len(lines) == 4
    )
