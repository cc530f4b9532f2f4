"""param_groups: AdamW groups that know Mamba-2's parameter names."""

from __future__ import annotations

from eeg_ssm import EEGModel, ModelConfig, param_groups


def test_weight_decay_skips_mamba_specials_norms_and_biases():
    model = EEGModel(
        ModelConfig(window_length=16, d_model=16, num_layers=1, d_state=8, headdim=4, backend="torch")
    )
    decay, no_decay = param_groups(model, weight_decay=0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    skipped = {names[id(p)].rsplit(".", 1)[-1] for p in no_decay["params"]}
    assert {"A_log", "dt_bias", "D", "bias"} <= skipped
    assert all(p.ndim >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.05
    assert len(decay["params"]) + len(no_decay["params"]) == sum(
        1 for p in model.parameters() if p.requires_grad
    )
