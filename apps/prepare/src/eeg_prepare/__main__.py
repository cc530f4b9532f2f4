"""``python -m eeg_prepare``: the same as the ``prepare`` command."""

from eeg_prepare.cli import main

# The guard matters: worker processes (--jobs N) import the main module again under another name.
if __name__ == "__main__":
    main()
