"""Command line: ``python -m eeg_io validate DIR`` and ``python -m eeg_io synth OUT_DIR``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eeg_io.errors import EEGDataError
from eeg_io.layout import find_parquet_files
from eeg_io.synthetic import STANDARD_10_20, write_synthetic_corpus
from eeg_io.validation import validate

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 clean, 2 problems or bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m eeg_io", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("validate", help="check every Parquet file under DIR; exit 2 on any problem")
    check.add_argument("path", metavar="DIR", help="folder (searched recursively) or one Parquet file")
    check.add_argument("--window-length", type=int, default=None, help="expected samples per window")

    synth = commands.add_parser("synth", help="write a synthetic EEG corpus in the pretraining layout")
    synth.add_argument("out_dir", metavar="OUT_DIR")
    synth.add_argument("--participants", type=int, default=4)
    synth.add_argument("--runs", type=int, default=1, help="runs per participant")
    synth.add_argument(
        "--channels", default=",".join(STANDARD_10_20), help="comma-separated channel names (default: 10-20)"
    )
    synth.add_argument("--windows-per-run", type=int, default=16)
    synth.add_argument("--window-length", type=int, default=2048, help="samples per window")
    synth.add_argument("--sfreq", type=float, default=256.0, help="sampling rate in Hz")
    synth.add_argument("--seed", type=int, default=0)

    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.path, args.window_length)
    return _synth(args)


def _validate(path: str, window_length: int | None) -> int:
    problems = validate(path, window_length=window_length)
    for problem in problems:
        print(problem)
    try:
        num_files = len(find_parquet_files(path))
    except EEGDataError:
        num_files = 0
    bad_files = len({p.file for p in problems})
    if problems:
        print(f"{len(problems)} problem(s) in {bad_files} of {num_files} file(s) under {path}")
        return 2
    print(f"{num_files} file(s) under {path}: no problems")
    return 0


def _synth(args: argparse.Namespace) -> int:
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    try:
        paths = write_synthetic_corpus(
            args.out_dir,
            participants=args.participants,
            runs=args.runs,
            channels=channels,
            windows_per_run=args.windows_per_run,
            window_length=args.window_length,
            sfreq=args.sfreq,
            seed=args.seed,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {len(paths)} file(s) to {args.out_dir}: {len(channels)} channels, "
        f"{args.windows_per_run} windows x {args.window_length} samples per run at {args.sfreq:g} Hz"
    )
    return 0
