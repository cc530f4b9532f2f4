"""Train/validation splits that never put one participant (or other group) on both sides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from eeg_io.errors import EEGDataError
from eeg_io.index import SequenceItem

__all__ = ["GROUPS", "split_by_group"]

GROUPS: tuple[str, ...] = ("participant", "run", "file")


def split_by_group(
    items: Sequence[SequenceItem], val_ratio: float, group: str = "participant", seed: int = 0
) -> tuple[list[SequenceItem], list[SequenceItem]]:
    """Split items so that every group (participant by default) lies wholly on one side.

    ``round(val_ratio * number_of_groups)`` groups (at least one) go to validation, chosen by a
    permutation of the sorted group ids seeded with ``seed``: the same items, ratio and seed give
    the same split anywhere. Items keep their input order on each side.

    Args:
        items: index items.
        val_ratio: fraction of groups for validation, in ``[0, 1)``; 0 gives ``(items, [])``.
        group: ``"participant"``, ``"run"`` (participant-run pairs) or ``"file"``.

    Raises:
        EEGDataError: fewer groups than needed to put at least one on each side.
    """
    if group not in GROUPS:
        raise ValueError(f"group must be one of {GROUPS}, got {group!r}")
    if isinstance(val_ratio, bool) or not 0.0 <= float(val_ratio) < 1.0:
        raise ValueError(f"val_ratio must be in [0, 1), got {val_ratio!r}")
    items = list(items)
    if val_ratio == 0:
        return items, []
    keys = [_group_key(item, group) for item in items]
    groups = sorted(set(keys))
    num_val = max(1, round(val_ratio * len(groups)))
    if num_val >= len(groups):
        raise EEGDataError(
            f"val_ratio={val_ratio}: {len(groups)} {group}(s) in the index are too few to hold out "
            f"{num_val} for validation and keep at least one for training; add data or lower val_ratio"
        )
    order = np.random.default_rng(seed).permutation(len(groups))
    val_groups = {groups[i] for i in order[:num_val]}
    train = [item for item, key in zip(items, keys, strict=True) if key not in val_groups]
    val = [item for item, key in zip(items, keys, strict=True) if key in val_groups]
    return train, val


def _group_key(item: SequenceItem, group: str) -> tuple[str, ...]:
    if group == "participant":
        return (item.participant,)
    if group == "run":
        return (item.participant, item.run)
    return (item.file,)
