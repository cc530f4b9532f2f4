"""What kind of signal a channel holds, and whether the chosen montage can place it.

MNE types channels from what the file says, and many files say little: EDF and BDF type every channel
``eeg`` (an ``ECG`` lead, a signal generator's ``ramp`` and ``sine 8 Hz``, an ergometer's
``Ergo-Left``). With ``channels.pick: null`` prepare keeps the EEG channels only, so a channel that MNE
calls ``eeg`` is also looked at by name: the usual labels of ECG, EOG, EMG, trigger and other
non-brain channels make it that kind. What is dropped is listed in the report. A channel kept as EEG
that the montage (``channels.montage`` / ``channels.asa_path``, the model's ``model.montage``) cannot
place is named too: pretraining would refuse it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from eeg_config import ConfigError
from eeg_montage import Montage, MontageError, load_montage

#: (kind, pattern on the upper-cased label), first match wins. ``(?<![A-Z])`` keeps ``ECG`` from
#: matching inside a word; ``(?![A-Z])`` keeps ``TEMP`` from matching ``TEMPORAL``.
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("ecg", r"(?<![A-Z])(ECG|EKG)"),
        ("eog", r"(?<![A-Z])[HV]?EOG"),
        ("emg", r"(?<![A-Z])EMG"),
        ("stim", r"^\s*(STATUS|TRIGGER|TRIG|STI\s*\d*|STIM|MARKERS?|EVENTS?|EDF ANNOTATIONS)\s*$"),
        (
            "misc",
            r"(?<![A-Z])(PULSE|RAMP|RESP|SPO2|SAO2|PLETH|PHOTIC|TEMP|GSR|EDA|ACC[XYZ]?|GYRO|SQUAREWAVE|SINE|"
            r"NOISE|ERGO|BATTERY|AUX|HR)(?![A-Z])",
        ),
    )
)


def channel_kind(label: str, mne_type: str = "eeg") -> str:
    """The kind of a channel: MNE's type when it is not ``eeg``, else the kind its label names
    (``ecg``, ``eog``, ``emg``, ``stim``, ``misc``), else ``eeg``."""
    if mne_type != "eeg":
        return mne_type
    upper = label.upper()
    for kind, rule in _NAME_RULES:
        if rule.search(upper):
            return kind
    return "eeg"


def channel_kinds(labels: Sequence[str], mne_types: Sequence[str]) -> list[str]:
    """:func:`channel_kind` of each label."""
    return [channel_kind(label, kind) for label, kind in zip(labels, mne_types, strict=True)]


def montage_for(montage: str | None, asa_path: str | None, key: str) -> Montage:
    """The montage ``{key}.montage`` / ``{key}.asa_path`` names (``standard_1005`` when neither does).

    Raises:
        ConfigError: an unreadable ``.elc`` file (named with its key).
    """
    try:
        return load_montage(montage, asa_path)
    except MontageError as exc:
        field = "asa_path" if asa_path is not None else "montage"
        raise ConfigError([f"{exc} @ $.{key}.{field}"]) from None


def unplaced(montage: Montage, channels: Sequence[str]) -> tuple[str, ...]:
    """The channels the montage has no position for, in their order."""
    return tuple(name for name in channels if not montage.has(name))
