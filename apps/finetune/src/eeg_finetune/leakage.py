"""The leakage guard: how many test groups the encoder saw while pretraining.

A pretraining checkpoint records the participants it was pretrained and validated on and the
fingerprints of their samples (``pretraining_data``; :mod:`eeg_io.fingerprint`). The guard compares
**recordings**, not ids: a test group counts as seen when any window of any of its participants has the
samples of a pretraining window, so a renamed copy of the test data is caught and two unrelated corpora
that both call their people ``P000`` are not confused. Checkpoints written before fingerprints were
recorded fall back to comparing participant ids (and say so). The verdict (:func:`eeg_eval.judge`) cannot
say "helped" for an encoder that saw a test group unless ``evaluation.transductive: true`` is declared.
"""

from __future__ import annotations

import logging
from typing import Any

from eeg_eval import Fold
from eeg_finetune.data import LabelledData
from eeg_finetune.pretrained import PretrainedSource
from eeg_io.fingerprint import column_fingerprints
from eeg_io.layout import channel_columns, find_column, open_parquet

__all__ = ["leakage_report", "participants_seen_by_samples"]

log = logging.getLogger("eeg_finetune")


def participants_seen_by_samples(
    data: LabelledData, participant_column: str, fingerprints: frozenset[str]
) -> set[str]:
    """The participants of ``data``'s file with a window (of a channel used) whose samples match one of
    ``fingerprints``."""
    with open_parquet(data.path) as parquet_file:
        schema = parquet_file.schema_arrow
        columns = channel_columns(schema, data.path)
        participant = find_column(schema, participant_column)
        wanted = [columns[c] for c in data.channels if c in columns]
        table = parquet_file.read(columns=[participant, *wanted], use_threads=False)
    owners = [str(p) for p in table.column(0).to_pylist()]
    seen: set[str] = set()
    for column in table.columns[1:]:
        for owner, digest in zip(owners, column_fingerprints(column), strict=True):
            if digest in fingerprints:
                seen.add(owner)
    return seen


def leakage_report(
    source: PretrainedSource, data: LabelledData, folds: list[Fold], participant_column: str = "Participant"
) -> dict[str, Any] | None:
    """How many test groups hold a participant the encoder was pretrained on (by samples where the
    checkpoint records fingerprints, else by participant id); None when the checkpoint records neither."""
    if source.pretraining_fingerprints is not None:
        seen, by = (
            participants_seen_by_samples(data, participant_column, source.pretraining_fingerprints),
            "samples",
        )
    elif source.pretraining_participants is not None:
        seen, by = set(source.pretraining_participants), "participant ids"
        log.warning(
            "%s records no fingerprints of its pretraining data (written before they were): overlap is judged "
            "by participant ids, which miss renamed copies and confuse unrelated people of the same id",
            source.checkpoint,
        )
    else:
        log.warning(
            "%s does not record its pretraining participants: overlap with the test groups is unknown",
            source.checkpoint,
        )
        return None
    tested = sorted({s for fold in folds for s in fold.test})
    groups = sorted({data.groups[s] for s in tested})
    seen_groups = sorted({data.groups[s] for s in tested if data.participants[s] in seen})
    participants = sorted({data.participants[s] for s in tested})
    report = {
        "test_groups": len(groups),
        "test_groups_seen": len(seen_groups),
        "test_participants": len(participants),
        "test_participants_seen": sum(p in seen for p in participants),
        "seen": seen_groups,
        "by": by,
    }
    log.info(
        "leakage guard (by %s): the encoder was pretrained on %d of %d test group(s) (%d of %d test participants)%s",
        by,
        report["test_groups_seen"],
        report["test_groups"],
        report["test_participants_seen"],
        report["test_participants"],
        f": {', '.join(seen_groups[:10])}" if seen_groups else "",
    )
    return report
