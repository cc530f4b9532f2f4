"""What a run keeps between starts (eeg_io.ResultCache): the band-power statistics are the computed ones,
are computed again when a file or a setting changes, and a run gives the same numbers with or without
the cache; a damaged cache changes nothing."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch

import eeg_io.result_cache as result_cache
import eeg_pretrain.data as pretrain_data
from eeg_io import CACHE_ENV, ChannelSequenceDataset, ResultCache, build_index
from eeg_pretrain.cli import main
from eeg_pretrain.data import STATISTICS_CACHE, fit_band_statistics
from eeg_ssm import BandPower

RATE = 32.0  # the tiny corpus's rate (conftest)
SPECTRAL = {"objective": {"target": "spectrum"}, "model": {"input": "spectrum", "tapers": 2}}


@pytest.fixture(autouse=True)
def _settled(monkeypatch):
    """The corpora here are written just before they are read: trusted however recently they changed
    (eeg_io.result_cache.SETTLE_NS; the wait has its own test in eeg-io)."""
    monkeypatch.setattr(result_cache, "SETTLE_NS", 0)


@pytest.fixture
def corpus(tiny_corpus, tmp_path):
    """A copy of the tiny corpus this test may change."""
    return shutil.copytree(tiny_corpus, tmp_path / "corpus")


def _dataset(corpus, **settings) -> ChannelSequenceDataset:
    return ChannelSequenceDataset(build_index(corpus), window_length=64, **settings)


def _fit(dataset, cache, batch_size=4, tapers=2, corpora=()) -> tuple[torch.Tensor, torch.Tensor]:
    band_power = BandPower(64, RATE, tapers=tapers)
    fit_band_statistics(band_power, dataset, 10, batch_size, torch.device("cpu"), corpora, cache=cache)
    return band_power.mean.clone(), band_power.std.clone()


def _no_computing(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the statistics were computed although they are cached")

    monkeypatch.setattr(pretrain_data, "_band_statistics", fail)


def test_cached_band_statistics_equal_the_computed(corpus, tmp_path, monkeypatch, caplog):
    cache = ResultCache(tmp_path / "cache")
    uncached = _fit(_dataset(corpus), None)
    first = _fit(_dataset(corpus), cache)
    assert list((tmp_path / "cache" / STATISTICS_CACHE).rglob("*.json"))
    _no_computing(monkeypatch)
    with caplog.at_level(logging.INFO, logger="eeg_pretrain"):
        again = _fit(_dataset(corpus), cache)
    for a, b, c in zip(uncached, first, again, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert any("kept from an earlier run" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"batch_size": 3}, id="batch size"),
        pytest.param({"tapers": 1}, id="tapers"),
        pytest.param({"dataset": {"normalization": "window"}}, id="normalization"),
        pytest.param({"dataset": {"max_windows": 8, "crop": "random", "seed": 1}}, id="crop"),
    ],
)
def test_a_changed_setting_computes_again(corpus, tmp_path, monkeypatch, change):
    cache = ResultCache(tmp_path / "cache")
    _fit(_dataset(corpus), cache)
    dataset = _dataset(corpus, **change.get("dataset", {}))
    kwargs = {k: v for k, v in change.items() if k != "dataset"}
    expected = _fit(dataset, None, **kwargs)
    _no_computing(monkeypatch)
    with pytest.raises(AssertionError, match="computed although"):  # a miss: it wants to compute
        _fit(dataset, cache, **kwargs)
    monkeypatch.undo()
    assert all(torch.equal(a, b) for a, b in zip(_fit(dataset, cache, **kwargs), expected, strict=True))


def test_a_changed_file_computes_again(corpus, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    before = _fit(_dataset(corpus), cache)
    files = sorted(corpus.rglob("*.parquet"))
    files[0].write_bytes(files[1].read_bytes())  # another recording under the same name
    expected = _fit(_dataset(corpus), None)
    assert not torch.equal(expected[0], before[0])
    assert all(torch.equal(a, b) for a, b in zip(_fit(_dataset(corpus), cache), expected, strict=True))


def _equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_a_pool_keeps_its_mixture_and_another_share_computes_again(corpus, tmp_path, monkeypatch):
    dataset = _dataset(corpus)
    count = len(dataset)
    first = count // 3
    pools = {
        "even": [("a", first, 0.5), ("b", count - first, 0.5)],
        "tilted": [("a", first, 0.2), ("b", count - first, 0.8)],
    }
    expected = {name: _fit(dataset, None, corpora=parts) for name, parts in pools.items()}
    assert not _equal(expected["even"], expected["tilted"])
    cache = ResultCache(tmp_path / "cache")
    assert _equal(_fit(dataset, cache, corpora=pools["even"]), expected["even"])
    assert _equal(_fit(dataset, cache, corpora=pools["tilted"]), expected["tilted"])  # a miss: computed
    assert not _equal(_fit(dataset, cache), expected["even"])  # one corpus: not the pool's entry
    _no_computing(monkeypatch)
    for name, parts in pools.items():
        assert _equal(_fit(dataset, cache, corpora=parts), expected[name])


def _pretrain(config_path, save_dir) -> dict:
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config_path), "--set", f"train.save_dir={save_dir}"])
    assert info.value.code == 0
    payload = torch.load(save_dir / "mamba2_eeg_pretrained_last.pt", weights_only=True)
    summary = json.loads((save_dir / "summary.json").read_text())
    where_and_when = ("mlflow_run_id", "checkpoint", "wall_seconds")  # the rest are the run's figures
    return {
        "model": payload["model"],
        "record": payload["pretraining_data"],
        "summary": {k: v for k, v in summary.items() if k not in where_and_when},
    }


def _without_cold_warm(config_path, tmp_path, monkeypatch, caplog) -> tuple[dict, dict, dict]:
    """The run with the cache off, then with an empty cache, then again with the cache it filled (its
    INFO records captured)."""
    monkeypatch.setenv(CACHE_ENV, "off")
    without = _pretrain(config_path, tmp_path / "off")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    cold = _pretrain(config_path, tmp_path / "cold")
    with caplog.at_level(logging.INFO, logger="eeg_pretrain"):
        warm = _pretrain(config_path, tmp_path / "warm")
    return without, cold, warm


def test_a_run_gives_the_same_numbers_with_and_without_the_cache(
    tiny_corpus, tmp_path, make_config, write_config, monkeypatch, caplog
):
    config = write_config(make_config(tiny_corpus, tmp_path / "unused", None, **SPECTRAL))
    without, cold, warm = _without_cold_warm(config, tmp_path, monkeypatch, caplog)
    assert any("kept from an earlier run" in r.getMessage() for r in caplog.records)
    assert without["summary"] == cold["summary"] == warm["summary"]
    assert without["record"] == cold["record"] == warm["record"]  # the fingerprints of finetune's guard
    for name, value in without["model"].items():
        assert torch.equal(value, cold["model"][name]) and torch.equal(value, warm["model"][name]), name


def test_a_pooled_run_gives_the_same_numbers_with_and_without_the_cache(
    tmp_path, make_config, write_config, monkeypatch, caplog
):
    from eeg_io import write_synthetic_corpus

    for name, channels, people, seed in (("blink", ["FP1", "FP2", "C3"], 4, 0), ("eyes", ["C3", "C4"], 3, 1)):
        write_synthetic_corpus(tmp_path / name, participants=people, channels=channels, windows_per_run=8,
                               window_length=64, sfreq=RATE, seed=seed, dynamics=False)  # fmt: skip
    config = make_config(tmp_path / "unused", tmp_path / "unused", None, **SPECTRAL)
    config["data"].pop("dataset_path")
    config["data"].pop("window_length")  # the corpora's
    config["data"]["corpora"] = [
        {"path": str(tmp_path / "blink")},
        {"path": str(tmp_path / "eyes"), "weight": 2},
    ]
    path = write_config(config)
    without, cold, warm = _without_cold_warm(path, tmp_path, monkeypatch, caplog)
    kept = [r.getMessage() for r in caplog.records if "kept from an earlier run" in r.getMessage()]
    assert kept and "the pool's mixture" in kept[0]
    kinds = {e.relative_to(tmp_path / "cache").parts[0] for e in (tmp_path / "cache").rglob("*.json")}
    assert kinds == {"data-checks", "fingerprints", STATISTICS_CACHE}
    assert without["summary"] == cold["summary"] == warm["summary"]
    assert without["record"] == cold["record"] == warm["record"]
    for name, value in without["model"].items():
        assert torch.equal(value, cold["model"][name]) and torch.equal(value, warm["model"][name]), name


def test_a_damaged_cache_changes_nothing(tiny_corpus, tmp_path, make_config, write_config, monkeypatch):
    config = write_config(make_config(tiny_corpus, tmp_path / "unused", None, **SPECTRAL))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    first = _pretrain(config, tmp_path / "first")
    entries = list((tmp_path / "cache").rglob("*.json"))
    kinds = {e.relative_to(tmp_path / "cache").parts[0] for e in entries}
    assert kinds == {"data-checks", "fingerprints", STATISTICS_CACHE}
    for entry in entries:
        entry.write_text("{damaged")
    second = _pretrain(config, tmp_path / "second")
    assert first["summary"] == second["summary"] and first["record"] == second["record"]
    assert all(torch.equal(v, second["model"][k]) for k, v in first["model"].items())


def test_bad_input_still_exits_2_with_one_line(tmp_path, make_config, write_config, monkeypatch, capsys):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    config = write_config(make_config(tmp_path / "no-such-corpus", tmp_path / "run", None, **SPECTRAL))
    with pytest.raises(SystemExit) as info:
        main(["--config", str(config)])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if line.startswith("error:")]) == 1, err
