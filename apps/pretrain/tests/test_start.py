"""How a run starts: the cyclic garbage collector is paused while the run is built and on again, with the
start's survivors frozen, when training starts; afterwards (or after an error) it is as it was."""

from __future__ import annotations

import gc

import pytest

import eeg_pretrain.trainer as trainer_module
from eeg_pretrain.cli import collector_paused_until_training, main


def test_the_collector_is_paused_while_the_run_is_built(
    tiny_corpus, tmp_path, make_config, write_config, monkeypatch
):
    seen = {}
    build, fit = trainer_module.Trainer.__init__, trainer_module.Trainer.fit

    def building(self, *args, **kwargs):
        seen["while building"] = gc.isenabled()
        build(self, *args, **kwargs)

    def training(self, *args, **kwargs):
        seen["while training"] = (gc.isenabled(), gc.get_freeze_count() > 0)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(trainer_module.Trainer, "__init__", building)
    monkeypatch.setattr(trainer_module.Trainer, "fit", training)
    config = write_config(make_config(tiny_corpus, tmp_path / "run", None, train={"epochs": 1}))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config)])
    assert info.value.code == 0
    assert seen == {"while building": False, "while training": (True, True)}
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_after_an_error_the_collector_is_as_it_was(tmp_path, make_config, write_config):
    config = write_config(make_config(tmp_path / "no-such-corpus", tmp_path / "run", None))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config)])
    assert info.value.code == 2
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    try:
        with collector_paused_until_training() as training_starts:
            training_starts()
            assert not gc.isenabled() and gc.get_freeze_count() > 0
        assert not gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.enable()
