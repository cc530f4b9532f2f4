"""eeg_finetune: classification per participant or per window on the pretrained EEG encoder, with
group-disjoint splits, classic baselines, bootstrap intervals and a "did pretraining help?" verdict.

The ``finetune`` command (:mod:`eeg_finetune.cli`) runs a job (:func:`eeg_finetune.job.run_job`), a short
pipeline of stages (:mod:`~eeg_finetune.inputs`, :mod:`~eeg_finetune.folds`, :mod:`~eeg_finetune.outputs`).
The evaluation itself (splits, metrics, intervals, classic features, the verdict) is the torch-free
library :mod:`eeg_eval`; this app adds the classifier and its checkpoint (:mod:`eeg_finetune.model`),
embeddings (:mod:`eeg_finetune.embed`) and a synthetic labelled dataset (:mod:`eeg_finetune.synthetic`).
"""
