"""``finetune``: classification per participant or per window on the pretrained encoder, evaluated against
classic baselines with intervals over groups; and embeddings export.

uv run --package finetune finetune --config configs/finetune.yaml --pretrain-config configs/pretrain.yaml \
    --data-path data/processed/primary --output-dir finetuned_models
uv run --package finetune finetune embed --checkpoint CKPT --data-path FILE --out embeddings.parquet [--per-window]

Exit status: 0 done, 2 a problem with the inputs (one ``error: ...`` line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys

from eeg_config import add_override_option, run_cli
from eeg_montage import MontageError

EMBED = "embed"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune",
        description="Fine-tune a classifier on the pretrained EEG encoder with group-disjoint splits, baselines "
        "and intervals. `finetune embed --help` for the embeddings export.",
    )
    parser.add_argument(
        "--config", help="YAML fine-tuning config (see configs/finetune.yaml); default: built-in defaults"
    )
    parser.add_argument(
        "--pretrain-config",
        metavar="FILE",
        help="the pretraining config: finds its checkpoint (train.save_dir and the run name) and checks it",
    )
    parser.add_argument(
        "--checkpoint", metavar="PATH", help="pretrained checkpoint to use (overrides the lookup)"
    )
    parser.add_argument(
        "--data-path",
        metavar="FILE",
        help="the primary (labelled) dataset: one Parquet file, or the folder holding it alone",
    )
    parser.add_argument("--output-dir", metavar="DIR", help="where the model and the report go (output_dir)")
    add_override_option(parser, "override a config value (repeatable), e.g. --set split.method=kfold")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress display (log files get plain lines without it)"
    )
    parser.add_argument(
        "--strict-disjoint",
        action="store_true",
        help="fail if the encoder was pretrained on any test participant/group (evaluation.strict_disjoint)",
    )
    return parser


def build_embed_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finetune embed",
        description="Write the encoder's embedding of every participant x channel (or window) to Parquet.",
    )
    parser.add_argument(
        "--checkpoint", required=True, metavar="PATH", help="pretrained or fine-tuned checkpoint"
    )
    parser.add_argument(
        "--data-path",
        required=True,
        metavar="FILE",
        help="primary dataset (Parquet), or the folder holding it alone",
    )
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="output Parquet file, e.g. embeddings.parquet"
    )
    parser.add_argument(
        "--per-window", action="store_true", help="one row per window instead of per sequence"
    )
    parser.add_argument(
        "--config",
        help="take channels, column names and normalisation from this fine-tuning config's data section",
    )
    parser.add_argument("--channels", help="comma-separated channel names (default: the config's, else all)")
    parser.add_argument("--participant-column", help="default: Participant")
    parser.add_argument("--label-column", help="default: Remission (optional in the file)")
    parser.add_argument(
        "--group-column", help="written as the 'group' column (e.g. person, site); default: the participant"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--backend", choices=("auto", "torch", "mamba_ssm"), help="Mamba-2 implementation")
    return parser


def _setup_logging() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def main(argv: list[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [EMBED]:
        run_cli(lambda: _embed(arguments[1:]), also=(MontageError,))
    else:
        run_cli(
            lambda: _train(arguments[1:] if arguments[:1] == ["train"] else arguments), also=(MontageError,)
        )


def _train(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    import attrs

    from eeg_config import dump_yaml
    from eeg_finetune.config import config_to_dict, load_config

    config = load_config(args.config, args.overrides)
    pretrained = config.pretrained
    if args.checkpoint is not None:
        pretrained = attrs.evolve(pretrained, checkpoint=args.checkpoint)
    if args.pretrain_config is not None:
        pretrained = attrs.evolve(pretrained, pretrain_config=args.pretrain_config)
    data = config.data if args.data_path is None else attrs.evolve(config.data, data_path=args.data_path)
    train = attrs.evolve(config.train, quiet=True) if args.quiet else config.train
    evaluation = (
        attrs.evolve(config.evaluation, strict_disjoint=True) if args.strict_disjoint else config.evaluation
    )
    config = attrs.evolve(
        config,
        evaluation=evaluation,
        pretrained=pretrained,
        data=data,
        train=train,
        output_dir=config.output_dir if args.output_dir is None else args.output_dir,
    )
    if args.print_config:
        print(dump_yaml(config_to_dict(config)), end="")
        return 0
    _setup_logging()
    from eeg_finetune.job import run_job
    from eeg_train import command_line

    run_job(config, command=command_line("finetune", argv))
    return 0


def _embed(argv: list[str]) -> int:
    args = build_embed_parser().parse_args(argv)
    from eeg_finetune.config import DataSection, load_config
    from eeg_finetune.embed import embed_dataset
    from eeg_finetune.job import pick_device

    section = load_config(args.config).data if args.config else DataSection()
    _setup_logging()
    channels = (
        [c.strip() for c in args.channels.split(",") if c.strip()] if args.channels else section.channels
    )
    embed_dataset(
        args.checkpoint,
        args.data_path,
        args.out,
        channels=channels,
        participant_column=args.participant_column or section.participant_column,
        label_column=args.label_column or section.label_column,
        group_column=args.group_column or section.group_column,
        per_window=args.per_window,
        normalization=section.normalization,
        scale=section.scale,
        nan_policy=section.nan_policy,
        device=str(pick_device(args.device)),
        backend=args.backend,
    )
    return 0


if __name__ == "__main__":
    main()
