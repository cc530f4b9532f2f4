"""The result cache (eeg_io.ResultCache): where it lives, what invalidates an entry, and the data checks read
through it giving the same report as without it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import eeg_io.data_checks as data_checks
import eeg_io.result_cache as result_cache
from eeg_io import CACHE_ENV, ResultCache, file_fingerprints, file_key, write_synthetic_corpus
from eeg_io.data_checks import check_data
from eeg_io.result_cache import code_key, default_cache_root

CHANNELS = ["C3", "C4", "CZ"]


@pytest.fixture(autouse=True)
def _settled(monkeypatch):
    """The files these tests write are used at once: trusted however recently they changed (the wait for a
    file to settle has its own test)."""
    monkeypatch.setattr(result_cache, "SETTLE_NS", 0)


@pytest.fixture
def corpus(tmp_path: Path) -> list[Path]:
    return write_synthetic_corpus(
        tmp_path / "corpus",
        participants=3,
        channels=CHANNELS,
        windows_per_run=6,
        window_length=32,
        sfreq=32.0,
    )


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "mine"))
    assert default_cache_root() == tmp_path / "mine"
    monkeypatch.setenv(CACHE_ENV, "off")
    assert default_cache_root() is None and not ResultCache.default().enabled
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_root() == tmp_path / "xdg" / "eeg-mamba"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_root() == tmp_path / "home" / ".cache" / "eeg-mamba"


def test_store_and_load(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    key = cache.key("a", [1, 2.5], {"x": None})
    assert cache.load("kind", key) is None
    cache.store("kind", key, {"mean": [0.1, 0.2]})
    assert cache.load("kind", key) == {"mean": [0.1, 0.2]}
    assert cache.key("a", [1, 2.5], {"x": None}) == key
    assert cache.key("a", [1, 2.5], {"x": 0}) != key
    # a damaged or foreign entry is a miss, never an error
    cache.path("kind", key).write_text("{not json")
    assert cache.load("kind", key) is None
    cache.path("kind", key).write_text('{"key": "another", "value": 1}')
    assert cache.load("kind", key) is None


def test_a_group_keeps_only_its_newest_entry(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    first, second = cache.key(1), cache.key(2)
    cache.store("kind", first, 1, group="file.parquet")
    cache.store("kind", second, 2, group="file.parquet")
    assert cache.load("kind", first, group="file.parquet") is None
    assert cache.load("kind", second, group="file.parquet") == 2
    assert len(list(cache.path("kind", second, group="file.parquet").parent.iterdir())) == 1


def test_an_unwritable_cache_is_skipped(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cache = ResultCache(blocker / "cache")  # a folder under a regular file cannot be made
    assert cache.store("kind", cache.key(1), 1) is None
    assert cache.load("kind", cache.key(1)) is None


def test_the_cache_off_holds_nothing():
    cache = ResultCache(None)
    assert cache.store("kind", cache.key(1), 1) is None and cache.load("kind", cache.key(1)) is None


def test_file_key_changes_with_any_write(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"a" * 100)
    before = file_key(path)
    assert file_key(path) == before
    stat = os.stat(path)
    path.write_bytes(b"b" * 100)  # the same size, and the modification time set back
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = file_key(path)
    assert after[3:5] == before[3:5]  # size and mtime alone would not tell
    assert after != before


def test_a_file_replaced_by_another_has_another_key(tmp_path):
    path, other = tmp_path / "x.bin", tmp_path / "y.bin"
    path.write_bytes(b"a" * 100)
    other.write_bytes(b"b" * 100)
    before = file_key(path)
    stat = os.stat(path)
    os.utime(other, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(other, path)  # an atomic rewrite: same name, size and mtime
    assert file_key(path) != before


def test_a_file_that_just_changed_is_neither_stored_nor_read(corpus, tmp_path, monkeypatch):
    """Within SETTLE_NS of its last change a file's key matches no other (a second write in the same tick
    of a coarse file-system clock would leave its times as they were), so its results are not kept."""
    monkeypatch.setattr(result_cache, "SETTLE_NS", 3600 * 10**9)  # every file here changed within the hour
    assert file_key(corpus[0]) != file_key(corpus[0])
    cache = ResultCache(tmp_path / "cache")
    first = _report(corpus, cache)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.json"))
    assert [file_fingerprints(p, ["C3"], cache=cache) for p in corpus] == [
        file_fingerprints(p, ["C3"]) for p in corpus
    ]
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.json"))
    monkeypatch.setattr(result_cache, "SETTLE_NS", 0)  # later: the files have settled
    assert _report(corpus, cache) == first
    assert list((tmp_path / "cache" / "data-checks").rglob("*.json"))


def test_code_key_depends_on_the_code_and_the_versions():
    assert code_key(("eeg_io",), ("numpy",)) == code_key(("eeg_io",), ("numpy",))
    assert code_key(("eeg_io",), ("numpy",)) != code_key(("eeg_io",), ("numpy", "pyarrow"))
    assert code_key(("eeg_io",)) != code_key(("eeg_io.data_checks",))


def _report(paths, cache=None, rate=32.0):
    report = check_data(paths, sampling_rate=rate, cache=cache)
    return report.warnings, dict(report.counts), report.duplicate_files, report.duplicate_windows


def _duplicate(corpus: list[Path]) -> None:
    """Make the last file a copy of the first (a duplicate recording) without changing its size."""
    corpus[-1].write_bytes(corpus[0].read_bytes())


def test_data_checks_from_the_cache_equal_the_checks(corpus, tmp_path, monkeypatch):
    cache = ResultCache(tmp_path / "cache")
    _duplicate(corpus)
    uncached = _report(corpus)
    assert uncached[1] == {"duplicate_recording": 1}
    assert _report(corpus, cache) == uncached  # computed and stored

    def no_reading(*args, **kwargs):
        raise AssertionError("a file was read although its findings are cached")

    monkeypatch.setattr(data_checks, "_summarise", no_reading)
    assert _report(corpus, cache) == uncached  # every file from the cache


def test_a_changed_file_is_checked_again(corpus, tmp_path, monkeypatch):
    cache = ResultCache(tmp_path / "cache")
    assert _report(corpus, cache)[1] == {}
    _duplicate(corpus)  # same size: only its content (and status-change time) differ
    uncached = _report(corpus)
    assert uncached[1] == {"duplicate_recording": 1}
    read = []
    summarise = data_checks._summarise
    monkeypatch.setattr(data_checks, "_summarise", lambda file, *a: read.append(file) or summarise(file, *a))
    assert _report(corpus, cache) == uncached
    assert read == [corpus[-1]]  # the others came from the cache
    entries = list((tmp_path / "cache" / "data-checks").rglob("*.json"))
    assert len(entries) == len(corpus)  # the changed file's old entry was replaced


def test_a_changed_setting_checks_again(corpus, tmp_path, monkeypatch):
    cache = ResultCache(tmp_path / "cache")
    at_32 = _report(corpus, cache)
    at_16 = _report(corpus, cache, rate=16.0)
    assert at_16 == _report(corpus, rate=16.0) and at_16 != at_32
    assert at_16[1]["window_duration"] == 3 * 6  # every window is twice as long as 16 Hz would have it


def test_flat_and_duplicate_windows_survive_the_cache(tmp_path):
    """Row digests (None for a window flat in every channel) and findings round-trip exactly."""
    from eeg_io.layout import windows_table, write_table

    rng = np.random.default_rng(0)
    channels = {c: rng.standard_normal((5, 16)) for c in CHANNELS}
    channels["C3"][2] = 0.0  # a flat window in one channel
    for c in CHANNELS:
        channels[c][4] = channels[c][1]  # a duplicate window
        channels[c][3] = 1.0  # a window flat in every channel (no duplicate of another)
    starts = np.arange(5, dtype=np.float64) * 0.5
    path = tmp_path / "f.parquet"
    write_table(
        windows_table(channels, participant="p", run="1", window_start=starts, window_end=starts + 0.5), path
    )
    cache = ResultCache(tmp_path / "cache")
    fresh = _report([path], cache, rate=32.0)
    assert fresh[1]["duplicate_window"] == 1 and fresh[1]["flat_window"] >= 1
    assert _report([path], cache, rate=32.0) == fresh


def test_fingerprints_from_the_cache_equal_the_read_ones(corpus, tmp_path, monkeypatch):
    import eeg_io.fingerprint as fingerprint

    cache = ResultCache(tmp_path / "cache")
    expected = [file_fingerprints(path, ["c4", "C3"]) for path in corpus]
    assert [file_fingerprints(path, ["c4", "C3"], cache=cache) for path in corpus] == expected
    corpus[0].write_bytes(corpus[1].read_bytes())  # another recording under the first name
    read = []
    original = fingerprint._file_fingerprints
    monkeypatch.setattr(
        fingerprint, "_file_fingerprints", lambda path, *a: read.append(path) or original(path, *a)
    )
    again = [file_fingerprints(path, ["c4", "C3"], cache=cache) for path in corpus]
    assert read == [corpus[0]]  # the changed file only
    assert again == [expected[1], *expected[1:]]
    assert file_fingerprints(corpus[2], ["C3"], cache=cache) == expected[2][2:]  # other channels: read again
