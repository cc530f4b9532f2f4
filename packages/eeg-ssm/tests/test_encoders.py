"""Spatial and temporal encodings: fixed, reproducible, saved with the weights; missing channels."""

from __future__ import annotations

import warnings

import pytest
import torch

from eeg_montage import MontageError, MontageWarning, standard_montage
from eeg_ssm import EEGModel, SpatialEncoding, TemporalEncoding

ELC = """# a three-electrode cap
NumberPositions=\t3
UnitPosition\tmm
Positions
Fz:\t0 60 60
C3:\t-85 0 0
Oz:\t0 -85 0
Labels
Fz\tC3\tOz
"""


def test_spatial_projection_is_identical_across_constructions_and_differs_by_seed() -> None:
    a, b = SpatialEncoding(32, seed=3), SpatialEncoding(32, seed=3)
    assert torch.equal(a.projection, b.projection)
    assert not torch.equal(a.projection, SpatialEncoding(32, seed=4).projection)
    assert not a.projection.requires_grad
    assert "projection" in a.state_dict()
    assert all(name != "projection" for name, _ in a.named_parameters())  # fixed: never trained


def test_spatial_encoding_is_the_projection_of_montage_unit_vectors() -> None:
    enc = SpatialEncoding(8, seed=0)
    coords = torch.from_numpy(standard_montage().coords(["FZ", "T7"]))
    expected = coords.float() @ enc.projection
    assert torch.allclose(enc(["fz", "T3"]), expected)  # case-insensitive; T3 is T7


def test_spatial_encoding_scale_is_comparable_to_a_unit_variance_embedding() -> None:
    enc = SpatialEncoding(128, seed=0)
    rms = enc(list(standard_montage().labels)).pow(2).mean().sqrt().item()
    assert 0.5 < rms < 2.0


def test_channel_indices_address_the_montage_labels() -> None:
    enc = SpatialEncoding(8)
    labels = enc.labels
    assert torch.equal(enc(torch.tensor([0, 5])), enc([labels[0], labels[5]]))
    with pytest.raises(ValueError, match="outside the montage"):
        enc(torch.tensor([len(labels)]))


def test_missing_channels_error_lists_every_missing_name(make_model, make_batch) -> None:
    model = make_model()
    windows, lengths = make_batch([3, 3])
    with pytest.raises(MontageError, match="not in the montage") as info:
        model(windows, ["BOGUS1", "Bogus2"], lengths)
    assert "'BOGUS1'" in str(info.value) and "'BOGUS2'" in str(info.value)


def test_missing_channels_can_be_zero_vectors_with_a_warning(make_model, make_batch) -> None:
    model = make_model(missing_channels="zero")
    with pytest.warns(MontageWarning, match="XYZ"):
        encoded = model.spatial(["XYZ", "FZ"])
    assert torch.equal(encoded[0], torch.zeros(16, dtype=encoded.dtype))
    assert encoded[1].abs().sum() > 0
    windows, lengths = make_batch([3, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # resolved once: no warning per batch
        assert torch.isfinite(model(windows, ["XYZ", "FZ"], lengths)).all()


def test_asa_path_selects_the_montage(tmp_path, make_config) -> None:
    path = tmp_path / "cap.elc"
    path.write_text(ELC)
    model = EEGModel(make_config(asa_path=str(path)))
    assert set(model.spatial.labels) == {"Fz", "C3", "Oz"}
    expected = torch.tensor([[-1.0, 0.0, 0.0]]) @ model.spatial.projection
    assert torch.allclose(model.spatial(["c3"]), expected)
    with pytest.raises(MontageError, match="AF7"):
        model.spatial(["AF7"])  # in the standard montage, not in this cap


def test_montage_names_a_built_in_montage(make_config) -> None:
    model = EEGModel(make_config(montage="biosemi128"))
    assert model.spatial.montage is standard_montage("biosemi128")
    expected = torch.from_numpy(standard_montage("biosemi128").coords(["A1", "D32"])).float()
    assert torch.allclose(model.spatial(["a1", "D32"]), expected @ model.spatial.projection)
    with pytest.raises(MontageError, match="'FZ'"):
        model.spatial(["FZ"])  # a 10-20 name: not on a BioSemi 128 cap
    assert EEGModel(make_config()).spatial.montage is standard_montage()  # the default


def test_spatial_projection_survives_save_and_load(make_config) -> None:
    trained = EEGModel(make_config(spatial_seed=1))
    rebuilt = EEGModel(make_config(spatial_seed=2))  # another seed: the checkpoint must win
    rebuilt.load_state_dict(trained.state_dict(), strict=True)
    assert torch.equal(rebuilt.spatial.projection, trained.spatial.projection)
    assert torch.equal(rebuilt.spatial(["CZ"]), trained.spatial(["CZ"]))


def test_temporal_encoding_uses_each_sequence_own_length() -> None:
    enc = TemporalEncoding(4)
    with torch.no_grad():
        enc.linear.weight.copy_(torch.ones(4, 1))
        enc.linear.bias.zero_()
    out = enc(torch.tensor([4, 2]), 5)  # (B, L, d): feature = t / T
    assert torch.allclose(out[0, :, 0], torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))
    assert torch.allclose(out[1, :2, 0], torch.tensor([0.0, 0.5]))
    assert torch.isfinite(out).all()
