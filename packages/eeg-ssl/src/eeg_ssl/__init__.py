"""eeg_ssl."""
