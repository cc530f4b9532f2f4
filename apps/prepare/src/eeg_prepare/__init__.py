"""eeg_prepare: raw EEG recordings (MNE formats, Muse CSV) to the pretraining and primary Parquet layouts.

Command line: ``prepare --config configs/processing.yaml pretraining|primary`` (see the README).
From Python: :func:`eeg_prepare.pipeline.run_pretraining` and :func:`eeg_prepare.pipeline.run_primary`.
"""

__version__ = "0.1.0"
