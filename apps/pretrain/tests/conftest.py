"""Fixtures of the pretrain app's tests (the tiny corpus and config come from the repository's conftest)."""

from __future__ import annotations

import pytest

from eeg_pretrain.cli import main


@pytest.fixture(scope="session")
def one_of_two_epochs(tiny_corpus, tmp_path_factory, make_config):
    """A run configured for 2 epochs, stopped after 1: ``(folder, config dict)``."""
    import yaml

    root = tmp_path_factory.mktemp("resumable")
    cfg = make_config(tiny_corpus, root / "run", None, train={"epochs": 2})
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(path), "--stop-after-epochs", "1"])
    assert info.value.code == 0
    return root / "run", cfg
