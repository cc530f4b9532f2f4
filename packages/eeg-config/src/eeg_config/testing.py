"""Fakes for the tests of code that writes through :mod:`eeg_config.atomic` (not imported by ``eeg_config``).

A pytest fixture over it, as the workspace's suites define one::

    @pytest.fixture
    def full_disk(monkeypatch):
        return full_disks(monkeypatch)

    def test_checkpoint_on_a_full_disk(tmp_path, full_disk):
        disk = full_disk(tmp_path, free=4096)   # the next 4096 bytes fit, then ENOSPC
"""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FullDisk", "full_disks"]

FD_FOLDER = Path("/proc/self/fd")


class FullDisk:
    """A fake device for the files written under ``folder``: it takes ``free`` more bytes, then refuses every
    write with ``ENOSPC`` as a full disk does (set ``free`` again to "free some space"). ``refused`` counts
    the writes it refused."""

    def __init__(self, folder: Path, free: int) -> None:
        self.folder = Path(folder).resolve()
        self.free = free
        self.refused = 0

    def holds(self, fd: int) -> bool:
        try:
            return Path(os.readlink(FD_FOLDER / str(fd))).is_relative_to(self.folder)
        except OSError:
            return False


class _Device(io.RawIOBase):
    def __init__(self, fd: int, disk: FullDisk) -> None:
        self.fd, self.disk = fd, disk

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def write(self, data) -> int:
        if len(data) > self.disk.free:
            self.disk.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.disk.free -= len(data)
        return os.write(self.fd, data)

    def close(self) -> None:
        if not self.closed:
            super().close()
            os.close(self.fd)


def full_disks(monkeypatch: Any) -> Callable[..., FullDisk]:
    """``make(folder, free=0) -> FullDisk``: binary files opened with ``os.fdopen`` under ``folder`` (every
    atomic write: checkpoints, configs, summaries) live on a device with ``free`` bytes left.

    ``monkeypatch`` is pytest's (anything with ``setattr(target, name, value)`` that undoes it later): it
    replaces ``os.fdopen`` for the test. Linux only (a file descriptor's path is read from ``/proc/self/fd``):
    raises :class:`NotImplementedError` elsewhere, for the fixture to skip.
    """
    if not FD_FOLDER.is_dir():
        raise NotImplementedError(f"needs {FD_FOLDER} (Linux)")
    disks: list[FullDisk] = []
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        disk = next((d for d in disks if d.holds(fd)), None)
        if disk is None or "w" not in mode or "b" not in mode:
            return real_fdopen(fd, mode, *args, **kwargs)
        return io.BufferedWriter(_Device(fd, disk))

    monkeypatch.setattr(os, "fdopen", fdopen)

    def make(folder: Path, free: int = 0) -> FullDisk:
        Path(folder).mkdir(parents=True, exist_ok=True)
        disks.append(FullDisk(folder, free))
        return disks[-1]

    return make
