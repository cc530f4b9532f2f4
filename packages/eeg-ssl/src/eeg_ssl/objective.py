"""Reconstruction targets: what a masked window is scored on (its samples, its log band power, or both).

Raw waveforms of a masked multi-second window are not predictable from context: phase is random across
windows, so the MSE optimum is the mean. What context predicts is the window's spectrum. The ``spectrum``
target is each window's standardised log band power (:class:`eeg_ssm.spectral.BandPower`, computed on the
training device); ``both`` scores samples and band power, weighted, each part logged on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs
import torch

from eeg_config.validators import FieldError, in_range, one_of, positive_int
from eeg_ssl.losses import masked_sse

TARGETS = ("raw", "spectrum", "both")
#: The parts each target scores, in the head's output order (samples first).
TARGET_PARTS: dict[str, tuple[str, ...]] = {
    "raw": ("raw",),
    "spectrum": ("spectrum",),
    "both": ("raw", "spectrum"),
}


class ObjectiveError(FieldError):
    """An objective setting a user chose is invalid (``field`` names it)."""


@attrs.frozen(kw_only=True)
class ObjectiveConfig:
    """What pretraining reconstructs.

    ``target``: ``"raw"`` (the masked windows' samples: the seed's objective), ``"spectrum"`` (their
    standardised log band power) or ``"both"``, scored as ``(1 - spectrum_weight) * raw MSE +
    spectrum_weight * spectrum MSE``. ``stats_sequences``: at most this many training sequences (spread
    evenly over the split) give the per-band standardisation statistics.
    """

    #: validators raise this library's error type (a FieldError naming the field)
    field_error_type = ObjectiveError

    target: str = attrs.field(default="raw", validator=one_of(TARGETS))
    spectrum_weight: float = attrs.field(
        default=0.5, validator=in_range(0.0, 1.0, low_open=True, high_open=True)
    )
    stats_sequences: int = attrs.field(default=1024, validator=positive_int)

    @property
    def parts(self) -> tuple[str, ...]:
        return TARGET_PARTS[self.target]

    @property
    def weights(self) -> tuple[float, ...]:
        if self.target == "both":
            return (1.0 - float(self.spectrum_weight), float(self.spectrum_weight))
        return (1.0,)


def split_prediction(
    pred: torch.Tensor, parts: tuple[str, ...], window_length: int
) -> dict[str, torch.Tensor]:
    """The head's ``(B, L, D)`` output as ``{part: (B, L, D_part)}`` (samples first, then bands)."""
    if parts == ("raw", "spectrum"):
        return {"raw": pred[..., :window_length], "spectrum": pred[..., window_length:]}
    return {parts[0]: pred}


def make_targets(
    windows: torch.Tensor,
    parts: tuple[str, ...],
    spectrum: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """``{part: (B, L, D_part)}`` targets of the unmasked ``windows (B, L, W)``.

    ``spectrum`` maps windows to standardised log band power (e.g. the model's ``band_power``); it is
    needed for the ``spectrum`` part and runs without gradient.
    """
    out: dict[str, torch.Tensor] = {}
    for part in parts:
        if part == "raw":
            out["raw"] = windows
        else:
            if spectrum is None:
                raise ValueError("the spectrum target needs a band-power transform")
            with torch.no_grad():
                out["spectrum"] = spectrum(windows).float()
    return out


def scored_windows(
    windows: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor, parts: tuple[str, ...]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Per part, the windows scored (``mask``) and the windows that count as real context (``valid``).

    Raw samples: the masks as given. Spectrum: exactly flat windows (every sample equal: a signal dropout,
    whose log band power is the transform's floor, far below any real spectrum) are neither scored nor
    part of a context mean; a dropout says nothing about the EEG's spectrum. windows ``(B, L, W)``; mask,
    valid bool ``(B, L)``. Returns ``({part: mask}, {part: valid})``.
    """
    masks, valids = {}, {}
    for part in parts:
        if part == "spectrum":
            live = windows.amax(dim=-1) != windows.amin(dim=-1)  # (B, L)
            masks[part], valids[part] = mask & live, valid & live
        else:
            masks[part], valids[part] = mask, valid
    return masks, valids


def weighted_sse(
    pred: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor],
    mask: torch.Tensor | Mapping[str, torch.Tensor], weights: Mapping[str, float], counts: Mapping[str, float],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:  # fmt: skip
    """``sum_p weights[p] * SSE_p / counts[p]`` (the loss when ``counts`` are the global scored counts) and
    each part's SSE; ``mask`` is one ``(B, L)`` mask or one per part. With one part of weight 1 this is
    exactly ``masked_sse / count``."""
    total = None
    parts = {}
    for name, value in pred.items():
        sse, _ = masked_sse(value, target[name], mask[name] if isinstance(mask, Mapping) else mask)
        parts[name] = sse
        term = sse * (weights[name] / max(counts[name], 1.0))
        total = term if total is None else total + term
    assert total is not None
    return total, parts
