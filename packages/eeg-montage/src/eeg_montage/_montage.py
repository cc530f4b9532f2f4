"""The immutable electrode montage: positions in metres, unit-sphere directions, lookup by channel name."""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt

from ._errors import MontageError, MontageWarning
from ._names import ALIASES, FIDUCIAL_KEYS, name_key

Center = Literal["origin", "fit"]
Missing = Literal["error", "zero"]

_CENTERS = ("origin", "fit")
_MISSING = ("error", "zero")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Return each row of ``vectors`` ``[N, 3]`` divided by its length, as float64 ``[N, 3]``.

    Rows are first divided by their largest absolute component so that the length can neither
    overflow (1e200 m) nor underflow (1e-200 m); zero rows must have been rejected before.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    scaled = vectors / np.max(np.abs(vectors), axis=1, keepdims=True)
    return scaled / np.linalg.norm(scaled, axis=1, keepdims=True)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _rebuild(state: dict) -> Montage:
    return Montage(**state)


class Montage:
    """Electrode positions of one montage, looked up by channel name. Immutable.

    Attributes:
        labels: electrode labels ``tuple[str, ...]`` as written in the file, in file order,
            fiducials excluded.
        positions: electrode positions, float64 ``[N, 3]``, metres, read-only, row ``i`` for
            ``labels[i]``. Axes are those of the file (ASA/MNI: x right, y anterior, z up).
        fiducials: ``Mapping[str, ndarray[3]]`` (metres, read-only) with the keys ``"nasion"``,
            ``"lpa"``, ``"rpa"`` of the fiducials present.
        source: where the montage came from: a file path, ``"standard_1005"``, or what the caller gave.
        reference: the file's ``ReferenceLabel`` (e.g. ``"avg"``), or ``None``.

    Channel names match case-insensitively, and the old and new 10-20 names (T3/T7, T4/T8, T5/P7,
    T6/P8) resolve to each other when the montage holds only one of the two.
    """

    __slots__ = ("_index", "_unit", "fiducials", "labels", "positions", "reference", "source")

    labels: tuple[str, ...]
    positions: np.ndarray
    fiducials: Mapping[str, np.ndarray]
    source: str
    reference: str | None

    def __init__(
        self,
        labels: Iterable[str],
        positions: npt.ArrayLike,
        fiducials: Mapping[str, npt.ArrayLike] | None = None,
        *,
        source: str = "<memory>",
        reference: str | None = None,
    ) -> None:
        """Validate and freeze a montage.

        Args:
            labels: one non-empty label per electrode, unique case-insensitively.
            positions: ``[N, 3]`` electrode positions in metres, finite and non-zero.
            fiducials: optional ``{"nasion" | "lpa" | "rpa": [3]}`` positions in metres.
            source: names the montage in error messages.
            reference: the reference label of the recording system, if known.

        Raises:
            MontageError: when any of the above does not hold.
        """
        labels = tuple(labels)
        for label in labels:
            if not isinstance(label, str) or not label.strip():
                raise MontageError(f"{source}: electrode label {label!r} is not a non-empty string")
        array = np.array(positions, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != 3:
            raise MontageError(f"{source}: positions have shape {array.shape}; expected [N, 3]")
        if array.shape[0] != len(labels):
            raise MontageError(
                f"{source}: {len(labels)} labels for {array.shape[0]} positions; expected one label per position"
            )
        if not labels:
            raise MontageError(f"{source}: no electrodes; expected at least one electrode position")
        for label, row in zip(labels, array, strict=True):
            if not np.all(np.isfinite(row)):
                raise MontageError(
                    f"{source}: position of {label!r} is {row.tolist()}; expected finite values"
                )
            if not np.any(row):
                raise MontageError(
                    f"{source}: position of {label!r} is (0, 0, 0); expected a non-zero position "
                    "(its direction from the origin is its unit-sphere coordinate)"
                )
        index: dict[str, int] = {}
        for i, label in enumerate(labels):
            key = name_key(label)
            if key in index:
                raise MontageError(
                    f"{source}: label {label!r} repeats {labels[index[key]]!r} (names match case-insensitively); "
                    "expected unique labels"
                )
            index[key] = i

        fids: dict[str, np.ndarray] = {}
        for key, value in (fiducials or {}).items():
            if key not in FIDUCIAL_KEYS:
                raise MontageError(
                    f"{source}: unknown fiducial {key!r}; expected one of {list(FIDUCIAL_KEYS)}"
                )
            point = np.array(value, dtype=np.float64)
            if point.shape != (3,) or not np.all(np.isfinite(point)):
                raise MontageError(
                    f"{source}: fiducial {key!r} is {value!r}; expected 3 finite numbers (metres)"
                )
            fids[key] = _read_only(point)
        ordered = {key: fids[key] for key in FIDUCIAL_KEYS if key in fids}

        set_ = object.__setattr__
        set_(self, "labels", labels)
        set_(self, "positions", _read_only(array))
        set_(self, "fiducials", MappingProxyType(ordered))
        set_(self, "source", str(source))
        set_(self, "reference", reference)
        set_(self, "_index", index)
        set_(self, "_unit", _read_only(unit_rows(array)))

    # --- immutability -------------------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Montage is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Montage is immutable; cannot delete {name!r}")

    def __reduce__(self):
        # Slots plus a blocked __setattr__ defeat default pickling; DataLoader workers need it.
        state = {
            "labels": self.labels,
            "positions": np.array(self.positions),
            "fiducials": {key: np.array(value) for key, value in self.fiducials.items()},
            "source": self.source,
            "reference": self.reference,
        }
        return (_rebuild, (state,))

    # --- container protocol -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has(name)

    def __repr__(self) -> str:
        fids = ", ".join(self.fiducials) or "none"
        return f"Montage({len(self)} electrodes, fiducials: {fids}, source={self.source!r})"

    # --- lookup -------------------------------------------------------------------------------

    def _lookup(self, name: str) -> int | None:
        key = name_key(name)
        if key in self._index:
            return self._index[key]
        alias = ALIASES.get(key)
        return self._index.get(alias) if alias is not None else None

    def has(self, name: str) -> bool:
        """Whether ``name`` names an electrode (case-insensitive, with the T3/T7-style aliases).

        Fiducials are not electrodes: ``has("Nz")`` is False unless Nz is also an electrode label.
        """
        return self._lookup(name) is not None

    # --- geometry -----------------------------------------------------------------------------

    def fit_sphere(self) -> tuple[np.ndarray, float]:
        """Fit a sphere to the electrode positions by linear least squares.

        Solves ``|p - c|^2 = r^2`` for every electrode ``p`` as the linear system
        ``2 p.c + (r^2 - |c|^2) = |p|^2``.

        Returns:
            ``(center, radius)``: float64 ``[3]`` and a float, both in metres.

        Raises:
            MontageError: fewer than 4 electrodes, or all of them on one plane (no unique sphere).
        """
        # Work relative to the centroid so that the system is well conditioned far from the origin.
        centroid = self.positions.mean(axis=0)
        points = self.positions - centroid
        system = np.column_stack([2.0 * points, np.ones(len(points))])
        rhs = np.einsum("nk,nk->n", points, points)
        solution, _, rank, _ = np.linalg.lstsq(system, rhs, rcond=None)
        center = solution[:3]
        radius_squared = solution[3] + center @ center
        if rank < 4 or not np.isfinite(radius_squared) or radius_squared <= 0:
            raise MontageError(
                f"{self.source}: cannot fit a sphere to {len(self)} electrode positions; "
                "expected at least 4 positions that are not all on one plane"
            )
        return centroid + center, float(np.sqrt(radius_squared))

    def unit_sphere(self, center: Center = "origin") -> np.ndarray:
        """Return each electrode's direction as a unit vector, float64 ``[N, 3]`` (row ``i`` for ``labels[i]``).

        Args:
            center: ``"origin"`` takes directions from the file's origin; ``"fit"`` from the centre of
                the least-squares sphere through the electrodes (see :meth:`fit_sphere`), which suits
                files whose origin is far from the middle of the head.

        Raises:
            MontageError: an unknown ``center``, no sphere can be fitted, or an electrode lies at the
                fitted centre.
        """
        if center == "origin":
            return np.array(self._unit)
        if center == "fit":
            sphere_center, _ = self.fit_sphere()
            offsets = self.positions - sphere_center
            at_center = ~np.any(offsets, axis=1)
            if np.any(at_center):
                label = self.labels[int(np.argmax(at_center))]
                raise MontageError(
                    f"{self.source}: electrode {label!r} lies at the fitted sphere centre; "
                    "expected electrodes on a head surface"
                )
            return unit_rows(offsets)
        raise MontageError(f"{self.source}: center={center!r}; expected one of {list(_CENTERS)}")

    def coords(
        self, channel_names: Iterable[str], missing: Missing = "error", center: Center = "origin"
    ) -> np.ndarray:
        """Return the unit-sphere coordinates of the given channels, float64 ``[len(channel_names), 3]``.

        Args:
            channel_names: channel names in the order wanted; matched case-insensitively, with the
                old/new 10-20 aliases (T3/T7, T4/T8, T5/P7, T6/P8). Repeats are allowed.
            missing: ``"error"`` raises when any name is not in the montage; ``"zero"`` gives those
                channels a zero row and warns (:class:`MontageWarning`) naming them.
            center: as in :meth:`unit_sphere`.

        Raises:
            MontageError: missing channels with ``missing="error"`` (the message lists every missing
                name with the closest labels), or an unknown ``missing``/``center`` value.
            TypeError: ``channel_names`` is a single string rather than a sequence of names.
        """
        if isinstance(channel_names, str):
            raise TypeError("channel_names must be a sequence of names, not a single string")
        names = list(channel_names)
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"channel names must be strings, got {name!r}")
        if missing not in _MISSING:
            raise MontageError(f"{self.source}: missing={missing!r}; expected one of {list(_MISSING)}")
        unit = self.unit_sphere(center)

        rows = [self._lookup(name) for name in names]
        absent = list(dict.fromkeys(name for name, row in zip(names, rows, strict=True) if row is None))
        if absent and missing == "error":
            raise MontageError(self._missing_message(absent))
        if absent:
            listed = ", ".join(repr(name) for name in absent)
            warnings.warn(
                MontageWarning(f"{self.source}: no position for {listed}; their coordinates are zero rows"),
                stacklevel=2,
            )

        out = np.zeros((len(names), 3), dtype=np.float64)
        for i, row in enumerate(rows):
            if row is not None:
                out[i] = unit[row]
        return out

    def _missing_message(self, absent: list[str]) -> str:
        keys = {name_key(label): label for label in self.labels}
        parts = []
        for name in absent:
            close = difflib.get_close_matches(name_key(name), list(keys), n=3, cutoff=0.5)
            hint = f"closest: {', '.join(keys[k] for k in close)}" if close else "no similar label"
            parts.append(f"{name!r} ({hint})")
        noun = "channel name" if len(absent) == 1 else "channel names"
        return (
            f"{self.source}: {len(absent)} {noun} not in the montage: {'; '.join(parts)}. "
            f"Expected labels of its {len(self)} electrodes (case-insensitive; T3/T4/T5/T6 and "
            "T7/T8/P7/P8 stand for each other)"
        )
