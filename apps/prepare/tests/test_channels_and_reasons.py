"""Issue #22: prepare keeps EEG, lists what it dropped and what the montage cannot place, and says why
windows were rejected (per reason and channel) and why a file could not be read."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from eeg_config import ConfigError
from eeg_prepare.channel_types import channel_kind
from eeg_prepare.cli import main
from eeg_prepare.config import (
    ArtifactConfig,
    ChannelConfig,
    CntConfig,
    CsvConfig,
    WindowConfig,
    build_config,
    settings_of,
)
from eeg_prepare.discovery import RecordingSource
from eeg_prepare.errors import RecordingError
from eeg_prepare.readers import read_recording
from eeg_prepare.rejections import describe_rejections, parse_rejections
from eeg_prepare.signal import Continuous
from eeg_prepare.windowing import cut_windows

# The real recordings live in ../shared beside a checkout (or shared/ inside one); EEG_REAL_RECORDINGS overrides.
_CHECKOUT = Path(__file__).resolve().parents[3]
REAL = next(
    (
        path
        for path in (
            Path(os.environ.get("EEG_REAL_RECORDINGS", "/nonexistent")),
            _CHECKOUT.parent / "shared" / "data" / "real-recordings",
            _CHECKOUT / "shared" / "data" / "real-recordings",
        )
        if path.is_dir()
    ),
    _CHECKOUT.parent / "shared" / "data" / "real-recordings",
)


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("Fp1", "eeg"), ("T7", "eeg"), ("A1", "eeg"), ("EEG 000", "eeg"), ("TEMPORAL", "eeg"), ("E129", "eeg"),
        ("ECG", "ecg"), ("EKG-L", "ecg"), ("EEG ECG", "ecg"), ("VEOG", "eog"), ("HEOG", "eog"), ("EOG1", "eog"),
        ("EMGright", "emg"), ("Status", "stim"), ("STI 014", "stim"), ("TRIGGER", "stim"),
        ("pulse", "misc"), ("ramp", "misc"), ("sine 8 Hz", "misc"), ("squarewave", "misc"), ("Resp", "misc"),
        ("SpO2", "misc"), ("Ergo-Left", "misc"), ("Right AUX", "misc"),
    ],
)  # fmt: skip
def test_channels_typed_eeg_by_their_file_are_typed_by_name(label, kind):
    assert channel_kind(label, "eeg") == kind
    assert channel_kind(label, "bio") == "bio"  # MNE's own type wins when it is not eeg


def write(tmp_path: Path, small_config: dict, root: Path, **channels) -> Path:
    config = {
        **small_config,
        "pretraining": {
            "input": {"root": str(root), "layout": "flat", "pattern": "{participant}_run-{run}"},
            "output_dir": str(tmp_path / "out"),
            "channels": channels,
        },
    }
    path = tmp_path / "processing.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def prepare(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out + captured.err


def report_rows(tmp_path: Path) -> dict[str, dict[str, str]]:
    with open(tmp_path / "out" / "prepare_pretraining_report.csv", newline="") as handle:
        return {Path(row["recording"]).name: row for row in csv.DictReader(handle)}


def test_pick_null_drops_non_eeg_and_names_what_the_montage_cannot_place(
    tmp_path, writers, small_config, capsys
):
    names = ["Fz", "Cz", "ECG", "pulse", "Status", "EEG 000", "B7"]
    data = np.vstack([writers.sines([(6.0 + i, 20.0)], 8.0, 128.0) for i in range(len(names))])
    root = tmp_path / "raw"
    writers.mne_file(root / "P01_run-1.edf", data, names, 128.0)
    status, out = prepare(["--config", str(write(tmp_path, small_config, root)), "pretraining"], capsys)
    assert status == 0, out
    row = report_rows(tmp_path)["P01_run-1.edf"]
    assert row["status"] == "written"
    assert row["dropped_channels"] == "ECG (ecg); pulse (misc); Status (stim)"
    assert row["unplaced_channels"] == "EEG 000; B7"
    assert (
        "channels dropped as not EEG (by their type or name): ECG (ecg), pulse (misc), Status (stim)" in out
    )
    assert "channels the montage standard_1005 cannot place (2): EEG 000, B7" in out
    assert "pretraining.channels.montage (and model.montage)" in out and "pretraining.channels.exclude" in out
    import pyarrow.parquet as pq

    columns = pq.read_schema(next((tmp_path / "out").rglob("*.parquet"))).names
    assert {"Fz", "Cz", "EEG 000", "B7"} <= set(columns) and not {"ECG", "pulse", "Status"} & set(columns)


def test_a_named_montage_places_the_caps_labels(tmp_path, writers, small_config, capsys):
    names = ["A1", "B7", "C12", "D32"]
    data = np.vstack([writers.sines([(6.0 + i, 20.0)], 8.0, 128.0) for i in range(len(names))])
    root = tmp_path / "raw"
    writers.mne_file(root / "P01_run-1.edf", data, names, 128.0)
    config = write(tmp_path, small_config, root)
    status, out = prepare(["--config", str(config), "pretraining"], capsys)
    assert status == 0 and "cannot place (3): B7, C12, D32" in out and "biosemi128 places them all" in out
    # The montage only reports: the output stays up to date when it changes.
    status, out = prepare(
        ["--config", str(config), "pretraining", "--set", "pretraining.channels.montage=biosemi128"], capsys
    )
    assert status == 0 and "1 up to date" in out and "cannot place" not in out


def test_montage_settings_are_checked_and_do_not_change_the_numbers(tmp_path):
    base = {"pretraining": {"input": {"root": str(tmp_path)}}}
    with pytest.raises(ConfigError, match=r"closest: biosemi64.* @ \$\.pretraining\.channels\.montage"):
        build_config({"pretraining": {**base["pretraining"], "channels": {"montage": "biosemi65"}}})
    with pytest.raises(ConfigError, match=r"set one @ \$\.pretraining\.channels\.montage"):
        build_config(
            {
                "pretraining": {
                    **base["pretraining"],
                    "channels": {"montage": "biosemi64", "asa_path": "c.elc"},
                }
            }
        )
    named = build_config({"pretraining": {**base["pretraining"], "channels": {"montage": "BioSemi64"}}})
    assert settings_of(named, "pretraining") == settings_of(build_config(base), "pretraining")
    picked = build_config({"pretraining": {**base["pretraining"], "channels": {"pick": ["Fz"]}}})
    assert (
        "types" in settings_of(named, "pretraining")["channels"]
        and "types" not in settings_of(picked, "pretraining")["channels"]
    )


def test_a_recording_without_eeg_is_skipped_naming_its_channels_not_fatal(
    tmp_path, writers, small_config, capsys
):
    root = tmp_path / "raw"
    generator = ["ECG", "ramp", "sine 8 Hz"]
    writers.mne_file(
        root / "P01_run-1.edf", np.vstack([writers.sines([(5.0, 20.0)], 8.0, 128.0)] * 3), generator, 128.0
    )
    writers.mne_file(
        root / "P02_run-1.edf", np.vstack([writers.sines([(5.0, 20.0)], 8.0, 128.0)] * 2), ["Fz", "Cz"], 128.0
    )
    status, out = prepare(["--config", str(write(tmp_path, small_config, root)), "pretraining"], capsys)
    assert status == 0, out
    assert "no EEG channels left to keep (channels: ECG (ecg), ramp (misc), sine 8 Hz (misc))" in out
    assert report_rows(tmp_path)["P01_run-1.edf"]["status"] == "skipped"


# --- why windows were rejected ------------------------------------------------------------------------


def test_rejections_are_counted_per_reason_and_channel():
    sfreq, seconds = 64.0, 8.0
    t = np.arange(int(sfreq * seconds)) / sfreq
    data = np.vstack(
        [20 * np.sin(2 * np.pi * 5 * t), 20 * np.sin(2 * np.pi * 7 * t), 20 * np.sin(2 * np.pi * 3 * t)]
    )
    data[1, : int(2 * sfreq)] *= 100  # windows 0-1: peak-to-peak on ECG
    data[2, int(5 * sfreq) : int(6 * sfreq)] = 0.0  # window 5: flat O1
    signal = Continuous(
        data=data,
        channels=("Fz", "ECG", "O1"),
        sfreq=sfreq,
        bad=np.zeros(data.shape[1], bool),
        source_sfreq=sfreq,
    )
    windows = cut_windows(
        signal, WindowConfig(window_seconds=1.0, remove_dc=False), ArtifactConfig(max_peak_to_peak_uv=500.0)
    )
    assert windows.rejections == (("peak_to_peak", "ECG", 2), ("flat", "O1", 1))
    assert (windows.counts.peak_to_peak, windows.counts.flat, windows.counts.kept) == (2, 1, 5)


def test_a_recording_that_loses_every_window_names_the_dominant_reason_and_channel(
    tmp_path, writers, small_config, capsys
):
    names = ["Fz", "Cz", "ECG lead"]  # typed EEG by name? no: "ECG lead" is ecg. Pick it explicitly.
    data = np.vstack(
        [
            writers.sines([(6.0, 20.0)], 8.0, 128.0),
            writers.sines([(7.0, 20.0)], 8.0, 128.0),
            writers.sines([(1.0, 2000.0)], 8.0, 128.0),
        ]
    )
    root = tmp_path / "raw"
    writers.mne_file(root / "P01_run-1.edf", data, names, 128.0)
    status, out = prepare(
        ["--config", str(write(tmp_path, small_config, root, pick=names)), "pretraining"], capsys
    )
    assert status == 1
    row = report_rows(tmp_path)["P01_run-1.edf"]
    assert row["status"] == "skipped"
    assert "no window kept: all 4 rejected, mostly for peak-to-peak on ECG lead (4 window(s)" in row["reason"]
    assert (
        "artifacts.max_peak_to_peak_uv (300 µV)" in row["reason"]
        and "out of pretraining.channels.pick" in row["reason"]
    )
    assert row["rejected_by_channel"] == "peak_to_peak ECG lead 4"
    assert "mostly for peak-to-peak on ECG lead" in out


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["non_finite", "flat", "peak_to_peak"]),
            st.text(
                st.characters(blacklist_characters=";?", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                min_size=1,
            )
            .map(str.strip)
            .filter(bool),
            st.integers(1, 10**6),
        ),
        max_size=6,
    )
)
def test_rejections_text_reads_back(rejections):
    assert parse_rejections(describe_rejections(rejections)) == tuple(rejections)


# --- reader errors keep the reader's message and name the key -------------------------------------------


def test_a_cnt_reader_error_keeps_mnes_message_without_the_traceback_and_names_the_key(tmp_path, monkeypatch):
    import mne

    message = (
        '\n  File "/x/mne/_fiff/utils.py", line 279, in read_str\n    return str(bytestr.decode("ascii"))\n'
        "               ^^^^^^^^^^^^^^^^^^^^^^^\n\nUnicodeDecodeError: 'ascii' codec can't decode byte 0xb2\n\n"
        "WARNING: mne.io.read_raw_cnt supports Neuroscan CNT files only. If this file is an ANT Neuro CNT, "
        "please use mne.io.read_raw_ant instead."
    )

    def failing_read_raw_cnt(path, data_format, **kwargs):
        raise RuntimeError(message)

    monkeypatch.setattr(mne.io, "read_raw_cnt", failing_read_raw_cnt)
    path = tmp_path / "P01_run-1.cnt"
    path.write_bytes(b"\0" * 64)
    source = RecordingSource(path=path, format="cnt", participant="P01", run="1")
    with pytest.raises(RecordingError) as info:
        read_recording(source, ChannelConfig(), (), CsvConfig(), "pretraining.input.csv", CntConfig())
    text = str(info.value)
    assert "\n" not in text and 'File "' not in text and "^^^" not in text
    assert (
        "RuntimeError: UnicodeDecodeError: 'ascii' codec can't decode byte 0xb2 WARNING: mne.io.read_raw_cnt"
        in text
    )
    assert "pretraining.input.cnt.data_format is auto (the sample width): try int16 or int32" in text


def test_real_recordings_say_what_was_dropped_and_what_cannot_be_placed(tmp_path, small_config, capsys):
    if not REAL.is_dir():
        pytest.skip(f"the real recordings are not at {REAL}")
    root = tmp_path / "raw"
    root.mkdir()
    for file in ("EDF/test_generator_2.edf", "EEGLAB/test_raw.set", "EEGLAB/test_raw.fdt"):
        (root / f"{Path(file).parent.name}_{Path(file).name}").symlink_to(REAL / file)
    config = write(tmp_path, small_config, root)
    status, out = prepare(
        ["--config", str(config), "pretraining", "--set", 'pretraining.input.pattern="{participant}"'], capsys
    )
    assert status == 0, out
    rows = report_rows(tmp_path)
    assert (
        "ECG (ecg)" in rows["EDF_test_generator_2.edf"]["reason"]
        and "sine 8 Hz (misc)" in rows["EDF_test_generator_2.edf"]["reason"]
    )
    assert rows["EEGLAB_test_raw.set"]["unplaced_channels"].startswith("EEG 000; EEG 001")
    assert "channels the montage standard_1005 cannot place (32): EEG 000" in out
