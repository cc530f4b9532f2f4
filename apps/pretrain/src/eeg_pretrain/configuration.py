"""Moved to the ``eeg-config`` library (``eeg_config``); this name stays for compatibility."""

from eeg_config import *  # noqa: F403
from eeg_config import __all__  # noqa: F401
