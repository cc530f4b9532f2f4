"""Pretraining on a subset of the corpus records only the participants it used, and finetune's leakage guard
counts only those: labelled data that copies the whole corpus (under other names) is seen for the subset's
and the validation participants, not for the participants the subset left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from eeg_eval import Fold
from eeg_finetune.data import load_labelled
from eeg_finetune.leakage import leakage_report
from eeg_finetune.pretrained import PretrainedSource
from eeg_io import find_parquet_files
from eeg_io.layout import channel_columns, primary_table, windows_table, write_table
from eeg_pretrain.data import build_data
from eeg_pretrain.run_folder import build_config
from eeg_train import DistInfo


def copy_as_labelled(corpus, path):
    """Every window of every corpus file in one primary file, each participant renamed ``L-<id>``."""
    tables = []
    for i, file in enumerate(find_parquet_files(corpus)):
        table = pq.read_table(file)
        columns = channel_columns(table.schema, file)
        channels = {
            name: np.asarray(table.column(column).to_pylist(), dtype=np.float32)
            for name, column in columns.items()
        }
        participant = table.column("participant")[0].as_py()
        tables.append(primary_table(windows_table(channels, participant=f"L-{participant}", run="1"), i % 2))
    write_table(pa.concat_tables(tables), path)
    return list(channels)


def guard_sees(config, data, folds):
    record = build_data(build_config(config), DistInfo(), torch.device("cpu")).record
    source = PretrainedSource(
        checkpoint=Path("ckpt.pt"),
        run_name="run",
        mlflow_run_id=None,
        model_config={},
        pretraining_participants=frozenset(record["participants"] + record["val_participants"]),
        pretraining_fingerprints=frozenset(record["fingerprints"]),
    )
    report = leakage_report(source, data, folds)
    return record, {seen.removeprefix("L-") for seen in report["seen"]}


def test_the_guard_counts_only_the_participants_a_subset_pretrained_on(tiny_corpus, tmp_path, make_config):
    channels = copy_as_labelled(tiny_corpus, tmp_path / "labelled.parquet")
    data = load_labelled(tmp_path / "labelled.parquet", channels=channels, window_length=64)
    tested = tuple(range(len(data.participants)))
    folds = [Fold(index=1, train=(), val=(), test=tested)]  # every labelled person tested
    everyone = {p.removeprefix("L-") for p in data.participants}
    assert len(everyone) == 6

    full, seen_by_full = guard_sees(make_config(tiny_corpus, tmp_path / "full", None), data, folds)
    assert seen_by_full == everyone  # the whole corpus, found by its samples under other names

    subset_config = make_config(tiny_corpus, tmp_path / "subset", None, data={"participants": 2})
    record, seen_by_subset = guard_sees(subset_config, data, folds)
    used = set(record["participants"]) | set(record["val_participants"])
    assert len(record["participants"]) == 2 and record["val_participants"] == full["val_participants"]
    assert seen_by_subset == used and len(used) == 4  # the two left out are not counted
    assert set(record["participants"]) < set(full["participants"])


def test_a_pool_records_each_corpus_people_under_its_name_and_the_guard_finds_them_by_samples(
    tiny_corpus, tmp_path, make_config
):
    from eeg_io import write_synthetic_corpus

    other = tmp_path / "other"  # its people are called sub-001 ... too, and are other people
    write_synthetic_corpus(other, participants=5, channels=["Fp1", "C3", "O1"], windows_per_run=6,
                           window_length=64, sfreq=32.0, seed=9)  # fmt: skip
    channels = copy_as_labelled(other, tmp_path / "labelled.parquet")
    data = load_labelled(tmp_path / "labelled.parquet", channels=channels, window_length=64)
    folds = [Fold(index=1, train=(), val=(), test=tuple(range(len(data.participants))))]

    config = make_config(tiny_corpus, tmp_path / "pool", None, data={"participants": 2})
    del config["data"]["dataset_path"]
    config["data"]["corpora"] = [{"path": str(tiny_corpus), "name": "tiny"}, {"path": str(other)}]
    record, seen = guard_sees(config, data, folds)
    used = record["participants"] + record["val_participants"]
    assert len(set(used)) == len(used) == 4 + 4  # per corpus: 2 trained on, 2 held out
    assert {p.partition("/")[0] for p in used} == {"tiny", "other"}
    assert {"tiny/sub-001", "other/sub-001"} & set(used)  # the same id in both corpora, two people
    # the labelled copy of `other` is seen for the people of `other` the encoder used, by their samples
    assert seen == {p.removeprefix("other/") for p in used if p.startswith("other/")}
