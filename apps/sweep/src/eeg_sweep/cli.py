"""``sweep``: sweeps over pretraining runs (the mask ratio, or any config keys), each run in its own folder,
resumable, logged to MLflow.

uv run --package sweep sweep --config configs/pretrain.yaml [--ratios 0.2,0.4,0.6,0.8] [--styles mae,bert]
uv run --package sweep sweep --config configs/pretrain.yaml --vary data.participants=4,8,16 [--vary ...]
uv run --package sweep sweep --config configs/pretrain.yaml --max-parallel 4 [--torchrun --gpus-per-run 2]
uv run --package sweep sweep --config configs/pretrain.yaml --sweep-config configs/sweep_slurm.yaml
uv run --package sweep sweep status runs/sweep          # one line per run, launches nothing
uv run --package sweep sweep summarize runs/sweep       # the summary table, CSV and plot, now
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from eeg_config import EXIT_INTERRUPTED, add_override_option, run_cli
from eeg_sweep.axes import value_text
from eeg_sweep.devices import DevicePlan, cpu_cores, plan_devices, visible_gpus
from eeg_sweep.launch import StopRequests
from eeg_sweep.local import LocalLauncher
from eeg_sweep.options import Options, resolve_options
from eeg_sweep.parent import describe_sweep, open_parent, read_state, sweep_lock, write_state
from eeg_sweep.plan import (
    DEFAULT_EXPERIMENT,
    DEFAULT_RATIOS,
    Action,
    PlannedRun,
    check_data_sizes,
    check_user_overrides,
    decide,
    plan_grid,
    run_overrides,
)
from eeg_sweep.status import status_main, summarize_main
from eeg_sweep.summary import (
    FAILED,
    INTERRUPTED,
    SUMMARY_CSV,
    SUMMARY_PNG,
    SummaryAxes,
    format_table,
    plot_summary,
    summary_rows,
    write_csv,
)

# `--help` and `sweep status` need neither torch (pretrain's config, which the runner reads too, and
# eeg_train) nor submitit: those are imported where a sweep is planned and launched.
if TYPE_CHECKING:
    from eeg_pretrain.run_folder import PretrainConfig
    from eeg_sweep.submit import SubmititLauncher

EXIT_RUN_FAILED = 1
SUBCOMMANDS = {"status": status_main, "summarize": summarize_main}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep",
        description=(
            "Run one pretraining per (mask ratio, style), or per combination of the values of any config "
            "keys (--vary), each in its own folder under train.save_dir, "
            "as child runs of one MLflow sweep run, on this machine or on SLURM. Re-running the same "
            "command skips finished runs, resumes interrupted ones and waits for jobs still queued or "
            "running. `sweep status DIR` and `sweep summarize DIR` report on a sweep folder."
        ),
    )
    parser.add_argument("--config", required=True, help="pretrain YAML config (see configs/pretrain.yaml)")
    parser.add_argument(
        "--sweep-config",
        metavar="FILE",
        help="sweep settings YAML (the options below, and a slurm: section); options given here win",
    )
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help=(
            "a pretrain config key and its values, one run each (repeatable: a grid; the first is the "
            "summary's x-axis), e.g. --vary data.participants=4,8,16; KEY=[a, [b, c]] for values with "
            "commas or lists. Without --vary: the mask ratio (--ratios) by style (--styles)"
        ),
    )
    parser.add_argument(
        "--ratios",
        help=f"mask ratios: a list (default {DEFAULT_RATIOS}) or start:stop:step, e.g. 0.2:0.8:0.1",
    )
    parser.add_argument("--styles", help="masking styles, e.g. mae or mae,bert (default mae)")
    add_override_option(
        parser, "config override passed to every run (repeatable), e.g. --set train.epochs=20"
    )
    parser.add_argument(
        "--launcher",
        choices=("local", "slurm"),
        help="local: processes of this machine (default); slurm: one SLURM job per run, through submitit",
    )
    parser.add_argument(
        "--max-parallel",
        type=int,
        metavar="N",
        help="runs at a time (local default 1; slurm default: every run submitted at once)",
    )
    parser.add_argument(
        "--gpus-per-run",
        type=int,
        metavar="G",
        help="local: GPUs given to each run (CUDA_VISIBLE_DEVICES), disjoint between parallel runs",
    )
    parser.add_argument(
        "--torchrun",
        action="store_const",
        const=True,
        help="local: run each pretraining under torchrun (DDP)",
    )
    parser.add_argument(
        "--nproc", type=int, help="processes per run with --torchrun (default: its GPUs, 1 on CPU)"
    )
    parser.add_argument(
        "--experiment", help=f"MLflow experiment of the sweep and its runs (default {DEFAULT_EXPERIMENT})"
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
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in SUBCOMMANDS:
        run_cli(lambda: SUBCOMMANDS[arguments[0]](arguments[1:]))
    run_cli(lambda: _main(arguments))


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    options = resolve_options(args)
    check_user_overrides(args.overrides, options.axes)
    once = _Once()  # each run's config says where it took the corpus's rate from: once is enough
    logging.getLogger("eeg_pretrain").addFilter(once)
    try:
        base, runs, wanted, devices = _plan(args, options)
    finally:
        logging.getLogger("eeg_pretrain").removeFilter(once)
    sweep_dir = Path(base.train.save_dir)
    continue_command = shlex.join(["sweep", *(a for a in argv if a != "--dry-run")])

    if args.dry_run:
        print(format_plan(runs, wanted, sweep_dir, args, options, devices))
        return 0
    return run_sweep(args, options, devices, base, runs, wanted, sweep_dir, continue_command, argv)


def _plan(
    args: argparse.Namespace, options: Options
) -> tuple[PretrainConfig, list[PlannedRun], dict[str, dict[str, Any]], DevicePlan | None]:
    """The sweep's config, its runs, each run's resolved config and the device plan; every config is built
    (each swept value checked) and every run folder read here, before any run starts."""
    from eeg_pretrain.run_folder import config_to_dict, load_config
    from eeg_sweep.submit import check_slurm_available

    base = load_config(args.config, args.overrides)  # a bad config or --set stops here, before any run
    devices = None
    if options.launcher == "local":
        devices = plan_devices(
            max_parallel=options.max_parallel or 1,
            gpus_per_run=options.gpus_per_run,
            torchrun=options.torchrun,
            nproc=options.nproc,
            gpus=visible_gpus(base.train.device),
            cores=cpu_cores(),
        )
    elif not args.dry_run:
        check_slurm_available(options.settings.slurm)
    planned = plan_grid(
        options.axes,
        lambda overrides: load_config(args.config, [*args.overrides, *overrides]),
        Path(base.train.save_dir),
    )
    check_data_sizes(planned, options.axes)
    runs = [run for run, _ in planned]
    wanted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # each run's own log carries its warnings
        for run in runs:
            overrides = [*args.overrides, *run_overrides(run, options.experiment, None)]
            wanted[run.name] = config_to_dict(load_config(args.config, overrides))
    for run in runs:
        decide(run, wanted[run.name])  # an unreadable run folder stops the sweep here, before any run
    return base, runs, wanted, devices


class _Once(logging.Filter):
    """Lets each message through once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def make_launcher(
    args: argparse.Namespace,
    options: Options,
    devices: DevicePlan | None,
    sweep_dir: Path,
    stop: StopRequests,
) -> LocalLauncher | SubmititLauncher:
    from eeg_sweep.submit import SUBMITIT_FOLDER, SubmititLauncher

    if options.launcher == "local":
        assert devices is not None
        echo = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
        return LocalLauncher(args.config, devices, stop, echo)
    slurm = options.settings.slurm
    folder = Path(slurm.folder) if slurm.folder else sweep_dir / SUBMITIT_FOLDER
    return SubmititLauncher(args.config, slurm, folder.resolve(), options.max_parallel)


def describe_launcher(options: Options, devices: DevicePlan | None) -> str:
    if devices is not None:
        return devices.what
    slurm = options.settings.slurm
    gpus = f", {slurm.gpus_per_node} GPU(s) per node" if slurm.gpus_per_node else ""
    where = f" on partition {slurm.partition}" if slurm.partition else ""
    kind = "SLURM job" if slurm.cluster == "slurm" else "submitit local job"
    return (
        f"one {kind} per run{where}: {slurm.nodes} node(s) x {slurm.tasks} task(s){gpus}, "
        f"{slurm.time} min; {options.max_parallel or 'all'} at a time"
    )


def format_plan(
    runs: Sequence[PlannedRun],
    wanted: Mapping[str, Mapping[str, Any]],
    sweep_dir: Path,
    args: argparse.Namespace,
    options: Options,
    devices: DevicePlan | None,
) -> str:
    """The ``--dry-run`` text: each run, what it needs next and the command that would run it."""
    from eeg_sweep.runner import SweepRunner

    with StopRequests() as stop:
        launcher = make_launcher(args, options, devices, sweep_dir, stop)
    runner = SweepRunner(launcher, args.overrides, options.experiment, None, wanted)
    lines = [
        f"sweep of {len(runs)} run(s) in {sweep_dir} ({describe_launcher(options, devices)}); "
        f"MLflow experiment {options.experiment}",
        "varying " + "; ".join(f"{a.key} over {', '.join(map(value_text, a.values))}" for a in options.axes),
    ]
    if devices is None:
        world = options.settings.slurm.world_size
        lines.append(
            f"each job's {world} task(s) run the command shown"
            + (" with --distributed (one DDP run)" if world > 1 else "")
            + ", and --resume when the run's last checkpoint exists when the job starts"
        )
    for index, run in enumerate(runs, 1):
        decision = decide(run, wanted[run.name])
        lines.append(f"{index}. {run.name}  {run.describe()}: {decision.action.value}")
        lines.append(f"   {decision.reason}")
        if decision.action in (Action.START, Action.RESUME):
            lines.append("   " + shlex.join(runner.command(run, decision.action is Action.RESUME)))
    return "\n".join(lines)


def run_sweep(
    args: argparse.Namespace,
    options: Options,
    devices: DevicePlan | None,
    base: PretrainConfig,
    runs: Sequence[PlannedRun],
    wanted: Mapping[str, Mapping[str, Any]],
    sweep_dir: Path,
    continue_command: str,
    argv: Sequence[str],
) -> int:
    """Hold the folder lock, open the parent MLflow run, run every run, write and print the summary.
    Returns 0, 1 (a run failed) or 130 (stopped by Ctrl-C / SIGTERM)."""
    from eeg_pretrain.run_folder import config_to_dict
    from eeg_sweep.runner import SweepRunner
    from eeg_train import DESCRIPTION_TAG, command_line

    tracking = base.tracking
    nproc = devices.nproc if devices is not None else None
    launcher_info: dict[str, Any] = {"name": options.launcher, "max_parallel": options.max_parallel}
    if devices is not None:
        launcher_info.update(parallel=devices.parallel, devices=devices.what)
    else:
        launcher_info["slurm"] = attrs.asdict(options.settings.slurm)
    axes = SummaryAxes.of(runs)
    with sweep_lock(sweep_dir):
        state = read_state(sweep_dir)
        tracker = open_parent(
            enabled=tracking.enabled,
            uri=tracking.uri,
            experiment=options.experiment,
            name=f"mamba2_eeg_d{base.model.d_model}_l{base.model.num_layers}_{axes.sweep_name}_sweep",
            stored_run_id=state.get("parent_run_id"),
            base_config=config_to_dict(base),
            swept=[axis.key for axis in options.axes],
            tags={
                "sweep.axes": "; ".join(
                    f"{a.key}={','.join(map(value_text, a.values))}" for a in options.axes
                ),
                "sweep.ratios": ",".join(f"{r:g}" for r in dict.fromkeys(r.ratio for r in runs)),
                "sweep.styles": ",".join(dict.fromkeys(r.style for r in runs)),
                "sweep.runs": ",".join(r.name for r in runs),
                "sweep.folder": str(sweep_dir.resolve()),
                "sweep.torchrun_nproc": str(nproc or 0),
                "sweep.launcher": options.launcher,
            },
        )
        status = "FAILED"
        try:
            state_path = write_state(
                sweep_dir,
                command=["sweep", *argv],
                config_path=args.config,
                experiment=options.experiment,
                tracking_uri=getattr(tracker, "uri", tracking.uri),
                parent_run_id=tracker.run_id,
                runs=runs,
                torchrun_nproc=nproc,
                launcher=launcher_info,
            )
            tracker.log_artifact(state_path)
            command = command_line("sweep", argv)
            experiment_id = getattr(tracker, "experiment_id", None)
            tracker.set_tags({DESCRIPTION_TAG: describe_sweep(command, runs, sweep_dir.resolve())})
            if tracker.run_id:
                print(
                    f"sweep: MLflow parent run {tracker.run_id} in experiment {options.experiment}",
                    file=sys.stderr,
                )
            print(f"sweep: {describe_launcher(options, devices)}", file=sys.stderr)
            with StopRequests() as stop:
                launcher = make_launcher(args, options, devices, sweep_dir, stop)
                runner = SweepRunner(
                    launcher=launcher,
                    overrides=args.overrides,
                    experiment=options.experiment,
                    parent_run_id=tracker.run_id,
                    wanted=wanted,
                    continue_on_error=args.continue_on_error,
                )
                results = runner.run_all(runs, stop)

            rows = summary_rows(results)
            tracker.set_tags(
                {DESCRIPTION_TAG: describe_sweep(command, runs, sweep_dir.resolve(), rows, experiment_id)}
            )
            write_csv(sweep_dir / SUMMARY_CSV, rows, axes)
            tracker.log_artifact(sweep_dir / SUMMARY_CSV)
            if plot_summary(sweep_dir / SUMMARY_PNG, rows, axes):
                tracker.log_artifact(sweep_dir / SUMMARY_PNG)
            interrupted = stop.requested or any(r.status == INTERRUPTED for r in results)
            failed = [r for r in results if r.status == FAILED]
            status = "KILLED" if interrupted else "FAILED" if failed else "FINISHED"
        finally:
            tracker.close(status)

    print(format_table(rows, axes))
    print(f"summary: {sweep_dir / SUMMARY_CSV}", file=sys.stderr)
    for result in failed:
        exit_part = f" (exit status {result.exit_code})" if result.exit_code is not None else ""
        print(
            f"FAILED {result.run.name}{exit_part}: {result.message}; log: {result.run.log_path}",
            file=sys.stderr,
        )
    if interrupted:
        note = launcher.detach_note()
        print(
            "sweep stopped; finished runs and the last checkpoint of an interrupted run are kept"
            + (f"; {note}" if note else "")
            + f". Continue with:\n  {continue_command}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return EXIT_RUN_FAILED if failed else 0


if __name__ == "__main__":
    main()
