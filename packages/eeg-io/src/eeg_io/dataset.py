"""``ChannelSequenceDataset``: one ``(file, channel)`` sequence per item, as a float32 tensor ``[L, W]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from eeg_io.cache import CacheEntry, DecodedCache, MappedEntries, MappedEntry
from eeg_io.config import SequenceConfig
from eeg_io.errors import EEGDataError
from eeg_io.index import SequenceItem, file_identity
from eeg_io.reader import read_channel_windows

__all__ = ["ChannelSequenceDataset"]


class ChannelSequenceDataset(Dataset):
    """A map-style dataset over index items; each sample is one channel of one participant-run.

    Sample (a dict):
        ``windows``: float32 tensor ``[L, W]`` (L <= ``max_windows``), normalised;
        ``channel`` (upper-case), ``participant``, ``run``, ``file`` (str); ``length`` (int, = L);
        ``padded_windows``, ``truncated_windows`` (int): windows of this sequence that were shorter
        (zero-padded) or longer (cut) than W in the file.

    The object holds the item list and settings only (no open files, no decoded data), so it is
    cheap to pickle into DataLoader workers and its memory does not grow with the corpus' samples.
    With a ``cache_dir``, each process also keeps the first cache entries it reads memory-mapped
    (:class:`~eeg_io.cache.MappedEntries`, up to 4096 entries / 2 GiB), so later epochs copy them out of
    memory; a pickled copy starts without them (workers map their own, and keep them between epochs
    only with ``persistent_workers=True``).

    ``dataset[i]`` reads one sequence; ``dataset.__getitems__(indices)``, which the DataLoader calls
    for each batch, reads the batch straight into one zero-padded ``[B, L_max, W]`` tensor that
    :func:`~eeg_io.collate_sequences` returns without a second copy.

    Random crops (``max_windows`` with ``crop="random"``) depend only on ``(seed, epoch, index)``:
    the same epoch gives the same crops with or without workers, in any order. Call
    :meth:`set_epoch` in the main process before each epoch (with ``persistent_workers=False``,
    the default, workers get a fresh copy of the dataset every epoch).

    Counters ``sequences_read``, ``padded_windows``, ``truncated_windows``, ``dropped_windows``
    count what this process has read (each DataLoader worker counts its own copy; the per-sample
    counts, summed by ``collate_sequences``, are the way to total them across workers).
    """

    def __init__(
        self,
        items: Sequence[SequenceItem],
        window_length: int,
        normalization: str = "sequence",
        scale: float = 1.0,
        nan_policy: str = "error",
        max_windows: int | None = None,
        crop: str = "random",
        cache_dir: str | None = None,
        cache_dtype: str = "float32",
        seed: int = 0,
    ) -> None:
        settings = SequenceConfig(  # validates each setting (FieldError naming it)
            window_length=window_length,
            normalization=normalization,
            scale=scale,
            nan_policy=nan_policy,
            max_windows=max_windows,
            crop=crop,
            cache_dir=None if cache_dir is None else str(cache_dir),
            cache_dtype=cache_dtype,
        )
        self._set_up(items, settings, seed)

    @classmethod
    def from_config(
        cls, items: Sequence[SequenceItem], config: SequenceConfig, seed: int = 0
    ) -> ChannelSequenceDataset:
        """Build from an ``eeg_io.DataConfig`` (any :class:`~eeg_io.SequenceConfig`; validated when it was
        made, so not checked again) and the run's seed."""
        dataset = cls.__new__(cls)
        dataset._set_up(items, config, seed)
        return dataset

    def _set_up(self, items: Sequence[SequenceItem], settings: SequenceConfig, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.items: tuple[SequenceItem, ...] = tuple(items)
        self.window_length = settings.window_length
        self.normalization = settings.normalization
        self.scale = float(settings.scale)
        self.nan_policy = settings.nan_policy
        self.max_windows = settings.max_windows
        self.crop = settings.crop
        self.cache = (
            None if settings.cache_dir is None else DecodedCache(settings.cache_dir, settings.cache_dtype)
        )
        self._cache_settings = (
            None
            if self.cache is None
            else self.cache.settings_key(
                window_length=self.window_length,
                normalization=self.normalization,
                scale=self.scale,
                nan_policy=self.nan_policy,
            )
        )
        self._mapped: MappedEntries | None = None  # cache entries this process keeps mapped
        self.seed = int(seed)
        self.epoch = 0
        self.sequences_read = 0
        self.padded_windows = 0
        self.truncated_windows = 0
        self.dropped_windows = 0

    def __getstate__(self) -> dict[str, Any]:
        # Mappings stay in their process: a pickled copy (a DataLoader worker) maps entries of its own.
        return {**self.__dict__, "_mapped": None}

    def set_epoch(self, epoch: int) -> None:
        """Select the random crops of ``epoch`` (call before each epoch, like DistributedSampler's)."""
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self.epoch = int(epoch)

    @property
    def window_counts(self) -> dict[str, int]:
        """What this process has read so far: sequences, padded, truncated and dropped windows."""
        return {
            "sequences": self.sequences_read,
            "padded": self.padded_windows,
            "truncated": self.truncated_windows,
            "dropped": self.dropped_windows,
        }

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """The samples of ``indices``, read straight into one zero-padded batch tensor.

        Every sample's ``windows`` is a view of row ``b`` of a float32 ``[B, L_max, W]`` tensor (in shared
        memory inside a DataLoader worker), so :func:`~eeg_io.collate_sequences` returns that tensor
        without copying the batch again. The DataLoader calls this once per batch; ``dataset[i]`` is the
        one-sample case.
        """
        sources = [self._open(self.items[index], index) for index in indices]
        max_length = max((stop - start for _, start, stop, _ in sources), default=0)
        windows = _batch_buffer(len(sources), max_length, self.window_length)  # (B, L_max, W)
        rows = windows.numpy()
        samples = []
        for b, (index, (source, start, stop, counts)) in enumerate(zip(indices, sources, strict=True)):
            length = stop - start
            if isinstance(source, np.ndarray):
                rows[b, :length] = source
            else:
                source.read_into(start, stop, rows[b, :length])
            rows[b, length:] = 0.0
            samples.append(self._sample(self.items[index], windows[b, :length], counts))
        return samples

    def _sample(
        self, item: SequenceItem, windows: torch.Tensor, counts: tuple[int, int, int]
    ) -> dict[str, Any]:
        num_padded, num_truncated, num_dropped = counts
        self.sequences_read += 1
        self.padded_windows += num_padded
        self.truncated_windows += num_truncated
        self.dropped_windows += num_dropped
        return {
            "windows": windows,
            "channel": item.channel,
            "participant": item.participant,
            "run": item.run,
            "file": item.file,
            "length": int(windows.shape[0]),
            "padded_windows": num_padded,
            "truncated_windows": num_truncated,
        }

    def _open(
        self, item: SequenceItem, index: int
    ) -> tuple[MappedEntry | np.ndarray, int, int, tuple[int, int, int]]:
        """Where sequence ``index`` comes from: ``(source, start, stop, (padded, truncated, dropped))``.

        ``source`` is a cache entry this process keeps mapped, to copy windows ``[start, stop)`` from, or
        else the cropped float32 windows themselves (then ``start = 0``): read from a cache entry beyond the
        mapping budget, or decoded from Parquet on a cache miss or without a cache. No file stays open.
        """
        entry = None
        if self.cache is not None:
            entry = self.cache.entry_path(file_identity(item.file), item.channel, self._cache_settings)
            if self._mapped is None:  # per process: DataLoader workers start without (see __getstate__)
                self._mapped = MappedEntries()
            mapped = self._mapped.get(entry)
            if mapped is None:
                opened = self.cache.open(entry)
                if opened is not None:
                    with opened:
                        mapped = self._mapped.keep(entry, opened)
                        if mapped is None:
                            return self._read_plain(opened, index)
            if mapped is not None:
                start, stop = self._crop_bounds(mapped.num_windows, index)
                return mapped, start, stop, (mapped.num_padded, mapped.num_truncated, mapped.num_dropped)
        return self._decode(item, index, entry)

    def _read_plain(
        self, opened: CacheEntry, index: int
    ) -> tuple[np.ndarray, int, int, tuple[int, int, int]]:
        """The crop of an open cache entry, read into a new array."""
        start, stop = self._crop_bounds(opened.num_windows, index)
        windows = np.empty((stop - start, opened.width), dtype=np.float32)
        if not opened.read_into(start, stop, windows):
            # Entries are replaced by rename, never rewritten in place: something else cut it.
            raise EEGDataError(
                f"{opened.path}: the decoded-cache entry shrank while it was being read; "
                f"delete the cache folder {self.cache.root} and run again"
            )
        return windows, 0, stop - start, (opened.num_padded, opened.num_truncated, opened.num_dropped)

    def _decode(
        self, item: SequenceItem, index: int, cache_entry: str | None
    ) -> tuple[np.ndarray, int, int, tuple[int, int, int]]:
        """Decode a sequence from Parquet (storing it in the cache at ``cache_entry``) and crop it."""
        before = file_identity(item.file)
        decoded = read_channel_windows(
            item.file,
            item.channel,
            self.window_length,
            normalization=self.normalization,
            scale=self.scale,
            nan_policy=self.nan_policy,
        )
        if cache_entry is not None and file_identity(item.file) == before:
            # Skipped if the file changed while it was being read: the entry would mix versions.
            self.cache.store(
                cache_entry,
                decoded.windows,
                num_padded=decoded.num_padded,
                num_truncated=decoded.num_truncated,
                num_dropped=decoded.num_dropped,
                source=f"{item.file}: channel {item.channel}",
            )
        start, stop = self._crop_bounds(decoded.windows.shape[0], index)
        windows = decoded.windows[start:stop]
        if self.cache is not None and self.cache.dtype == "float16":
            # Same values with or without a cache hit: round through float16 here too.
            windows = windows.astype(np.float16).astype(np.float32)
        counts = (decoded.num_padded, decoded.num_truncated, decoded.num_dropped)
        return windows, 0, stop - start, counts

    def _crop_bounds(self, length: int, index: int) -> tuple[int, int]:
        """Window range ``[start, stop)`` kept from a sequence of ``length`` windows."""
        if self.max_windows is None or length <= self.max_windows:
            return 0, length
        if self.crop == "leading":
            return 0, self.max_windows
        # Seeded by (seed, epoch, index) alone, so workers, ranks and re-runs agree.
        rng = np.random.default_rng((self.seed, self.epoch, index))
        start = int(rng.integers(0, length - self.max_windows + 1))
        return start, start + self.max_windows


def _batch_buffer(batch: int, length: int, width: int) -> torch.Tensor:
    """An uninitialised float32 ``[batch, length, width]`` tensor; in shared memory inside a DataLoader
    worker, as ``default_collate`` does, so sending the batch to the main process copies nothing."""
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(batch, length, width)
    storage = torch.empty(0)._typed_storage()._new_shared(batch * length * width)
    return torch.empty(0).new(storage).resize_(batch, length, width)
