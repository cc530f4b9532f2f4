"""Fixtures for eeg_montage tests: ASA files written inline to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write_elc(tmp_path: Path) -> Callable[..., Path]:
    """Return ``write(text, name="montage.elc", newline="\\n", prefix=b"") -> Path``.

    ``text`` is written with its ``\\n`` replaced by ``newline`` and encoded as UTF-8 after ``prefix``
    (e.g. a BOM), byte for byte, so line endings are exactly what the test asks for.
    """

    def write(text: str, name: str = "montage.elc", newline: str = "\n", prefix: bytes = b"") -> Path:
        path = tmp_path / name
        path.write_bytes(prefix + text.replace("\n", newline).encode("utf-8"))
        return path

    return write
