"""The classifier: padding never changes a sample's logits, cached features give the same logits, a frozen
encoder stays in eval mode, and the checkpoint round-trips."""

from __future__ import annotations

import itertools

import pyarrow.parquet as pq
import torch
from numpy.testing import assert_allclose

from eeg_finetune.data import collate_windows, load_labelled, make_samples
from eeg_finetune.model import EncoderClassifier, load_finetuned, save_finetuned
from eeg_ssm import EEGModel, ModelConfig, load_pretrained


def tiny_encoder(**changes) -> EEGModel:
    torch.manual_seed(0)
    settings = dict(
        window_length=64, d_model=16, num_layers=1, d_state=8, headdim=4, chunk_size=8, backend="torch"
    )
    return EEGModel(ModelConfig(**{**settings, **changes}))


def test_logits_do_not_depend_on_batch_padding(labelled):
    data = load_labelled(labelled, channels=["AF8", "AF7"], window_length=64)
    for encoder, pooling in (
        (tiny_encoder(), "mean"),
        (tiny_encoder(bidirectional=True, dropout=0.2), "attention"),
    ):
        classifier = EncoderClassifier(encoder, data.channels, 2, pooling=pooling).eval()
        samples = make_samples(data, range(len(data)), "participant", 4)
        lengths = [s.stop - s.start for s in samples]
        assert len(set(lengths)) > 1, "the fixture must have participants of different lengths"
        with torch.no_grad():
            together = classifier(*collate_windows(data, samples))
            alone = torch.cat([classifier(*collate_windows(data, [s])) for s in samples])
            cached = classifier.classify(
                classifier.features(*collate_windows(data, samples)), torch.tensor(lengths)
            )
        assert_allclose(together.numpy(), alone.numpy(), rtol=1e-4, atol=1e-5)
        assert_allclose(cached.numpy(), together.numpy(), rtol=1e-6, atol=1e-6)


def test_window_samples_cover_each_participant_in_groups(labelled):
    data = load_labelled(labelled, channels=None, window_length=64)
    assert data.channels == ("AF7", "AF8") and data.classes == (0, 1)
    samples = make_samples(data, [0, 1], "window", 3)
    for p in (0, 1):
        spans = [(s.start, s.stop) for s in samples if s.sequence == p]
        length = data.windows[p].shape[1]
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(b[0] == a[1] for a, b in itertools.pairwise(spans))
        assert all(0 < stop - start <= 3 for start, stop in spans)


def test_frozen_encoder_stays_in_eval_mode_and_gets_no_gradients():
    classifier = EncoderClassifier(tiny_encoder(dropout=0.3), ["AF7"], 2)
    classifier.set_backbone_trainable(False)
    classifier.train()
    assert classifier.head.training and not classifier.encoder.training
    assert not any(p.requires_grad for p in classifier.encoder.parameters())
    classifier.set_backbone_trainable(True)
    classifier.train()
    assert classifier.encoder.training and all(p.requires_grad for p in classifier.encoder.parameters())


def test_checkpoint_round_trip_and_encoder_reuse(tmp_path, labelled):
    data = load_labelled(labelled, channels=["AF7", "AF8"], window_length=64)
    classifier = EncoderClassifier(tiny_encoder(), data.channels, 3, hidden=0, pooling="attention").eval()
    path = save_finetuned(tmp_path / "model.pt", classifier, {"classes": [0, 1, 2]})
    loaded, info = load_finetuned(path)
    batch = collate_windows(data, make_samples(data, range(4), "participant", 1))
    with torch.no_grad():
        assert torch.equal(loaded(*batch), classifier(*batch))
    assert info["classes"] == [0, 1, 2] and info["head_config"]["pooling"] == "attention"
    encoder = load_pretrained(path)  # the fine-tuned checkpoint is also an encoder checkpoint
    assert encoder.config == classifier.encoder.config


def test_synthetic_primary_has_the_prepare_layout(labelled):
    table = pq.read_table(labelled)
    assert table.column_names == [
        "Participant", "Remission", "run", "parent_window_id", "sub_window_id", "window_start", "window_end",
        "AF7", "AF8",
    ]  # fmt: skip
    per_participant = dict(
        zip(table.column("Participant").to_pylist(), table.column("Remission").to_pylist(), strict=True)
    )
    assert sorted(per_participant.values()).count(0) == 6 and sorted(per_participant.values()).count(1) == 6
