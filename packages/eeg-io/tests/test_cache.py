from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import eeg_io.dataset
from eeg_io import ChannelSequenceDataset, EEGDataError, build_index, collate_sequences

from .conftest import write_file


def forbid_parquet_reads(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("read Parquet although the cache holds the sequence")

    monkeypatch.setattr(eeg_io.dataset, "read_channel_windows", fail)


def entries(cache_dir) -> list:
    return sorted(p for p in cache_dir.rglob("*.npy"))


def test_second_read_comes_from_the_cache(corpus, tmp_path, monkeypatch):
    items = build_index(corpus)[:6]
    cache_dir = tmp_path / "cache"
    plain = ChannelSequenceDataset(items, 32, max_windows=4, seed=2)
    cached = ChannelSequenceDataset(items, 32, max_windows=4, seed=2, cache_dir=str(cache_dir))
    first = [cached[i]["windows"] for i in range(6)]
    assert len(entries(cache_dir)) == 6
    expected = {}
    for epoch in (0, 1):
        plain.set_epoch(epoch)
        expected[epoch] = [plain[i]["windows"] for i in range(6)]
    assert all(torch.equal(a, b) for a, b in zip(first, expected[0], strict=True))
    forbid_parquet_reads(monkeypatch)
    for epoch in (0, 1):
        cached.set_epoch(epoch)
        for i in range(6):
            hit = cached[i]["windows"]
            assert hit.is_contiguous() and hit.shape == (4, 32)
            assert torch.equal(hit, expected[epoch][i])
    assert not any(p.name.endswith(".tmp") for p in cache_dir.rglob("*"))


def test_counts_survive_the_cache(tmp_path, monkeypatch):
    write_file(tmp_path / "data" / "f.parquet", {"Cz": [[1.0, 2.0, 3.0], [4.0, 5.0]]})
    dataset = ChannelSequenceDataset(build_index(tmp_path / "data"), 4, cache_dir=str(tmp_path / "cache"))
    miss = dataset[0]
    forbid_parquet_reads(monkeypatch)
    hit = dataset[0]
    assert miss["padded_windows"] == hit["padded_windows"] == 2
    assert torch.equal(miss["windows"], hit["windows"])
    assert dataset.padded_windows == 4


def test_a_changed_file_is_read_again(tmp_path):
    path = write_file(tmp_path / "data" / "f.parquet", {"Cz": [[1.0, 2.0], [3.0, 4.0]]})
    cache_dir = tmp_path / "cache"
    dataset = ChannelSequenceDataset(build_index(path), 2, normalization="none", cache_dir=str(cache_dir))
    assert dataset[0]["windows"].tolist() == [[1, 2], [3, 4]]
    old_entry = entries(cache_dir)

    # New content with a new mtime (set explicitly: coarse file-system clocks may not tick).
    stat = path.stat()
    write_file(path, {"Cz": [[5.0, 6.0], [7.0, 8.0]]})
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert dataset[0]["windows"].tolist() == [[5, 6], [7, 8]]
    assert len(entries(cache_dir)) == 1 and entries(cache_dir) != old_entry  # the stale version is gone

    # Same mtime, different size: still a different file.
    stat = path.stat()
    write_file(path, {"Cz": [[9.0, 9.5], [1.0, 1.5], [2.0, 2.5]]})
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size != stat.st_size
    assert dataset[0]["windows"].tolist() == [[9, 9.5], [1, 1.5], [2, 2.5]]


def test_settings_are_part_of_the_key(corpus, tmp_path):
    items = build_index(corpus)[:1]
    raw = ChannelSequenceDataset(items, 32, normalization="none", cache_dir=str(tmp_path))[0]["windows"]
    normalised = ChannelSequenceDataset(items, 32, normalization="sequence", cache_dir=str(tmp_path))[0][
        "windows"
    ]
    shorter = ChannelSequenceDataset(items, 16, normalization="none", cache_dir=str(tmp_path))[0]["windows"]
    assert len(entries(tmp_path)) == 3
    assert not torch.equal(raw, normalised)
    assert torch.equal(shorter, raw[:, :16])


def test_float16_cache_rounds_the_same_on_miss_and_hit(corpus, tmp_path, monkeypatch):
    items = build_index(corpus)[:2]
    exact = ChannelSequenceDataset(items, 32)[1]["windows"]
    half = ChannelSequenceDataset(items, 32, cache_dir=str(tmp_path), cache_dtype="float16")
    miss = half[1]["windows"]
    (entry,) = entries(tmp_path)
    assert np.load(entry).dtype == np.float16
    forbid_parquet_reads(monkeypatch)
    hit = half[1]["windows"]
    assert hit.dtype == torch.float32 and torch.equal(miss, hit)
    assert torch.equal(hit, exact.half().float())
    assert (hit - exact).abs().max() < 5e-3


def test_float16_overflow_is_reported(tmp_path):
    write_file(tmp_path / "data" / "f.parquet", {"Cz": [[1e6, 2.0]]})
    dataset = ChannelSequenceDataset(
        build_index(tmp_path / "data"),
        2,
        normalization="none",
        cache_dir=str(tmp_path / "c"),
        cache_dtype="float16",
    )
    with pytest.raises(EEGDataError, match=r"f\.parquet: channel CZ: values overflow float16"):
        dataset[0]


def test_corrupt_entries_are_rewritten(corpus, tmp_path):
    items = build_index(corpus)[:1]
    dataset = ChannelSequenceDataset(items, 32, cache_dir=str(tmp_path))
    expected = dataset[0]["windows"]
    (entry,) = entries(tmp_path)
    entry.write_bytes(entry.read_bytes()[:100])  # e.g. a crash of the machine mid-write
    assert torch.equal(dataset[0]["windows"], expected)
    assert np.load(entry).shape == (6, 32)


def test_workers_fill_one_cache_concurrently(corpus, tmp_path):
    items = build_index(corpus)[:8]
    cache_dir = tmp_path / "cache"
    dataset = ChannelSequenceDataset(items, 32, cache_dir=str(cache_dir))
    # Every index twice in a row: the two workers race to write the same entry.
    order = [i for i in range(8) for _ in range(2)]
    loader = DataLoader(dataset, batch_size=1, sampler=order, num_workers=2, collate_fn=collate_sequences)
    got = [batch["windows"][0] for batch in loader]
    plain = ChannelSequenceDataset(items, 32)
    for position, index in enumerate(order):
        assert torch.equal(got[position], plain[index]["windows"])
    assert len(entries(cache_dir)) == 8
    assert not any(p.name.endswith(".tmp") for p in cache_dir.rglob("*"))
    for entry in entries(cache_dir):
        assert np.load(entry).shape == (6, 32)
    shutil.rmtree(cache_dir)
