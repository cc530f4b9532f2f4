"""Labels per trial from the recordings' own event markers (``primary.labels.events``): one window per
listed event, its class per row, the file marked as labelled per window, the rest named in the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_config import unstructure
from eeg_io import read_corpus_record
from eeg_prepare.config import build_config, default_primary_name
from eeg_prepare.pipeline import run_primary
from eeg_prepare.windowing import plan_event_windows

MUSE_ORDER = ["AF7", "AF8", "TP9", "TP10"]
RATE = 128.0


def _edf_with_events(path: Path, seconds: float, events: list[tuple[float, str]], seed: int = 0) -> Path:
    """A Muse EDF+ (µV noise and a 10 Hz rhythm) whose annotations are ``events`` ``[(onset s, name)]``."""
    import mne

    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * RATE)) / RATE
    data = 20.0 * np.sin(2 * np.pi * 10.0 * t) + rng.normal(0.0, 5.0, (len(MUSE_ORDER), t.size))
    raw = mne.io.RawArray(data * 1e-6, mne.create_info(MUSE_ORDER, RATE, "eeg"), verbose="error")
    if events:
        onsets, names = zip(*events, strict=True)
        raw.set_annotations(mne.Annotations(list(onsets), [0.0] * len(onsets), list(names)))
    path.parent.mkdir(parents=True, exist_ok=True)
    mne.export.export_raw(path, raw, fmt="edf", verbose="error", overwrite=True)
    return path


def _config(root: Path, **labels):
    """1-s windows at 128 Hz of the Muse channels under ``root / "raw"``; ``labels``: primary.labels keys
    (by default a labels CSV that does not exist)."""
    return build_config(
        {
            "signal": {"sampling_rate": RATE, "l_freq": 1.0, "h_freq": 40.0},
            "windows": {"window_seconds": 1.0},
            "artifacts": {"max_peak_to_peak_uv": 1000.0},
            "primary": {
                "input": {"root": str(root / "raw")},
                "channels": {"pick": MUSE_ORDER},
                "labels": {"path": str(root / "no-such-labels.csv"), "label_column": "Target", **labels},
                "label_column": "Target",
                "output_dir": str(root / "out"),
            },
        }
    )


def test_each_listed_event_gives_one_labelled_window_and_finetune_is_told_the_labels_are_per_window(
    tmp_path,
):
    events = [(0.5, "square"), (2.0, "rt"), (3.25, "square"), (4.0, "boundary"), (9.6, "rt")]
    _edf_with_events(tmp_path / "raw" / "sub-01_run-1.edf", 10.0, events)
    _edf_with_events(tmp_path / "raw" / "sub-02_run-1.edf", 10.0, [(1.0, "boundary")], seed=1)
    lines: list[str] = []
    outcome = run_primary(
        _config(tmp_path, events={"square": 1, "rt": 0}, event_offset_seconds=-0.25), echo=lines.append
    )
    assert outcome.status == 0  # the labels CSV (which does not exist) was not read
    table = pq.read_table(outcome.output)
    assert table.column("Target").to_pylist() == [1, 0, 1]  # 9.6 s - 0.25 s + 1 s reaches past 10 s
    np.testing.assert_allclose(table.column("window_start").to_numpy(), [0.25, 1.75, 3.0])
    np.testing.assert_allclose(table.column("window_end").to_numpy(), [1.25, 2.75, 4.0])
    assert table.column("parent_window_id").to_pylist() == [0, 1, 2]  # the events' indices
    assert set(table.column("Participant").to_pylist()) == {"sub-01"}
    record = read_corpus_record(outcome.output)
    assert record.label_level == "window" and record.window_length == 128

    first, second = outcome.results
    assert first.counts.kept == 3 and first.counts.incomplete_dropped == 1
    assert any("'boundary' (1)" in note for note in first.notes)
    assert second.status == "skipped"
    assert "no event of primary.labels.events ('square', 'rt')" in second.reason
    assert "'boundary' (1)" in second.reason
    assert "windows per Target (one per event): 0: 1, 1: 2" in lines


def test_csv_labels_are_recorded_as_per_participant(tmp_path):
    _edf_with_events(tmp_path / "raw" / "sub-01_run-1.edf", 4.0, [])
    (tmp_path / "labels.csv").write_text("Participant,Target\nsub-01,1\n")
    outcome = run_primary(_config(tmp_path, path=str(tmp_path / "labels.csv")), echo=lambda line: None)
    assert outcome.status == 0
    assert read_corpus_record(outcome.output).label_level == "participant"
    assert set(pq.read_table(outcome.output).column("Target").to_pylist()) == {1}


def test_with_pick_null_the_primary_file_keeps_every_eeg_channel_the_recordings_share(tmp_path):
    """``primary.channels.pick: null``: the recordings' EEG channels, in the first one's order; recordings
    that keep different channels stop the run with one message naming both, before anything is written."""
    import mne
    import pytest

    from eeg_prepare.errors import PrepareError

    _edf_with_events(tmp_path / "raw" / "sub-01_run-1.edf", 4.0, [(1.0, "go")])
    raw = mne.io.read_raw(tmp_path / "raw" / "sub-01_run-1.edf", preload=True, verbose="error")
    raw.reorder_channels(MUSE_ORDER[::-1])  # the same channels, stored in another order
    mne.export.export_raw(tmp_path / "raw" / "sub-02_run-1.edf", raw, fmt="edf", verbose="error")
    config = _config(tmp_path, events={"go": 1})
    config = build_config(
        {**unstructure(config), "primary": {**unstructure(config)["primary"], "channels": {"pick": None}}}
    )
    assert default_primary_name(config) == "1s_eeg_primary_dataset.parquet"
    outcome = run_primary(config, echo=lambda line: None)
    table = pq.read_table(outcome.output)
    assert table.column_names[-4:] == MUSE_ORDER and table.num_rows == 2
    first, second = (table.column("AF7")[i].as_py() for i in range(2))
    np.testing.assert_allclose(first, second, atol=1e-3)  # the same samples, each under its own name

    raw.rename_channels({"AF7": "Fp1"})
    mne.export.export_raw(
        tmp_path / "raw" / "sub-02_run-1.edf", raw, fmt="edf", verbose="error", overwrite=True
    )
    outcome.output.unlink()
    with pytest.raises(
        PrepareError, match=r"sub-01_run-1.edf has AF7 and .*sub-02_run-1.edf has Fp1 that the"
    ):
        run_primary(config, echo=lambda line: None)
    assert not outcome.output.exists()


def test_event_names_from_yaml_numbers_are_text_and_classes_must_be_integers():
    import pytest

    from eeg_config import ConfigError

    config = build_config({"primary": {"labels": {"events": {1: 0, "2": 1}}}})
    assert config.primary.labels.events == {"1": 0, "2": 1}
    with pytest.raises(ConfigError, match=r"maps 'go' to 0.5; expected an integer class"):
        build_config({"primary": {"labels": {"events": {"go": 0.5}}}})


def test_a_long_channel_list_names_the_primary_file_by_its_count():
    pick = [f"EEG {i:03d}" for i in range(32)]
    config = build_config({"primary": {"channels": {"pick": pick}}})
    assert default_primary_name(config) == "8s_32ch_primary_dataset.parquet"
    config = build_config({"primary": {"channels": {"pick": ["Fz", "C z"]}}})
    assert default_primary_name(config) == "8s_fz-c_z_primary_dataset.parquet"


@settings(max_examples=200, deadline=None)
@given(
    onsets=st.lists(st.floats(-2.0, 12.0, allow_nan=False), max_size=20),
    names=st.lists(st.sampled_from(["a", "b", "c"]), min_size=20, max_size=20),
    offset=st.floats(-1.0, 1.0, allow_nan=False),
    window=st.sampled_from([0.5, 1.0, 2.0]),
    num_samples=st.integers(1, 1500),
)
def test_event_windows_lie_inside_the_recording_and_account_for_every_event(
    onsets, names, offset, window, num_samples
):
    events = list(zip(onsets, names, strict=False))
    classes = {"a": 0, "b": 1}
    plan, labels, dropped, unlisted = plan_event_windows(events, classes, offset, num_samples, RATE, window)
    length = round(window * RATE)
    assert len(plan) == len(labels)
    assert len(plan) + dropped + sum(unlisted.values()) == len(events)
    assert set(unlisted) <= {"c"}
    for (event_id, sub_id, start, stop), label in zip(plan, labels, strict=True):
        onset, name = events[event_id]
        assert sub_id == 0 and stop - start == length
        assert start >= 0 and stop <= num_samples
        assert label == classes[name]
        assert abs(start - (onset + offset) * RATE) <= 0.5


def test_without_annotations_the_trigger_codes_of_the_stim_channel_are_the_events(tmp_path):
    """A FIF recording whose events live only in its stim channel (codes 1 and 2), as BioSemi's Status or
    Neuromag's STI 014 keep them: the codes, as text, name the events."""
    import mne

    rng = np.random.default_rng(3)
    samples = round(6.0 * RATE)
    stim = np.zeros(samples)
    for onset, code in ((1.0, 1), (2.5, 2), (4.0, 1)):
        start = round(onset * RATE)
        stim[start : start + 4] = code
    data = np.vstack([rng.normal(0.0, 5e-6, (len(MUSE_ORDER), samples)), stim])
    info = mne.create_info([*MUSE_ORDER, "STI 014"], RATE, ["eeg"] * len(MUSE_ORDER) + ["stim"])
    path = tmp_path / "raw" / "sub-01_run-1_raw.fif"
    path.parent.mkdir(parents=True)
    mne.io.RawArray(data, info, verbose="error").save(path, verbose="error")
    outcome = run_primary(_config(tmp_path, events={"1": 0, 2: 1}), echo=lambda line: None)
    assert outcome.status == 0, outcome.lines
    table = pq.read_table(outcome.output)
    assert table.column("Target").to_pylist() == [0, 1, 0]
    np.testing.assert_allclose(table.column("window_start").to_numpy(), [1.0, 2.5, 4.0])
    assert table.column_names[-4:] == MUSE_ORDER  # the stim channel is not a channel of the data
