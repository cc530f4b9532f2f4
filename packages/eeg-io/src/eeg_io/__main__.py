"""``python -m eeg_io validate DIR`` / ``python -m eeg_io synth OUT_DIR``."""

import sys

from eeg_io.cli import main

sys.exit(main())
