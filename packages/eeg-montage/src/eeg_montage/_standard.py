"""The built-in montages: MNE's standard EEG montages, shipped as ASA files in ``eeg_montage/data``.

``standard_1005`` (the default) is ``data/standard_1005.elc``; the others are ``data/montages/<name>.elc``,
listed with their electrode count and MNE's description in ``data/montages/index.tsv``. All were written
once by the scripts in ``packages/eeg-montage/scripts`` from MNE-Python; nothing here imports MNE.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

from ._asa import parse_asa, read_asa
from ._errors import MontageError
from ._montage import Montage

STANDARD_NAME = "standard_1005"
STANDARD_FILE = "standard_1005.elc"
_FOLDER = "montages"

#: Other names of built-in montages: MNE 1.13 renamed FieldTrip's ``standard_*`` templates ``colin27_*``
#: (the old names are deprecated there); both spellings are accepted here.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "colin27_1005": STANDARD_NAME,
        "standard_1020": "colin27_1020",
        "standard_alphabetic": "colin27_alphabetic",
        "standard_postfixed": "colin27_postfixed",
        "standard_prefixed": "colin27_prefixed",
        "standard_primed": "colin27_primed",
    }
)


def _data():
    return resources.files("eeg_montage").joinpath("data")


@functools.cache
def _index() -> Mapping[str, tuple[int, str]]:
    """Built-in montage name -> (number of electrodes, description), in MNE's order."""
    rows = _data().joinpath(_FOLDER).joinpath("index.tsv").read_text(encoding="utf-8").splitlines()[1:]
    index = {STANDARD_NAME: (339, "10-05 system on the Colin27 head (MNE's colin27_1005); the default")}
    for row in rows:
        name, count, description = row.split("\t")
        index[name] = (int(count), description)
    return MappingProxyType(index)


def standard_montage_names() -> tuple[str, ...]:
    """The names of the built-in montages (``standard_1005`` first; aliases in :data:`ALIASES` not included)."""
    return tuple(_index())


def describe_standard_montages() -> Mapping[str, tuple[int, str]]:
    """Built-in montage name -> ``(number of electrodes, description)`` (MNE's description)."""
    return _index()


def canonical_montage_name(name: str) -> str:
    """The built-in montage a name means: case-insensitive, with the aliases of :data:`ALIASES`.

    Raises:
        MontageError: no built-in montage has that name; the message names the closest ones.
    """
    if not isinstance(name, str):
        raise MontageError(f"montage name {name!r} is not a string; expected a built-in montage name")
    known = {key.casefold(): key for key in (*_index(), *ALIASES)}
    key = name.strip().casefold()
    if key in known:
        found = known[key]
        return ALIASES.get(found, found)
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.6)
    if close:
        choices = f"closest: {', '.join(known[k] for k in close)}; `python -m eeg_montage --list` lists all {len(_index())}"
    else:
        choices = f"built-in: {', '.join(_index())}"
    raise MontageError(f"unknown montage {name!r} ({choices}); or give your own ASA .elc file instead")


@functools.cache
def _load(name: str) -> Montage:
    folder = _data() if name == STANDARD_NAME else _data().joinpath(_FOLDER)
    file = STANDARD_FILE if name == STANDARD_NAME else f"{name}.elc"
    return parse_asa(folder.joinpath(file).read_bytes(), source=name)


def standard_montage(name: str = STANDARD_NAME) -> Montage:
    """Return a built-in montage by name (cached: the same immutable object on every call).

    The default, ``standard_1005``: 339 electrodes of the 10-05 system (every 10-20 and 10-10 position,
    among them AF7, AF8, TP9 and TP10 of the Muse headband, plus M1/M2/A1/A2) and the fiducials nasion,
    lpa, rpa, in metres, in MNI coordinates of the Colin27 template head (x right, y anterior, z up),
    from MNE-Python's ``colin27_1005.elc`` (BSD-3-Clause), itself FieldTrip's ``standard_1005.elc``
    (Oostenveld & Praamstra 2001). The old names T3, T4, T5 and T6 resolve to T7, T8, P7 and P8.

    Other names (:func:`standard_montage_names`): MNE's standard EEG montages, e.g. ``biosemi64``
    (``A1..H16``-style labels for ``biosemi128`` and up), ``easycap-M1``, ``GSN-HydroCel-129``,
    ``brainproducts-RNP-BA-128``, ``standard_1020``; positions as ``mne.channels.make_standard_montage``
    gives them. Names match case-insensitively. ``Montage.source`` is the montage's canonical name.

    Raises:
        MontageError: an unknown name (the message names the closest built-in ones).
    """
    return _load(canonical_montage_name(name))


def load_montage(montage: str | None = None, asa_path: str | os.PathLike[str] | None = None) -> Montage:
    """The montage a setting names: a built-in ``montage`` name or an ASA file ``asa_path`` (not both).

    Neither gives the default ``standard_1005``. Raises :class:`MontageError` for an unknown name, a bad
    file, or both settings given.
    """
    if montage is not None and asa_path is not None:
        raise MontageError(
            f"both a built-in montage ({montage!r}) and an ASA file ({os.fspath(asa_path)!r}) are given; "
            "expected one of the two"
        )
    if asa_path is not None:
        return read_asa(asa_path)
    return standard_montage(STANDARD_NAME if montage is None else montage)
