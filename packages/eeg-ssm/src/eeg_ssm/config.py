"""The model section of a run config: :class:`ModelConfig`.

Building an :class:`~eeg_ssm.EEGModel` from ``ModelConfig.from_dict(d)`` is all a checkpoint needs, so every
field is a plain YAML value (int, float, bool, str or None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from eeg_config.validators import (
    FieldError,
    boolean,
    in_range,
    non_empty_str,
    non_negative_int,
    one_of,
    optional,
    optional_float,
    positive_int,
    positive_number,
    to_float,
)

#: The Mamba-2 backbones (a checkpoint trained with one runs on any other).
MAMBA_BACKENDS = ("auto", "mamba_ssm", "torch")
BACKENDS = (*MAMBA_BACKENDS, "transformer")
MISSING_CHANNEL_POLICIES = ("error", "zero")
#: Token inputs: the raw window alone, or plus a learned projection of its log band power.
INPUTS = ("raw", "raw+spectrum", "spectrum")
#: What the reconstruction head predicts per window: samples, log band power, or both (concatenated).
TARGETS = ("raw", "spectrum", "both")
#: The mamba_ssm CUDA kernels want the head count to be a multiple of this (memory alignment). Only they do:
#: the pure-PyTorch Mamba-2 runs any head count, so the warning comes when the kernels are about to run it.
HEAD_ALIGNMENT = 8


class ModelConfigError(FieldError):
    """A model setting a user chose is invalid (``field`` names it), or a backend was asked for where it
    cannot run."""


@attrs.frozen(kw_only=True)
class ModelConfig:
    """Everything needed to build an :class:`~eeg_ssm.EEGModel`.

    Sizes: ``window_length`` samples per token (window); ``d_model`` features per token; ``num_layers``
    residual blocks. Backbone: ``backend`` is ``"auto"`` (mamba_ssm CUDA kernels for CUDA tensors when the
    package imports, pure PyTorch otherwise), ``"mamba_ssm"`` (kernels or an error), ``"torch"`` (pure
    PyTorch everywhere) or ``"transformer"`` (the attention fallback). ``bidirectional`` adds a second
    Mamba-2 per layer that reads each sequence backwards (or, for the Transformer, drops the causal mask).

    Mamba-2 knobs, as in ``mamba_ssm.modules.mamba2.Mamba2``: ``d_state`` (N), ``d_conv`` (causal conv
    width, 2..4), ``expand`` (d_inner = expand * d_model), ``headdim`` (P; heads = d_inner / P), ``ngroups``
    (B/C groups shared by heads), ``chunk_size`` (SSD chunk length; a speed knob only), ``dt_min``/``dt_max``
    (range of the initial step sizes).

    Spatial encoding: electrode coordinates from the built-in montage named ``montage`` (``biosemi64``,
    ``GSN-HydroCel-129``, ...: :func:`eeg_montage.standard_montage_names`) or the ASA file ``asa_path``
    (not both; neither = the built-in ``standard_1005``), projected by a fixed random matrix drawn from ``spatial_seed``. ``missing_channels``:
    ``"error"`` rejects channels absent from the montage, ``"zero"`` encodes them as zeros with a warning.

    Transformer: ``transformer_heads`` attention heads, feed-forward width ``transformer_ff_mult * d_model``.
    ``dropout`` applies to the embedding and to every residual branch.

    Objective: ``input`` is ``"raw"`` (``Linear(window_length -> d_model)`` on the samples) or
    ``"raw+spectrum"`` (plus a learned projection of the window's standardised log band power, computed on
    the device in the forward pass) or ``"spectrum"`` (the band-power projection alone, with a learned mask
    embedding on masked and flat windows); ``target`` is what the head predicts per window: ``"raw"``
    (``window_length`` samples), ``"spectrum"`` (``n_bands`` standardised log band powers) or ``"both"``
    (concatenated, samples first). Bands (:mod:`eeg_ssm.spectral`): ``n_bands`` log-spaced bands between
    ``fmin`` and ``fmax`` Hz at ``sampling_rate`` Hz; null values are derived from the window's frequency
    resolution. ``tapers``: 1 estimates each window's spectrum with one Hann taper (a periodogram), K > 1
    with K DPSS tapers (multitaper: less noisy band power, smoothed over ``±(K + 1) / 2`` frequency bins).
    A config written before these fields existed reads as ``raw``/``raw`` (and one taper). With
    ``spectral_context`` the spectrum head predicts the deviation from the mean standardised band power of
    the sequence's visible windows (real, not flat: masked windows are zeros), so an untrained head starts
    at the context-mean baseline and learning is what the sequence's own average does not explain. With
    ``local_context`` too, that mean is weighted by ``exp(-rate * distance)`` (distance in windows) with one
    learned ``rate >= 0`` (:attr:`EEGModel.context_rate <eeg_ssm.model.EEGModel.context_rate>`), starting
    near 0 (the plain mean): spectra drift, so near windows can say more about a masked one than far ones.
    """

    #: validators raise this library's error type (a FieldError naming the field)
    field_error_type = ModelConfigError

    window_length: int = attrs.field(default=2048, validator=positive_int)
    d_model: int = attrs.field(default=128, validator=positive_int)
    num_layers: int = attrs.field(default=6, validator=positive_int)
    backend: str = attrs.field(default="auto", validator=one_of(BACKENDS))
    bidirectional: bool = attrs.field(default=False, validator=boolean)
    d_state: int = attrs.field(default=64, validator=positive_int)
    d_conv: int = attrs.field(default=4, validator=positive_int)
    expand: int = attrs.field(default=2, validator=positive_int)
    headdim: int = attrs.field(default=32, validator=positive_int)
    ngroups: int = attrs.field(default=1, validator=positive_int)
    chunk_size: int = attrs.field(default=64, validator=positive_int)
    dt_min: float = attrs.field(default=0.001, converter=to_float, validator=positive_number())
    dt_max: float = attrs.field(default=0.1, converter=to_float, validator=positive_number())
    dropout: float = attrs.field(default=0.0, converter=to_float, validator=in_range(0.0, 1.0))
    asa_path: str | None = attrs.field(default=None, validator=optional(non_empty_str("file path string")))
    montage: str | None = attrs.field(default=None, validator=optional(non_empty_str("montage name")))
    spatial_seed: int = attrs.field(default=0, validator=non_negative_int)
    missing_channels: str = attrs.field(default="error", validator=one_of(MISSING_CHANNEL_POLICIES))
    transformer_heads: int = attrs.field(default=8, validator=positive_int)
    transformer_ff_mult: int = attrs.field(default=4, validator=positive_int)
    input: str = attrs.field(default="raw", validator=one_of(INPUTS))
    target: str = attrs.field(default="raw", validator=one_of(TARGETS))
    sampling_rate: float = attrs.field(default=256.0, converter=to_float, validator=positive_number("Hz"))
    n_bands: int | None = attrs.field(default=None, validator=optional(positive_int))
    fmin: float | None = attrs.field(
        default=None, converter=optional_float, validator=optional(positive_number("Hz"))
    )
    fmax: float | None = attrs.field(
        default=None, converter=optional_float, validator=optional(positive_number("Hz"))
    )
    spectral_context: bool = attrs.field(default=True, validator=boolean)
    tapers: int = attrs.field(default=1, validator=positive_int)
    local_context: bool = attrs.field(default=False, validator=boolean)

    def __attrs_post_init__(self) -> None:
        self._check_montage()
        if self.local_context and not self.spectral_context:
            raise ModelConfigError(
                "ModelConfig.local_context: weights the spectral context, so it needs spectral_context: true",
                field="local_context",
            )
        if self.uses_spectrum:
            from eeg_ssm.spectral import SpectralConfigError, band_edges, check_tapers

            try:
                band_edges(self.window_length, self.sampling_rate, self.n_bands, self.fmin, self.fmax)
                check_tapers(self.window_length, self.tapers)
            except SpectralConfigError as error:
                raise ModelConfigError(f"ModelConfig.{error}", field=error.key) from None
        if self.is_transformer:
            if self.d_model % self.transformer_heads:
                raise ModelConfigError(
                    f"ModelConfig.transformer_heads: d_model = {self.d_model} must be divisible by "
                    f"transformer_heads = {self.transformer_heads}",
                    field="transformer_heads",
                )
            return
        if not 2 <= self.d_conv <= 4:
            raise ModelConfigError(
                f"ModelConfig.d_conv: the causal conv kernel supports widths 2..4, got {self.d_conv}",
                field="d_conv",
            )
        d_inner = self.expand * self.d_model
        if d_inner % self.headdim:
            raise ModelConfigError(
                f"ModelConfig.headdim: expand * d_model = {d_inner} must be divisible by headdim = {self.headdim}",
                field="headdim",
            )
        if self.nheads % self.ngroups:
            raise ModelConfigError(
                f"ModelConfig.ngroups: the head count expand * d_model / headdim = {self.nheads} must be "
                f"divisible by ngroups = {self.ngroups}",
                field="ngroups",
            )
        if self.chunk_size & (self.chunk_size - 1):
            raise ModelConfigError(
                f"ModelConfig.chunk_size: expected a power of two (the CUDA kernels need one), got {self.chunk_size}",
                field="chunk_size",
            )
        if self.dt_min > self.dt_max:
            raise ModelConfigError(
                f"ModelConfig.dt_min: must not exceed dt_max, got dt_min = {self.dt_min:g} > dt_max = {self.dt_max:g}",
                field="dt_min",
            )

    def _check_montage(self) -> None:
        if self.montage is None:
            return
        if self.asa_path is not None:
            raise ModelConfigError(
                f"ModelConfig.montage: {self.montage!r} and asa_path {self.asa_path!r} both name a montage; "
                "set one of the two (montage: a built-in name, asa_path: your .elc file)",
                field="montage",
            )
        from eeg_montage import MontageError, canonical_montage_name

        try:
            canonical_montage_name(self.montage)
        except MontageError as error:
            raise ModelConfigError(f"ModelConfig.montage: {error}", field="montage") from None

    @property
    def uses_spectrum(self) -> bool:
        """Whether the model computes band power (a spectral input or target)."""
        return self.input != "raw" or self.target != "raw"

    @property
    def bands(self) -> int:
        """Number of bands the model uses (0 without a spectral input or target)."""
        if not self.uses_spectrum:
            return 0
        from eeg_ssm.spectral import band_edges

        return len(band_edges(self.window_length, self.sampling_rate, self.n_bands, self.fmin, self.fmax)) - 1

    @property
    def head_size(self) -> int:
        """Outputs of the reconstruction head per window: window_length, n_bands, or their sum."""
        return {"raw": self.window_length, "spectrum": self.bands, "both": self.window_length + self.bands}[
            self.target
        ]

    @property
    def is_transformer(self) -> bool:
        """Whether the backbone is the Transformer fallback rather than Mamba-2."""
        return self.backend == "transformer"

    @property
    def d_inner(self) -> int:
        """Width of the Mamba-2 inner stream: ``expand * d_model``."""
        return self.expand * self.d_model

    @property
    def nheads(self) -> int:
        """Number of Mamba-2 heads: ``expand * d_model // headdim``."""
        return self.d_inner // self.headdim

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict (YAML- and checkpoint-safe)."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Build from a plain mapping; unknown keys raise :class:`ModelConfigError` naming them."""
        if not isinstance(data, Mapping):
            raise ModelConfigError(f"ModelConfig: expected a mapping of settings, got {type(data).__name__}")
        known = {field.name for field in attrs.fields(cls)}
        unknown = sorted(str(key) for key in data if key not in known)
        if unknown:
            raise ModelConfigError(f"ModelConfig: unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))

    def evolve(self, **changes: Any) -> ModelConfig:
        """A copy with ``changes`` applied (validated again)."""
        return attrs.evolve(self, **changes)
