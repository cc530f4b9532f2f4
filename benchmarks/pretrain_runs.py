"""Running the ``pretrain`` command from a benchmark: one config (a dict), one run folder, the best checkpoint.

Shared by ``real_eeg_probe.py``, ``transfer.py`` and ``learning_curve.py``, so each measures what users run.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from eeg_pretrain.cli import main as pretrain_command
from eeg_pretrain.run_folder import CHECKPOINT_BEST


def run_pretrain(config: dict, save_dir: Path) -> Path:
    """Write ``config`` (with ``train.save_dir`` = ``save_dir``) beside the run folder as ``<name>.yaml``, run
    ``pretrain --config <it> --quiet`` in this process, and return the best checkpoint; a failed run raises
    its ``SystemExit``."""
    config = {**config, "train": {**config.get("train", {}), "save_dir": str(save_dir)}}
    path = save_dir.parent / f"{save_dir.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        pretrain_command(["--config", str(path), "--quiet"])
    except SystemExit as exit_info:
        if exit_info.code:
            raise
    return save_dir / CHECKPOINT_BEST
