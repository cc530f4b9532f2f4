"""Every channel of the corpus against the model's montage, checked once before anything is computed.

The model's spatial encoding places each channel by name; a channel the montage lacks would otherwise be
found on the first batch that holds it, after the data checks, the band statistics and the opening of an
MLflow run. :func:`check_channel_positions` runs on the index alone (Parquet schemas), so a corpus with
BioSemi ``A1..H32`` labels, an ``ECG`` column or a generator's ``SINE 8 HZ`` fails within seconds with
every such name listed and the settings that fix it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from eeg_config import UserError
from eeg_io import SequenceItem
from eeg_montage import load_montage, standard_montage, standard_montage_names
from eeg_ssm import ModelConfig

log = logging.getLogger("eeg_pretrain")
SUGGESTED = 3  # built-in montages named in the message when they place every channel


def check_channel_positions(
    model: ModelConfig,
    items: Sequence[SequenceItem],
    dataset_path: str,
    corpus_of: Mapping[str, str] | None = None,
) -> None:
    """Raise :class:`UserError` (one line) naming every channel of ``items`` that the montage of ``model``
    cannot place, unless ``model.missing_channels`` is ``zero`` (then the names are logged once).
    ``dataset_path`` says where the items are from; a pool's ``corpus_of`` (file -> corpus name) adds to
    each name the corpora that have it (``'ECG' (blink, eyes)``).

    The message says which setting chose the montage and lists the keys that fix it: another montage
    (built-in montages that place every channel are named), ``data.exclude_channels`` /
    ``data.include_channels``, or ``model.missing_channels: zero``.
    """
    montage = load_montage(model.montage, model.asa_path)  # MontageError: a bad .elc, named by the CLI
    channels = sorted({item.channel for item in items})
    files = {item.file for item in items}
    absent = [name for name in channels if not montage.has(name)]
    if not absent:
        return
    listed = ", ".join(repr(name) for name in absent)
    if corpus_of is not None:
        having = {name: sorted({corpus_of[i.file] for i in items if i.channel == name}) for name in absent}
        listed = ", ".join(f"{name!r} ({', '.join(having[name])})" for name in absent)
    if model.missing_channels == "zero":
        log.warning(
            "montage %s cannot place %d channel(s): %s; they get no spatial encoding (model.missing_channels: zero)",
            montage.source,
            len(absent),
            listed,
        )
        return
    setting = (
        f"model.asa_path: {model.asa_path}"
        if model.asa_path is not None
        else f"model.montage: {montage.source}"
    )
    fitting = [name for name in standard_montage_names() if all(map(standard_montage(name).has, channels))]
    other = (
        f"set model.montage: {fitting[0]} (built-in montages that place every channel: "
        f"{', '.join(fitting[:SUGGESTED])}) or model.asa_path: your cap's .elc file"
        if fitting
        else "name the cap's montage (model.montage: a built-in name, python -m eeg_montage --list; or "
        "model.asa_path: your cap's .elc file)"
    )
    raise UserError(
        f"{setting} cannot place {len(absent)} of the {len(channels)} channels of {dataset_path} "
        f"({len(files)} file(s)): {listed}. Fix: {other}; or leave them out with data.exclude_channels "
        f"(or list the EEG channels in data.include_channels); or set model.missing_channels: zero to train "
        "them without a position"
    )
