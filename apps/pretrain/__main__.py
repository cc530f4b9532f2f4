"""Lets `python apps/pretrain ...` and `torchrun apps/pretrain ...` run the pretrain command."""

from eeg_pretrain.cli import main

if __name__ == "__main__":
    main()
