"""``sweep``: mask-ratio sweeps over pretraining runs, each in its own folder, resumable, logged to MLflow.

uv run --package sweep sweep --config configs/pretrain.yaml [--ratios 0.2,0.4,0.6,0.8] [--styles mae,bert]
uv run --package sweep sweep --config configs/pretrain.yaml --torchrun [--nproc N]
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eeg_pretrain.config import PretrainConfig, config_to_dict, load_config
from eeg_pretrain.configuration import add_override_option
from eeg_pretrain.errors import EXIT_INTERRUPTED, run_cli
from eeg_sweep.launch import StopRequests
from eeg_sweep.parent import open_parent, read_state, sweep_lock, write_state
from eeg_sweep.plan import (
    DEFAULT_EXPERIMENT,
    DEFAULT_RATIOS,
    DEFAULT_STYLES,
    Action,
    PlannedRun,
    SweepError,
    build_plan,
    check_user_overrides,
    decide,
    parse_ratios,
    parse_styles,
    run_overrides,
)
from eeg_sweep.runner import SweepRunner
from eeg_sweep.summary import (
    FAILED,
    INTERRUPTED,
    SUMMARY_CSV,
    SUMMARY_PNG,
    format_table,
    plot_summary,
    summary_rows,
    write_csv,
)

EXIT_RUN_FAILED = 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep",
        description=(
            "Run one pretraining per (mask ratio, style), each in its own folder under train.save_dir, "
            "as child runs of one MLflow sweep run. Re-running the same command skips finished runs and "
            "resumes interrupted ones."
        ),
    )
    parser.add_argument("--config", required=True, help="pretrain YAML config (see configs/pretrain.yaml)")
    parser.add_argument(
        "--ratios",
        default=DEFAULT_RATIOS,
        help=f"mask ratios: a list (default {DEFAULT_RATIOS}) or start:stop:step, e.g. 0.2:0.8:0.1",
    )
    parser.add_argument(
        "--styles", default=DEFAULT_STYLES, help="masking styles, e.g. mae or mae,bert (default mae)"
    )
    add_override_option(
        parser, "config override passed to every run (repeatable), e.g. --set train.epochs=20"
    )
    parser.add_argument("--torchrun", action="store_true", help="run each pretraining under torchrun (DDP)")
    parser.add_argument(
        "--nproc", type=int, help="processes per run with --torchrun (default: visible GPUs, 1 on CPU)"
    )
    parser.add_argument(
        "--experiment",
        default=DEFAULT_EXPERIMENT,
        help=f"MLflow experiment of the sweep and its runs (default {DEFAULT_EXPERIMENT})",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument(
        "--continue-on-error",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="go on with the other runs when one fails (default on)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not echo the runs' logs")
    return parser


def main(argv: list[str] | None = None) -> None:
    run_cli(lambda: _main(list(sys.argv[1:] if argv is None else argv)))


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    ratios = parse_ratios(args.ratios)
    styles = parse_styles(args.styles)
    check_user_overrides(args.overrides)
    if args.nproc is not None and not args.torchrun:
        raise SweepError("--nproc is only used with --torchrun")
    if not args.experiment.strip():
        raise SweepError("--experiment: expected an MLflow experiment name")

    base = load_config(args.config, args.overrides)  # a bad config or --set stops here, before any run
    nproc = resolve_nproc(args.torchrun, args.nproc, base.train.device)
    runs = build_plan(base, ratios, styles)
    wanted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # each run's own log carries its warnings
        for run in runs:
            overrides = [*args.overrides, *run_overrides(run, args.experiment, None)]
            wanted[run.name] = config_to_dict(load_config(args.config, overrides))
    for run in runs:
        decide(run, wanted[run.name])  # an unreadable run folder stops the sweep here, before any run
    sweep_dir = Path(base.train.save_dir)
    continue_command = shlex.join(["sweep", *(a for a in argv if a != "--dry-run")])

    if args.dry_run:
        print(format_plan(runs, wanted, sweep_dir, args, nproc))
        return 0
    return run_sweep(args, base, runs, wanted, sweep_dir, nproc, continue_command, argv)


def resolve_nproc(torchrun: bool, nproc: int | None, device: str) -> int | None:
    """Processes per run under torchrun: ``--nproc``, else the visible GPUs, else 1 (Gloo on CPU)."""
    if not torchrun:
        return None
    import torch

    gpus = torch.cuda.device_count() if device != "cpu" else 0
    if nproc is None:
        return max(gpus, 1)
    if nproc < 1:
        raise SweepError(f"--nproc expects a positive number, got {nproc}")
    if gpus and nproc > gpus:
        raise SweepError(
            f"--nproc {nproc}: only {gpus} GPU(s) visible; use at most {gpus} or train.device=cpu"
        )
    return nproc


def format_plan(
    runs: Sequence[PlannedRun],
    wanted: Mapping[str, Mapping[str, Any]],
    sweep_dir: Path,
    args: argparse.Namespace,
    nproc: int | None,
) -> str:
    """The ``--dry-run`` text: each run, what it needs next and the command that would run it."""
    runner = SweepRunner(args.config, args.overrides, args.experiment, None, wanted, nproc)
    how = f"under torchrun with {nproc} process(es) each" if nproc else "one process each"
    lines = [f"sweep of {len(runs)} run(s) in {sweep_dir} ({how}); MLflow experiment {args.experiment}"]
    for index, run in enumerate(runs, 1):
        decision = decide(run, wanted[run.name])
        lines.append(f"{index}. {run.name}  mask ratio {run.ratio:g}, {run.style}: {decision.action.value}")
        lines.append(f"   {decision.reason}")
        if decision.action in (Action.START, Action.RESUME):
            lines.append("   " + shlex.join(runner.command(run, decision.action is Action.RESUME)))
    return "\n".join(lines)


def run_sweep(
    args: argparse.Namespace,
    base: PretrainConfig,
    runs: Sequence[PlannedRun],
    wanted: Mapping[str, Mapping[str, Any]],
    sweep_dir: Path,
    nproc: int | None,
    continue_command: str,
    argv: Sequence[str],
) -> int:
    """Hold the folder lock, open the parent MLflow run, run every run, write and print the summary.
    Returns 0, 1 (a run failed) or 130 (stopped by Ctrl-C / SIGTERM)."""
    tracking = base.tracking
    with sweep_lock(sweep_dir):
        state = read_state(sweep_dir)
        tracker = open_parent(
            enabled=tracking.enabled,
            uri=tracking.uri,
            experiment=args.experiment,
            name=f"mamba2_eeg_d{base.model.d_model}_l{base.model.num_layers}_mask_sweep",
            stored_run_id=state.get("parent_run_id"),
            base_config=config_to_dict(base),
            tags={
                "sweep.ratios": ",".join(f"{r:g}" for r in dict.fromkeys(r.ratio for r in runs)),
                "sweep.styles": ",".join(dict.fromkeys(r.style for r in runs)),
                "sweep.runs": ",".join(r.name for r in runs),
                "sweep.folder": str(sweep_dir.resolve()),
                "sweep.torchrun_nproc": str(nproc or 0),
            },
        )
        status = "FAILED"
        try:
            state_path = write_state(
                sweep_dir,
                command=["sweep", *argv],
                config_path=args.config,
                experiment=args.experiment,
                tracking_uri=getattr(tracker, "uri", tracking.uri),
                parent_run_id=tracker.run_id,
                runs=runs,
                torchrun_nproc=nproc,
            )
            tracker.log_artifact(state_path)
            if tracker.run_id:
                print(
                    f"sweep: MLflow parent run {tracker.run_id} in experiment {args.experiment}",
                    file=sys.stderr,
                )
            runner = SweepRunner(
                config_path=args.config,
                overrides=args.overrides,
                experiment=args.experiment,
                parent_run_id=tracker.run_id,
                wanted=wanted,
                nproc=nproc,
                continue_on_error=args.continue_on_error,
                echo=None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True)),
            )
            with StopRequests() as stop:
                results = runner.run_all(runs, stop)

            rows = summary_rows(results)
            write_csv(sweep_dir / SUMMARY_CSV, rows)
            tracker.log_artifact(sweep_dir / SUMMARY_CSV)
            if plot_summary(sweep_dir / SUMMARY_PNG, rows):
                tracker.log_artifact(sweep_dir / SUMMARY_PNG)
            interrupted = stop.requested or any(r.status == INTERRUPTED for r in results)
            failed = [r for r in results if r.status == FAILED]
            status = "KILLED" if interrupted else "FAILED" if failed else "FINISHED"
        finally:
            tracker.close(status)

    print(format_table(rows))
    print(f"summary: {sweep_dir / SUMMARY_CSV}", file=sys.stderr)
    for result in failed:
        exit_part = f" (exit status {result.exit_code})" if result.exit_code is not None else ""
        print(
            f"FAILED {result.run.name}{exit_part}: {result.message}; log: {result.run.log_path}",
            file=sys.stderr,
        )
    if interrupted:
        print(
            "sweep stopped; finished runs and the last checkpoint of an interrupted run are kept. "
            f"Continue with:\n  {continue_command}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_RUN_FAILED if failed else 0


if __name__ == "__main__":
    main()
