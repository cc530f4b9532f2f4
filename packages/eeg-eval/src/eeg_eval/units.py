"""What is evaluated: one row per unit (a participant, or a window with per-window labels), with its
label, participant and group. The group a unit belongs to (by default its participant) is decided here
and nowhere else; every split keeps groups whole and every interval resamples them."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from eeg_eval.errors import EvalError

__all__ = ["DEFAULT_GROUP", "Units", "group_name", "groups_of"]

#: What a group is when no group column is given.
DEFAULT_GROUP = "participant"


def group_name(group_column: str | None) -> str:
    """The groups' name in messages: the column, or ``participant``."""
    return group_column or DEFAULT_GROUP


def groups_of(participants: Sequence[object], groups: Sequence[object] | None = None) -> tuple[str, ...]:
    """Each unit's group as a string: ``groups`` when given, else the unit's participant."""
    chosen = participants if groups is None else groups
    if len(chosen) != len(participants):
        raise EvalError(f"groups: {len(chosen)} values for {len(participants)} units")
    return tuple(str(g) for g in chosen)


@attrs.frozen(kw_only=True)
class Units:
    """The units of an evaluation, built once.

    Attributes:
        participants: ``[N]`` the participant of each unit.
        targets: int ``[N]`` class index of each unit into ``classes``.
        classes: the label values, sorted (``targets`` index them).
        groups: ``[N]`` what splits keep whole and the bootstrap resamples (default: the participant).
        group_column: the groups' column name, or None for participants (messages name it).
        runs: ``[N]`` the recording (run) of each unit, ``""`` when not known.
        windows: int ``[N]`` the window's position in its run, -1 for participant units.
    """

    participants: tuple[str, ...]
    targets: np.ndarray = attrs.field(eq=False)
    classes: tuple[object, ...]
    groups: tuple[str, ...]
    group_column: str | None = None
    runs: tuple[str, ...]
    windows: np.ndarray = attrs.field(eq=False)

    @classmethod
    def build(
        cls,
        participants: Sequence[object],
        labels: Sequence[object] | np.ndarray,
        groups: Sequence[object] | None = None,
        *,
        group_column: str | None = None,
        runs: Sequence[object] | None = None,
        windows: Sequence[int] | np.ndarray | None = None,
    ) -> Units:
        """Units from per-unit ``participants`` and ``labels`` (any sortable values); ``groups`` default
        to the participants."""
        n = len(participants)
        labels = np.asarray(labels)
        if len(labels) != n:
            raise EvalError(f"labels: {len(labels)} values for {n} units")
        classes, targets = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise EvalError(f"labels: a single class ({classes.tolist()}); a classifier needs at least two")
        return cls(
            participants=tuple(str(p) for p in participants),
            targets=targets.astype(np.int64),
            classes=tuple(c.item() if hasattr(c, "item") else c for c in classes),
            groups=groups_of(participants, groups),
            group_column=group_column,
            runs=("",) * n if runs is None else tuple(str(r) for r in runs),
            windows=np.full(n, -1, dtype=np.int64)
            if windows is None
            else np.asarray(windows, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.participants)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def group_ids(self) -> tuple[str, ...]:
        """The distinct groups, sorted."""
        return tuple(sorted(set(self.groups)))

    def group_index(self) -> np.ndarray:
        """int ``[N]``: each unit's index into :attr:`group_ids`."""
        index = {g: i for i, g in enumerate(self.group_ids)}
        return np.asarray([index[g] for g in self.groups], dtype=np.int64)
