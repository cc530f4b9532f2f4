"""Checks and clean-up of ``train.save_dir`` before a run starts (rank 0 writes there)."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from eeg_pretrain.config import CHECKPOINT_BEST, CHECKPOINT_LAST, RESOLVED_CONFIG, SUMMARY
from eeg_pretrain.errors import UserError

log = logging.getLogger("eeg_pretrain")

# The temporary files of the atomic writes of the run's own files: ``.<name>.<random>.tmp``
# (eeg_ssm.save_checkpoint and configuration.atomic_write_bytes use tempfile's prefix/suffix).
_OWN_FILES = (CHECKPOINT_BEST, CHECKPOINT_LAST, RESOLVED_CONFIG, SUMMARY)
STALE_TEMP = re.compile(
    r"^\.(?:" + "|".join(re.escape(name) for name in _OWN_FILES) + r")\.[A-Za-z0-9_]+\.tmp$"
)


def check_save_dir(save_dir: str | os.PathLike[str]) -> None:
    """Refuse a ``train.save_dir`` that cannot become a folder, before any data or model is built.

    Raises:
        UserError: the path, or one of its parents, exists and is not a folder.
    """
    path = Path(save_dir)
    for candidate in (path, *path.parents):
        if candidate.exists() and not candidate.is_dir():
            what = "is" if candidate == path else f"lies under {candidate}, which is"
            raise UserError(
                f"train.save_dir: {path} {what} a file, not a folder; choose another train.save_dir"
            )
        if candidate.is_dir():
            break


def remove_stale_temp_files(save_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete what an interrupted atomic write of this run's files left behind (``.<file>.<random>.tmp``).

    Only that pattern is touched; other files in the folder are left alone. Returns the removed paths.
    """
    folder = Path(save_dir)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if STALE_TEMP.match(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
            log.info("removed %s, left by an interrupted write", entry)
    return removed
