"""eeg_io: Parquet EEG sequence datasets, collate, splits, decoded cache, validation, synthetic corpus.

>>> from eeg_io import build_index, ChannelSequenceDataset, collate_sequences
>>> items = build_index("data/")                               # doctest: +SKIP
>>> dataset = ChannelSequenceDataset(items, window_length=2048)  # doctest: +SKIP
>>> dataset[0]["windows"].shape                                # doctest: +SKIP
torch.Size([124, 2048])
"""

from typing import TYPE_CHECKING

from eeg_io.cache import DecodedCache
from eeg_io.config import CorpusConfig, DataConfig, NormalizationConfig, SequenceConfig
from eeg_io.corpus import CORPUS_KEY, CorpusRecord, corpus_metadata, read_corpus_record
from eeg_io.decode import DecodedWindows, decode_windows
from eeg_io.errors import EEGDataError
from eeg_io.fingerprint import file_fingerprints, fingerprints_digest, window_fingerprint, window_fingerprints
from eeg_io.index import SequenceItem, build_index
from eeg_io.layout import METADATA_COLUMNS, find_parquet_files
from eeg_io.normalize import PHYSICAL_LIMIT
from eeg_io.pool import CorpusSplit, epoch_quotas, index_corpora, pooled_split, weighted_epoch
from eeg_io.primary import ParticipantRecord, PrimaryDataset, read_primary_dataset
from eeg_io.reader import ChannelWindows, read_channel_windows
from eeg_io.result_cache import CACHE_ENV, ResultCache, file_key
from eeg_io.splits import split_by_group
from eeg_io.subsets import participant_subset, pretraining_split
from eeg_io.synthetic import STANDARD_10_10_64, STANDARD_10_20, write_synthetic_corpus
from eeg_io.timing import (
    WINDOW_TIME_UNITS,
    check_sampling_rate,
    implied_sampling_rate,
    recognise_window_times,
    window_spans,
)
from eeg_io.validation import Problem, validate

if TYPE_CHECKING:
    from eeg_io.collate import collate_sequences
    from eeg_io.dataset import ChannelSequenceDataset

# The torch-based parts load on first use, so `python -m eeg_io validate` and users of the index,
# validation or synthetic writer do not pay for importing torch (seconds).
_LAZY = {"ChannelSequenceDataset": "eeg_io.dataset", "collate_sequences": "eeg_io.collate"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        try:
            module = importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as exc:
            if exc.name != "torch":
                raise
            raise ModuleNotFoundError(
                f"eeg_io.{name} needs PyTorch: install eeg-io[torch] (or torch)", name="torch"
            ) from None
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'eeg_io' has no attribute {name!r}")


__all__ = [
    "CACHE_ENV",
    "CORPUS_KEY",
    "METADATA_COLUMNS",
    "PHYSICAL_LIMIT",
    "STANDARD_10_10_64",
    "STANDARD_10_20",
    "WINDOW_TIME_UNITS",
    "ChannelSequenceDataset",
    "ChannelWindows",
    "CorpusConfig",
    "CorpusRecord",
    "CorpusSplit",
    "DataConfig",
    "DecodedCache",
    "DecodedWindows",
    "EEGDataError",
    "NormalizationConfig",
    "ParticipantRecord",
    "PrimaryDataset",
    "Problem",
    "ResultCache",
    "SequenceConfig",
    "SequenceItem",
    "build_index",
    "check_sampling_rate",
    "collate_sequences",
    "corpus_metadata",
    "decode_windows",
    "epoch_quotas",
    "file_fingerprints",
    "file_key",
    "find_parquet_files",
    "fingerprints_digest",
    "implied_sampling_rate",
    "index_corpora",
    "participant_subset",
    "pooled_split",
    "pretraining_split",
    "read_channel_windows",
    "read_corpus_record",
    "read_primary_dataset",
    "recognise_window_times",
    "split_by_group",
    "validate",
    "weighted_epoch",
    "window_fingerprint",
    "window_fingerprints",
    "window_spans",
    "write_synthetic_corpus",
]
