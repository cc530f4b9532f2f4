"""Run under torchrun by test_cli_processes: trains with DDP, then every rank saves its own weights."""

import sys
from pathlib import Path

import torch

from eeg_pretrain.config import load_config
from eeg_pretrain.trainer import Trainer
from eeg_train import init_distributed, shutdown


def run(config_path: str, out_dir: str) -> None:
    config = load_config(config_path)
    info = init_distributed(True, "cpu")
    trainer = Trainer(config, info, torch.device("cpu"))
    trainer.fit()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    torch.save(trainer.model.state_dict(), Path(out_dir) / f"rank{info.rank}.pt")
    trainer.close()
    shutdown(info)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2])
