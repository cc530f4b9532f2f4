"""Pretraining on pooled corpora (data.corpora): the config's errors, two corpora with different channel
sets in one run with validation figures per corpus, each corpus validated as it would be alone, the
weighted sampler under DDP sharding and resume, and determinism."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from eeg_io import corpus_metadata, write_synthetic_corpus
from eeg_io.layout import windows_table, write_table
from eeg_pretrain.cli import main
from eeg_pretrain.config import load_config
from eeg_pretrain.data import build_data
from eeg_pretrain.pool import WeightedEpochSampler
from eeg_pretrain.reporting import config_params, run_facts
from eeg_pretrain.trainer import Trainer
from eeg_train import DistInfo

FOUR = ["Fp1", "Fp2", "C3", "C4"]
SIX = ["Fp1", "Fp2", "C3", "C4", "O1", "O2"]


def write_corpus(root: Path, channels, participants, sfreq=32.0, window_length=64, seed=0) -> Path:
    write_synthetic_corpus(
        root,
        participants=participants,
        channels=channels,
        windows_per_run=8,
        window_length=window_length,
        sfreq=sfreq,
        seed=seed,
        dynamics=False,
    )
    return root


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """blink: 5 people x 4 channels; eyes: 4 people x 6 channels; both call their people sub-001, ...
    (window 64 samples at 32 Hz, shown by the window times)."""
    root = tmp_path_factory.mktemp("pool")
    write_corpus(root / "blink", FOUR, 5)
    write_corpus(root / "eyes", SIX, 4, seed=1)
    return root


def pooled_config(pool: Path, save_dir: Path, make_config, **data) -> dict:
    config = make_config(pool / "unused", save_dir, None, train={"epochs": 1, "num_plot_examples": 1})
    config["data"].pop("dataset_path")
    config["data"].pop("window_length")  # the corpora's
    config["data"]["corpora"] = [{"path": str(pool / "blink")}, {"path": str(pool / "eyes"), "weight": 2.0}]
    config["data"].update(data)
    return config


def run_cli(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code, capsys.readouterr().err


def refused(config: dict, tmp_path: Path, capsys) -> str:
    """The one problem line of a config the run refuses (exit 2) before it writes anything."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code, err = run_cli(["--config", str(path)], capsys)
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err, err
    assert not Path(config["train"]["save_dir"]).exists()  # no statistics, checkpoint or run folder
    return lines[-1].strip()


def test_pooled_configs_are_refused_in_one_line_naming_what_disagrees(pool, tmp_path, make_config, capsys):
    save = tmp_path / "run"
    both = pooled_config(pool, save, make_config, dataset_path=str(pool / "blink"))
    assert "exclusive" in refused(both, tmp_path, capsys)

    twins = pooled_config(pool, save, make_config)
    twins["data"]["corpora"] = [{"path": str(pool / "blink")}, {"path": str(tmp_path / "b" / "blink")}]
    write_corpus(tmp_path / "b" / "blink", FOUR, 2)
    assert "both named 'blink'; set name: on one of them @ $.data.corpora" in refused(twins, tmp_path, capsys)

    fast = pooled_config(pool, save, make_config)
    fast["data"]["corpora"].append({"path": str(write_corpus(tmp_path / "fast", FOUR, 3, sfreq=64.0))})
    line = refused(fast, tmp_path, capsys)
    assert line.startswith("corpus blink has sampling_rate 32 (shown by the data of ")
    assert "but corpus fast has 64 (shown by the data of " in line
    assert line.endswith("re-run prepare on them with one signal.sampling_rate @ $.data.corpora")

    long = pooled_config(pool, save, make_config)
    long["data"]["corpora"].append({"path": str(write_corpus(tmp_path / "long", FOUR, 3, window_length=32))})
    line = refused(long, tmp_path, capsys)
    assert "corpus blink has window_length 64" in line and "corpus long has 32" in line
    assert "windows.window_seconds" in line

    # a value prepare recorded in one corpus against the user's
    recorded = tmp_path / "recorded"
    starts = np.arange(3) * 2.0
    table = windows_table({"FP1": np.zeros((3, 64))}, participant="p", run="1", window_start=starts,
                          window_end=starts + 2.0)  # fmt: skip
    write_table(table, recorded / "p_run-1.parquet", corpus_metadata(64, 32.0, ["FP1"]))
    user = pooled_config(pool, save, make_config, sampling_rate=256.0)
    user["data"]["corpora"].append({"path": str(recorded), "name": "prepared"})
    line = refused(user, tmp_path, capsys)
    assert "256.0 disagrees with 32, recorded by prepare in " in line and "(corpus prepared)" in line

    synthetic = pooled_config(pool, save, make_config)
    synthetic["synthetic"] = {"enabled": True}
    assert "synthetic.enabled writes one corpus to data.dataset_path" in refused(synthetic, tmp_path, capsys)

    odd = pooled_config(pool, save, make_config)
    odd["data"]["corpora"].append({"path": str(write_corpus(tmp_path / "odd", ["Fp1", "XYZ"], 3))})
    line = refused(odd, tmp_path, capsys)
    assert "cannot place 1 of the 7 channels of blink (" in line and ": 'XYZ' (odd). Fix:" in line


class RecordingTracker:
    """A tracker that keeps what it is given (no MLflow)."""

    run_id = None

    def __init__(self) -> None:
        self.metrics: list[dict] = []

    def log_params(self, params) -> None:
        pass

    def log_metrics(self, metrics, step) -> None:
        self.metrics.append(dict(metrics))

    def set_tags(self, tags) -> None:
        pass

    def log_artifact(self, path, artifact_path=None) -> None:
        pass

    def register_model(self, local_dir, name) -> None:
        pass

    def close(self, status="FINISHED") -> None:
        pass


def train_once(config: dict, folder: Path) -> tuple[Trainer, RecordingTracker]:
    folder.mkdir(parents=True)
    config = {**config, "train": {**config["train"], "save_dir": str(folder / "run")}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    tracker = RecordingTracker()
    trainer = Trainer(load_config(path), DistInfo(), torch.device("cpu"), tracker=tracker)
    trainer.fit()
    return trainer, tracker


def test_two_corpora_with_other_channels_pretrain_together_and_report_each(
    pool, tmp_path, make_config, caplog
):
    config = pooled_config(pool, tmp_path, make_config)
    # spectral target and input with the learned context (band statistics of the mixture, encoder skill)
    config["model"].update(input="spectrum", local_context=True)
    config["objective"] = {"target": "spectrum"}
    with caplog.at_level(logging.INFO, logger="eeg_pretrain"):
        trainer, tracker = train_once(config, tmp_path / "first")
    assert (
        trainer.config.data.window_length == 64 and trainer.config.data.sampling_rate == 32.0
    )  # the corpora's

    epoch = next(m for m in tracker.metrics if "val_loss" in m)
    for name in ("blink", "eyes"):
        for key in ("loss", "r2", "skill", "encoder_skill", "context_mean_baseline"):
            assert np.isfinite(epoch[f"{name}/val_{key}"]), (name, key)
    # the pooled figures count every held-out window once: the loss lies between the corpora's
    assert min(epoch["blink/val_loss"], epoch["eyes/val_loss"]) <= epoch["val_loss"]
    assert epoch["val_loss"] <= max(epoch["blink/val_loss"], epoch["eyes/val_loss"])
    params = config_params(trainer.config)
    assert params["data.corpora.eyes.weight"] == 2.0 and "data.corpora" not in params
    facts = run_facts(trainer.data, trainer.model, DistInfo())
    assert facts["blink/epoch_sequences"] + facts["eyes/epoch_sequences"] == len(trainer.train_set)
    assert facts["eyes/val_participants"] == 1 and facts["blink/val_participants"] == 2
    assert "corpus eyes: val loss" in caplog.text and "weight 2: " in caplog.text

    summary = trainer.summary()
    assert summary["corpora"]["eyes"]["val_skill"] == epoch["eyes/val_skill"]
    assert summary["corpora"]["blink"]["weight"] == 1.0

    # who it was trained on: people carry their corpus's name (both corpora have a sub-001)
    payload = torch.load(tmp_path / "first" / "run" / "mamba2_eeg_pretrained.pt", weights_only=True)
    record = payload["pretraining_data"]
    people = record["participants"] + record["val_participants"]
    assert len(set(people)) == 9 and {p.partition("/")[0] for p in people} == {"blink", "eyes"}
    assert "blink/sub-001" in people and "eyes/sub-001" in people
    assert len(record["files"] + record["val_files"]) == 9

    # the same config, the same numbers
    again, tracker_again = train_once(config, tmp_path / "second")
    assert tracker_again.metrics[-1] | {"epoch_seconds": 0.0} == tracker.metrics[-1] | {"epoch_seconds": 0.0}
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key


def test_a_corpus_in_a_pool_is_validated_as_a_run_on_it_alone_validates_it(pool, tmp_path, make_config):
    pooled_path, alone_path = tmp_path / "pooled.yaml", tmp_path / "alone.yaml"
    pooled_path.write_text(yaml.safe_dump(pooled_config(pool, tmp_path / "p", make_config)))
    alone = make_config(pool / "eyes", tmp_path / "a", None)
    alone["data"].pop("window_length")
    alone_path.write_text(yaml.safe_dump(alone))
    pooled = build_data(load_config(pooled_path), DistInfo(), torch.device("cpu"))
    single = build_data(load_config(alone_path), DistInfo(), torch.device("cpu"))

    batch = pooled.collate([pooled.val_set[i] for i in range(len(pooled.val_set))])
    rows = [b for b, corpus in enumerate(batch["corpora"]) if corpus == "eyes"]
    expected = single.collate([single.val_set[i] for i in range(len(single.val_set))])
    assert [f"eyes/{p}" for p in expected["participants"]] == [batch["participants"][b] for b in rows]
    assert batch["channels"][rows[0] : rows[-1] + 1] == expected["channels"]
    assert torch.equal(batch["mask"][rows], expected["mask"])  # the same sequences, the same masks
    assert set(batch["corpora"]) == {"blink", "eyes"} and {len(set(batch["channels"][: rows[0]]))} == {4}


def test_the_weighted_sampler_shards_an_epoch_over_ranks_and_resumes_inside_it():
    sizes, weights = [7, 20], [2.0, 1.0]
    whole = WeightedEpochSampler(sizes, weights, 1, 0, seed=3, batch_size=4)
    ranks = [WeightedEpochSampler(sizes, weights, 2, r, seed=3, batch_size=4) for r in range(2)]
    for sampler in (whole, *ranks):
        sampler.set_epoch(5)
    order = whole.rank_order()
    assert whole.quotas == [18, 9] and len(order) == 27
    shards = [list(r) for r in ranks]
    assert [len(s) for s in shards] == [14, 14] and ranks[0].batches_per_epoch() == 4
    interleaved = [shards[i % 2][i // 2] for i in range(28)]
    assert interleaved[:27] == order and interleaved[27] == order[0]  # padded as DistributedSampler pads
    whole.set_epoch(5, skip_batches=2)
    assert list(whole) == order[8:] and len(whole) == 19
    drawn = np.asarray(order)
    assert np.bincount((drawn % 27) >= 7).tolist() == [18, 9]  # the small corpus in 2 full passes + 4
