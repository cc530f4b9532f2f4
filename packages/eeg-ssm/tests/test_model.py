"""EEGModel behaviour: padding invariance, bidirectional reversal, chunk independence, backends."""

from __future__ import annotations

import logging

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eeg_ssm.backends
from eeg_ssm import EEGModel, ModelConfigError, reverse_within_length

BACKBONES = [
    pytest.param({"backend": "torch"}, id="mamba"),
    pytest.param({"backend": "torch", "bidirectional": True}, id="mamba-bidirectional"),
    pytest.param({"backend": "transformer"}, id="transformer-causal"),
    pytest.param({"backend": "transformer", "bidirectional": True}, id="transformer-bidirectional"),
    pytest.param(
        {"backend": "torch", "bidirectional": True, "input": "raw+spectrum"}, id="mamba-spectral-input"
    ),
    pytest.param({"backend": "transformer", "input": "raw+spectrum"}, id="transformer-spectral-input"),
    pytest.param(
        {"backend": "torch", "bidirectional": True, "input": "spectrum"}, id="mamba-spectrum-only-input"
    ),
]
LENGTHS = [21, 17, 9, 1]


def _real(out: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
    return [out[row, : int(length)] for row, length in enumerate(lengths)]


@pytest.mark.parametrize("options", BACKBONES)
def test_outputs_shapes(options, make_model, make_batch, channels) -> None:
    model = make_model(**options)
    windows, lengths = make_batch(LENGTHS)
    assert model.encode(windows, channels, lengths).shape == (4, 21, 16)
    assert model(windows, channels, lengths).shape == (4, 21, 16)


@pytest.mark.parametrize("options", BACKBONES)
def test_real_tokens_ignore_padding_content_and_amount(options, make_model, make_batch, channels) -> None:
    model = make_model(**options)
    windows, lengths = make_batch(LENGTHS, padding="zeros")
    reference = _real(model(windows, channels, lengths), lengths)
    noisy, _ = make_batch(LENGTHS, padding="noise")  # same real data, huge random padding
    longer, _ = make_batch(LENGTHS, max_length=40, padding="noise")  # and more of it
    for variant in (noisy, longer):
        out = model(variant, channels, lengths)
        assert torch.isfinite(out).all()
        for got, expected in zip(_real(out, lengths), reference, strict=True):
            assert (got - expected).abs().max().item() <= 1e-10
    # Each sequence alone, unpadded, gives what it gave inside the batch.
    for row, length in enumerate(LENGTHS):
        alone = model(windows[row : row + 1, :length], channels[row : row + 1], lengths[row : row + 1])
        assert (alone[0] - reference[row]).abs().max().item() <= 1e-10


# The fixtures are plain factory functions, so sharing them across hypothesis examples is safe.
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lengths=st.lists(st.integers(1, 30), min_size=1, max_size=4), extra=st.integers(0, 12))
def test_padding_invariance_for_random_lengths_bidirectional(lengths, extra, make_model, make_batch) -> None:
    model = make_model(bidirectional=True)
    names = ["FZ"] * len(lengths)
    tight, lens = make_batch(lengths)
    loose, _ = make_batch(lengths, max_length=max(lengths) + extra, padding="noise")
    a, b = model(tight, names, lens), model(loose, names, lens)
    for row, length in enumerate(lengths):
        assert (a[row, :length] - b[row, :length]).abs().max().item() <= 1e-10


def test_reverse_within_length_reverses_only_real_tokens() -> None:
    index = reverse_within_length(torch.tensor([3, 5, 1]), 5)
    assert index.tolist() == [[2, 1, 0, 3, 4], [4, 3, 2, 1, 0], [0, 1, 2, 3, 4]]
    values = torch.arange(15.0).view(3, 5)
    once = values.gather(1, index)
    assert torch.equal(once.gather(1, index), values)  # its own inverse


def test_bidirectional_layer_sums_forward_and_within_length_reversed_mixers(make_model, make_batch) -> None:
    model = make_model(bidirectional=True, num_layers=1)
    layer = model.backbone.layers[0]
    h, lengths = make_batch([12, 7])
    h = h.detach()[..., :16]  # any (B, L, d_model) input
    out = layer(h, model.backbone.runner, reverse_within_length(lengths, 12).unsqueeze(-1).expand_as(h))
    for row, length in enumerate(lengths.tolist()):
        x = layer.norm(h[row : row + 1, :length])
        forward = layer.mixer(x)
        backward = layer.mixer_reverse(x.flip(1)).flip(1)
        expected = h[row : row + 1, :length] + forward + backward
        assert (out[row : row + 1, :length] - expected).abs().max().item() <= 1e-12


@pytest.mark.parametrize(
    ("options", "sees_future"),
    [({"backend": "torch"}, False), ({"backend": "torch", "bidirectional": True}, True),
     ({"backend": "transformer"}, False), ({"backend": "transformer", "bidirectional": True}, True)],
)  # fmt: skip
def test_context_direction_follows_the_bidirectional_flag(
    options, sees_future, make_model, make_batch
) -> None:
    model = make_model(**options)
    windows, lengths = make_batch([10])
    changed = windows.clone()
    changed[0, 9] += 1.0  # the last real token
    before, after = model.encode(windows, ["CZ"], lengths), model.encode(changed, ["CZ"], lengths)
    assert bool((before[0, :9] != after[0, :9]).any()) is sees_future
    assert (before[0, 9] != after[0, 9]).any()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_model_output_does_not_depend_on_chunk_size(bidirectional, make_model, make_batch, channels) -> None:
    model = make_model(bidirectional=bidirectional, chunk_size=4)
    windows, lengths = make_batch(LENGTHS)
    expected = model(windows, channels, lengths)
    for chunk_size in (1, 8, 64):
        for layer in model.backbone.layers:
            for mixer in (layer.mixer, layer.mixer_reverse):
                if mixer is not None:
                    mixer.chunk_size = chunk_size
        assert (model(windows, channels, lengths) - expected).abs().max().item() <= 1e-12


@pytest.mark.parametrize("options", BACKBONES)
def test_padded_positions_stay_finite_and_gradients_flow_in_float32(
    options, make_model, make_batch, channels
):
    model = make_model(dtype=torch.float32, **options).train()
    windows, lengths = make_batch(LENGTHS, max_length=30, dtype=torch.float32, padding="noise")
    out = model(windows, channels, lengths)
    assert torch.isfinite(out).all()
    valid = torch.arange(30) < lengths[:, None]
    out[valid].square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_inputs_are_checked(make_model, make_batch, channels) -> None:
    model = make_model()
    windows, lengths = make_batch(LENGTHS)
    with pytest.raises(ValueError, match="windows"):
        model(windows[..., :8], channels, lengths)
    with pytest.raises(ValueError, match="channels"):
        model(windows, channels[:3], lengths)
    with pytest.raises(ValueError, match="lengths"):
        model(windows, channels, torch.tensor([21, 17, 9, 0]))
    with pytest.raises(ValueError, match="lengths"):
        model(windows, channels, torch.tensor([22, 17, 9, 1]))
    with pytest.raises(ValueError, match="lengths"):
        model(windows, channels, lengths.float())


def test_auto_backend_uses_torch_on_cpu_and_says_why_at_debug_only(make_config, caplog) -> None:
    with caplog.at_level(logging.DEBUG, logger="eeg_ssm"):
        model = EEGModel(make_config(backend="auto"))
        model(torch.zeros(1, 3, 16), ["FZ"], torch.tensor([3]))
    assert model.backend_name == "torch"
    text = caplog.text
    assert "backend 'auto'" in text and "pure-PyTorch" in text
    assert "runs torch for cpu tensors" in text
    # a run that does not use the kernels hears nothing of them
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


def test_auto_backend_without_cuda_does_not_import_mamba_ssm(make_config, monkeypatch, caplog) -> None:
    def must_not_import():
        raise AssertionError("mamba_ssm imported on a machine without CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(eeg_ssm.backends, "_import_mamba_ssm", must_not_import)
    with caplog.at_level(logging.DEBUG, logger="eeg_ssm"):
        model = EEGModel(make_config(backend="auto", d_model=24, headdim=8))  # 6 heads: no kernel, no warning
        model(torch.zeros(1, 3, 16), ["FZ"], torch.tensor([3]))
    assert model.backend_name == "torch"
    assert "CUDA is not available" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


class FakeKernelMamba2(torch.nn.Module):
    """Stands in for mamba_ssm's Mamba2, which the backend builds on the meta device from a mixer's arguments."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.kwargs = kwargs


@pytest.mark.parametrize(("d_model", "warned"), [(24, True), (32, False)])  # 48 / 8 = 6 heads, 64 / 8 = 8
def test_a_head_count_the_kernels_may_reject_is_one_warning_line_when_they_get_it(
    d_model, warned, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(eeg_ssm.backends, "_import_mamba_ssm", lambda: (FakeKernelMamba2, None))
    runner = eeg_ssm.backends.MambaRunner("torch")  # kernel_block is what the kernel path calls
    mixers = [eeg_ssm.Mamba2(d_model=d_model, d_state=8, headdim=8, chunk_size=8) for _ in range(3)]
    with caplog.at_level(logging.DEBUG, logger="eeg_ssm"):
        blocks = [runner.kernel_block(mixer, torch.device("cpu")) for mixer in mixers]
    assert all(isinstance(block, FakeKernelMamba2) for block in blocks)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if warned:  # once for the model, however many layers share the layout; one line, no file path
        assert warnings == [
            "ModelConfig.headdim: 6 heads (expand * d_model / headdim) is not a multiple of 8; the mamba_ssm "
            "kernels may reject this layout or run it slowly (backend 'torch' runs any)"
        ]
    else:
        assert warnings == []


def test_asking_for_mamba_ssm_where_it_cannot_import_is_an_error(make_config, monkeypatch) -> None:
    monkeypatch.setattr(
        eeg_ssm.backends, "mamba_ssm_status", lambda device="cuda": (False, "no module named mamba_ssm")
    )
    with pytest.raises(
        ModelConfigError, match=r"backend.*'mamba_ssm' cannot run here: no module named mamba_ssm"
    ):
        EEGModel(make_config(backend="mamba_ssm"))


def test_mamba_ssm_backend_refuses_cpu_tensors_even_when_the_package_imports(
    make_config, monkeypatch
) -> None:
    # The package importing is not enough: its Triton kernels run on CUDA tensors, or on CPU tensors only
    # in Triton's interpreter.
    def status(device="cuda"):
        on_cuda = torch.device(device).type == "cuda"
        return on_cuda, "pretend it imports" if on_cuda else "no interpreter"

    monkeypatch.setattr(eeg_ssm.backends, "mamba_ssm_status", status)
    model = EEGModel(make_config(backend="mamba_ssm"))
    assert model.backend_name == "mamba_ssm"  # what it will run; asking does not raise
    with pytest.raises(ModelConfigError, match="cannot run on tensors on cpu: no interpreter"):
        model(torch.zeros(1, 3, 16), ["FZ"], torch.tensor([3]))
    auto = EEGModel(make_config(backend="auto"))
    assert auto.backend_name == "torch"  # auto falls back by device: CPU tensors use pure PyTorch
    assert torch.isfinite(auto(torch.zeros(1, 3, 16), ["FZ"], torch.tensor([3]))).all()


def test_transformer_backend_name_and_parameters(make_model) -> None:
    model = make_model(backend="transformer")
    assert model.backend_name == "transformer"
    assert not any(".mixer." in name for name in model.state_dict())
    assert len(model.backbone.layers) == 2


def test_dropout_is_active_in_training_only(make_model, make_batch, channels) -> None:
    model = make_model(dropout=0.5)
    windows, lengths = make_batch(LENGTHS)
    assert torch.equal(model(windows, channels, lengths), model(windows, channels, lengths))
    model.train()
    assert not torch.equal(model(windows, channels, lengths), model(windows, channels, lengths))


def test_kernel_runner_runs_the_mixer_own_parameters(monkeypatch) -> None:
    """The mamba_ssm backend builds a template block on the meta device and runs the mixer's tensors in it.

    eeg_ssm's own Mamba2 stands in for mamba_ssm's class here (test_mamba_ssm_kernels.py runs the real
    one): what is checked is the borrowing (same outputs, gradients reaching the mixer, dtype and chunk
    changes followed, no state of its own).
    """
    from eeg_ssm import Mamba2
    from eeg_ssm.backends import MambaRunner

    monkeypatch.setattr(eeg_ssm.backends, "_import_mamba_ssm", lambda: (Mamba2, None))
    monkeypatch.setattr(eeg_ssm.backends, "mamba_ssm_status", lambda device="cuda": (True, "pretend"))
    torch.manual_seed(0)
    mixer = Mamba2(16, d_state=8, headdim=4, chunk_size=8)
    runner = MambaRunner("mamba_ssm")
    keys = set(mixer.state_dict())
    u = torch.randn(2, 11, 16)
    out = runner(mixer, u)
    assert torch.equal(out, mixer(u))
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in mixer.parameters())
    assert set(mixer.state_dict()) == keys
    mixer.double()
    mixer.chunk_size = 4
    assert torch.equal(runner(mixer, u.double()), mixer(u.double()))
    (first, second) = runner._blocks.values()  # one template per chunk size
    assert (first.chunk_size, second.chunk_size) == (8, 4)
    assert all(p.device.type == "meta" for p in [*first.parameters(), *second.parameters()])


@pytest.mark.parametrize("options", BACKBONES)
def test_deep_copies_are_independent_and_equal(options, make_model, make_batch, channels) -> None:
    """Apps snapshot the best model with copy.deepcopy; the copy must run and not share weights."""
    import copy

    model = make_model(**options)
    windows, lengths = make_batch(LENGTHS)
    twin = copy.deepcopy(model)
    assert torch.equal(twin(windows, channels, lengths), model(windows, channels, lengths))
    with torch.no_grad():
        twin.head.bias.add_(1.0)
    assert not torch.equal(twin.head.bias, model.head.bias)
