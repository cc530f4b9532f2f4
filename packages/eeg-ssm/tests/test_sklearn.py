"""The encoder as a scikit-learn transformer on MNE Epochs and arrays (issue #22, item 4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eeg_ssm import EEGModel, ModelConfig, save_checkpoint

sklearn = pytest.importorskip(
    "sklearn", reason="scikit-learn is not installed (pip install eeg-ssm[sklearn])"
)
mne = pytest.importorskip("mne", reason="mne is not installed: the Epochs tests need it")

from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from eeg_ssm.sklearn import EEGEncoderTransformer, EncoderInputError  # noqa: E402

SFREQ, WINDOW = 64.0, 32  # half-second windows
CHANNELS = ["Fz", "Cz", "Pz", "Oz"]
TINY = dict(window_length=WINDOW, sampling_rate=SFREQ, d_model=16, num_layers=1, headdim=4, d_state=8,
            chunk_size=8, backend="torch")  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """A tiny checkpoint as pretraining writes it (model, model_config, run_config)."""
    torch.manual_seed(0)
    config = ModelConfig(**TINY)
    path = tmp_path_factory.mktemp("ckpt") / "mamba2_eeg_pretrained.pt"
    run_config = {"data": {"normalization": "sequence", "sampling_rate": SFREQ, "window_length": WINDOW}}
    save_checkpoint(
        path,
        {"model": EEGModel(config).state_dict(), "model_config": config.to_dict(), "run_config": run_config},
    )
    return str(path)


def make_epochs(n_per_class: int = 12, seconds: float = 2.0, seed: int = 0, louder: float = 3.0):
    """Epochs of a RawArray of white noise (volts, as MNE holds EEG): class 1 is ``louder`` times as loud."""
    rng = np.random.default_rng(seed)
    samples = int(seconds * SFREQ)
    labels = np.array([0, 1] * n_per_class)
    chunks = [
        rng.standard_normal((len(CHANNELS), samples)) * 1e-6 * (louder if label else 1.0) for label in labels
    ]
    raw = mne.io.RawArray(np.hstack(chunks), mne.create_info(CHANNELS, SFREQ, "eeg"), verbose="error")
    events = np.column_stack([np.arange(len(labels)) * samples, np.zeros(len(labels), int), labels + 1])
    epochs = mne.Epochs(
        raw, events, tmin=0.0, tmax=seconds - 1 / SFREQ, baseline=None, preload=True, verbose="error"
    )
    return epochs, labels


def test_pipeline_with_logistic_regression_cross_validates_on_mne_epochs(checkpoint):
    epochs, labels = make_epochs()
    # The checkpoint's own normalization (z-score per epoch and channel) runs end to end...
    pipe = Pipeline(
        [("encoder", EEGEncoderTransformer(checkpoint)), ("clf", LogisticRegression(max_iter=1000))]
    )
    scores = cross_val_score(pipe, epochs, labels, cv=StratifiedKFold(3), error_score="raise")
    assert scores.shape == (3,) and np.isfinite(scores).all()
    # ...and without it the (random, tiny) encoder's embeddings carry what tells the classes apart, row for
    # row with the labels through scikit-learn's splits of the Epochs.
    raw_scale = EEGEncoderTransformer(checkpoint, normalization="none")
    pipe = Pipeline([("encoder", raw_scale), ("clf", LogisticRegression(max_iter=1000))])
    scores = cross_val_score(pipe, epochs, labels, cv=StratifiedKFold(3), error_score="raise")
    assert scores.min() >= 0.9, scores


def test_the_checkpoints_normalization_removes_the_scale(checkpoint):
    epochs, _ = make_epochs(n_per_class=2)
    encoder = EEGEncoderTransformer(checkpoint).fit(epochs)
    assert encoder.normalization_ == "sequence"  # read from the checkpoint's run_config
    louder = mne.EpochsArray(epochs.get_data() * 3.0, epochs.info, verbose="error")
    np.testing.assert_allclose(encoder.transform(louder), encoder.transform(epochs), rtol=1e-4, atol=1e-5)


def test_embeddings_have_one_row_per_epoch_and_match_array_input(checkpoint):
    epochs, _ = make_epochs(n_per_class=3)
    encoder = EEGEncoderTransformer(checkpoint).fit(epochs)
    embeddings = encoder.transform(epochs)
    assert embeddings.shape == (6, 16 * len(CHANNELS)) and embeddings.dtype == np.float32
    assert encoder.n_features_out_ == 64 and len(encoder.get_feature_names_out()) == 64
    as_array = EEGEncoderTransformer(checkpoint, ch_names=CHANNELS, sfreq=SFREQ).fit_transform(
        epochs.get_data() * 1e6
    )
    np.testing.assert_allclose(as_array, embeddings, rtol=1e-4, atol=1e-5)
    pooled = EEGEncoderTransformer(checkpoint, channel_pooling="mean").fit_transform(epochs)
    np.testing.assert_allclose(
        pooled, embeddings.reshape(6, len(CHANNELS), 16).mean(axis=1), rtol=1e-5, atol=1e-6
    )
    # Each epoch's embedding depends on that epoch alone (eval mode, no batch statistics).
    np.testing.assert_allclose(encoder.transform(epochs[2:4]), embeddings[2:4], rtol=1e-5, atol=1e-6)
    assert clone(encoder).get_params()["checkpoint"] == checkpoint


def test_a_rate_that_differs_from_the_checkpoint_is_refused_in_one_line(checkpoint):
    epochs, _ = make_epochs(n_per_class=2)
    with pytest.raises(
        EncoderInputError, match=r"sampled at 128 Hz but .* was pretrained at 64 Hz; resample"
    ) as info:
        EEGEncoderTransformer(checkpoint).fit(epochs.copy().resample(128.0, verbose="error"))
    assert "\n" not in str(info.value)
    with pytest.raises(EncoderInputError, match="sampled at 100 Hz"):
        EEGEncoderTransformer(checkpoint, ch_names=CHANNELS, sfreq=100.0).fit(np.zeros((2, 4, 64)))


@pytest.mark.parametrize(("samples", "advice"), [(65, "64 or 96 samples"), (20, "make them 32 samples")])
def test_a_window_that_does_not_fit_the_checkpoint_is_refused(checkpoint, samples, advice):
    with pytest.raises(
        EncoderInputError, match=f"epochs of {samples} samples .* 32-sample windows .*{advice}"
    ):
        EEGEncoderTransformer(checkpoint, ch_names=CHANNELS, sfreq=SFREQ).fit(np.zeros((2, 4, samples)))
    epochs, _ = make_epochs(n_per_class=1)
    off_by_one = mne.EpochsArray(epochs.get_data()[:, :, :33], epochs.info, verbose="error")
    with pytest.raises(EncoderInputError, match="epochs of 33 samples"):
        EEGEncoderTransformer(checkpoint).fit(off_by_one)


def test_array_input_needs_names_and_rate_and_unknown_electrodes_are_named(checkpoint):
    with pytest.raises(EncoderInputError, match=r"needs ch_names .* and sfreq"):
        EEGEncoderTransformer(checkpoint).fit(np.zeros((2, 4, 64)))
    with pytest.raises(EncoderInputError, match="3 ch_names for 4 channel rows"):
        EEGEncoderTransformer(checkpoint, ch_names=CHANNELS[:3], sfreq=SFREQ).fit(np.zeros((2, 4, 64)))
    with pytest.raises(ValueError, match=r"'ECG'.*'SINE 8 HZ'|'SINE 8 HZ'.*'ECG'"):
        EEGEncoderTransformer(checkpoint, ch_names=["Fz", "ECG", "sine 8 Hz", "Oz"], sfreq=SFREQ).fit(
            np.zeros((2, 4, 64))
        )
    with pytest.raises(EncoderInputError, match="fitted on channels"):
        EEGEncoderTransformer(checkpoint, ch_names=CHANNELS, sfreq=SFREQ).fit(
            np.zeros((1, 4, 64))
        ).set_params(ch_names=CHANNELS[::-1]).transform(np.zeros((1, 4, 64)))
