"""eeg_sweep."""
