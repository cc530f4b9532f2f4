"""Moved to the ``eeg-config`` library (``eeg_config.errors``); this name stays for compatibility."""

from eeg_config.errors import EXIT_INTERRUPTED, EXIT_USER_ERROR, UserError, run_cli

__all__ = ["EXIT_INTERRUPTED", "EXIT_USER_ERROR", "UserError", "run_cli"]
