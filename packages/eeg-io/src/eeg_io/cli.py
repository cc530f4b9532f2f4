"""Command line: ``python -m eeg_io validate DIR`` and ``python -m eeg_io synth OUT_DIR``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from eeg_io.data_checks import DEFAULT_SAMPLING_RATE, check_data
from eeg_io.errors import EEGDataError
from eeg_io.layout import find_parquet_files
from eeg_io.synthetic import STANDARD_10_20, write_synthetic_corpus
from eeg_io.timing import WINDOW_TIME_UNITS
from eeg_io.validation import validate

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 clean, 2 problems or bad arguments)."""
    parser = argparse.ArgumentParser(prog="python -m eeg_io", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("validate", help="check every Parquet file under DIR; exit 2 on any problem")
    check.add_argument("path", metavar="DIR", help="folder (searched recursively) or one Parquet file")
    check.add_argument("--window-length", type=int, default=None, help="expected samples per window")
    check.add_argument(
        "--sampling-rate",
        type=float,
        default=DEFAULT_SAMPLING_RATE,
        help="Hz, to compare window_start/window_end with the samples of a window (default 256)",
    )
    check.add_argument(
        "--window-times",
        choices=WINDOW_TIME_UNITS,
        default="auto",
        help="how window_start/window_end count: seconds, samples (within the parent window, the seed's "
        "layout) or auto (recognised from the data; default)",
    )
    check.add_argument(
        "--strict", action="store_true", help="data-check warnings (duplicates, flat, gaps, scale) are errors"
    )

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
        if not args.sampling_rate > 0:
            parser.error(f"--sampling-rate must be positive, got {args.sampling_rate:g}")
        return _validate(args.path, args.window_length, args.sampling_rate, args.strict, args.window_times)
    return _synth(args)


def _validate(
    path: str, window_length: int | None, sampling_rate: float, strict: bool, window_times: str = "auto"
) -> int:
    problems = validate(path, window_length=window_length)
    for problem in problems:
        print(problem)
    try:
        files = find_parquet_files(path)
    except EEGDataError:
        files = []
    bad = {p.file for p in problems}
    if problems:
        print(f"{len(problems)} problem(s) in {len(bad)} of {len(files)} file(s) under {path}")
    report = check_data(
        [f for f in files if str(f) not in bad], sampling_rate=sampling_rate, window_times=window_times
    )
    for warning in report.warnings:
        print(warning)
    if report.warnings:
        warned = len({w.file for w in report.warnings})
        label = "errors (--strict)" if strict else "warnings"
        print(f"data checks: {report.summary()}, in {warned} of {len(files)} file(s); {label}")
    elif not problems:
        print(f"{len(files)} file(s) under {path}: no problems")
    return 2 if problems or (strict and report.warnings) else 0


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
