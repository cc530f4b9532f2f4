"""The labelled task and the frozen features of ``benchmarks/learning_curve.py``'s probe.

The synthetic task (:func:`labelled_recordings`), each window's embedding by an encoder reading its whole
recording (:func:`embed`), the classic features with the same context (:func:`classic_features`) and the
reference encoder (:func:`random_encoder`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from eeg_eval import RANDOM, Units, band_power, downsampled_waveform
from eeg_io.normalize import normalize
from eeg_io.synthetic import synthetic_signals
from eeg_ssm import EEGModel, band_edges

JUDGED = "linear_probe"
SYNTHETIC_CHANNELS = ("Fz", "C3", "C4", "Pz", "O1", "O2")
SYNTHETIC_RATE, SYNTHETIC_WINDOW = 128.0, 512


@dataclass(frozen=True)
class Recording:
    """One labelled recording: ``trials`` ``[L, C, W]`` µV, ``labels`` ``[L]`` (0/1)."""

    person: str
    run: str
    trials: np.ndarray
    labels: np.ndarray


def units_of(recordings: list[Recording]) -> Units:
    """One unit per window (trial) of ``recordings``: grouped by person, with its run and index in it."""
    return Units.build(
        [r.person for r in recordings for _ in r.labels],
        np.concatenate([r.labels for r in recordings]),
        runs=[r.run for r in recordings for _ in r.labels],
        windows=[i for r in recordings for i in range(len(r.labels))],
    )


def labelled_recordings(people: int, windows: int, amplitude_uv: float, seed: int) -> list[Recording]:
    """The synthetic labelled task: one recording per person from the corpus generator (with its slow
    states, bursts and artefacts), each window labelled at random (balanced per person); class-1 windows
    carry an extra rhythm at 10 Hz (± 5 % per person) of ``amplitude_uv``, random in phase per window."""
    rng = np.random.default_rng(seed)
    clock = np.arange(SYNTHETIC_WINDOW) / SYNTHETIC_RATE
    out = []
    for person in range(people):
        signals = synthetic_signals(
            SYNTHETIC_CHANNELS, windows * SYNTHETIC_WINDOW, SYNTHETIC_RATE, seed=(seed, 10_000 + person),
            dynamics=True, participant_seed=(seed, 10_000 + person),
        ).astype(np.float64)  # fmt: skip
        trials = signals.reshape(len(SYNTHETIC_CHANNELS), windows, SYNTHETIC_WINDOW).transpose(1, 0, 2)
        labels = rng.permutation(np.arange(windows) % 2)
        frequency = 10.0 * rng.uniform(0.95, 1.05)
        for w in np.flatnonzero(labels):
            phase = rng.uniform(0, 2 * np.pi) + rng.normal(0.0, 0.3, (len(SYNTHETIC_CHANNELS), 1))
            trials[w] += amplitude_uv * np.sin(2 * np.pi * frequency * clock[None, :] + phase)
        out.append(Recording(f"L{person + 1:02d}", "1", trials, labels))
    return out


@torch.no_grad()
def embed(encoder: EEGModel, recordings: list[Recording], channels, normalization: str) -> np.ndarray:
    """``[trials, d_model]``: each window's token, averaged over channels, of the encoder reading the whole
    recording; windows normalised per channel sequence as in pretraining (``normalization``)."""
    encoder.eval()
    rows = []
    for recording in recordings:
        per_channel = []
        for c, channel in enumerate(channels):
            x = torch.from_numpy(normalize(recording.trials[:, c, :], normalization))  # (L, W)
            tokens = encoder.encode(x[None].float(), [channel], torch.tensor([len(x)]))[0]  # (L, d)
            per_channel.append(tokens.float().numpy())
        rows.append(np.mean(per_channel, axis=0))
    return np.concatenate(rows)


def classic_features(recordings: list[Recording], rate: float, window: int) -> dict[str, np.ndarray]:
    """Log band power (pretraining's bands) and the 16-bin waveform, each joined by the recording's mean."""
    edges = band_edges(window, rate, 8)
    out = {}
    for name, function in (
        ("band_power", lambda w: band_power(w, rate, edges)),
        ("waveform", lambda w: downsampled_waveform(w, 16)),
    ):
        parts = []
        for recording in recordings:
            features = function(recording.trials)  # (L, F)
            parts.append(np.concatenate([features, np.broadcast_to(features.mean(0), features.shape)], 1))
        out[name] = np.concatenate(parts)
    return out


def random_encoder(encoder: EEGModel, seed: int) -> EEGModel:
    """The reference: the same architecture, randomly initialised, with the pretrained encoder's band-power
    standardisation (input statistics, not learned weights), so both read the same inputs."""
    torch.manual_seed(seed)
    reference = EEGModel(encoder.config)
    if encoder.band_power is not None:
        reference.band_power.mean.copy_(encoder.band_power.mean)
        reference.band_power.std.copy_(encoder.band_power.std)
    return reference


def probe_row(metrics: dict, differences: dict, verdict) -> dict:
    """The probe's figures for the table: each model's AUROC, probe - random encoder, the verdict."""
    row = {f"auroc_{m}": float(metrics[m]["auroc"]) for m in metrics}
    d = differences[f"{JUDGED} - {RANDOM}"]["auroc"]
    row |= {"vs_random": d["estimate"], "vs_random_low": d["low"], "vs_random_high": d["high"]}
    return row | {"verdict": verdict.decision, "verdict_line": verdict.line}
