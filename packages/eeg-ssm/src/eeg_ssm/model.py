"""The EEG encoder: embeddings, backbone, and the reconstruction head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from eeg_ssm.backbone import MambaBackbone, TransformerBackbone, lengths_to_mask
from eeg_ssm.config import ModelConfig
from eeg_ssm.encoders import InputProjection, SpatialEncoding, TemporalEncoding
from eeg_ssm.spectral import BandPower


def flat_windows(windows: torch.Tensor) -> torch.Tensor:
    """``(..., W) -> (...)`` bool: windows whose samples are all equal (masked to zeros, or a dropout)."""
    return windows.amax(dim=-1) == windows.amin(dim=-1)


#: ``EEGModel.context_rate = CONTEXT_RATE_GAIN * root ** 2``: the square keeps the rate >= 0 with no dead
#: zone, and the gain lets AdamW move it at a useful pace (to a rate of 0.3 within about 30 steps at lr 3e-3).
CONTEXT_RATE_GAIN = 40.0
#: The learned root starts here: rate 0.001 (a window 10 away weighs 0.99 of the nearest), so an untrained
#: model's context is the plain mean to within a few thousandths.
CONTEXT_RATE_START = 0.005


#: Weights of the local context stop falling at ``exp(-CONTEXT_EXPONENT_LIMIT)`` (about 1e-35, still a
#: normal float32): a window whose every visible neighbour is that far away gets their plain mean, not zero.
CONTEXT_EXPONENT_LIMIT = 80.0


def weighted_context(
    spectrum: torch.Tensor, visible: torch.Tensor, rate: torch.Tensor | float | None = None
) -> torch.Tensor:
    """The spectral context of every window: the mean of its sequence's ``visible`` windows' ``spectrum``,
    weighted by ``exp(-rate * |i - j|)`` (the exponent held at :data:`CONTEXT_EXPONENT_LIMIT` at most).
    ``rate`` None: the plain mean, one row ``(B, 1, D)``; a rate (0 is the plain mean again): ``(B, L, D)``,
    from one ``(L, L)`` weight matrix shared by the batch. A sequence with no visible window gives zeros.
    Computed in float32 (float64 for float64 input) whatever autocast says.

    spectrum ``(B, L, D)``; visible bool ``(B, L, 1)`` (real, not masked, not flat).
    """
    weights = visible.to(spectrum.dtype)
    if rate is None:
        return (spectrum * weights).sum(dim=1, keepdim=True) / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
    dtype = torch.float64 if spectrum.dtype == torch.float64 else torch.float32
    with torch.autocast(spectrum.device.type, enabled=False):
        position = torch.arange(spectrum.shape[1], device=spectrum.device, dtype=dtype)
        distance = (position[:, None] - position[None, :]).abs()  # (L, L)
        rate = torch.as_tensor(rate, dtype=dtype, device=spectrum.device)
        kernel = torch.exp(-(rate * distance).clamp(max=CONTEXT_EXPONENT_LIMIT))  # (L, L)
        seen = weights.to(dtype)
        total = torch.matmul(kernel, seen)  # (B, L, 1): zero only where nothing is visible
        context = torch.matmul(kernel, spectrum.to(dtype) * seen)
        return context / torch.where(total > 0, total, torch.ones_like(total))


class EEGModel(nn.Module):
    """Mamba-2 (or Transformer) encoder of sequences of EEG windows, one sequence per channel.

    ``embed = input(window) [+ spectral(log band power)] + spatial(channel) + temporal(t / T)`` -> backbone
    -> final norm gives :meth:`encode`'s ``(B, L, d_model)``; :meth:`forward` adds
    ``Linear(d_model -> config.head_size)`` to reconstruct every window's target (samples, band power or
    both, samples first). With a spectral input or target the model owns ``band_power``
    (:class:`~eeg_ssm.spectral.BandPower`), whose standardisation buffers travel in the state_dict. Batches are right-padded: ``lengths[b]`` tokens of row ``b`` are real and
    outputs there do not depend on the padding. The model is rebuilt from ``config`` alone
    (``EEGModel(ModelConfig.from_dict(d))``).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        # a spectrum-only input has no projection of the samples (model.input: spectrum)
        self.input_projection = (
            InputProjection(config.window_length, config.d_model) if config.input != "spectrum" else None
        )
        self.spatial = SpatialEncoding(
            config.d_model,
            asa_path=config.asa_path,
            montage=config.montage,
            seed=config.spatial_seed,
            missing=config.missing_channels,
        )
        self.temporal = TemporalEncoding(config.d_model)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.backbone = TransformerBackbone(config) if config.is_transformer else MambaBackbone(config)
        self.head = nn.Linear(config.d_model, config.head_size)
        # Created after the seed's modules, so a raw/raw model draws exactly the seed's initial weights.
        self.band_power: BandPower | None = None
        self.spectral_projection: nn.Linear | None = None
        if config.uses_spectrum:
            self.band_power = BandPower(
                config.window_length,
                config.sampling_rate,
                config.n_bands,
                config.fmin,
                config.fmax,
                tapers=config.tapers,
            )
        self.mask_embedding: nn.Parameter | None = None
        if config.input != "raw":
            assert self.band_power is not None
            self.spectral_projection = nn.Linear(self.band_power.n_bands, config.d_model)
        if config.input == "spectrum":
            # Without the samples' projection a masked (or flat) window would show the standardised mean,
            # like a visible window of average power; a learned mask embedding (MAE's mask token) tells them apart.
            self.mask_embedding = nn.Parameter(torch.empty(config.d_model).normal_(std=0.02))
        self.context_root: nn.Parameter | None = None
        if config.target != "raw" and config.spectral_context:
            # The spectrum outputs start at zero deviation: an untrained model predicts exactly the context
            # mean (skill 0) instead of the context mean plus a random projection of its features.
            with torch.no_grad():
                self.head.weight[-self.band_power.n_bands :].zero_()
                self.head.bias[-self.band_power.n_bands :].zero_()
            if config.local_context:
                self.context_root = nn.Parameter(torch.tensor(CONTEXT_RATE_START))

    @property
    def context_rate(self) -> torch.Tensor | None:
        """The learned decay of the local spectral context per window of distance (``model.local_context``;
        None without it): near 0 the context is the sequence's plain mean; at 0.35 a window's weight halves
        with every 2 windows of distance."""
        return None if self.context_root is None else CONTEXT_RATE_GAIN * self.context_root.square()

    @property
    def backend_name(self) -> str:
        """Which backbone runs for the model's current device: ``"mamba_ssm"``, ``"torch"`` or ``"transformer"``.

        Backend ``"mamba_ssm"`` answers ``"mamba_ssm"`` even where the kernels cannot run (on the CPU
        without Triton's interpreter), where its forward raises.
        """
        return self.backbone.implementation(self.head.weight.device, strict=False)

    def embed(
        self, windows: torch.Tensor, channels: Sequence[str] | torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Token embeddings ``(B, L, d_model)`` before the backbone (arguments as in :meth:`encode`)."""
        return self._embed(windows, channels, lengths, self._input_spectrum(windows))

    def _input_spectrum(
        self, windows: torch.Tensor, spectrum: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """What the spectral input projects: :meth:`_visible_spectrum`'s band power and live windows, or None
        for a raw input."""
        return self._visible_spectrum(windows, spectrum) if self.spectral_projection is not None else None

    def _embed(
        self,
        windows: torch.Tensor,
        channels: Sequence[str] | torch.Tensor,
        lengths: torch.Tensor,
        spectral: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        self._check_inputs(windows, channels, lengths)
        lengths = lengths.to(windows.device)
        length = windows.shape[1]
        tokens = self.input_projection(windows) if self.input_projection is not None else None  # (B, L, d)
        if self.spectral_projection is not None:
            assert spectral is not None
            spectrum, live = spectral  # (B, L, n_bands), (B, L, 1)
            # A masked (all-zero) or flat window shows 0, the standardised mean, as the raw branch shows
            # zeros, the normalised mean, instead of its power floor far below every real spectrum.
            dtype = windows.dtype if tokens is None else tokens.dtype
            projected = self.spectral_projection(spectrum.to(dtype))  # spectrum (B, L, n_bands)
            tokens = projected if tokens is None else tokens + projected
        assert tokens is not None
        if self.mask_embedding is not None:  # on masked or flat windows
            tokens = tokens + (~live).to(tokens.dtype) * self.mask_embedding.to(tokens.dtype)
        where = self.spatial(channels).to(tokens.dtype).unsqueeze(1)  # (B, 1, d)
        when = self.temporal(lengths, length).to(tokens.dtype)  # (B, L, d)
        return self.embed_dropout(tokens + where + when)

    def encode(
        self, windows: torch.Tensor, channels: Sequence[str] | torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Contextual token features.

        Args:
            windows: ``(B, L, window_length)`` float, one window per token, zero right padding.
            channels: ``B`` channel names (case-insensitive), or an integer tensor ``(B,)`` of indices into
                ``model.spatial.labels``.
            lengths: ``(B,)`` integer valid lengths, each in ``1..L``.

        Returns:
            ``(B, L, d_model)``; rows past ``lengths[b]`` are finite but meaningless.
        """
        return self._encode(windows, channels, lengths, self._input_spectrum(windows))

    def _encode(
        self,
        windows: torch.Tensor,
        channels: Sequence[str] | torch.Tensor,
        lengths: torch.Tensor,
        spectral: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> torch.Tensor:
        lengths = lengths.to(windows.device)  # collate leaves lengths on the CPU; the masks need them here
        return self.backbone(self._embed(windows, channels, lengths, spectral), lengths)

    def forward(
        self,
        windows: torch.Tensor,
        channels: Sequence[str] | torch.Tensor,
        lengths: torch.Tensor,
        *,
        return_context: bool = False,
        spectrum: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """Reconstruction of every window: ``(B, L, config.head_size)`` (arguments as in :meth:`encode`).

        With a spectral target and ``config.spectral_context``, the band-power outputs (the last
        ``n_bands``) are the head's output plus the spectral context: the mean standardised band power of
        the sequence's visible windows (real and not flat; masked windows are zeros), the context-mean
        prediction, or with ``config.local_context`` that mean weighted by distance
        (:func:`weighted_context` at :attr:`context_rate`). ``return_context``: also return that context,
        ``(B, L, n_bands)`` (None without a spectral context): what the model predicts before its encoder
        adds anything. ``spectrum``: ``band_power`` of ``windows`` when the caller has it already, computed
        here when None. Under MAE masking the band power of the *unmasked* windows (the reconstruction
        target) serves too: it is the same on every window left visible, and hidden (all-zero) windows read
        as 0 either way; BERT's noise and unchanged windows are not hidden, so there it does not.
        """
        context = self.config.target != "raw" and self.config.spectral_context
        if not context:
            out = self.head(self._encode(windows, channels, lengths, self._input_spectrum(windows, spectrum)))
            return (out, None) if return_context else out
        # one band-power transform serves the spectral input and the context
        spectrum, visible = self._visible_spectrum(windows, spectrum)  # (B, L, n_bands), (B, L, 1)
        spectral = (spectrum, visible) if self.spectral_projection is not None else None
        out = self.head(self._encode(windows, channels, lengths, spectral))
        visible = visible & lengths_to_mask(lengths.to(windows.device), windows.shape[1]).unsqueeze(-1)
        prior = weighted_context(spectrum, visible, self.context_rate).to(out.dtype)
        bands = self.band_power.n_bands
        out = torch.cat([out[..., :-bands], out[..., -bands:] + prior], dim=-1)
        return (out, prior.expand(*out.shape[:2], bands)) if return_context else out

    def _visible_spectrum(
        self, windows: torch.Tensor, spectrum: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised band power ``(B, L, n_bands)`` (``spectrum``, or computed), 0 on flat (masked)
        windows, and ``(B, L, 1)`` not flat."""
        assert self.band_power is not None
        if spectrum is None:
            spectrum = self.band_power(windows)
        live = ~flat_windows(windows).unsqueeze(-1)  # (B, L, 1)
        return spectrum.masked_fill(~live, 0.0), live

    def _check_inputs(
        self, windows: torch.Tensor, channels: Sequence[str] | torch.Tensor, lengths: torch.Tensor
    ) -> None:
        if windows.dim() != 3 or windows.shape[-1] != self.config.window_length:
            raise ValueError(
                f"windows: expected shape (B, L, {self.config.window_length}), got {tuple(windows.shape)}"
            )
        batch, length = windows.shape[:2]
        if len(channels) != batch:
            raise ValueError(f"channels: expected one channel per sequence ({batch}), got {len(channels)}")
        if lengths.shape != (batch,) or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise ValueError(
                f"lengths: expected an integer tensor of shape ({batch},), got {lengths.dtype} {tuple(lengths.shape)}"
            )
        if batch and (int(lengths.min()) < 1 or int(lengths.max()) > length):
            raise ValueError(f"lengths: expected values in 1..{length}, got {lengths.tolist()}")
