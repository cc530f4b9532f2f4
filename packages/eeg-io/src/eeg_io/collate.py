"""Batching variable-length sequences: zero padding plus a validity mask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

__all__ = ["collate_sequences"]


def collate_sequences(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack dataset samples, padding each sequence with zero windows to the longest one.

    Args:
        samples: dicts from ``ChannelSequenceDataset`` (``windows`` float32 ``[L_i, W]``, all the same W).

    Returns:
        ``windows`` float32 ``[B, L_max, W]`` (zeros after each sequence's end),
        ``lengths`` int64 ``[B]``, ``valid`` bool ``[B, L_max]`` (True on real windows),
        ``channels``, ``participants``, ``files``, ``runs`` (lists of str, batch order), and
        ``padded_windows`` / ``truncated_windows`` (ints summed over the batch, when the samples carry them).
    """
    if len(samples) == 0:
        raise ValueError("collate_sequences needs at least one sample")
    widths = {int(s["windows"].shape[-1]) for s in samples}
    if len(widths) != 1 or any(s["windows"].ndim != 2 for s in samples):
        shapes = [tuple(s["windows"].shape) for s in samples]
        raise ValueError(f"samples must all be [L, W] with one W; got shapes {shapes}")
    lengths = torch.tensor([int(s["windows"].shape[0]) for s in samples], dtype=torch.long)  # (B,)
    max_length = int(lengths.max())
    windows = _rows_of_one_batch(samples, max_length)
    if windows is None:
        padded = [
            s["windows"] if s["windows"].shape[0] == max_length
            else torch.nn.functional.pad(s["windows"], (0, 0, 0, max_length - s["windows"].shape[0]))
            for s in samples
        ]  # fmt: skip
        # default_collate stacks straight into shared memory inside a DataLoader worker, which saves
        # the copy that sending an ordinary tensor to the main process costs (about 2x the batch rate).
        windows = default_collate(padded).to(torch.float32)  # (B, L_max, W)
    valid = torch.arange(max_length)[None, :] < lengths[:, None]  # (B, L_max)
    batch: dict[str, Any] = {
        "windows": windows,
        "lengths": lengths,
        "valid": valid,
        "channels": [s["channel"] for s in samples],
        "participants": [s["participant"] for s in samples],
        "files": [s["file"] for s in samples],
        "runs": [s["run"] for s in samples],
    }
    for counter in ("padded_windows", "truncated_windows"):
        if all(counter in s for s in samples):
            batch[counter] = sum(int(s[counter]) for s in samples)
    return batch


def _rows_of_one_batch(samples: Sequence[dict[str, Any]], max_length: int) -> torch.Tensor | None:
    """The ``[B, L_max, W]`` tensor whose rows the samples' windows already are, or None.

    ``ChannelSequenceDataset.__getitems__`` reads a batch straight into one zero-padded tensor; handing
    that tensor out saves copying the batch a second time. Only that exact layout qualifies: float32
    windows ``[L_b, W]``, sample ``b`` starting at element ``b * L_max * W`` of one storage that holds
    exactly ``B * L_max * W`` elements. The padding rows are zeroed here again, so the result never
    depends on what the storage held there.
    """
    first = samples[0]["windows"]
    width = int(first.shape[-1])
    row = max_length * width
    storage = first.untyped_storage()
    if first.dtype != torch.float32 or storage.nbytes() != len(samples) * row * first.element_size():
        return None
    for b, sample in enumerate(samples):
        windows = sample["windows"]
        if (
            windows.dtype != torch.float32
            or not windows.is_contiguous()
            or windows.untyped_storage().data_ptr() != storage.data_ptr()
            or windows.storage_offset() != b * row
        ):
            return None
    batch = first.as_strided((len(samples), max_length, width), (row, width, 1), 0)
    for b, sample in enumerate(samples):
        if sample["windows"].shape[0] < max_length:
            batch[b, sample["windows"].shape[0] :] = 0.0
    return batch
