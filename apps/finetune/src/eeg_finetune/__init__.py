"""eeg_finetune: participant-level classification on the pretrained EEG encoder, without leakage.

The ``finetune`` command (:mod:`eeg_finetune.cli`) runs a job (:func:`eeg_finetune.job.run_job`); the parts
are usable on their own: participant splits (:mod:`eeg_finetune.splits`), metrics
(:mod:`eeg_finetune.metrics`), the classifier and its checkpoint (:mod:`eeg_finetune.model`), embeddings
(:mod:`eeg_finetune.embed`) and a synthetic labelled dataset (:mod:`eeg_finetune.synthetic`).
"""
