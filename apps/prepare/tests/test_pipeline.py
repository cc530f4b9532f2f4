"""End to end: recordings on disk -> ``prepare pretraining`` / ``prepare primary`` -> files eeg-io reads."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from numpy.testing import assert_allclose

from eeg_prepare.cli import main
from eeg_prepare.config import build_config
from eeg_prepare.errors import PrepareError
from eeg_prepare.output import SETTINGS_KEY, read_metadata
from eeg_prepare.pipeline import run_pretraining, run_primary

MUSE_ORDER = ["AF7", "AF8", "TP9", "TP10"]
METADATA = ["run", "parent_window_id", "sub_window_id", "window_start", "window_end"]
FREQS = {"AF7": 10.0, "AF8": 6.0, "TP9": 3.0, "TP10": 12.0}


def muse(writers, seconds: float, sfreq: float, names=tuple(MUSE_ORDER)) -> np.ndarray:
    return np.vstack([writers.sines([(FREQS[n], 20.0)], seconds, sfreq) for n in names])


@pytest.fixture
def study(tmp_path, writers) -> Path:
    """A BIDS-like study: sub-01 EDF at 250 Hz with a spike at 5.1 s; sub-02 BDF at 256 Hz (run 1) and a
    muselsl CSV (run 2); sub-03 EDF (no label); a labels CSV with ids spelled differently."""
    root = tmp_path / "raw"
    eeg = root / "sub-01" / "eeg"
    data = muse(writers, 20.0, 250.0)
    data[1, round(5.1 * 250)] += 2000.0  # a 2 mV spike on AF8 in the third 2-s window
    writers.mne_file(eeg / "sub-01_task-rest_run-1_eeg.edf", data, MUSE_ORDER, 250.0)
    writers.mne_file(
        root / "sub-02" / "eeg" / "sub-02_task-rest_run-1_eeg.bdf",
        muse(writers, 16.0, 256.0),
        MUSE_ORDER,
        256.0,
    )
    writers.muselsl_csv(
        root / "sub-02" / "eeg" / "sub-02_task-rest_run-2_eeg.csv",
        muse(writers, 12.0, 256.0, names=writers.MUSE),
        256.0,
    )
    writers.mne_file(
        root / "sub-03" / "eeg" / "sub-03_task-rest_run-1_eeg.edf",
        muse(writers, 10.0, 250.0),
        MUSE_ORDER,
        250.0,
    )
    (tmp_path / "labels.csv").write_text("participant_id;remission\n1;0\n002;1\n5;1\n")
    return root


def make_config(study: Path, small_config: dict, **sections):
    data = {
        **small_config,
        "pretraining": {
            "input": {"root": str(study)},
            "output_dir": str(study.parent / "out" / "pretraining"),
        },
        "primary": {
            "input": {"root": str(study)},
            "labels": {
                "path": str(study.parent / "labels.csv"),
                "participant_column": "Participant_ID",
                "label_column": "Remission",
            },
            "output_dir": str(study.parent / "out"),
        },
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return build_config(data)


def quiet(_line: str) -> None:
    pass


def by_participant_run(outcome) -> dict[tuple[str, str], object]:
    return {(r.source.participant, r.source.run): r for r in outcome.results}


def test_pretraining_files_pass_eeg_io_validate_and_hold_the_signal(study, small_config):
    import eeg_io
    from eeg_io.cli import main as eeg_io_main

    config = make_config(study, small_config)
    outcome = run_pretraining(config, echo=quiet)
    assert outcome.status == 0
    results = by_participant_run(outcome)
    assert {k: r.status for k, r in results.items()} == {
        ("sub-01", "1"): "written",
        ("sub-02", "1"): "written",
        ("sub-02", "2"): "written",
        ("sub-03", "1"): "written",
    }
    out = Path(config.pretraining.output_dir)
    assert eeg_io.validate(out, window_length=256) == []
    assert eeg_io_main(["validate", str(out), "--window-length", "256"]) == 0

    first = out / "sub-01" / "sub-01_run-1.parquet"
    table = pq.read_table(first)
    assert table.column_names == ["participant", *METADATA, *MUSE_ORDER]
    assert table.schema.field("AF7").type == pa.list_(pa.float32())
    assert table.column("participant").to_pylist() == ["sub-01"] * table.num_rows
    # 20 s at 2 s per window = 10 windows, one rejected for the spike (window 2, 4-6 s).
    counts = results[("sub-01", "1")].counts
    assert (counts.candidates, counts.kept, counts.peak_to_peak) == (10, 9, 1)
    assert table.column("sub_window_id").to_pylist() == [0, 1, 3, 4, 5, 6, 7, 8, 9]
    assert_allclose(table.column("window_start").to_numpy(), [0, 2, 6, 8, 10, 12, 14, 16, 18])
    for channel, freq in FREQS.items():
        windows = eeg_io.read_channel_windows(first, channel.lower(), 256).windows  # (L, W)
        spectrum = np.abs(np.fft.rfft(windows[4]))
        assert np.fft.rfftfreq(256, 1 / 128)[spectrum.argmax()] == freq, channel
        assert abs(windows.mean(axis=1)).max() < 1e-3  # DC removed per window
    assert read_metadata(first)[SETTINGS_KEY]["signal"]["sampling_rate"] == 128.0

    with open(outcome.report, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [
        (r["participant"], r["run"], r["status"], r["kept"], r["rejected_peak_to_peak"]) for r in rows
    ] == [
        ("sub-01", "1", "written", "9", "1"),
        ("sub-02", "1", "written", "8", "0"),
        ("sub-02", "2", "written", "6", "0"),
        ("sub-03", "1", "written", "5", "0"),
    ]
    assert (
        yaml.safe_load((out / "prepare_pretraining_config.yaml").read_text())["windows"]["window_seconds"]
        == 2.0
    )
    assert any("windows: 28 kept of 29; rejected 1 (peak-to-peak 1" in line for line in outcome.lines)


def test_windows_land_at_the_recorded_sample_offsets(tmp_path, writers):
    """No resampling, filtering or DC removal: row k of the output is samples [kW, (k+1)W) of the file."""
    rng = np.random.default_rng(0)
    data = rng.normal(0, 20, size=(2, 1000))
    writers.mne_file(tmp_path / "raw" / "P1_run-1.fif", data, ["Fz", "Cz"], 100.0)
    config = build_config(
        {
            "signal": {"sampling_rate": 100.0, "l_freq": None, "h_freq": None},
            "windows": {"window_seconds": 1.5, "remove_dc": False},
            "artifacts": {"max_peak_to_peak_uv": None, "flat_max_uv": None},
            "pretraining": {"input": {"root": str(tmp_path / "raw")}, "output_dir": str(tmp_path / "out")},
        }
    )
    assert run_pretraining(config, echo=quiet).status == 0
    table = pq.read_table(tmp_path / "out" / "P1" / "P1_run-1.parquet")
    fz = np.asarray(table.column("Fz").to_pylist())
    assert fz.shape == (6, 150)  # 10 s / 1.5 s: 6 windows, the last 1 s dropped
    assert_allclose(fz, data[0, :900].reshape(6, 150), atol=1e-4)


def test_rerun_skips_up_to_date_outputs_and_redoes_changed_ones(study, small_config):
    config = make_config(study, small_config)
    run_pretraining(config, echo=quiet)
    out = Path(config.pretraining.output_dir)
    files = sorted(out.rglob("*.parquet"))
    before = {f: f.stat().st_mtime_ns for f in files}

    again = run_pretraining(config, echo=quiet)
    assert {r.status for r in again.results} == {"up_to_date"}
    assert {f: f.stat().st_mtime_ns for f in files} == before
    assert by_participant_run(again)[("sub-01", "1")].counts.peak_to_peak == 1  # counts kept from metadata

    edf = study / "sub-01" / "eeg" / "sub-01_task-rest_run-1_eeg.edf"
    later = files[0].stat().st_mtime + 10
    os.utime(edf, (later, later))
    touched = by_participant_run(run_pretraining(config, echo=quiet))
    assert touched[("sub-01", "1")].status == "written" and touched[("sub-02", "1")].status == "up_to_date"

    changed = make_config(study, small_config, signal={**small_config["signal"], "notch": [50.0]})
    assert {r.status for r in run_pretraining(changed, echo=quiet).results} == {"written"}
    assert read_metadata(files[0])[SETTINGS_KEY]["signal"]["notch"] == [50.0]
    assert {r.status for r in run_pretraining(changed, force=True, echo=quiet).results} == {"written"}


def test_unreadable_recording_is_reported_and_skipped_unless_strict(study, small_config):
    broken = study / "sub-04" / "eeg" / "sub-04_task-rest_run-1_eeg.edf"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"0" * 256 + b"this is not an EDF file")
    config = make_config(study, small_config)
    lines: list[str] = []
    outcome = run_pretraining(config, echo=lines.append)
    assert outcome.status == 0
    failed = by_participant_run(outcome)[("sub-04", "1")]
    assert failed.status == "failed" and "could not read EDF recording" in failed.reason
    assert any(line.startswith("  failed: sub-04 run 1") and str(broken) in line for line in lines)
    assert sum(r.status == "written" for r in outcome.results) == 4
    with pytest.raises(PrepareError, match=rf"\(--strict\) {broken}: could not read EDF recording"):
        run_pretraining(config, strict=True, force=True, echo=quiet)


def test_missing_channel_stops_the_run_or_skips_the_recording_by_policy(study, small_config, writers):
    writers.mne_file(
        study / "sub-05" / "eeg" / "sub-05_task-rest_run-1_eeg.edf",
        muse(writers, 10.0, 250.0, names=("AF7", "AF8", "TP9")),
        ["AF7", "AF8", "TP9"],
        250.0,
    )
    pick = {"pick": MUSE_ORDER}
    with pytest.raises(
        PrepareError, match=r"sub-05_task-rest_run-1_eeg\.edf: channel\(s\) TP10 not found .*on_missing"
    ):
        run_pretraining(make_config(study, small_config, pretraining={"channels": pick}), echo=quiet)
    skip = make_config(
        study, small_config, pretraining={"channels": {**pick, "on_missing": "skip_recording"}}
    )
    lines: list[str] = []
    outcome = run_pretraining(skip, echo=lines.append)
    assert outcome.status == 0
    assert by_participant_run(outcome)[("sub-05", "1")].status == "skipped"
    assert any("skipped: sub-05 run 1" in line and "TP10 not found" in line for line in lines)


def test_nothing_produced_ends_non_zero(study, small_config):
    config = make_config(study, small_config, artifacts={"max_peak_to_peak_uv": 1.0})
    outcome = run_pretraining(config, echo=quiet)
    assert outcome.status == 1
    assert {r.status for r in outcome.results} == {"skipped"}
    assert "error: nothing was produced" in outcome.lines[-1]
    assert not list(Path(config.pretraining.output_dir).rglob("*.parquet"))


def test_primary_dataset_joins_labels_and_loads_through_eeg_io(study, small_config):
    import eeg_io

    config = make_config(study, small_config)
    lines: list[str] = []
    outcome = run_primary(config, echo=lines.append)
    assert outcome.status == 0
    assert outcome.output.name == "2s_af7-af8-tp9-tp10_primary_dataset.parquet"
    statuses = {k: (r.status, r.label) for k, r in by_participant_run(outcome).items()}
    assert statuses == {
        ("sub-01", "1"): ("included", 0),
        ("sub-02", "1"): ("included", 1),
        ("sub-02", "2"): ("included", 1),
        ("sub-03", "1"): ("skipped", None),
    }
    assert any("skipped: sub-03 run 1" in line and "participant not in" in line for line in lines)
    assert "  label without recording: participant 5" in lines

    # The contract finetune reads: id and label columns, window metadata, one list<float32> per channel.
    table = pq.read_table(outcome.output)
    assert table.column_names == ["Participant", "Remission", *METADATA, *MUSE_ORDER]
    assert table.schema.field("Remission").type == pa.int64()
    assert table.schema.field("TP10").type == pa.list_(pa.float32())
    assert sorted(set(table.column("Participant").to_pylist())) == ["002", "1"]
    dataset = eeg_io.read_primary_dataset(
        outcome.output, ["af7", "af8", "tp9", "tp10"], 256, normalization="none"
    )
    assert dataset.participants == ["002", "1"]
    assert dataset.labels.tolist() == [1, 0]
    assert dataset.records[0].windows.shape == (4, 8 + 6, 256)  # both runs of sub-02
    assert dataset.records[1].windows.shape == (4, 9, 256)  # sub-01 without its spike window

    with open(outcome.report, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["participant"], r["status"]) for r in rows][-1] == ("5", "label_without_recording")

    again = run_primary(config, echo=quiet)
    assert again.status == 0 and "is up to date" in again.lines[0]
    (study.parent / "labels.csv").write_text("participant_id;remission\n1;1\n002;1\n")
    os.utime(study.parent / "labels.csv", (outcome.output.stat().st_mtime + 10,) * 2)
    relabelled = run_primary(config, echo=quiet)
    assert relabelled.status == 0 and by_participant_run(relabelled)[("sub-01", "1")].label == 1


def test_primary_with_another_id_column_name_keeps_participant_metadata(study, small_config):
    import eeg_io

    config = make_config(study, small_config, primary={"participant_column": "subject", "label_column": "y"})
    outcome = run_primary(config, echo=quiet)
    table = pq.read_table(outcome.output)
    assert table.column_names[:3] == ["subject", "participant", "y"]
    dataset = eeg_io.read_primary_dataset(outcome.output, MUSE_ORDER, 256, "subject", "y")
    assert dataset.labels.tolist() == [1, 0]


def test_parallel_jobs_write_the_same_files(study, small_config):
    serial = make_config(study, small_config)
    parallel = make_config(
        study, small_config, pretraining={"output_dir": str(study.parent / "out" / "parallel")}
    )
    run_pretraining(serial, echo=quiet)
    assert run_pretraining(parallel, jobs=2, echo=quiet).status == 0
    names = sorted(
        p.relative_to(serial.pretraining.output_dir)
        for p in Path(serial.pretraining.output_dir).rglob("*.parquet")
    )
    assert len(names) == 4
    for name in names:
        assert pq.read_table(Path(serial.pretraining.output_dir) / name).equals(
            pq.read_table(Path(parallel.pretraining.output_dir) / name)
        ), name


def test_dry_run_lists_reads_and_writes_and_touches_nothing(study, small_config):
    config = make_config(study, small_config)
    lines: list[str] = []
    assert run_pretraining(config, dry_run=True, echo=lines.append).status == 0
    assert lines[0].startswith("dry run: pretraining: 4 recording(s)")
    assert any(
        line.endswith("sub-02_run-2.parquet") and "sub-02_task-rest_run-2_eeg.csv" in line for line in lines
    )
    lines.clear()
    assert run_primary(config, dry_run=True, echo=lines.append).status == 0
    assert any("labels: 3 participant(s)" in line for line in lines)
    assert any(line.startswith("  skip  ") and "sub-03" in line for line in lines)
    assert "  label without recording: participant 5" in lines
    assert not (study.parent / "out").exists()


def test_cli_runs_both_commands_and_config_errors_exit_2(study, small_config, tmp_path, capsys):
    config_path = tmp_path / "processing.yaml"
    data = {
        **small_config,
        "pretraining": {"input": {"root": str(study)}, "output_dir": str(tmp_path / "out")},
        "primary": {
            "input": {"root": str(study)},
            "labels": {"path": str(tmp_path / "labels.csv"), "participant_column": "participant_id"},
            "output_dir": str(tmp_path / "out"),
        },
    }
    config_path.write_text(yaml.safe_dump(data))
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config_path), "pretraining", "--set", "windows.window_seconds=abc"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid config") and "@ $.windows.window_seconds" in err
    assert "Traceback" not in err

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config_path), "process-primary", "--set", "primary.labels.path=nowhere.csv"])
    assert exit_info.value.code == 2
    assert "primary.labels.path: labels file nowhere.csv does not exist" in capsys.readouterr().err

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config_path), "--jobs", "1", "primary", "--force"])
    assert exit_info.value.code == 0
    assert "wrote " in capsys.readouterr().out
    assert (tmp_path / "out" / "2s_af7-af8-tp9-tp10_primary_dataset.parquet").is_file()

    with pytest.raises(SystemExit) as exit_info:
        main(["pretraining", "--config", str(config_path), "--dry-run"])
    assert exit_info.value.code == 0
    assert "dry run: pretraining" in capsys.readouterr().out
