"""The three parts of a token's embedding: the window itself, where it was recorded, and when."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from eeg_montage import Montage, load_montage


class InputProjection(nn.Module):
    """``Linear(window_length -> d_model)`` on each window: ``(B, L, W) -> (B, L, d_model)``."""

    def __init__(self, window_length: int, d_model: int) -> None:
        super().__init__()
        self.linear = nn.Linear(window_length, d_model)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.linear(windows)


class SpatialEncoding(nn.Module):
    """A fixed (not trained) projection of each channel's electrode direction to ``d_model`` features.

    The electrode's unit-sphere coordinates ``c`` (from ``eeg_montage``: the built-in montage named
    ``montage``, or the ASA file ``asa_path``, else the built-in 10-05 montage) map to ``c @ projection``, with ``projection`` a ``(3, d_model)`` buffer of
    standard normal entries drawn from ``torch.Generator().manual_seed(seed)``. Because ``|c| = 1``, every
    feature of the encoding has unit variance over seeds, the scale of a normalised token embedding, so
    the spatial signal is not drowned. The buffer is persistent: a checkpoint carries the projection it
    was trained with, whatever the seed later says.

    ``missing="error"`` raises :class:`eeg_montage.MontageError` listing channels absent from the montage;
    ``"zero"`` encodes them as zero vectors and warns once per name (:class:`eeg_montage.MontageWarning`).
    """

    projection: torch.Tensor

    def __init__(
        self,
        d_model: int,
        asa_path: str | None = None,
        seed: int = 0,
        missing: str = "error",
        montage: str | None = None,
    ) -> None:
        super().__init__()
        self.montage: Montage = load_montage(montage, asa_path)
        self.missing = missing
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", torch.randn(3, d_model, generator=generator), persistent=True)
        # Upper-cased channel name -> float64 (3,) coordinates; the montage is asked once per name.
        self._coords: dict[str, np.ndarray] = {}

    @property
    def labels(self) -> tuple[str, ...]:
        """The montage's electrode labels: what integer channel indices refer to."""
        return self.montage.labels

    def coordinates(self, channels: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """Unit-sphere coordinates of each channel: float64 ``(B, 3)`` on the CPU.

        ``channels``: names (case-insensitive, T3/T7-style aliases), or an integer tensor ``(B,)`` of
        indices into :attr:`labels`.
        """
        if isinstance(channels, torch.Tensor):
            if channels.dim() != 1 or channels.dtype.is_floating_point or channels.dtype == torch.bool:
                raise ValueError(
                    f"channel indices must be an integer tensor (B,), got {channels.dtype} {tuple(channels.shape)}"
                )
            labels = self.labels
            bad = [int(i) for i in channels.tolist() if not 0 <= i < len(labels)]
            if bad:
                raise ValueError(f"channel indices {bad} are outside the montage's 0..{len(labels) - 1}")
            names = [labels[i] for i in channels.tolist()]
        elif isinstance(channels, str):
            raise TypeError("channels must be a sequence of names (one per sequence), not a single string")
        else:
            names = list(channels)
        keys = [str(name).upper() for name in names]
        new = list(dict.fromkeys(key for key in keys if key not in self._coords))
        if new:
            rows = self.montage.coords(new, missing=self.missing)
            for key, row in zip(new, rows, strict=True):
                self._coords[key] = row
        return torch.from_numpy(np.stack([self._coords[key] for key in keys])) if keys else torch.zeros(0, 3)

    def forward(self, channels: Sequence[str] | torch.Tensor) -> torch.Tensor:
        """``channels`` (B names or indices) -> ``(B, d_model)`` in the projection's device and dtype."""
        coords = self.coordinates(channels).to(device=self.projection.device, dtype=self.projection.dtype)
        return coords @ self.projection


class TemporalEncoding(nn.Module):
    """``Linear(1 -> d_model)`` on the relative position ``t / T`` of each token.

    ``T`` is the sequence's own valid length, so the first token is at 0 and the last real one at
    ``(T-1)/T`` whatever the padding. Output ``(B, L, d_model)``.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.linear = nn.Linear(1, d_model)

    def forward(self, lengths: torch.Tensor, max_length: int) -> torch.Tensor:
        """``lengths``: ``(B,)`` valid lengths; ``max_length``: L. Returns ``(B, L, d_model)``."""
        dtype = self.linear.weight.dtype
        steps = torch.arange(max_length, device=lengths.device, dtype=dtype)  # (L,)
        relative = steps / lengths.clamp(min=1).to(dtype).unsqueeze(1)  # (B, L)
        return self.linear(relative.unsqueeze(-1))
