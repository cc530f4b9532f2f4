"""eeg_prepare."""
