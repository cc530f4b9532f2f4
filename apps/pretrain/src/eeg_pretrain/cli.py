"""``pretrain``: masked-reconstruction pretraining of the EEG encoder.

uv run --package pretrain pretrain --config configs/pretrain.yaml [--resume PATH] [--set section.key=value ...]
uv run --package pretrain pretrain log-run RUN_FOLDER [--uri URI]   # log what a run kept while MLflow was away
uv run torchrun --standalone --nproc_per_node=2 apps/pretrain --config configs/pretrain.yaml --distributed
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from eeg_config import EXIT_INTERRUPTED, EXIT_USER_ERROR, UserError, add_override_option, run_cli
from eeg_montage import MontageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pretrain",
        description="Pretrain a Mamba-2 EEG encoder by masked reconstruction of whole windows.",
        epilog="pretrain log-run DIR [--uri URI]: log into MLflow what a run kept in its folder while its "
        "tracking store was away (tracking.on_failure: continue)",
    )
    parser.add_argument("--config", required=True, help="YAML run config (see configs/pretrain.yaml)")
    parser.add_argument(
        "--resume",
        metavar="PATH",
        help="checkpoint to continue from (e.g. save_dir/mamba2_eeg_pretrained_last.pt)",
    )
    add_override_option(parser, "override a config value (repeatable), e.g. --set masking.ratio=0.6")
    parser.add_argument(
        "--distributed", action="store_true", help="use DDP under torchrun (NCCL on CUDA, Gloo on CPU)"
    )
    parser.add_argument(
        "--stop-after-epochs",
        type=int,
        metavar="N",
        help="stop after N epochs in this session, keeping the schedule of train.epochs (resume later)",
    )
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress display (log files get plain lines without it)"
    )
    return parser


def _setup_logging(is_main: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if is_main else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


#: What a synthetic corpus was written with, kept beside its files (written last: the corpus is whole).
SYNTHETIC_RECORD = "synthetic_corpus.json"


def _ensure_synthetic_corpus(config, is_main: bool) -> None:
    """With ``synthetic.enabled``, write the corpus to ``data.dataset_path`` unless Parquet files are there.

    It is written into a hidden sibling folder and moved in when complete, so an interrupted first run
    leaves no partial corpus for the next run to train on. A corpus this app wrote with other settings
    (``synthetic.*``, the window length: e.g. an older demo's) is replaced by the one the config asks for:
    its Parquet files and record are removed, other files in the folder are left alone. Parquet files
    without the record (someone else's data) are used as they are."""
    import json
    import shutil

    from eeg_config import atomic_write_text
    from eeg_io import write_synthetic_corpus

    syn = config.synthetic
    if not syn.enabled or not is_main:
        return
    root = Path(config.data.dataset_path)
    settings = {
        "participants": syn.participants,
        "runs": syn.runs,
        "windows_per_run": syn.windows_per_run,
        "window_length": config.data.window_length,
        "sfreq": syn.sfreq,
        "seed": syn.seed,
    }
    if syn.channels is not None:
        settings["channels"] = list(syn.channels)
    log = logging.getLogger("eeg_pretrain")
    if root.is_dir() and any(root.rglob("*.parquet")):
        try:
            written = json.loads((root / SYNTHETIC_RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # not a corpus this app wrote (or one from before the record): nothing to compare
        differs = {k: (written.get(k), v) for k, v in settings.items() if written.get(k) != v}
        if not differs:
            return
        detail = ", ".join(f"{k} {old} (config: {new})" for k, (old, new) in differs.items())
        log.info(
            "%s holds a synthetic corpus written with other settings: %s; writing a new one", root, detail
        )
        for old_file in [*root.rglob("*.parquet"), root / SYNTHETIC_RECORD]:
            old_file.unlink()
    else:
        log.info("writing a synthetic EEG corpus to %s (first run)", root)
    staging = root.resolve().with_name(f".{root.resolve().name}.writing")  # "." has no name of its own
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted first run
    write_synthetic_corpus(staging, **settings)
    atomic_write_text(staging / SYNTHETIC_RECORD, json.dumps(settings, indent=2) + "\n")
    if root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    if root.exists():  # a folder with other files and no Parquet: move the corpus in, its record last
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == SYNTHETIC_RECORD):
            os.replace(entry, root / entry.name)
        staging.rmdir()
    else:
        staging.rename(root)


def main(argv: list[str] | None = None) -> None:
    run_cli(lambda: _main(argv), also=(MontageError,))


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["log-run"]:  # pretrain log-run DIR: replay what a run kept while its store was away
        from eeg_pretrain.log_run import main as log_run_main

        return log_run_main(argv[1:])
    args = build_parser().parse_args(argv)
    with collector_paused_until_training() as training_starts:
        return _run(args, argv, training_starts)


@contextlib.contextmanager
def collector_paused_until_training() -> Iterator[Callable[[], None]]:
    """Python's cyclic garbage collector off while a run starts, then on again with what the start built
    frozen; yields the function to call when training starts. On leaving, the collector is as it was and
    nothing stays frozen (a caller in the same process, a test, is not affected).

    Starting a run imports torch, MLflow and SciPy (about 600k Python objects): the collector walks them all
    about eight times on the way, a fifth of the start's CPU time (1.1 of 5.3 s). With it paused, one
    collection when training starts frees the start's cyclic garbage, and freezing the survivors keeps later
    collections (and the pages shared with DataLoader workers forked afterwards) off them."""
    was_enabled = gc.isenabled()
    gc.disable()
    started = False

    def training_starts() -> None:
        nonlocal started
        if not started:
            started = True
            gc.collect()
            gc.freeze()
            if was_enabled:
                gc.enable()

    try:
        yield training_starts
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


def _run(args: argparse.Namespace, argv: list[str] | None, training_starts: Callable[[], None]) -> int:
    from eeg_config import dump_yaml
    from eeg_pretrain.config import config_to_dict, load_config

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        config = load_config(args.config, args.overrides)
    if args.quiet:
        import attrs

        config = attrs.evolve(config, train=attrs.evolve(config.train, quiet=True))
    if args.print_config:
        print(dump_yaml(config_to_dict(config)), end="")
        return 0
    from eeg_pretrain.run_folder import check_save_dir

    check_save_dir(config.train.save_dir)  # before any data or model is built
    if args.resume is not None and not Path(args.resume).is_file():
        raise UserError(f"--resume: checkpoint not found: {args.resume}")
    if args.stop_after_epochs is not None and args.stop_after_epochs < 1:
        raise UserError(f"--stop-after-epochs expects a positive number, got {args.stop_after_epochs}")

    from eeg_pretrain.preflight import cheap_checks
    from eeg_pretrain.stopping import Interrupted
    from eeg_pretrain.trainer import Trainer
    from eeg_train import barrier, init_distributed, pick_device, shutdown

    device_kind = pick_device(config.train.device).type  # NCCL or Gloo
    dist_info = init_distributed(args.distributed, device_kind)
    _setup_logging(dist_info.is_main)
    status = "FAILED"
    trainer = None
    lock = None
    try:
        # the cheap checks, before any data is read: the run folder is ours and writable, the store answers
        lock, ok, tracking_away = cheap_checks(config, dist_info, resuming=args.resume is not None)
        if not ok:
            return EXIT_USER_ERROR  # rank 0 said why, in one line
        _ensure_synthetic_corpus(config, dist_info.is_main)
        barrier(dist_info)
        device = pick_device(config.train.device, dist_info.local_rank)
        from eeg_train import command_line

        trainer = Trainer(
            config, dist_info, device, resume=args.resume, tracking_away=tracking_away,
            command=command_line("pretrain", argv),
        )  # fmt: skip
        training_starts()
        trainer.fit(stop_after_epochs=args.stop_after_epochs)
        status = "FINISHED"
        if dist_info.is_main:
            _finish(trainer)
        return 0
    except Interrupted as exc:
        status = "KILLED"
        if dist_info.is_main:
            print(
                f"stopped; the last checkpoint is {exc}. Continue with:\n"
                f"  pretrain --config {args.config} --resume {exc}"
                + "".join(f" --set {o}" for o in args.overrides),
                file=sys.stderr,
            )
        return EXIT_INTERRUPTED
    finally:
        if trainer is not None:
            trainer.close(status)
        if lock is not None:
            lock.release()
        shutdown(dist_info)


def _finish(trainer) -> None:
    """Log the summary, register the best checkpoint as a new version of ``tracking.registered_model_name``
    (a finished run), and put the result into the run's description."""
    import shutil
    import tempfile

    from eeg_pretrain.reporting import done_line
    from eeg_pretrain.run_folder import CHECKPOINT_BEST, RESOLVED_CONFIG, write_summary
    from eeg_train import DESCRIPTION_TAG

    summary = trainer.summary()
    trainer.tracker.log_artifact(write_summary(trainer.save_dir, summary))

    best = trainer.save_dir / CHECKPOINT_BEST
    track = trainer.config.tracking
    result = _result_line(summary)
    version = None
    if trainer.finished and track.register_model and best.is_file():
        with tempfile.TemporaryDirectory() as folder:
            for name in (CHECKPOINT_BEST, RESOLVED_CONFIG):
                shutil.copy2(trainer.save_dir / name, folder)
            version = trainer.tracker.register_model(
                folder, track.registered_model_name, tags=_version_tags(summary), description=result,
                model_description=ENCODER_MODEL_DESCRIPTION,
            )  # fmt: skip
    result = f"**Result**: {result}"
    if version is not None:
        route = f"#/models/{track.registered_model_name}/versions/{version}"
        result += f" Registered as [{track.registered_model_name} version {version}]({route})."
    trainer.tracker.set_tags({DESCRIPTION_TAG: trainer.description(result)})
    state = trainer.state
    logging.getLogger("eeg_pretrain").info(
        "%s",
        done_line(
            state.best_metrics,
            state.best_val_loss,
            state.epoch,
            trainer.config.data.split_group,
            os.fspath(trainer.save_dir),
        ),
    )


#: The registered model's description, set when its first version is registered.
ENCODER_MODEL_DESCRIPTION = (
    "Mamba-2 EEG encoders pretrained by masked reconstruction (the `pretrain` command). Each version is one "
    "finished run's best checkpoint with its resolved config; its tags name the run and its masking, its "
    "description the result. Load one with `eeg_ssm.load_pretrained(path)`."
)


def _result_line(summary: dict) -> str:
    """The run's result in one sentence (plain text), for its description and its model version's."""
    skill = summary.get("val_skill")
    return (
        ("" if summary["finished"] else "so far (stopped; --resume continues the run): ")
        + f"best epoch {summary['best_epoch']} of {summary['epochs']}, loss {summary['best_val_loss']:.4g}"
        + (f", skill {skill:+.3f} (1 - loss / context-mean loss)" if skill is not None else "")
        + f"; run {summary['run_name']}, mask ratio {summary['mask_ratio']:g} ({summary['mask_style']})."
    )


def _version_tags(summary: dict) -> dict[str, str]:
    """What tells one registered encoder version from another: the run, its masking and objective, its skill."""
    tags = {key: str(summary[key]) for key in ("run_name", "mask_ratio", "mask_style", "target")}
    if summary.get("val_skill") is not None:
        tags["skill"] = f"{summary['val_skill']:+.4f}"
    return tags


if __name__ == "__main__":
    main()
