"""``python -m eeg_montage [FILE]``: print a montage as unit-sphere coordinates."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
