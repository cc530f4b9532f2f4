from __future__ import annotations

import pytest
import torch

from eeg_io import collate_sequences


def sample(length: int, width: int = 3, value: float = 1.0, name: str = "CZ") -> dict:
    return {
        "windows": torch.full((length, width), value),
        "channel": name,
        "participant": f"p{length}",
        "run": "1",
        "file": f"f{length}.parquet",
        "length": length,
    }


def test_shapes_masks_and_zero_padding():
    batch = collate_sequences([sample(2, value=1.0), sample(4, value=2.0, name="FZ"), sample(1, value=3.0)])
    assert batch["windows"].shape == (3, 4, 3) and batch["windows"].dtype == torch.float32
    assert batch["lengths"].tolist() == [2, 4, 1] and batch["lengths"].dtype == torch.long
    assert batch["valid"].dtype == torch.bool
    assert batch["valid"].tolist() == [[True, True, False, False], [True] * 4, [True, False, False, False]]
    assert (batch["windows"][~batch["valid"]] == 0).all()
    assert (
        (batch["windows"][0, :2] == 1).all()
        and (batch["windows"][1] == 2).all()
        and (batch["windows"][2, 0] == 3).all()
    )
    assert batch["channels"] == ["CZ", "FZ", "CZ"]
    assert batch["participants"] == ["p2", "p4", "p1"]
    assert batch["files"] == ["f2.parquet", "f4.parquet", "f1.parquet"]
    assert batch["runs"] == ["1", "1", "1"]
    assert "padded_windows" not in batch  # only summed when samples carry the counts


def test_equal_lengths_need_no_padding():
    batch = collate_sequences([sample(3), sample(3)])
    assert batch["valid"].all() and batch["windows"].shape == (2, 3, 3)


def test_mismatched_window_lengths_and_empty_batches_are_refused():
    with pytest.raises(ValueError, match="one W"):
        collate_sequences([sample(2, width=3), sample(2, width=4)])
    with pytest.raises(ValueError, match="at least one sample"):
        collate_sequences([])
