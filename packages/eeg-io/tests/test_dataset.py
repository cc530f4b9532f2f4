from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from eeg_io import (
    ChannelSequenceDataset,
    DataConfig,
    EEGDataError,
    build_index,
    collate_sequences,
    read_channel_windows,
)
from eeg_io.synthetic import synthetic_signals

from .conftest import TINY, write_file


def test_sample_contents(corpus):
    items = build_index(corpus)
    dataset = ChannelSequenceDataset(items, window_length=32)
    sample = dataset[5]
    item = items[5]
    assert set(sample) == {
        "windows", "channel", "participant", "run", "file", "length", "padded_windows", "truncated_windows"
    }  # fmt: skip
    assert sample["windows"].dtype == torch.float32 and sample["windows"].shape == (6, 32)
    assert (sample["channel"], sample["participant"], sample["run"], sample["file"]) == (
        item.channel, item.participant, item.run, item.file
    )  # fmt: skip
    assert sample["length"] == 6
    windows = sample["windows"].double()
    assert abs(windows.mean()) < 1e-5 and windows.std(unbiased=False) == pytest.approx(1.0, abs=1e-5)


def test_round_trip_exact_values(corpus):
    """Synthetic corpus -> index -> dataset (raw) gives back exactly the generated samples."""
    items = build_index(corpus, include_channels=["O1"])
    dataset = ChannelSequenceDataset(items, window_length=32, normalization="none")
    for index, item in enumerate(items):
        participant = int(item.participant.removeprefix("sub-")) - 1
        run = int(item.run) - 1
        signals = synthetic_signals(
            TINY["channels"], 6 * 32, TINY["sfreq"], seed=(TINY["seed"], participant, run),
            dynamics=True, participant_seed=(TINY["seed"], participant),
        )  # fmt: skip
        expected = signals[TINY["channels"].index("O1")].reshape(6, 32)
        np.testing.assert_array_equal(dataset[index]["windows"].numpy(), expected, err_msg=item.file)


def test_counts_of_padded_and_truncated_windows(tmp_path):
    write_file(tmp_path / "a.parquet", {"Cz": [[1.0] * 3, [2.0] * 3]}, participant="a")
    write_file(tmp_path / "b.parquet", {"Cz": [[1.0] * 5] * 3}, participant="b")
    dataset = ChannelSequenceDataset(build_index(tmp_path), window_length=4, normalization="none")
    a, b = dataset[0], dataset[1]
    assert (a["padded_windows"], a["truncated_windows"], b["padded_windows"], b["truncated_windows"]) == (
        2,
        0,
        0,
        3,
    )
    assert dataset.window_counts == {"sequences": 2, "padded": 2, "truncated": 3, "dropped": 0}
    batch = collate_sequences([a, b])
    assert (batch["padded_windows"], batch["truncated_windows"]) == (2, 3)


def test_max_windows_crops(corpus):
    items = build_index(corpus, include_channels=["Cz"])
    full = ChannelSequenceDataset(items, 32, normalization="none")
    leading = ChannelSequenceDataset(items, 32, normalization="none", max_windows=4, crop="leading")
    np.testing.assert_array_equal(leading[0]["windows"], full[0]["windows"][:4])
    assert leading[0]["length"] == 4
    random = ChannelSequenceDataset(items, 32, normalization="none", max_windows=2, crop="random", seed=1)
    starts = set()
    for epoch in range(6):
        random.set_epoch(epoch)
        crop = random[0]["windows"]
        start = next(s for s in range(5) if torch.equal(full[0]["windows"][s : s + 2], crop))
        starts.add(start)
        random.set_epoch(epoch)
        assert torch.equal(random[0]["windows"], crop)  # same (seed, epoch, index) -> same crop
    assert len(starts) > 1  # the crop moves between epochs
    # Normalisation statistics come from the whole sequence, so a crop is a slice of the full result.
    normalised = ChannelSequenceDataset(items, 32, max_windows=2, seed=1)
    normalised.set_epoch(3)
    random.set_epoch(3)
    start = next(s for s in range(5) if torch.equal(full[0]["windows"][s : s + 2], random[0]["windows"]))
    whole = ChannelSequenceDataset(items, 32)[0]["windows"]
    assert torch.equal(normalised[0]["windows"], whole[start : start + 2])


def test_crops_depend_on_seed(corpus):
    items = build_index(corpus, include_channels=["Cz"])
    crops = {
        seed: [
            ChannelSequenceDataset(items, 32, max_windows=2, seed=seed)[i]["windows"][0, 0].item()
            for i in range(8)
        ]
        for seed in (0, 1)
    }
    assert crops[0] != crops[1]


def test_dataloader_with_workers_matches_the_main_process(corpus):
    items = build_index(corpus)
    dataset = ChannelSequenceDataset(items, 32, max_windows=4, seed=7)

    def batches(num_workers: int, epoch: int):
        dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=5, num_workers=num_workers, collate_fn=collate_sequences)
        return list(loader)

    for epoch in (0, 1):
        plain, workers = batches(0, epoch), batches(2, epoch)
        assert len(plain) == len(workers) == 7
        for a, b in zip(plain, workers, strict=True):
            assert torch.equal(a["windows"], b["windows"])
            assert a["files"] == b["files"] and a["channels"] == b["channels"]
    assert not torch.equal(batches(0, 0)[0]["windows"], batches(0, 1)[0]["windows"])


def test_dataset_pickles_small_and_without_data(corpus):
    dataset = ChannelSequenceDataset(build_index(corpus), 32, cache_dir=str(corpus / "unused"))
    dataset[0]
    assert len(pickle.dumps(dataset)) < 200 * len(dataset)  # items and settings only


@pytest.mark.parametrize("num_items", [32, 31])
def test_distributed_sampler_shards_items_across_ranks(corpus, num_items):
    dataset = ChannelSequenceDataset(build_index(corpus)[:num_items], 32)
    shards = []
    for rank in (0, 1):
        sampler = DistributedSampler(dataset, num_replicas=2, rank=rank, shuffle=True, seed=3)
        sampler.set_epoch(1)
        shards.append(list(sampler))
    assert len(shards[0]) == len(shards[1]) == (num_items + 1) // 2
    assert set(shards[0]) | set(shards[1]) == set(range(num_items))
    if num_items % 2 == 0:
        assert not set(shards[0]) & set(shards[1])  # disjoint
    else:
        assert len(set(shards[0]) & set(shards[1])) == 1  # one item repeated to even the shards


def test_from_config(corpus):
    items = build_index(corpus)
    config = DataConfig(
        dataset_path=str(corpus),
        window_length=32,
        normalization="none",
        scale=2.0,
        max_windows=3,
        crop="leading",
    )
    dataset = ChannelSequenceDataset.from_config(items, config, seed=4)
    assert (dataset.window_length, dataset.max_windows, dataset.crop, dataset.seed) == (32, 3, "leading", 4)
    raw = read_channel_windows(items[0].file, items[0].channel, 32).windows
    np.testing.assert_allclose(dataset[0]["windows"].numpy(), 2.0 * raw[:3])


def test_bad_data_errors_surface_from_getitem(tmp_path):
    write_file(tmp_path / "f.parquet", {"Cz": [[1.0, float("nan")]]})
    dataset = ChannelSequenceDataset(build_index(tmp_path), 2)
    with pytest.raises(EEGDataError, match=r"f\.parquet: channel CZ: non-finite value \(nan\) in row 0"):
        dataset[0]
    assert ChannelSequenceDataset(build_index(tmp_path), 2, nan_policy="zero")[0]["windows"].isfinite().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window_length": 0}, "window_length must be a positive int"),
        ({"normalization": "global"}, "normalization must be one of"),
        ({"nan_policy": "ignore"}, "nan_policy must be one of"),
        ({"max_windows": 0}, "max_windows must be a positive int"),
        ({"crop": "middle"}, "crop must be one of"),
        ({"cache_dtype": "float64"}, "cache_dtype must be one of"),
        ({"scale": float("nan")}, "scale must be a finite non-zero number"),
        ({"seed": -1}, "seed must be a non-negative int"),
    ],
)
def test_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ChannelSequenceDataset([], **{"window_length": 4, **kwargs})
