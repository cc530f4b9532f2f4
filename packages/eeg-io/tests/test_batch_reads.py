"""Batch reads: ``__getitems__`` reads a batch into one tensor, ``collate_sequences`` hands it out without a
copy, and cache entries stay memory-mapped between epochs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from eeg_io import ChannelSequenceDataset, EEGDataError, build_index, collate_sequences
from eeg_io.cache import DecodedCache, MappedEntries

from .conftest import write_file


@pytest.fixture
def uneven(tmp_path):
    """Three files of 2, 5 and 3 windows (so a batch of them is padded)."""
    rng = np.random.default_rng(0)
    for name, rows in (("a", 2), ("b", 5), ("c", 3)):
        write_file(
            tmp_path / "data" / f"{name}.parquet",
            {"Cz": rng.standard_normal((rows, 8)).tolist(), "Fz": rng.standard_normal((rows, 8)).tolist()},
            participant=name,
        )
    return build_index(tmp_path / "data")


@pytest.mark.parametrize("cached", [False, True])
def test_a_batch_read_equals_reading_each_sequence(uneven, tmp_path, cached):
    cache_dir = str(tmp_path / "cache") if cached else None
    dataset = ChannelSequenceDataset(uneven, 8, cache_dir=cache_dir, max_windows=4, seed=1)
    one_by_one = ChannelSequenceDataset(uneven, 8, max_windows=4, seed=1)
    indices = [5, 0, 2, 3]
    for _ in range(2):  # the second round reads from the cache (mapped entries) when cached
        samples = dataset.__getitems__(indices)
        expected = [one_by_one[i] for i in indices]
        for got, want in zip(samples, expected, strict=True):
            assert torch.equal(got["windows"], want["windows"])
            assert {k: v for k, v in got.items() if k != "windows"} == {
                k: v for k, v in want.items() if k != "windows"
            }
    assert dataset.sequences_read == 8

    batch = collate_sequences(samples)
    reference = collate_sequences(expected)  # separate tensors: stacked
    assert torch.equal(batch["windows"], reference["windows"]) and batch["lengths"].tolist() == [3, 2, 4, 4]
    # handed out without a copy: the samples' windows are rows of the batch tensor
    assert batch["windows"].untyped_storage().data_ptr() == samples[0]["windows"].untyped_storage().data_ptr()
    assert (batch["windows"][~batch["valid"]] == 0).all()


def test_the_collate_fast_path_takes_only_its_exact_layout():
    buffer = torch.full((3, 4, 2), 7.0)  # garbage everywhere, also where the padding goes
    lengths = [4, 1, 3]
    samples = [{"windows": buffer[b, :n], "channel": "CZ", "participant": "p", "run": "1", "file": "f"}
               for b, n in enumerate(lengths)]  # fmt: skip
    batch = collate_sequences(samples)
    assert batch["windows"].data_ptr() == buffer.data_ptr()
    assert (batch["windows"][~batch["valid"]] == 0).all() and (batch["windows"][batch["valid"]] == 7).all()
    # reordered rows, a foreign tensor, or a wider storage: stacked into a new tensor instead
    for changed in (samples[::-1], [*samples[:2], {**samples[2], "windows": torch.ones(3, 2)}]):
        stacked = collate_sequences(changed)
        assert stacked["windows"].data_ptr() != buffer.data_ptr()
        assert torch.equal(
            stacked["windows"][0],
            torch.cat([changed[0]["windows"], torch.zeros(4 - len(changed[0]["windows"]), 2)]),
        )
    wider = torch.zeros(4, 4, 2)
    rows = [{**s, "windows": wider[b, : len(s["windows"])]} for b, s in enumerate(samples)]
    assert collate_sequences(rows)["windows"].data_ptr() != wider.data_ptr()


def test_cache_entries_stay_mapped_between_epochs(uneven, tmp_path, monkeypatch):
    dataset = ChannelSequenceDataset(uneven, 8, cache_dir=str(tmp_path / "cache"))
    first = [dataset[i]["windows"] for i in range(len(dataset))]  # decode + write the entries
    second = [dataset[i]["windows"] for i in range(len(dataset))]  # open, map and keep them
    assert len(dataset._mapped) == len(dataset)

    def no_file_reads(*args, **kwargs):
        raise AssertionError("opened a cache entry that is kept mapped")

    monkeypatch.setattr(DecodedCache, "open", no_file_reads)
    third = [dataset[i]["windows"] for i in range(len(dataset))]
    assert all(torch.equal(a, b) and torch.equal(a, c) for a, b, c in zip(first, second, third, strict=True))
    clone = pickle.loads(pickle.dumps(dataset))  # a worker's copy starts without mappings
    assert clone._mapped is None


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_full_mapping_budget_falls_back_to_plain_reads(uneven, tmp_path, dtype):
    dataset = ChannelSequenceDataset(uneven, 8, cache_dir=str(tmp_path / "cache"), cache_dtype=dtype)
    expected = [dataset[i]["windows"] for i in range(len(dataset))]  # decoded (rounded through float16)
    dataset._mapped = MappedEntries(max_entries=2)  # keep two; read the others from their files every time
    got = [dataset[i]["windows"] for _ in range(2) for i in range(len(dataset))]
    assert len(dataset._mapped) == 2
    assert all(torch.equal(a, b) for a, b in zip(got, expected * 2, strict=True))


def test_a_damaged_trailer_is_a_miss_and_is_rewritten(uneven, tmp_path):
    dataset = ChannelSequenceDataset(uneven, 8, cache_dir=str(tmp_path / "cache"))
    expected = dataset[1]["windows"]
    (entry,) = (tmp_path / "cache").rglob("*.npy")
    data = bytearray(entry.read_bytes())
    data[-32:-24] = b"XXXXXXXX"  # the trailer's magic
    entry.write_bytes(bytes(data))
    fresh = ChannelSequenceDataset(uneven, 8, cache_dir=str(tmp_path / "cache"))
    assert torch.equal(fresh[1]["windows"], expected)
    assert entry.read_bytes()[-32:-24] == b"EEGIOCNT"


def test_an_entry_cut_while_open_is_a_clear_error(uneven, tmp_path, monkeypatch):
    dataset = ChannelSequenceDataset(uneven, 8, cache_dir=str(tmp_path / "cache"))
    dataset[0]
    dataset._mapped = MappedEntries(max_entries=0)  # plain reads from here on
    real_open = DecodedCache.open

    def open_then_cut(self, entry):
        opened = real_open(self, entry)
        with open(entry, "r+b") as handle:
            handle.truncate(150)  # mid-way through the 2 x 8 samples after the 128-byte header
        return opened

    monkeypatch.setattr(DecodedCache, "open", open_then_cut)
    with pytest.raises(EEGDataError, match=r"\.npy: the decoded-cache entry shrank while it was being read"):
        dataset[0]


def test_workers_read_batches_into_shared_memory(uneven, tmp_path):
    dataset = ChannelSequenceDataset(uneven, 8, cache_dir=str(tmp_path / "cache"))
    plain = list(DataLoader(dataset, batch_size=4, collate_fn=collate_sequences))
    for _ in range(2):  # the first pass fills the cache from the workers, the second reads it
        workers = list(DataLoader(dataset, batch_size=4, num_workers=2, collate_fn=collate_sequences))
        assert len(workers) == len(plain) == 2
        for a, b in zip(plain, workers, strict=True):
            assert torch.equal(a["windows"], b["windows"]) and a["files"] == b["files"]
