"""Electrode-name rules shared by the reader and the montage: case, aliases, fiducial spellings."""

from __future__ import annotations

# The 10-20 system renamed four temporal/parietal sites (American Clinical Neurophysiology Society,
# 1991/2006): T3 -> T7, T4 -> T8, T5 -> P7, T6 -> P8. Recordings use either naming, so a request for
# one resolves to the other whenever the montage holds only one of the two.
_OLD_TO_NEW = {"t3": "t7", "t4": "t8", "t5": "p7", "t6": "p8"}
ALIASES: dict[str, str] = {**_OLD_TO_NEW, **{new: old for old, new in _OLD_TO_NEW.items()}}

# Fiducial keys in the order they are reported, and the spellings found in montage files for each
# (ASA/FieldTrip "Nz"/"LPA"/"RPA", MNE/BIDS "NAS"/"nasion", EGI "FidNz"/"FidT9"/"FidT10").
FIDUCIAL_KEYS: tuple[str, ...] = ("nasion", "lpa", "rpa")
_FIDUCIAL_SPELLINGS = {
    "nasion": ("nz", "nas", "nasion", "fidnz"),
    "lpa": ("lpa", "fidt9", "left_preauricular", "leftpreauricular"),
    "rpa": ("rpa", "fidt10", "right_preauricular", "rightpreauricular"),
}
FIDUCIAL_BY_SPELLING: dict[str, str] = {
    spelling: key for key, spellings in _FIDUCIAL_SPELLINGS.items() for spelling in spellings
}


def name_key(name: str) -> str:
    """Return the key under which a channel name is matched: stripped and case-folded (``AF7`` = ``af7``)."""
    return name.strip().casefold()


def fiducial_key(label: str) -> str | None:
    """Return ``"nasion"``, ``"lpa"`` or ``"rpa"`` when ``label`` spells a fiducial, else ``None``."""
    return FIDUCIAL_BY_SPELLING.get(name_key(label))
