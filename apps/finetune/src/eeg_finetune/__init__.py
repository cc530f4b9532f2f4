"""eeg_finetune."""
