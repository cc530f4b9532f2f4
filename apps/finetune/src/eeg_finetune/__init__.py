"""eeg_finetune: classification per participant or per window on the pretrained EEG encoder, with
group-disjoint splits, classic baselines, bootstrap intervals and a "did pretraining help?" verdict.

The ``finetune`` command (:mod:`eeg_finetune.cli`) runs a job (:func:`eeg_finetune.job.run_job`); the parts
are usable on their own: group splits (:mod:`eeg_finetune.splits`), metrics (:mod:`eeg_finetune.metrics`),
baselines (:mod:`eeg_finetune.baselines`), intervals and the verdict (:mod:`eeg_finetune.intervals`), the classifier and its checkpoint (:mod:`eeg_finetune.model`), embeddings
(:mod:`eeg_finetune.embed`) and a synthetic labelled dataset (:mod:`eeg_finetune.synthetic`).
"""
