"""The leakage guard: how many test groups the encoder saw while pretraining.

The checkpoint records the participants it was pretrained and validated on (``pretraining_data``);
the guard counts the test groups holding one of them. The verdict (:func:`eeg_eval.judge`) cannot say
"helped" for an encoder that saw a test group unless ``evaluation.transductive: true`` is declared.
"""

from __future__ import annotations

import logging
from typing import Any

from eeg_eval import Fold
from eeg_finetune.data import LabelledData
from eeg_finetune.pretrained import PretrainedSource

__all__ = ["leakage_report"]

log = logging.getLogger("eeg_finetune")


def leakage_report(source: PretrainedSource, data: LabelledData, folds: list[Fold]) -> dict[str, Any] | None:
    """How many test groups hold a participant the encoder was pretrained on; None when the checkpoint
    does not record its participants."""
    seen = source.pretraining_participants
    if seen is None:
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
    }
    log.info(
        "leakage guard: the encoder was pretrained on %d of %d test group(s) (%d of %d test participants)%s",
        report["test_groups_seen"],
        report["test_groups"],
        report["test_participants_seen"],
        report["test_participants"],
        f": {', '.join(seen_groups[:10])}" if seen_groups else "",
    )
    return report
