"""Arrow -> numpy for the primitive arrays this package reads, straight from the Arrow buffers.

``pyarrow.Array.to_numpy`` imports pandas when it is installed (several seconds in each fresh
process: CLI runs, benchmark subprocesses), so the hot paths read the buffers with
``np.frombuffer`` instead. Zero-copy where there are no nulls.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["null_mask", "to_numpy"]

_NUMPY_DTYPES: dict[pa.DataType, np.dtype] = {
    pa.int8(): np.dtype(np.int8),
    pa.int16(): np.dtype(np.int16),
    pa.int32(): np.dtype(np.int32),
    pa.int64(): np.dtype(np.int64),
    pa.uint8(): np.dtype(np.uint8),
    pa.uint16(): np.dtype(np.uint16),
    pa.uint32(): np.dtype(np.uint32),
    pa.uint64(): np.dtype(np.uint64),
    pa.float16(): np.dtype(np.float16),
    pa.float32(): np.dtype(np.float32),
    pa.float64(): np.dtype(np.float64),
}


def to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A numeric array as numpy ``[N]``; nulls become NaN (integers then widen to float64).

    Read-only when zero-copy. Types without a plain numpy buffer (strings, timestamps, ...) take
    pyarrow's own (slower) conversion.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.chunk(0) if array.num_chunks == 1 else pa.concat_arrays(array.chunks)
    dtype = _NUMPY_DTYPES.get(array.type)
    if dtype is None:
        return np.asarray(array.to_numpy(zero_copy_only=False))
    values = np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )
    if array.null_count:
        values = values.astype(dtype if dtype.kind == "f" else np.float64)
        values[null_mask(array)] = np.nan
    return values


def null_mask(array: pa.Array) -> np.ndarray:
    """Bool ``[N]``, True where ``array`` is null (decoded from the validity bitmap)."""
    validity = array.buffers()[0]
    if validity is None or array.null_count == 0:
        return np.zeros(len(array), dtype=bool)
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)] == 0
