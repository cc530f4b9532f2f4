"""ASA electrode files (``.elc``) and unit-sphere electrode coordinates by channel name. numpy only.

>>> from eeg_montage import standard_montage
>>> standard_montage().coords(["af7", "T3"]).shape
(2, 3)
"""

from ._asa import parse_asa, read_asa
from ._errors import MontageError, MontageWarning
from ._montage import Montage
from ._standard import (
    canonical_montage_name,
    describe_standard_montages,
    load_montage,
    standard_montage,
    standard_montage_names,
)

__all__ = [
    "Montage",
    "MontageError",
    "MontageWarning",
    "canonical_montage_name",
    "describe_standard_montages",
    "load_montage",
    "parse_asa",
    "read_asa",
    "standard_montage",
    "standard_montage_names",
]
