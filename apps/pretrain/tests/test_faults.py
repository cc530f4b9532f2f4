"""Faults of the environment a long run meets (issue #24): a full disk, a tracking store that is not usable.

Each ends in one ``error: ...`` line and exit 2 (or the documented policy), with what is on disk intact.
The run-folder lock has its own file, ``test_run_lock.py``.
"""

from __future__ import annotations

import shutil

import pytest
import torch

from eeg_pretrain.cli import main

LAST = "mamba2_eeg_pretrained_last.pt"
BEST = "mamba2_eeg_pretrained.pt"


def run(args: list[str], capsys, expect: int = 0) -> str:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    assert info.value.code == expect, err
    if expect == 2:
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def one_epoch_done(tiny_corpus, tmp_path_factory, make_config):
    """A run configured for 2 epochs, stopped after 1: ``(folder, config dict)``."""
    import yaml

    root = tmp_path_factory.mktemp("one_epoch")
    cfg = make_config(tiny_corpus, root / "run", None, train={"epochs": 2})
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(path), "--stop-after-epochs", "1"])
    assert info.value.code == 0
    return root / "run", cfg


def test_a_full_disk_is_one_line_keeps_the_checkpoints_and_resume_continues_once_space_is_freed(
    one_epoch_done, tmp_path, write_config, capsys, full_disk
):
    source, cfg = one_epoch_done
    folder = tmp_path / "run"
    shutil.copytree(source, folder)
    config = write_config({**cfg, "train": {**cfg["train"], "save_dir": str(folder)}})
    resume = ["--config", str(config), "--resume", str(folder / LAST)]
    before = {name: (folder / name).read_bytes() for name in (LAST, BEST)}
    disk = full_disk(folder, free=8192)  # config.yaml fits, a checkpoint does not
    err = run(resume, capsys, expect=2)
    assert (
        f"error: {folder / LAST}: cannot write the checkpoint: no space left on the device (it needs" in err
    )
    assert f"{folder / LAST} is intact: free some space, then continue with --resume {folder / LAST}" in err
    assert {name: (folder / name).read_bytes() for name in (LAST, BEST)} == before
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]

    disk.free = 0  # not even the resolved config fits: the same one line, naming that file
    err = run(resume, capsys, expect=2)
    assert err == f"error: {folder / 'config.yaml'}: no space left on the device\n"

    disk.free = 10**10  # space freed
    run(resume, capsys)
    assert torch.load(folder / LAST, weights_only=True)["epoch"] == 2
    assert (folder / "summary.json").is_file()
