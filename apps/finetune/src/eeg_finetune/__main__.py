"""``python -m eeg_finetune ...`` is the ``finetune`` command."""

from eeg_finetune.cli import main

main()
