"""The leakage guard compares recordings by their samples: a renamed copy of test data is caught, and
unrelated people who share an id are not."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq

from eeg_finetune.config import build_config
from eeg_finetune.data import load_labelled
from eeg_finetune.inputs import split_data
from eeg_finetune.leakage import leakage_report
from eeg_finetune.pretrained import PretrainedSource
from eeg_io import window_fingerprints


def source(participants, fingerprints):
    return PretrainedSource(
        checkpoint=__import__("pathlib").Path("ckpt.pt"),
        run_name="run",
        mlflow_run_id=None,
        model_config={},
        pretraining_participants=frozenset(participants),
        pretraining_fingerprints=None if fingerprints is None else frozenset(fingerprints),
    )


def raw_windows(path, participant, channel="AF7"):
    table = pq.read_table(path)
    rows = [i for i, p in enumerate(table.column("Participant").to_pylist()) if p == participant]
    return np.asarray([table.column(channel)[i].as_py() for i in rows])


def test_renamed_copies_are_caught_and_shared_ids_are_not(labelled):
    data = load_labelled(labelled, channels=["AF7", "AF8"], window_length=64)
    config = build_config({"split": {"method": "logo"}})
    folds = split_data(config, data)
    # pretrained on P01's and P02's recordings under other names: found by their samples
    copied = window_fingerprints(raw_windows(labelled, "P01")[:2]) + window_fingerprints(
        raw_windows(labelled, "P02")[:1]
    )
    renamed = leakage_report(source(["S-a", "S-b"], copied), data, folds)
    assert renamed["seen"] == ["P01", "P02"] and renamed["by"] == "samples"
    # another corpus whose people are also called P01..P12: no sample in common, nothing seen
    unrelated = window_fingerprints(np.random.default_rng(0).standard_normal((24, 64)))
    same_ids = leakage_report(source(list(data.participants), unrelated), data, folds)
    assert same_ids["test_groups_seen"] == 0 and same_ids["test_groups"] == 12
    # a float64 copy of float32 samples is the same recording
    as_float64 = window_fingerprints(raw_windows(labelled, "P03").astype(np.float64)[:1])
    assert leakage_report(source([], as_float64), data, folds)["seen"] == ["P03"]
    # an old checkpoint without fingerprints falls back to ids, and says so
    by_ids = leakage_report(source(["P04"], None), data, folds)
    assert by_ids["seen"] == ["P04"] and by_ids["by"] == "participant ids"
