"""Fixtures shared by eeg-train's tests."""

from __future__ import annotations

import pytest

from eeg_train import RunDataset


@pytest.fixture
def corpus_dataset() -> RunDataset:
    """A corpus as MLflow shows it: name, digest, source, a profile and one channel column."""
    return RunDataset(
        name="corpus",
        digest="0123456789abcdef",
        source="/data/corpus",
        context="training",
        profile={"recordings": 6, "participants": 3},
        schema=[{"name": "FZ", "type": "array", "items": {"type": "float"}}],
    )
