"""eeg_pretrain."""
