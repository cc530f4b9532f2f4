"""Reading recordings: MNE formats in µV, Muse CSVs, channel picking, and the messages for bad files."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from eeg_prepare.config import ChannelConfig, CsvConfig
from eeg_prepare.discovery import RecordingSource, split_extension
from eeg_prepare.errors import MissingChannelError, RecordingError
from eeg_prepare.readers import read_recording, select_channels

MUSE_PICK = ChannelConfig(pick=("af7", "AF8", "tp9", "TP10"))


def source(path, participant="P1") -> RecordingSource:
    _, format_name = split_extension(path)
    return RecordingSource(path=path, format=format_name, participant=participant, run="1")


def read(path, channels=MUSE_PICK, reference=(), csv=None):
    return read_recording(source(path), channels, reference, csv or CsvConfig())


def muse_signals(writers, seconds: float, sfreq: float) -> np.ndarray:
    """TP9, AF7, AF8, TP10: 5, 10, 15, 20 Hz sines of 10, 20, 30, 40 µV."""
    return np.vstack([writers.sines([(5.0 * (i + 1), 10.0 * (i + 1))], seconds, sfreq) for i in range(4)])


@pytest.mark.parametrize("suffix", [".edf", ".bdf", ".fif"])
def test_mne_formats_read_in_microvolts_with_case_insensitive_picks(tmp_path, writers, suffix):
    data = muse_signals(writers, 4.0, 128.0)
    path = writers.mne_file(tmp_path / f"rec{suffix}", data, writers.MUSE, 128.0)
    recording = read(path)
    assert recording.sfreq == 128.0
    assert recording.channels == ("af7", "AF8", "tp9", "TP10")  # spelled as configured
    # EDF stores 16-bit integers over the data range, BDF 24-bit: quantisation bounds the error.
    tolerance = {".edf": 2e-3, ".bdf": 1e-5, ".fif": 1e-4}[suffix]
    assert_allclose(recording.data, data[[1, 2, 0, 3]], atol=tolerance * 40)


@pytest.mark.parametrize("suffix", [".vhdr", ".set"])
def test_brainvision_and_eeglab_recordings(tmp_path, writers, suffix):
    data = muse_signals(writers, 2.0, 250.0)
    write = writers.brainvision if suffix == ".vhdr" else writers.eeglab
    path = write(tmp_path / f"rec{suffix}", data, writers.MUSE, 250.0)
    recording = read(path)
    assert recording.sfreq == 250.0
    assert_allclose(recording.data, data[[1, 2, 0, 3]], atol=1e-4)


def test_pick_null_keeps_eeg_channels_minus_exclusions_and_applies_aliases(tmp_path, writers):
    data = muse_signals(writers, 2.0, 128.0)
    path = writers.mne_file(tmp_path / "rec.edf", data, ["EEG TP9-REF", "AF7", "AF8", "VEOG"], 128.0)
    config = ChannelConfig(pick=None, exclude=("veog",), aliases={"eeg tp9-ref": "TP9"})
    recording = read(path, config)
    assert recording.channels == ("TP9", "AF7", "AF8")


def test_missing_channel_names_the_recording_and_the_channel(tmp_path, writers):
    data = muse_signals(writers, 2.0, 128.0)[:3]
    path = writers.mne_file(tmp_path / "sub-07.edf", data, ["TP9", "AF7", "AF8"], 128.0)
    with pytest.raises(
        MissingChannelError,
        match=r"sub-07\.edf: channel\(s\) TP10 not found \(channels in this recording: TP9, AF7, AF8\)",
    ):
        read(path)
    with pytest.raises(MissingChannelError, match=r"sub-07\.edf: reference channel\(s\) CZ not found"):
        read(path, ChannelConfig(pick=("AF7",)), reference=("Cz",))


def test_reference_channels_are_read_as_extra_rows(tmp_path, writers):
    data = muse_signals(writers, 2.0, 128.0)
    path = writers.mne_file(tmp_path / "rec.edf", data, writers.MUSE, 128.0)
    recording = read(path, ChannelConfig(pick=("AF7", "TP9")), reference=("TP9", "TP10"))
    assert recording.channels == ("AF7", "TP9") and recording.extra == ("TP10",)
    assert recording.reference == ("TP9", "TP10")
    assert recording.data.shape == (3, 256)


def test_two_file_channels_with_one_name_are_ambiguous():
    with pytest.raises(MissingChannelError, match=r"AF7 appear twice"):
        select_channels(["AF7", "af7"], [True, True], ChannelConfig(pick=("AF7",)), (), "x.edf")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.edf", b"", r"empty file \(0 bytes\)"),
        (
            "broken.edf",
            b"0" * 300 + b"garbage",
            r"could not read EDF recording; the file is damaged or not EDF \(",
        ),
        ("broken.bdf", b"not a bdf at all", r"could not read BDF recording"),
        ("broken.fif", b"\x00" * 64, r"could not read FIF recording"),
        ("broken.vhdr", b"[Common Infos]\n", r"could not read BrainVision recording"),
    ],
)
def test_unreadable_file_is_one_recording_error_naming_it(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=rf"{name.replace('.', '[.]')}: {message}"):
        read(path)


def test_truncated_recording_is_a_recording_error(tmp_path, writers):
    path = writers.mne_file(tmp_path / "cut.bdf", muse_signals(writers, 4.0, 128.0), writers.MUSE, 128.0)
    path.write_bytes(path.read_bytes()[:400])  # header only, no data records
    with pytest.raises(RecordingError, match=r"cut\.bdf: "):
        read(path)


def test_muselsl_csv_rate_from_jittered_timestamps(tmp_path, writers):
    data = muse_signals(writers, 3.0, 256.0)
    path = writers.muselsl_csv(tmp_path / "rec.csv", data, 256.0)
    recording = read(path)
    assert recording.sfreq == 256.0  # snapped from the jittered estimate
    assert_allclose(recording.data, data[[1, 2, 0, 3]], atol=1e-4)
    everything = read(path, ChannelConfig(pick=None))
    assert everything.channels == ("TP9", "AF7", "AF8", "TP10")  # Right AUX is not EEG
    given = read(path, csv=CsvConfig(sampling_rate=250.0, unit="mV"))
    assert given.sfreq == 250.0
    assert_allclose(given.data, data[[1, 2, 0, 3]] * 1000, atol=0.1)


def test_mind_monitor_csv_raw_columns_datetimes_markers_and_gaps(tmp_path, writers):
    data = muse_signals(writers, 2.0, 256.0)
    data[0, 100] = np.nan  # an empty RAW_TP9 cell
    path = writers.mind_monitor_csv(tmp_path / "mm.csv", data, 256.0)
    recording = read(path)
    assert recording.sfreq == 256.0
    assert recording.data.shape == (4, 512)  # the marker row is not a sample
    assert np.isnan(recording.data[2, 100]) and np.isfinite(recording.data[[0, 1, 3]]).all()
    assert_allclose(np.nan_to_num(recording.data), np.nan_to_num(data[[1, 2, 0, 3]]), atol=1e-4)
    assert read(path, ChannelConfig(pick=None)).channels == ("TP9", "AF7", "AF8", "TP10")


@pytest.mark.parametrize(
    ("text", "csv", "message"),
    [
        ("a;b\n1;2\n", CsvConfig(), r"not a CSV recording: expected a header row"),
        (
            "TP9,AF7,AF8,TP10\n1,2,3,4\n",
            CsvConfig(),
            r"no timestamp column .* set primary\.input\.csv\.sampling_rate",
        ),
        ("time,TP9,AF7,AF8,TP10\n0,1,2,3,4\n", CsvConfig(), r"cannot read a sampling rate from 1 timestamp"),
        (
            "time,TP9,AF7,AF8,TP10\nx,1,2,3,4\ny,1,2,3,4\n",
            CsvConfig(),
            r"timestamps are neither seconds nor date-times",
        ),
        ("time,TP9,AF7,AF8,TP10\n0,1,2,3,4\n1,a,2,3,4\n", CsvConfig(), r"could not read CSV recording"),
        (
            "time,TP9,AF7,AF8,TP10\n0,1,2,3,4\n",
            CsvConfig(timestamp_column="stamp"),
            r"no timestamp column 'stamp'",
        ),
    ],
)
def test_bad_csv_messages(tmp_path, text, csv, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=message):
        read_recording(source(path), MUSE_PICK, (), csv, csv_key="primary.input.csv")
