from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from eeg_io import METADATA_COLUMNS, STANDARD_10_20, build_index, read_channel_windows, write_synthetic_corpus
from eeg_io.cli import main
from eeg_io.synthetic import STANDARD_10_10_64, synthetic_signals

from .conftest import TINY


def test_layout_of_written_files(corpus):
    files = sorted(corpus.rglob("*.parquet"))
    assert [f.relative_to(corpus).as_posix() for f in files[:2]] == [
        "sub-001/sub-001_run-1.parquet",
        "sub-001/sub-001_run-2.parquet",
    ]
    assert len(files) == TINY["participants"] * TINY["runs"]
    table = pq.read_table(files[1])
    assert table.column_names == [*METADATA_COLUMNS, *TINY["channels"]]
    assert table.num_rows == TINY["windows_per_run"]
    assert set(table.column("participant").to_pylist()) == {"sub-001"}
    assert set(table.column("run").to_pylist()) == {"2"}
    assert str(table.schema.field("Fz").type) == "list<element: float>"
    assert all(len(w) == TINY["window_length"] for w in table.column("Cz").to_pylist())
    seconds = TINY["window_length"] / TINY["sfreq"]
    np.testing.assert_allclose(table.column("window_start").to_pylist(), np.arange(6) * seconds)
    np.testing.assert_allclose(table.column("window_end").to_pylist(), np.arange(1, 7) * seconds)
    assert table.column("parent_window_id").to_pylist() == [0, 0, 0, 0, 1, 1]
    assert table.column("sub_window_id").to_pylist() == [0, 1, 2, 3, 0, 1]


def test_windows_are_consecutive_slices_of_the_signal(corpus):
    """Round trip: synthetic signal -> Parquet -> reader gives back exactly the same float32 values."""
    expected = synthetic_signals(
        TINY["channels"], 6 * 32, TINY["sfreq"], seed=(TINY["seed"], 2, 1), dynamics=True,
        participant_seed=(TINY["seed"], 2),
    )  # fmt: skip
    file = corpus / "sub-003" / "sub-003_run-2.parquet"
    for c, name in enumerate(TINY["channels"]):
        got = read_channel_windows(file, name.lower(), 32).windows
        np.testing.assert_array_equal(got, expected[c].reshape(6, 32), err_msg=name)


def test_same_arguments_give_identical_bytes_and_seed_changes_them(tmp_path):
    kwargs = {"participants": 1, "channels": ["Cz", "Pz"], "windows_per_run": 2, "window_length": 16}
    a = write_synthetic_corpus(tmp_path / "a", seed=5, **kwargs)
    b = write_synthetic_corpus(tmp_path / "b", seed=5, **kwargs)
    c = write_synthetic_corpus(tmp_path / "c", seed=6, **kwargs)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[0].read_bytes() != c[0].read_bytes()


def test_files_written_at_once_equal_files_written_one_by_one(tmp_path, monkeypatch):
    kwargs = {
        "participants": 5,
        "runs": 2,
        "channels": ["Cz", "Pz"],
        "windows_per_run": 3,
        "window_length": 32,
    }
    together = write_synthetic_corpus(tmp_path / "together", seed=2, **kwargs)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)  # one core: no threads
    alone = write_synthetic_corpus(tmp_path / "alone", seed=2, **kwargs)
    assert [p.relative_to(tmp_path / "together") for p in together] == [
        p.relative_to(tmp_path / "alone") for p in alone
    ]
    assert len(together) == 10
    for a, b in zip(together, alone, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_default_channels_are_the_10_20_set(tmp_path):
    (path,) = write_synthetic_corpus(tmp_path, participants=1, windows_per_run=1, window_length=8)
    names = pq.read_schema(path).names[len(METADATA_COLUMNS) :]
    assert names == list(STANDARD_10_20) and len(names) == 19 and "Fp1" in names
    assert [i.channel for i in build_index(tmp_path)][:3] == ["FP1", "FP2", "F7"]
    assert len(STANDARD_10_10_64) == 64 == len({c.upper() for c in STANDARD_10_10_64})


def test_signals_look_like_eeg():
    """Neighbours correlate more than distant electrodes; alpha dominates posterior spectra; 50 Hz line."""
    channels = list(STANDARD_10_20)
    sfreq = 256.0
    x = synthetic_signals(channels, 60 * 256, sfreq, seed=1).astype(np.float64)
    corr = np.corrcoef(x)
    i = channels.index
    assert corr[i("O1"), i("O2")] > corr[i("Fp1"), i("O2")] + 0.2
    assert corr[i("Fp1"), i("Fp2")] > corr[i("Fp1"), i("O1")] + 0.1
    freqs = np.fft.rfftfreq(x.shape[1], 1 / sfreq)
    power = np.abs(np.fft.rfft(x, axis=1)) ** 2

    def band(channel, lo, hi):
        return power[i(channel), (freqs >= lo) & (freqs < hi)].mean()

    assert band("O1", 8, 13) > 3 * band("O1", 13, 30)  # alpha peak
    assert band("O1", 8, 13) > 2 * band("Fp1", 8, 13)  # stronger at the back
    assert band("Cz", 2, 4) > band("Cz", 20, 30) > band("Cz", 40, 48)  # 1/f background
    assert band("Cz", 49.5, 50.5) > 3 * band("Cz", 45, 48)  # line noise
    # The alpha strength varies over time: the 8-13 Hz envelope of O1 is not constant.
    seconds = x[i("O1")].reshape(60, 256)
    alpha_per_second = [np.abs(np.fft.rfft(s))[8:14].mean() for s in seconds]
    assert np.std(alpha_per_second) > 0.2 * np.mean(alpha_per_second)


def test_unknown_channel_names_are_written(tmp_path):
    (path,) = write_synthetic_corpus(
        tmp_path, participants=1, channels=["Cz", "VEOG"], windows_per_run=2, window_length=8
    )
    assert np.isfinite(read_channel_windows(path, "VEOG", 8).windows).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"participants": 0}, "participants must be a positive integer"),
        ({"window_length": 2.5}, "window_length must be a positive integer"),
        ({"sfreq": -1.0}, "sfreq must be a positive number"),
        ({"channels": ["Cz", "cz"]}, "repeat a name"),
        ({"channels": ["Cz", "run"]}, "clash with the metadata"),
        ({"channels": []}, "non-empty list"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        write_synthetic_corpus(tmp_path, **kwargs)


def test_synth_cli(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(
        ["synth", str(out), "--participants", "2", "--runs", "1", "--channels", "Fz,Cz", "--windows-per-run", "3",
         "--window-length", "16", "--sfreq", "128", "--seed", "4"]
    )  # fmt: skip
    assert status == 0
    assert "wrote 2 file(s)" in capsys.readouterr().out
    items = build_index(out)
    assert [(i.participant, i.channel, i.num_windows) for i in items] == [
        ("sub-001", "FZ", 3), ("sub-001", "CZ", 3), ("sub-002", "FZ", 3), ("sub-002", "CZ", 3)
    ]  # fmt: skip
    assert main(["synth", str(out), "--participants", "0"]) == 2
    assert "participants must be a positive integer" in capsys.readouterr().err


def _log_band_power(x: np.ndarray, sfreq: float, window: int, lo: float, hi: float) -> np.ndarray:
    """Log power in [lo, hi) Hz of each consecutive window of x: (num_windows,)."""
    windows = x[: len(x) // window * window].reshape(-1, window)
    windows = (windows - windows.mean(axis=1, keepdims=True)) * np.hanning(window)
    freqs = np.fft.rfftfreq(window, 1 / sfreq)
    power = np.abs(np.fft.rfft(windows, axis=1)) ** 2
    return np.log(power[:, (freqs >= lo) & (freqs < hi)].mean(axis=1))


def test_dynamic_spectrum_is_predictable_from_neighbours_not_the_average():
    """With dynamics, 4-s windows' alpha and beta power wander slowly: neighbouring windows predict a
    window's band power much better than the recording's mean does, and blinks sit at the front."""
    channels = ["Fp1", "Fp2", "Cz", "C3", "O1", "O2", "T7"]
    sfreq, seconds = 128.0, 600
    x = synthetic_signals(channels, int(seconds * sfreq), sfreq, seed=3, dynamics=True).astype(np.float64)
    for channel, (lo, hi) in (("O1", (8, 13)), ("Cz", (16, 25))):
        power = _log_band_power(x[channels.index(channel)], sfreq, 512, lo, hi)
        around_mean = np.mean((power - power.mean()) ** 2)
        neighbours = 0.5 * (power[:-2] + power[2:])
        from_neighbours = np.mean((power[1:-1] - neighbours) ** 2)
        assert from_neighbours < 0.7 * around_mean, (channel, from_neighbours, around_mean)
    # blinks: slow, large deflections over the frontal-polar electrodes only
    delta = [np.exp(_log_band_power(x[channels.index(c)], sfreq, 512, 1, 3)).mean() for c in ("Fp1", "O1")]
    assert delta[0] > 3 * delta[1], delta
    base = synthetic_signals(channels, int(seconds * sfreq), sfreq, seed=3)
    assert not np.array_equal(base, x.astype(np.float32))


def test_participant_traits_are_shared_by_runs(tmp_path):
    """The same participant's runs share rhythm frequencies (participant_seed), other participants differ."""
    kwargs = {"channels": ["Cz"], "num_samples": 256 * 120, "sfreq": 256.0, "dynamics": True}
    a = synthetic_signals(seed=(0, 1, 0), participant_seed=(0, 1), **kwargs)[0]
    b = synthetic_signals(seed=(0, 1, 1), participant_seed=(0, 1), **kwargs)[0]
    c = synthetic_signals(seed=(0, 2, 0), participant_seed=(0, 2), **kwargs)[0]
    assert not np.array_equal(a, b)
    freqs = np.fft.rfftfreq(a.size, 1 / 256.0)
    beta = (freqs >= 16) & (freqs < 24)

    def peak(signal):
        return freqs[beta][np.argmax(np.abs(np.fft.rfft(signal))[beta])]

    assert abs(peak(a) - peak(b)) < 0.3 and abs(peak(a) - peak(c)) > 0.3
