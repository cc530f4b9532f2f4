"""Checkpoint I/O: atomic plain-dict files, clear errors, strict rebuilds, identical outputs in a new process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch

from eeg_ssm import CheckpointError, EEGModel, load_checkpoint, load_pretrained, save_checkpoint


def _payload(model: EEGModel, **extra) -> dict:
    return {"model": model.state_dict(), "model_config": model.config.to_dict(), **extra}


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, make_model) -> None:
    model = make_model(dtype=torch.float32)
    path = tmp_path / "runs" / "best.pt"  # parent folders are created
    save_checkpoint(path, _payload(model, epoch=3, rng={"torch": torch.get_rng_state()}))
    save_checkpoint(path, _payload(model, epoch=4))  # overwrite in place
    assert os.listdir(path.parent) == ["best.pt"]
    assert load_checkpoint(path)["epoch"] == 4


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, make_model) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1})
    with pytest.raises(CheckpointError, match=r"\['rng'\]\['numpy'\].*numpy\.ndarray"):
        save_checkpoint(path, {"epoch": 2, "rng": {"numpy": np.zeros(3)}})
    assert load_checkpoint(path) == {"epoch": 1}
    assert os.listdir(tmp_path) == ["last.pt"]


def test_a_full_disk_is_a_checkpoint_error_with_the_space_needed(tmp_path, make_model, full_disk) -> None:
    """torch.save turns the ENOSPC of a write into "RuntimeError: ... unexpected pos" (issue #24)."""
    model = make_model(dtype=torch.float32)
    path = tmp_path / "runs" / "last.pt"
    save_checkpoint(path, _payload(model, epoch=1))
    before = path.read_bytes()
    disk = full_disk(path.parent, free=4096)  # the zip header fits, the weights do not
    for free in (4096, 0):
        disk.free = free
        with pytest.raises(CheckpointError) as info:
            save_checkpoint(path, _payload(model, epoch=2))
        message = str(info.value)
        assert message.startswith(
            f"{path}: cannot write the checkpoint: no space left on the device (it needs"
        )
        assert "MB" in message or "KB" in message
        assert disk.refused and path.read_bytes() == before and os.listdir(path.parent) == ["last.pt"]
    disk.free = 10**9  # space freed: the next save works
    save_checkpoint(path, _payload(model, epoch=2))
    assert load_checkpoint(path)["epoch"] == 2


def test_checkpoint_loads_with_weights_only(tmp_path, make_model) -> None:
    model = make_model(dtype=torch.float32)
    path = save_checkpoint(tmp_path / "c.pt", _payload(model, step=10, run_config={"seed": 1, "lr": 1e-3}))
    raw = torch.load(path, weights_only=True)  # what any consumer can do without trusting the file
    assert raw["step"] == 10 and raw["run_config"]["lr"] == 1e-3
    assert set(raw["model"]) == set(model.state_dict())


def test_load_errors_name_the_path(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint file") as info:
        load_checkpoint(tmp_path / "absent.pt")
    assert "absent.pt" in str(info.value)
    garbage = tmp_path / "notes.txt"
    garbage.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match=r"notes\.txt: not a readable checkpoint"):
        load_checkpoint(garbage)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="expected a checkpoint dict"):
        load_checkpoint(listed)


def test_load_pretrained_rebuilds_the_same_model(tmp_path, make_model, make_batch, channels) -> None:
    model = make_model(dtype=torch.float32, bidirectional=True)
    path = save_checkpoint(tmp_path / "m.pt", _payload(model, optimizer={"state": {}}))
    loaded = load_pretrained(path)
    assert not loaded.training and loaded.config == model.config
    windows, lengths = make_batch([9, 4], dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(loaded(windows, channels[:2], lengths), model(windows, channels[:2], lengths))


def test_model_saved_here_gives_identical_outputs_in_a_new_process(
    tmp_path, make_model, make_batch, channels
):
    model = make_model(dtype=torch.float32)
    ckpt = save_checkpoint(tmp_path / "m.pt", _payload(model))
    windows, lengths = make_batch([9, 4, 1, 9], dtype=torch.float32)
    torch.save({"windows": windows, "lengths": lengths, "channels": channels}, tmp_path / "inputs.pt")
    with torch.no_grad():
        expected = model(windows, channels, lengths)
    script = textwrap.dedent(
        f"""
        import torch
        from eeg_ssm import load_pretrained
        model = load_pretrained({str(ckpt)!r}, map_location="cpu")
        inputs = torch.load({str(tmp_path / "inputs.pt")!r}, weights_only=True)
        with torch.no_grad():
            out = model(inputs["windows"], inputs["channels"], inputs["lengths"])
        torch.save(out, {str(tmp_path / "out.pt")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert torch.equal(torch.load(tmp_path / "out.pt", weights_only=True), expected)


def test_strict_loading_lists_missing_unexpected_and_mismatched_keys(tmp_path, make_model) -> None:
    model = make_model(dtype=torch.float32)
    state = model.state_dict()
    del state["backbone.layers.1.mixer.A_log"]
    state["backbone.layers.9.mixer.D"] = torch.ones(8)
    state["head.bias"] = torch.zeros(5)
    path = save_checkpoint(tmp_path / "bad.pt", {"model": state, "model_config": model.config.to_dict()})
    with pytest.raises(CheckpointError) as info:
        load_pretrained(path)
    message = str(info.value)
    assert "bad.pt" in message
    assert "missing keys: backbone.layers.1.mixer.A_log" in message
    assert "unexpected keys: backbone.layers.9.mixer.D" in message
    assert "head.bias: checkpoint (5,) vs model (16,)" in message


def test_payload_without_model_or_config_is_rejected(tmp_path, make_model) -> None:
    path = save_checkpoint(tmp_path / "partial.pt", {"model": make_model().state_dict(), "epoch": 1})
    with pytest.raises(CheckpointError, match=r"lacks \['model_config'\]"):
        load_pretrained(path)


def test_invalid_saved_config_is_a_checkpoint_error(tmp_path, make_model) -> None:
    model = make_model()
    config = model.config.to_dict() | {"d_modle": 3}
    path = save_checkpoint(tmp_path / "cfg.pt", {"model": model.state_dict(), "model_config": config})
    with pytest.raises(CheckpointError, match=r"cfg.pt: model_config: .*unknown keys \['d_modle'\]"):
        load_pretrained(path)


def test_backend_override_between_mamba_backends_only(tmp_path, make_model) -> None:
    model = make_model(dtype=torch.float32, backend="auto")
    path = save_checkpoint(tmp_path / "m.pt", _payload(model))
    assert load_pretrained(path, backend="torch").config.backend == "torch"
    with pytest.raises(
        CheckpointError, match="backend 'transformer' cannot load weights trained with the Mamba-2"
    ):
        load_pretrained(path, backend="transformer")
    with pytest.raises(CheckpointError, match="'mamba_ssm' cannot run here"):
        # No CUDA kernels on this machine: an error, not a silent fallback.
        load_pretrained(path, backend="mamba_ssm")


def test_wrapper_prefixes_from_ddp_and_compile_are_removed(tmp_path, make_model) -> None:
    model = make_model(dtype=torch.float32)
    state = {f"module.{key}": value for key, value in model.state_dict().items()}
    path = save_checkpoint(tmp_path / "ddp.pt", {"model": state, "model_config": model.config.to_dict()})
    loaded = load_pretrained(path)
    assert torch.equal(loaded.head.weight, model.head.weight)


def test_map_location_moves_tensors_and_model(tmp_path, make_model) -> None:
    model = make_model(dtype=torch.float32)
    path = save_checkpoint(tmp_path / "m.pt", _payload(model))
    loaded = load_pretrained(path, map_location=torch.device("cpu"))
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    if torch.cuda.is_available():  # GPU machines: the reverse direction
        on_gpu = load_pretrained(path, map_location="cuda")
        assert all(p.device.type == "cuda" for p in on_gpu.parameters())


def test_gpu_tensors_in_a_checkpoint_load_on_cpu(tmp_path, make_model) -> None:
    """A file whose tensors were saved from CUDA (simulated by the storage location tag) loads on CPU."""
    model = make_model(dtype=torch.float32)
    path = tmp_path / "gpu.pt"
    if torch.cuda.is_available():
        save_checkpoint(path, _payload(model.cuda()))
        model.cpu()
    else:
        # Write a real checkpoint whose storages are tagged 'cuda:0', as a GPU run would write them.
        save_checkpoint(path, _payload(model))
        retagged = _retag_storages_as_cuda(path)
        with pytest.raises(Exception):  # noqa: B017 - plain torch.load without map_location cannot place them
            torch.load(retagged, weights_only=True)
        path = retagged
    loaded = load_pretrained(path, map_location="cpu")
    assert torch.equal(loaded.head.weight, model.head.weight)


def _retag_storages_as_cuda(path):
    """Rewrite the zip's pickle so every storage says it lives on 'cuda:0' (what GPU training saves)."""
    out = path.with_name("gpu_tagged.pt")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("data.pkl"):
                # Both strings are pickled as short unicode (opcode X + 4-byte length): swap lengths too.
                tagged = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
                assert tagged != data, "the storage location tag was not found"
                data = tagged
            dst.writestr(info, data)
    return out


NEW_OBJECTIVE_KEYS = (
    "input",
    "target",
    "sampling_rate",
    "n_bands",
    "fmin",
    "fmax",
    "spectral_context",
    "tapers",
    "local_context",
)


def test_checkpoint_from_before_spectra_loads_as_raw_raw(tmp_path, make_model, make_batch, channels) -> None:
    """A checkpoint written before the objective settings existed: its model_config lacks them."""
    model = make_model(dtype=torch.float32)
    old_config = {k: v for k, v in model.config.to_dict().items() if k not in NEW_OBJECTIVE_KEYS}
    path = save_checkpoint(tmp_path / "old.pt", {"model": model.state_dict(), "model_config": old_config})
    loaded = load_pretrained(path)
    assert loaded.config.input == "raw" and loaded.config.target == "raw"
    windows, lengths = make_batch([9, 4], dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(loaded(windows, channels[:2], lengths), model(windows, channels[:2], lengths))


@pytest.mark.parametrize("tapers", [1, 3])
def test_band_statistics_round_trip(tmp_path, make_model, make_batch, channels, tapers) -> None:
    model = make_model(dtype=torch.float32, input="raw+spectrum", target="spectrum", tapers=tapers)
    n = model.band_power.n_bands
    model.band_power.set_statistics(torch.linspace(-4, -2, n), torch.linspace(0.5, 1.5, n))
    path = save_checkpoint(tmp_path / "s.pt", _payload(model))
    loaded = load_pretrained(path)
    assert torch.equal(loaded.band_power.mean, model.band_power.mean)
    assert torch.equal(loaded.band_power.std, model.band_power.std)
    windows, lengths = make_batch([9, 4], dtype=torch.float32)
    with torch.no_grad():
        assert torch.equal(loaded(windows, channels[:2], lengths), model(windows, channels[:2], lengths))
    assert loaded.config.tapers == tapers and loaded.band_power.taper.shape == model.band_power.taper.shape


def test_checkpoint_with_other_bands_does_not_load_into_a_model_with_fewer(tmp_path) -> None:
    from eeg_ssm import ModelConfig

    config = ModelConfig(window_length=256, d_model=16, num_layers=1, headdim=4, d_state=8, target="spectrum")
    model = EEGModel(config)
    payload = {"model": model.state_dict(), "model_config": config.evolve(n_bands=4).to_dict()}
    path = save_checkpoint(tmp_path / "bands.pt", payload)
    with pytest.raises(CheckpointError, match=r"band_power\.mean: checkpoint"):
        load_pretrained(path)
