"""Non-finite value policies and per-sequence / per-window normalisation of ``[L, W]`` arrays."""

from __future__ import annotations

import numpy as np

from eeg_io.errors import EEGDataError

__all__ = [
    "NAN_POLICIES",
    "NORMALIZATIONS",
    "PHYSICAL_LIMIT",
    "describe_unusable",
    "finish_sequence",
    "nonfinite_rows",
    "normalize",
    "unusable_values",
]

NORMALIZATIONS: tuple[str, ...] = ("sequence", "window", "none")
NAN_POLICIES: tuple[str, ...] = ("error", "zero", "drop_window")

# A standard deviation at or below this fraction of |mean| (or exactly 0) marks a flat signal:
# it is only centred, never divided, so a constant channel gives zeros rather than NaN or noise.
_FLAT_RELATIVE_STD = 1e-7
# So is one below float32's smallest normal number: its reciprocal would overflow to inf.
_TINY_STD = float(np.finfo(np.float32).tiny)

#: No EEG sample is this large in any unit the files use: 1 V in µV (a sample in volts is ~1e-5). A
#: value beyond it is a unit or write error; ``nan_policy`` treats it as it treats a non-finite value.
PHYSICAL_LIMIT = 1e6


def unusable_values(windows: np.ndarray) -> np.ndarray:
    """Bool, the shape of ``windows``: True where a value is non-finite or beyond :data:`PHYSICAL_LIMIT`."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(windows) <= PHYSICAL_LIMIT)


def describe_unusable(value: float) -> str:
    """``non-finite value (nan)`` or ``value 1e+30 beyond ±1e+06 (not EEG in any unit: a unit error?)``."""
    if not np.isfinite(value):
        return f"non-finite value ({value})"
    return f"value {value:g} beyond ±{PHYSICAL_LIMIT:g} (not EEG in any unit: a unit error?)"


def _all_usable(windows: np.ndarray, total: float) -> bool:
    """Every value finite and within :data:`PHYSICAL_LIMIT`: a finite float64 sum, then max and min (no
    temporary array in the common case)."""
    if not np.isfinite(total):
        return False
    return windows.size == 0 or (windows.max() <= PHYSICAL_LIMIT and windows.min() >= -PHYSICAL_LIMIT)


def _is_flat(std, mean):
    """True where ``std`` (scalar or array) is too small to divide by (see the constants above)."""
    return ~((std > _FLAT_RELATIVE_STD * np.abs(mean)) & (std > _TINY_STD))


def nonfinite_rows(windows: np.ndarray) -> np.ndarray | None:
    """Bool ``[L]``: rows of ``windows [L, W]`` holding NaN, +-Inf or a value beyond
    :data:`PHYSICAL_LIMIT`; None when every value is usable (the common case: one float64 sum, a max and
    a min, no temporary array)."""
    if _all_usable(windows, windows.sum(dtype=np.float64)):
        return None
    return unusable_values(windows).any(axis=1)


def finish_sequence(
    windows: np.ndarray,
    valid_lengths: np.ndarray | None,
    *,
    normalization: str,
    scale: float,
    nan_policy: str,
    where: str,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply the non-finite policy, then normalise one channel sequence.

    Values beyond :data:`PHYSICAL_LIMIT` (cannot be EEG: 1 V in µV) are treated as non-finite ones are.

    Args:
        windows: float32 ``[L, W]`` in time order (not modified; a new array is returned).
        valid_lengths: int ``[L]`` real samples per window (the rest is zero padding), or None if all real.
        normalization: ``"sequence"`` (z-score over all real samples), ``"window"`` (z-score each
            window), ``"none"`` (multiply by ``scale``).
        nan_policy: ``"error"``, ``"zero"`` (non-finite or out-of-bound samples become 0 and are left out
            of the statistics) or ``"drop_window"`` (windows holding any such sample are removed).
        where: ``"file: channel X"`` for messages.
        rows: int ``[L]`` file row of each window, for messages; defaults to ``arange(L)``.

    Returns:
        ``(out, kept)``: float32 ``[L', W]`` owned, writable array, and bool ``[L]`` of kept windows
        (None when all were kept).

    Raises:
        EEGDataError: a non-finite or out-of-bound value under ``nan_policy="error"``, or no window left
            to keep.
    """
    total = windows.sum(dtype=np.float64)
    if valid_lengths is None and normalization == "sequence" and np.isfinite(total):
        # the common case: the z-score's own sum of squares bounds every |value| (no extra pass)
        out, largest = _zscore_dense_sequence(windows, total)
        if largest <= PHYSICAL_LIMIT:
            return out, None
    bad_rows = None if _all_usable(windows, total) else unusable_values(windows).any(axis=1)
    kept = None
    nonfinite = None
    if bad_rows is not None:
        first = int(np.flatnonzero(bad_rows)[0])
        if nan_policy == "error":
            row = int(rows[first]) if rows is not None else first
            bad = unusable_values(windows[first])
            value, sample, count = windows[first][bad][0], int(np.flatnonzero(bad)[0]), int(bad_rows.sum())
            raise EEGDataError(
                f"{where}: {describe_unusable(value)} in row {row} (window {first} in time order) at sample "
                f"{sample}, {count} window(s) in all; fix the file or set nan_policy to 'zero' or 'drop_window'"
            )
        if nan_policy == "drop_window":
            kept = ~bad_rows
            if not kept.any():
                raise EEGDataError(
                    f"{where}: every window holds a non-finite value (or one beyond ±{PHYSICAL_LIMIT:g}); "
                    "nothing left to use"
                )
            windows = windows[kept]
            if valid_lengths is not None:
                valid_lengths = valid_lengths[kept]
        elif nan_policy == "zero":
            nonfinite = unusable_values(windows)
        else:
            raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")

    valid = None
    if valid_lengths is not None:
        valid = np.arange(windows.shape[1])[None, :] < valid_lengths[:, None]  # (L, W)
    if nonfinite is not None:
        valid = ~nonfinite if valid is None else valid & ~nonfinite
    if valid is None and normalization == "sequence" and bad_rows is None:
        return _zscore_dense_sequence(windows, total)[0], kept
    return normalize(windows, normalization, scale=scale, valid=valid), kept


def normalize(
    windows: np.ndarray, normalization: str, *, scale: float = 1.0, valid: np.ndarray | None = None
) -> np.ndarray:
    """Normalise ``windows [L, W]`` into a new float32 array; samples outside ``valid`` come out 0.

    ``valid`` is bool ``[L, W]`` (True on real, finite samples) or None for "all valid". Statistics
    are computed in float64 over valid samples only, so padding and dropped values do not bias them.
    """
    out = np.array(windows, dtype=np.float32, copy=True)
    if valid is not None:
        out[~valid] = 0.0
    if normalization == "none":
        if scale != 1.0:
            out *= np.float32(scale)
        return out
    if normalization == "sequence":
        _zscore_sequence(out, valid)
        return out
    if normalization == "window":
        _zscore_windows(out, valid)
        return out
    raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")


def _zscore_dense_sequence(windows: np.ndarray, total: float) -> np.ndarray:
    """The common case (no padding, all finite) in four passes and one new array; ``total`` = sum in float64.

    Returns ``(out, largest)``: ``largest`` bounds every ``|value|`` of ``windows`` from above
    (``|mean| + sqrt(sum of squared deviations)``, with a margin for the float32 sum), for the physical
    bound check at no extra pass."""
    if windows.size == 0:
        return np.array(windows, dtype=np.float32), 0.0
    mean = total / windows.size
    out = np.subtract(windows, np.float32(mean), dtype=np.float32)  # new, owned, writable
    squares = _sum_of_squares(out)
    std = np.sqrt(squares / windows.size)
    if not _is_flat(std, mean):
        out *= np.float32(1.0 / std)
    return out, (abs(mean) + float(np.sqrt(squares))) * (1 + 1e-4)


def _zscore_sequence(out: np.ndarray, valid: np.ndarray | None) -> None:
    count = out.size if valid is None else int(valid.sum())
    if count == 0:
        return
    mean = out.sum(dtype=np.float64) / count  # invalid samples are already 0
    out -= np.float32(mean)
    if valid is not None:
        out[~valid] = 0.0
    std = np.sqrt(_sum_of_squares(out) / count)
    if not _is_flat(std, mean):
        out *= np.float32(1.0 / std)


def _zscore_windows(out: np.ndarray, valid: np.ndarray | None) -> None:
    counts = np.full(out.shape[0], out.shape[1], dtype=np.float64) if valid is None else valid.sum(axis=1)
    safe_counts = np.maximum(counts, 1)
    means = out.sum(axis=1, dtype=np.float64) / safe_counts  # (L,)
    out -= means[:, None].astype(np.float32)
    if valid is not None:
        out[~valid] = 0.0
    variances = np.einsum("lw,lw->l", out, out, dtype=np.float64) / safe_counts  # (L,)
    stds = np.sqrt(variances)
    stds[_is_flat(stds, means)] = 1.0  # flat windows are only centred
    out *= (1.0 / stds)[:, None].astype(np.float32)


def _sum_of_squares(values: np.ndarray) -> float:
    """Sum of squares of float32 ``values``: a float32 dot (blocked in BLAS: accurate to ~1e-6 relative
    and 10x cheaper than float64), redone in float64 when it overflows (values beyond ~1e18)."""
    flat = values.reshape(-1)
    with np.errstate(over="ignore"):
        result = float(np.dot(flat, flat))
    if not np.isfinite(result):
        result = float(np.dot(flat.astype(np.float64), flat.astype(np.float64)))
    return result
