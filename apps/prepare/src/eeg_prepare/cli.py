"""``prepare``: raw EEG recordings -> the pretraining Parquet layout or the labelled primary dataset.

    prepare --config configs/processing.yaml pretraining
    prepare --config configs/processing.yaml primary --set primary.labels.path=labels.csv --jobs 4

Exit status: 0 done (something written or already up to date); 1 nothing was produced;
2 a configuration or data error (one ``error:`` line, no traceback); 130 interrupted.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from eeg_config import run_cli

COMMANDS = {"pretraining": "pretraining", "primary": "primary", "process-primary": "primary"}
HELP = {
    "pretraining": "raw recordings -> one Parquet file per participant-run (the pretraining layout)",
    "primary": "raw recordings + labels CSV -> the labelled primary dataset (one Parquet file)",
    "process-primary": "alias of primary",
}


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _add_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The shared options; on the sub-commands they default to SUPPRESS so that options given before
    the command are not overwritten by the sub-parser's defaults."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--config", default=default(None), help="processing YAML (default: built-in defaults)"
    )
    parser.add_argument(
        "--set",
        dest="set_after" if suppress else "set",
        action="append",
        default=default([]),
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set windows.window_seconds=4 (repeatable)",
    )
    parser.add_argument(
        "--jobs", type=_jobs, default=default(1), help="recordings processed in parallel (default 1)"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=default(False),
        help="list what would be read and written; do nothing",
    )
    parser.add_argument(
        "--force", action="store_true", default=default(False), help="redo outputs that are up to date"
    )
    parser.add_argument(
        "--strict", action="store_true", default=default(False), help="an unreadable recording stops the run"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prepare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{pretraining,primary}")
    for name, text in HELP.items():
        _add_options(commands.add_parser(name, help=text, description=text), suppress=True)
    return parser


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from eeg_prepare.config import load_config
    from eeg_prepare.pipeline import run_pretraining, run_primary

    config = load_config(args.config, [*args.set, *getattr(args, "set_after", [])])
    command = COMMANDS[args.command]
    run = run_pretraining if command == "pretraining" else run_primary
    outcome = run(config, jobs=args.jobs, dry_run=args.dry_run, force=args.force, strict=args.strict)
    return outcome.status


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: runs the command and exits with its status."""
    run_cli(lambda: _main(argv))
