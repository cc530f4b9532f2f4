"""End to end across the apps, through their command-line entry points, on tiny data (CPU, seconds each):

1. raw EDF recordings -> ``prepare pretraining`` and ``prepare primary`` -> ``python -m eeg_io validate`` ->
   ``pretrain`` -> the checkpoint loads -> ``finetune`` on the prepared primary file, with the pretrain
   config locating the checkpoint;
2. ``sweep`` over two mask ratios -> ``finetune`` finds, in the sweep folder, the checkpoint of the ratio
   its pretrain config names (and refuses a ratio the sweep did not run).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml

pytestmark = pytest.mark.slow

MUSE = ["TP9", "AF7", "AF8", "TP10"]
PICK = ["AF7", "AF8", "TP9", "TP10"]  # the primary's channel order (primary.channels.pick)
RAW_SFREQ = 256.0
SECONDS = 24.0
SFREQ = 128.0  # prepare resamples to this
WINDOW_SECONDS = 0.5  # 64 samples at 128 Hz: the tiny model's window
WINDOW = 64
PARTICIPANTS = [f"sub-{i:02d}" for i in range(1, 9)]
PRETRAINED_ON = PARTICIPANTS[:4]  # only these go into the pretraining corpus
RUN_NAME = "mamba2_eeg_d16_l1_m40_mae"
FINETUNED = f"{RUN_NAME}_finetuned"
MODELS = {"band_power", "waveform", "random_encoder", "linear_probe", "finetuned"}


def exit_code(main, args: list[str]) -> int:
    """Run an app's ``main`` (which always exits) in-process and return its exit status."""
    with pytest.raises(SystemExit) as info:
        main(args)
    return info.value.code


def label_of(participant: str) -> int:
    return int(participant[-2:]) % 2


def write_edf(path: Path, participant: str, seed: int) -> None:
    """A Muse recording in µV: a class-specific rhythm (6 Hz for label 0, 12 Hz for label 1) on every
    channel, independent noise per channel and a slow drift that the band-pass removes."""
    import mne

    rng = np.random.default_rng(seed)
    t = np.arange(round(SECONDS * RAW_SFREQ)) / RAW_SFREQ
    freq = 12.0 if label_of(participant) else 6.0
    rhythm = 15.0 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    data = rhythm + rng.normal(0.0, 5.0, size=(len(MUSE), t.size)) + 30.0 * np.sin(2 * np.pi * 0.05 * t)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(MUSE, RAW_SFREQ, "eeg"), verbose="error")
    mne.export.export_raw(path, raw, fmt="edf", verbose="error", overwrite=True)


def test_prepare_pretrain_finetune_on_raw_recordings(tmp_path, make_config, write_config, capsys):
    import eeg_io
    from eeg_finetune.cli import main as finetune
    from eeg_io.cli import main as eeg_io_main
    from eeg_prepare.cli import main as prepare
    from eeg_pretrain.cli import main as pretrain
    from eeg_ssm import load_pretrained

    # --- raw recordings (BIDS-like), a labels CSV and a processing config ---
    raw_root = tmp_path / "raw"
    for seed, participant in enumerate(PARTICIPANTS):
        write_edf(
            raw_root / participant / "eeg" / f"{participant}_task-rest_run-1_eeg.edf", participant, seed
        )
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "Participant,Remission\n" + "".join(f"{p},{label_of(p)}\n" for p in PARTICIPANTS), encoding="utf-8"
    )
    pretraining_dir = tmp_path / "processed" / "pretraining"
    processing = write_config(
        {
            "signal": {"sampling_rate": SFREQ, "l_freq": 1.0, "h_freq": 40.0},
            "windows": {"window_seconds": WINDOW_SECONDS},
            "artifacts": {"max_peak_to_peak_uv": 300.0, "flat_seconds": WINDOW_SECONDS},
            "pretraining": {
                "input": {"root": str(raw_root), "include": "sub-0[1-4]_*"},
                "output_dir": str(pretraining_dir),
            },
            "primary": {
                "input": {"root": str(raw_root)},
                "channels": {"pick": PICK},
                "labels": {"path": str(labels)},
                "output_dir": str(tmp_path / "processed"),
            },
        },
        "processing.yaml",
    )

    # --- prepare pretraining: one Parquet file per participant-run, which eeg-io validates ---
    assert exit_code(prepare, ["--config", str(processing), "pretraining"]) == 0
    files = sorted(pretraining_dir.rglob("*.parquet"))
    assert [f.relative_to(pretraining_dir).as_posix() for f in files] == [
        f"{p}/{p}_run-1.parquet" for p in PRETRAINED_ON
    ]
    per_file = int(SECONDS / WINDOW_SECONDS)  # 48 windows, none rejected (peak-to-peak ~60 µV, no flats)
    for file in files:
        table = pq.read_table(file)
        assert table.num_rows == per_file, file
        assert {c.upper() for c in table.column_names} >= set(MUSE)
        assert len(table.column("AF7")[0]) == WINDOW
    with open(pretraining_dir / "prepare_pretraining_report.csv", newline="") as handle:
        report = {r["participant"]: r for r in csv.DictReader(handle) if r["participant"]}
    assert {p: r["status"] for p, r in report.items()} == dict.fromkeys(PRETRAINED_ON, "written")
    capsys.readouterr()
    assert (
        eeg_io_main(
            [
                "validate",
                str(pretraining_dir),
                "--window-length",
                str(WINDOW),
                "--sampling-rate",
                str(SFREQ),
            ]
        )
        == 0
    )
    assert eeg_io.validate(pretraining_dir, window_length=WINDOW) == []

    # --- prepare primary: one labelled file for every participant ---
    assert exit_code(prepare, ["--config", str(processing), "primary"]) == 0
    primary = tmp_path / "processed" / "0.5s_af7-af8-tp9-tp10_primary_dataset.parquet"
    assert primary.is_file()
    table = pq.read_table(primary)
    assert table.column_names[:2] == ["Participant", "Remission"] and table.column_names[-4:] == PICK
    rows = dict(
        zip(table.column("Participant").to_pylist(), table.column("Remission").to_pylist(), strict=True)
    )
    assert rows == {p: label_of(p) for p in PARTICIPANTS}
    assert table.num_rows == len(PARTICIPANTS) * per_file
    dataset = eeg_io.read_primary_dataset(primary, PICK, WINDOW)
    assert dataset.participants == PARTICIPANTS
    assert dataset.labels.tolist() == [label_of(p) for p in PARTICIPANTS]

    # --- pretrain a tiny encoder on the prepared corpus ---
    save_dir = tmp_path / "runs" / "pretrain"
    pretrain_config = write_config(
        make_config(
            pretraining_dir,
            save_dir,
            None,
            data={"sampling_rate": SFREQ, "val_ratio": 0.25},
            objective={"target": "raw"},
            train={"epochs": 2},
        ),
        "pretrain.yaml",
    )
    assert exit_code(pretrain, ["--config", str(pretrain_config), "--quiet"]) == 0
    best = save_dir / "mamba2_eeg_pretrained.pt"
    assert best.is_file() and (save_dir / "mamba2_eeg_pretrained_last.pt").is_file()
    summary = json.loads((save_dir / "summary.json").read_text())
    assert summary["finished"] is True and summary["epochs"] == 2
    assert summary["checkpoint"] == str(best.resolve())
    resolved = yaml.safe_load((save_dir / "config.yaml").read_text())
    assert resolved["data"]["dataset_path"] == str(pretraining_dir)
    assert resolved["data"]["sampling_rate"] == SFREQ

    payload = torch.load(best, weights_only=True)  # a plain dict of tensors and plain types
    assert payload["epoch"] in (1, 2) and np.isfinite(payload["best_val_loss"])
    assert payload["model_config"]["d_model"] == 16 and payload["model_config"]["num_layers"] == 1
    assert payload["model_config"]["window_length"] == WINDOW
    record = payload["pretraining_data"]
    assert sorted(record["participants"] + record["val_participants"]) == PRETRAINED_ON
    assert record["participants"] and record["val_participants"]
    assert not set(record["participants"]) & set(record["val_participants"])
    encoder = load_pretrained(best, map_location="cpu")
    assert encoder.config.d_model == 16 and encoder.config.window_length == WINDOW
    state = encoder.state_dict()
    assert state.keys() == payload["model"].keys()
    for key, tensor in payload["model"].items():
        assert torch.equal(state[key], tensor), key

    # --- finetune on the primary file; the pretrain config locates the checkpoint ---
    out = tmp_path / "finetuned"
    finetune_config = write_config(
        {
            "data": {"channels": PICK},
            "split": {"method": "kfold", "folds": 4, "val_ratio": 0.0},
            "model": {"dropout": 0.0},
            "train": {"epochs": 3, "batch_size": 4, "quiet": True, "device": "cpu"},
            "tracking": {"enabled": False},
            "evaluation": {"bootstrap_resamples": 20},
            "compare_baselines": True,
        },
        "finetune.yaml",
    )
    capsys.readouterr()
    args = ["--config", str(finetune_config), "--pretrain-config", str(pretrain_config)]
    args += ["--data-path", str(primary), "--output-dir", str(out)]
    assert exit_code(finetune, args) == 0
    printed = capsys.readouterr().out

    summary = json.loads((out / f"{FINETUNED}_summary.json").read_text())
    assert summary["pretrained_checkpoint"] == str(best.resolve())
    assert summary["pretrain_run_name"] == RUN_NAME
    assert summary["participants"] == len(PARTICIPANTS) and summary["units"] == len(PARTICIPANTS)
    assert summary["classes"] == [0, 1] and summary["channels"] == PICK and summary["folds"] == 4
    assert set(summary["models"]) == MODELS
    # every participant is tested once (k-fold); the encoder saw the first four during pretraining
    assert summary["leakage"] == {
        "test_groups": 8,
        "test_groups_seen": 4,
        "test_participants": 8,
        "test_participants_seen": 4,
        "seen": PRETRAINED_ON,
        "by": "samples",  # the prepared primary's windows are the pretraining corpus's, found by fingerprint
    }
    assert "leakage guard: the encoder was pretrained on 4 of the 8 test groups" in printed

    verdict = summary["verdict"]
    assert f"verdict: {verdict}" in printed.splitlines()
    # the verdict judges the model named before the results (the linear probe) against the random encoder
    # and the better classic baseline (by AUROC); the encoder saw 4 of the 8 test groups, so it may say
    # "did not help" but never "helped" (undecided instead, naming the overlap)
    auroc = {m: summary["models"][m]["metrics"]["auroc"] for m in MODELS}
    judged, classic = summary["verdict_models"]["judged"], summary["verdict_models"]["classic"]
    assert judged == "linear_probe" and classic in ("band_power", "waveform")
    assert auroc[classic] == max(auroc["band_power"], auroc["waveform"])
    against = [summary["differences"][f"{judged} - {b}"]["auroc"] for b in ("random_encoder", classic)]
    for difference, baseline in zip(against, ("random_encoder", classic), strict=True):
        assert difference["estimate"] == pytest.approx(auroc[judged] - auroc[baseline])
        assert difference["low"] <= difference["estimate"] <= difference["high"]
    if all(d["low"] > 0 for d in against):
        assert summary["decision"] == "undecided", verdict
        assert "the encoder saw 4 of 8 test groups while pretraining" in verdict
    else:
        assert summary["decision"] == "did not help" and verdict.startswith("pretraining did not help"), (
            verdict
        )
        assert verdict.endswith("(the encoder saw 4 of 8 test groups while pretraining)"), verdict

    # the summary's metrics are those of the predictions file
    with open(out / f"{FINETUNED}_predictions.csv", newline="") as handle:
        predictions = list(csv.DictReader(handle))
    for model in MODELS:
        rows = [r for r in predictions if r["model"] == model]
        assert sorted(r["participant"] for r in rows) == PARTICIPANTS, model
        assert all(int(r["label"]) == label_of(r["participant"]) for r in rows), model
        accuracy = np.mean([r["label"] == r["predicted"] for r in rows])
        result = summary["models"][model]
        assert result["metrics"]["accuracy"] == pytest.approx(accuracy), model
        assert 0.0 <= result["metrics"]["auroc"] <= 1.0, model
        low, high = result["interval"]["accuracy"]
        assert low <= high, model
        assert len(result["per_fold"]) == 4, model
    models = sorted(out.glob(f"{FINETUNED}_fold*.pt"))
    assert [p.name for p in models] == [f"{FINETUNED}_fold0{i}.pt" for i in (1, 2, 3, 4)]
    assert summary["model_files"] == [str(p) for p in models]


def test_finetune_finds_the_checkpoint_of_its_ratio_in_a_sweep_folder(
    tiny_corpus, tmp_path, make_config, write_config, capsys
):
    from eeg_finetune.cli import main as finetune
    from eeg_finetune.synthetic import write_synthetic_primary
    from eeg_sweep.cli import main as sweep

    sweep_dir = tmp_path / "sweep"
    configs = {
        ratio: write_config(
            make_config(
                tiny_corpus, sweep_dir, None, masking={"ratio": ratio}, train={"epochs": 1, "device": "cpu"}
            ),
            f"pretrain_m{round(ratio * 100)}.yaml",
        )
        for ratio in (0.2, 0.4, 0.6)
    }
    assert exit_code(sweep, ["--config", str(configs[0.4]), "--ratios", "0.2,0.4", "--quiet"]) == 0
    folders = {ratio: sweep_dir / f"mamba2_eeg_d16_l1_m{round(ratio * 100)}_mae" for ratio in (0.2, 0.4)}
    with open(sweep_dir / "sweep_summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["mask_ratio"], r["status"]) for r in rows] == [("0.2", "finished"), ("0.4", "finished")]
    checkpoints = {ratio: folder / "mamba2_eeg_pretrained.pt" for ratio, folder in folders.items()}
    for ratio, checkpoint in checkpoints.items():
        assert checkpoint.is_file(), checkpoint
        run_config = torch.load(checkpoint, weights_only=True)["run_config"]
        assert run_config["masking"]["ratio"] == ratio
        assert run_config["train"]["save_dir"] == str(folders[ratio])
    assert not (sweep_dir / "mamba2_eeg_pretrained.pt").exists()  # no single-run checkpoint to fall back on
    weights = {ratio: torch.load(c, weights_only=True)["model"] for ratio, c in checkpoints.items()}
    assert any(not torch.equal(weights[0.2][k], weights[0.4][k]) for k in weights[0.2]), (
        "two distinct encoders"
    )

    labelled = write_synthetic_primary(
        tmp_path / "primary.parquet",
        participants=8,
        channels=("Fp1", "Fp2"),
        windows=6,
        window_length=64,
        sfreq=64.0,
    )
    finetune_config = write_config(
        {
            "data": {"channels": ["Fp1", "Fp2"]},
            "split": {"method": "random", "test_ratio": 0.25},
            "train": {"epochs": 2, "batch_size": 4, "quiet": True, "device": "cpu"},
            "tracking": {"enabled": False},
            "evaluation": {"bootstrap_resamples": 10},
            "compare_baselines": False,
        },
        "finetune.yaml",
    )

    def run_finetune(ratio: float, out: Path) -> int:
        return exit_code(
            finetune,
            [
                "--config",
                str(finetune_config),
                "--pretrain-config",
                str(configs[ratio]),
                "--data-path",
                str(labelled),
                "--output-dir",
                str(out),
            ],
        )

    # each ratio's pretrain config finds its own run's checkpoint in the sweep folder
    for ratio, percent in ((0.4, 40), (0.2, 20)):
        out = tmp_path / f"finetuned_m{percent}"
        assert run_finetune(ratio, out) == 0
        name = f"mamba2_eeg_d16_l1_m{percent}_mae"
        summary = json.loads((out / f"{name}_finetuned_summary.json").read_text())
        assert summary["pretrained_checkpoint"] == str(checkpoints[ratio].resolve())
        assert summary["pretrain_run_name"] == name
        saved = torch.load(out / f"{name}_finetuned.pt", weights_only=True)
        assert saved["pretrained_checkpoint"] == str(checkpoints[ratio].resolve())
        assert saved["pretrain_run_name"] == name
        for key, tensor in weights[ratio].items():  # frozen encoder: the saved encoder is that checkpoint's
            assert torch.equal(saved["model"][key], tensor), key

    # a ratio the sweep did not run: an error naming the run, nothing written
    capsys.readouterr()
    out = tmp_path / "finetuned_m60"
    assert run_finetune(0.6, out) == 2
    err = capsys.readouterr().err
    assert "no pretrained checkpoint for run mamba2_eeg_d16_l1_m60_mae" in err, err
    assert not out.exists() or not any(out.iterdir())
