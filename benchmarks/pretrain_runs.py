"""Running the ``pretrain`` command from a benchmark: one config (a dict), one run folder, the best checkpoint.

Shared by ``real_eeg_probe.py``, ``transfer.py`` and ``learning_curve.py``, so each measures what users run.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from eeg_pretrain.cli import main as pretrain_command
from eeg_pretrain.run_folder import CHECKPOINT_BEST


def run_pretrain(config: dict, save_dir: Path) -> Path:
    """Write ``config`` beside the run folder as ``<name>.yaml`` (with ``train.save_dir`` = ``save_dir``, and
    as every benchmark runs: quiet, no example plots, no MLflow), run ``pretrain --config <it> --quiet`` in
    this process, and return the best checkpoint; a failed run raises its ``SystemExit``."""
    train = {**config.get("train", {}), "save_dir": str(save_dir), "quiet": True, "num_plot_examples": 0}
    config = {**config, "train": train, "tracking": {"enabled": False}}
    path = save_dir.parent / f"{save_dir.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    try:
        pretrain_command(["--config", str(path), "--quiet"])
    except SystemExit as exit_info:
        if exit_info.code:
            raise
    return save_dir / CHECKPOINT_BEST
