"""Classes that differ only in the power of a rhythm of random phase: only power-aware features can tell
them apart. Log band power beats chance; an encoder with the band-power token input gives a linear probe
that beats the probe on a random raw-input encoder, on the same group-disjoint folds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from eeg_eval import concatenate
from eeg_finetune.baselines import (
    classic_window_features,
    logistic_predictions,
    probe_embeddings,
    sample_features,
)
from eeg_finetune.config import build_config
from eeg_finetune.data import load_labelled, make_samples
from eeg_finetune.inputs import split_data
from eeg_finetune.model import EncoderClassifier
from eeg_finetune.synthetic import write_synthetic_windows
from eeg_ssm import EEGModel, ModelConfig


@pytest.fixture(scope="module")
def power_only(tmp_path_factory):
    """8 people (4 groups), 2 runs of 8 windows; labels per window, drawn at random; rhythm phase random."""
    path = write_synthetic_windows(
        tmp_path_factory.mktemp("power") / "power.parquet",
        people=8,
        runs=2,
        windows=8,
        labels="window",
        phase_locked=False,
        class_amplitudes_uv=(3.0, 12.0),
        seed=1,
    )
    data = load_labelled(
        path,
        channels=None,
        window_length=64,
        label_column="Label",
        label_level="window",
        group_column="Person",
    )
    config = build_config(
        {
            "data": {"label_level": "window", "group_column": "Person"},
            "split": {"method": "logo", "val_ratio": 0.0},
        }
    )
    return data, split_data(config, data)


def out_of_fold_auroc(data, folds, features, samples) -> float:
    rows = {s: i for i, s in enumerate(samples)}
    parts = []
    for fold in folds:
        fit_on = [rows[s] for s in samples if s.sequence in set(fold.train) | set(fold.val)]
        test = [rows[s] for s in samples if s.sequence in set(fold.test)]
        parts.append(
            logistic_predictions(
                features, samples, data, fold, fit_on, test, "balanced", "mean_probability", 0
            )
        )
    pooled = concatenate(parts)
    return roc_auc_score(pooled.targets, pooled.probabilities[:, 1])


def encoder(token_input: str) -> EEGModel:
    torch.manual_seed(0)
    config = ModelConfig(
        window_length=64, d_model=16, num_layers=1, d_state=8, headdim=4, chunk_size=8, backend="torch",
        input=token_input, sampling_rate=64.0,
    )  # fmt: skip
    return EEGModel(config).eval()


def test_band_power_beats_chance(power_only):
    data, folds = power_only
    samples = make_samples(data, range(len(data)), "participant", 1, "context")
    evaluation = build_config({}).evaluation
    features = sample_features(data, samples, classic_window_features(data, "band_power", evaluation, 64.0))
    assert out_of_fold_auroc(data, folds, features, samples) > 0.85


def test_a_spectral_input_encoder_probe_beats_a_random_raw_encoder_probe(power_only):
    data, folds = power_only
    samples = make_samples(data, range(len(data)), "participant", 1, "alone")
    scores = {}
    for token_input in ("raw", "raw+spectrum", "spectrum"):
        classifier = EncoderClassifier(encoder(token_input), data.channels, data.num_classes)
        features = probe_embeddings(classifier, data, samples, torch.device("cpu"))
        scores[token_input] = out_of_fold_auroc(data, folds, features, samples)
    assert scores["raw+spectrum"] > 0.8, scores
    assert scores["raw+spectrum"] > scores["raw"] + 0.1, scores
    assert scores["spectrum"] > scores["raw"] + 0.1, scores  # band power alone, through the finetune path
    assert np.isfinite(scores["raw"])
