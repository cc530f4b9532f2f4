"""The masking section of a run config."""

from __future__ import annotations

import warnings

import attrs

from eeg_config.validators import (
    FieldError,
    in_range,
    non_negative_int,
    non_negative_number,
    one_of,
    optional,
    to_float,
)

MASKING_STYLES = ("mae", "bert")
#: BERT-style split of the selected tokens: zeros, Gaussian noise, unchanged.
BERT_PROPORTIONS = (0.8, 0.1, 0.1)
#: Above this ratio BERT's unchanged tokens leak too much of the target.
BERT_RATIO_WARNING = 0.2


class MaskingError(FieldError):
    """A masking setting a user chose is invalid."""


#: the one rule for a mask ratio, in a config or as a function argument
RATIO = in_range(0.0, 1.0, low_open=True, high_open=True)


def check_ratio(ratio: float) -> float:
    """Return ``ratio`` as a float if it lies in (0, 1), else raise :class:`MaskingError`."""
    if not RATIO.test(ratio):
        raise MaskingError(f"expected float in (0, 1) for ratio, got {ratio!r}", field="ratio")
    return float(ratio)


def warn_if_leaky(style: str, ratio: float, key: str | None = None, stacklevel: int = 3) -> None:
    """Warn when BERT-style masking is asked at a ratio where unchanged tokens leak information.

    ``key`` (e.g. ``MaskingConfig.ratio``) starts the message; ``stacklevel`` 1 makes this module the
    warning's origin (a config built by cattrs has generated code, not the user's, one level up).
    """
    if style == "bert" and ratio > BERT_RATIO_WARNING:
        warnings.warn(
            (f"{key}: " if key else "")
            + f"BERT-style masking at ratio {ratio:g} > {BERT_RATIO_WARNING}: 10% of the selected windows stay "
            "unchanged, so at high ratios the model is scored on windows it can see; prefer style 'mae'",
            UserWarning,
            stacklevel=stacklevel,
        )


@attrs.frozen(kw_only=True)
class MaskingConfig:
    """How windows are hidden from the encoder during pretraining.

    ``style``: ``"mae"`` replaces every selected window with zeros; ``"bert"`` zeros 80 %, replaces 10 %
    with unit Gaussian noise (``noise_std`` in normalised units) and leaves 10 % unchanged.
    ``ratio``: fraction of each sequence's real windows selected, in (0, 1).
    ``seed``: seed of the training masks; ``None`` uses the run's seed. Validation masks are drawn once
    from ``val_seed`` so every epoch is scored on the same masks.
    """

    #: validators raise this library's error type (a FieldError naming the field)
    field_error_type = MaskingError

    style: str = attrs.field(default="mae", validator=one_of(MASKING_STYLES))
    ratio: float = attrs.field(default=0.4, converter=to_float, validator=RATIO)
    noise_std: float = attrs.field(default=1.0, converter=to_float, validator=non_negative_number)
    seed: int | None = attrs.field(default=None, validator=optional(non_negative_int))
    val_seed: int = attrs.field(default=12345, validator=non_negative_int)

    def __attrs_post_init__(self) -> None:
        warn_if_leaky(self.style, self.ratio, key="MaskingConfig.ratio", stacklevel=1)
