"""The two commands: ``pretraining`` (one Parquet file per participant-run) and ``primary`` (one
labelled Parquet file). Each finds the recordings, skips what is up to date, processes the rest
(in parallel with ``jobs > 1``), writes a CSV report and the resolved config beside the outputs,
and returns the exit status with the summary lines.

Exit status: 0 when at least one output was written or is up to date, 1 when nothing was produced
(every recording skipped or unreadable). Configuration and fatal data errors raise
:class:`~eeg_prepare.errors.PrepareError` / ``ConfigError`` (the CLI turns them into exit 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np
import pyarrow as pa

from eeg_config import atomic_write_text, dump_yaml, unstructure
from eeg_io import corpus_metadata
from eeg_io.layout import channel_columns
from eeg_prepare.channel_types import montage_for
from eeg_prepare.config import PrepareConfig, default_primary_name, settings_of
from eeg_prepare.discovery import Discovery, RecordingSource, discover
from eeg_prepare.errors import DiscoveryError, PrepareError
from eeg_prepare.labels import Join, join_labels, read_labels
from eeg_prepare.output import (
    COUNTS_KEY,
    SETTINGS_KEY,
    SOURCES_KEY,
    is_up_to_date,
    write_parquet,
)
from eeg_prepare.report import (
    PRODUCED,
    RecordingResult,
    counts_from_dict,
    counts_to_dict,
    rejections_from_dict,
    summary_lines,
    write_report,
)
from eeg_prepare.tasks import pretraining_task, primary_task, run_tasks

EXIT_OK = 0
EXIT_NOTHING_PRODUCED = 1


@attrs.frozen(kw_only=True)
class Outcome:
    """What a command did: exit ``status``, per-recording ``results``, ``lines`` printed for the user."""

    status: int
    results: tuple[RecordingResult, ...] = ()
    lines: tuple[str, ...] = ()
    output: Path | None = None
    report: Path | None = None


def pretraining_output(config: PrepareConfig, source: RecordingSource) -> Path:
    """Where the pretraining file of ``source`` goes: ``output_dir / file_template``."""
    section = config.pretraining
    return Path(section.output_dir) / section.file_template.format(
        participant=source.participant, run=source.run
    )


def run_pretraining(
    config: PrepareConfig,
    *,
    jobs: int = 1,
    dry_run: bool = False,
    force: bool = False,
    strict: bool = False,
    echo: Callable[[str], None] = print,
) -> Outcome:
    """Raw recordings -> one pretraining Parquet file per participant-run (see the module docstring)."""
    section = config.pretraining
    discovery = discover(section.input, "pretraining.input")
    montage = montage_for(section.channels.montage, section.channels.asa_path, "pretraining.channels")
    settings = settings_of(config, "pretraining")
    out_dir = Path(section.output_dir)
    report = out_dir / "prepare_pretraining_report.csv"

    todo: list[tuple[RecordingSource, PrepareConfig, Path]] = []
    current: dict[Path, RecordingResult] = {}
    claimed: dict[Path, Path] = {}
    for source in discovery.sources:
        output = pretraining_output(config, source)
        if output in claimed:
            raise DiscoveryError(
                f"pretraining.file_template {section.file_template!r} sends {claimed[output]} and "
                f"{source.path} to the same file {output}"
            )
        claimed[output] = source.path
        fresh, metadata = (
            (False, None) if force else is_up_to_date(output, source.mtime(), settings, [str(source.path)])
        )
        if fresh:
            stored = (metadata or {}).get(COUNTS_KEY, {}).get(str(source.path))
            current[source.path] = RecordingResult(
                source=source,
                status="up_to_date",
                output=str(output),
                counts=counts_from_dict(stored),
                rejections=rejections_from_dict(stored),
            )
        else:
            todo.append((source, config, output))

    if dry_run:
        lines = _dry_run_header("pretraining", discovery, section.input.root)
        for source in discovery.sources:
            if source.path in current:
                lines.append(f"  read  {source.path} -> up to date: {current[source.path].output}")
            else:
                lines.append(f"  read  {source.path} -> write {pretraining_output(config, source)}")
        lines += _ignored_lines(discovery, "skip ")
        lines.append(
            f"write {report} (report) and {out_dir / 'prepare_pretraining_config.yaml'} (resolved config)"
        )
        return _finish(EXIT_OK, (), lines, echo)

    echo(
        f"pretraining: {len(discovery.sources)} recording(s) under {section.input.root} ({discovery.layout} "
        f"layout): {len(todo)} to process, {len(current)} up to date"
    )
    done = run_tasks(pretraining_task, todo, jobs=jobs, strict=strict, description="pretraining")
    by_path = {**current, **{r.source.path: r for r in done}}
    results = tuple(by_path[s.path] for s in discovery.sources)
    _write_side_files(
        report, out_dir / "prepare_pretraining_config.yaml", results, (), config, discovery.ignored
    )
    lines = summary_lines(
        "pretraining", results, report=str(report), montage=montage.source, key="pretraining"
    )
    lines[1:1] = _ignored_lines(discovery, "skipped")
    status = EXIT_OK if any(r.status in PRODUCED for r in results) else EXIT_NOTHING_PRODUCED
    if status != EXIT_OK:
        lines.append(
            f"error: nothing was produced from {len(results)} recording(s) under {section.input.root}"
            + _skipped_note(discovery)
        )
    return _finish(status, results, lines, echo, output=out_dir, report=report)


def primary_output(config: PrepareConfig) -> Path:
    section = config.primary
    return Path(section.output_dir) / (section.output_name or default_primary_name(config))


def run_primary(
    config: PrepareConfig,
    *,
    jobs: int = 1,
    dry_run: bool = False,
    force: bool = False,
    strict: bool = False,
    echo: Callable[[str], None] = print,
) -> Outcome:
    """Raw recordings + labels CSV -> the primary dataset (see the module docstring).

    The file is rebuilt as a whole when any labelled recording, the labels file or a setting changed.
    """
    section = config.primary
    discovery = discover(section.input, "primary.input")
    montage = montage_for(section.channels.montage, section.channels.asa_path, "primary.channels")
    if section.labels.from_events:  # labels per window from each recording's events; no labels CSV
        labels = None
        join = Join(
            labelled=tuple((s, s.participant, None) for s in discovery.sources), unlabelled=(), unused=()
        )
    else:
        labels = read_labels(section.labels)
        # the labels file may sit among the recordings: it is read, so it is not listed as skipped
        discovery = attrs.evolve(
            discovery,
            ignored=tuple((p, why) for p, why in discovery.ignored if not _same_file(p, labels.path)),
        )
        join = join_labels(discovery.sources, labels)
    output = primary_output(config)
    report = output.with_name(output.stem + "_report.csv")
    resolved = output.with_name(output.stem + "_config.yaml")
    settings = settings_of(config, "primary")
    label_files = [] if labels is None else [labels.path]
    sources = [str(source.path) for source, _, _ in join.labelled] + [str(path) for path in label_files]
    newest = max(
        [
            *(path.stat().st_mtime for path in label_files),
            *(source.mtime() for source, _, _ in join.labelled),
        ],
        default=0.0,
    )
    fresh, _ = (False, None) if force else is_up_to_date(output, newest, settings, sources)
    unlabelled = tuple(
        RecordingResult(source=s, status="skipped", reason=f"participant not in {labels.path}")
        for s in join.unlabelled
    )

    if dry_run:
        lines = _dry_run_header("primary", discovery, section.input.root)
        if labels is None:
            classes = ", ".join(f"{name} -> {label}" for name, label in section.labels.events.items())
            lines.append(f"  labels: one window per event ({classes}), from each recording's event markers")
        else:
            lines.append(f"  read  {labels.path} (labels: {len(labels.by_key)} participant(s))")
        for source, participant, label in join.labelled:
            which = "labels from its events" if label is None else f"{section.label_column} {label}"
            lines.append(f"  read  {source.path} (participant {participant}, {which})")
        lines += [f"  skip  {r.source.path}: {r.reason}" for r in unlabelled]
        lines += [f"  label without recording: participant {p}" for p in join.unused]
        lines += _ignored_lines(discovery, "skip ")
        verb = "up to date:" if fresh else "write"
        lines.append(f"{verb} {output}, with {report} (report) and {resolved} (resolved config)")
        return _finish(EXIT_OK, (), lines, echo)
    if fresh:
        lines = [
            f"primary: {output} is up to date ({len(join.labelled)} recording(s), same settings); "
            "--force rebuilds it"
        ]
        return _finish(EXIT_OK, (), lines, echo, output=output)

    to_process = (
        f"{len(join.labelled)} to process, labels from their events"
        if labels is None
        else f"{len(join.labelled)} with a label to process, {len(join.unlabelled)} without"
    )
    echo(
        f"primary: {len(discovery.sources)} recording(s) under {section.input.root} ({discovery.layout} "
        f"layout): {to_process}"
    )
    arguments = [(source, config, participant, label) for source, participant, label in join.labelled]
    done = run_tasks(
        primary_task,
        arguments,
        jobs=jobs,
        strict=strict,
        description="primary",
        result_of=lambda pair: pair[0],
    )
    if section.channels.pick is None:  # every EEG channel: the recordings must agree on them
        done = _same_channels(done)
    tables = [table for _, table in done if table is not None]
    if tables:
        metadata = {
            SETTINGS_KEY: settings,
            SOURCES_KEY: sources,
            COUNTS_KEY: {
                str(r.source.path): counts_to_dict(r.counts, r.rejections) for r, t in done if t is not None
            },
        }
        table = pa.concat_tables(tables)
        channels = list(channel_columns(table.schema, output))
        width = len(table.column(channel_columns(table.schema, output)[channels[0]])[0])
        # finetune reads the label level: per window (trial) from events, else per participant
        level = "window" if labels is None else "participant"
        metadata.update(corpus_metadata(width, config.signal.sampling_rate, channels, level))
        write_parquet(table, output, metadata)
    included = [attrs.evolve(r, output=str(output)) if t is not None else r for r, t in done]
    by_path = {r.source.path: r for r in included} | {r.source.path: r for r in unlabelled}
    results = tuple(by_path[s.path] for s in discovery.sources)
    _write_side_files(report, resolved, results, join.unused, config, discovery.ignored)
    lines = summary_lines(
        "primary", results, join.unused, report=str(report), montage=montage.source, key="primary"
    )
    lines[1:1] = _ignored_lines(discovery, "skipped")
    if tables:
        participants = len(
            {participant for (s, participant, _), (_, t) in zip(join.labelled, done, strict=True) if t}
        )
        rows = sum(t.num_rows for t in tables)
        lines.insert(1, f"wrote {output}: {rows} windows of {participants} participant(s)")
        if labels is None:
            classes = np.concatenate([t.column(section.label_column).to_numpy() for t in tables])
            values, counts = np.unique(classes, return_counts=True)
            per_class = ", ".join(f"{v}: {c}" for v, c in zip(values.tolist(), counts.tolist(), strict=True))
            lines.insert(2, f"windows per {section.label_column} (one per event): {per_class}")
        return _finish(EXIT_OK, results, lines, echo, output=output, report=report)
    lines.append(
        f"error: nothing was produced: no labelled recording gave a window ({output} not written)"
        + _skipped_note(discovery)
    )
    return _finish(EXIT_NOTHING_PRODUCED, results, lines, echo, report=report)


def _same_channels(
    done: list[tuple[RecordingResult, pa.Table | None]],
) -> list[tuple[RecordingResult, pa.Table | None]]:
    """With ``primary.channels.pick: null``: the recordings' tables with their channel columns in the first
    one's order; :class:`PrepareError` naming two recordings whose EEG channels differ."""
    first: tuple[RecordingResult, list[str]] | None = None
    aligned = []
    for result, table in done:
        if table is None:
            aligned.append((result, table))
            continue
        names = list(channel_columns(table.schema, result.source.path).values())
        if first is None:
            first = (result, names)
        elif set(names) != set(first[1]):
            only_first = sorted(set(first[1]) - set(names))
            only_here = sorted(set(names) - set(first[1]))
            raise PrepareError(
                f"primary.channels.pick is null (every EEG channel), but the recordings keep different "
                f"channels: {first[0].source.path} has {', '.join(only_first) or 'no other'} and "
                f"{result.source.path} has {', '.join(only_here) or 'no other'} that the other lacks; list "
                "the channels to keep in primary.channels.pick (one set for every participant)"
            )
        else:
            order = [c for c in table.column_names if c not in names] + first[1]
            table = table.select(order)
        aligned.append((result, table))
    return aligned


def _write_side_files(
    report: Path,
    resolved: Path,
    results: tuple[RecordingResult, ...],
    unused: tuple[str, ...],
    config: PrepareConfig,
    skipped_files: tuple[tuple[Path, str], ...] = (),
) -> None:
    write_report(report, results, unused, skipped_files)
    atomic_write_text(resolved, dump_yaml(unstructure(config)))


def _dry_run_header(command: str, discovery: Discovery, root: str) -> list[str]:
    return [
        f"dry run: {command}: {len(discovery.sources)} recording(s) under {root} ({discovery.layout} layout)"
    ]


def _ignored_lines(discovery: Discovery, verb: str) -> list[str]:
    """One line per file under the root that is neither read nor a companion or sidecar, with why."""
    return [f"  {verb} {path}: {why}" for path, why in discovery.ignored]


def _skipped_note(discovery: Discovery) -> str:
    count = len(discovery.ignored)
    return f"; {count} other file(s) were skipped (listed above and in the report)" if count else ""


def _finish(
    status: int,
    results: tuple[RecordingResult, ...],
    lines: list[str],
    echo: Callable[[str], None],
    output: Path | None = None,
    report: Path | None = None,
) -> Outcome:
    for line in lines:
        echo(line)
    return Outcome(status=status, results=results, lines=tuple(lines), output=output, report=report)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False
