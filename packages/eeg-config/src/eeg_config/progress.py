"""Progress of long work: a tqdm bar on a terminal; in a log file or under CI, a plain line now and then.

A bar redraws itself with carriage returns, which a log file keeps as one endless line. So the bar is
shown only where stderr is a terminal and no ``CI`` variable is set (CI services set ``CI=true`` and some
emulate a terminal); everywhere else the same calls write a line through the caller's logger at most
every ``every`` seconds (none for work that ends sooner), e.g.::

    12:01:30 INFO eeg_pretrain: epoch 3/40: 1200/5000 batches (24%), 8.1 batches/s, about 8 min left; loss 0.3551

Usage mirrors tqdm's, for what the apps use of it::

    bar = progress(total=len(loader), description="epoch 3/40", unit="batch", log=log)
    for batch in loader:
        ...
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")
    bar.close()

    for file in progress(files, description="data checks", unit="file", log=log):
        ...

tqdm is imported only for a bar; where it is not installed, the plain lines are written instead.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

__all__ = ["PLAIN_SECONDS", "PlainProgress", "interactive", "progress"]

#: How often (seconds) a plain progress line is written, at most.
PLAIN_SECONDS = 30.0
_OFF = {"", "0", "false", "no", "off"}


def interactive(stream: TextIO | None = None) -> bool:
    """Whether progress may redraw in place on ``stream`` (default stderr): it is a terminal and the
    environment is not CI (``CI`` unset, or ``0``/``false``/``no``/``off``)."""
    if os.environ.get("CI", "").strip().lower() not in _OFF:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    description: str,
    unit: str = "item",
    log: logging.Logger | Callable[[str], None],
    disable: bool = False,
    initial: int = 0,
    every: float | None = None,
) -> Any:
    """A progress display for ``total`` units (or over ``iterable``): tqdm's bar where :func:`interactive`,
    else :class:`PlainProgress` lines through ``log`` (a logger, at INFO, or a function that writes a line)
    at most every ``every`` seconds (default :data:`PLAIN_SECONDS`). ``disable`` shows nothing."""
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if not disable and interactive():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(
                iterable,
                total=total,
                initial=initial,
                desc=description,
                unit=unit,
                leave=False,
                dynamic_ncols=True,
            )
    return PlainProgress(
        iterable,
        total=total,
        description=description,
        unit=unit,
        log=log,
        disable=disable,
        initial=initial,
        every=every,
    )


class PlainProgress:
    """tqdm's ``update`` / ``set_postfix`` / ``close`` (and iteration) as a line through ``log`` (a logger, at
    INFO, or a function) at most every ``every`` seconds (default :data:`PLAIN_SECONDS`):
    ``DESCRIPTION: N/TOTAL UNITS (P%), R UNITS/s, about T left; POSTFIX``.

    ``clock`` (seconds, monotonic) is for tests."""

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        *,
        total: int | None,
        description: str,
        unit: str,
        log: logging.Logger | Callable[[str], None],
        disable: bool = False,
        initial: int = 0,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.iterable, self.total, self.description = iterable, total, description
        self.unit, self.units = unit, _plural(unit)
        self.write = log.info if isinstance(log, logging.Logger) else log
        self.disable, self.clock = disable, clock
        self.every = PLAIN_SECONDS if every is None else every
        self.n = self._first = initial
        self._start = self._last = clock()
        self.postfix = ""

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("PlainProgress: nothing to iterate (it was made with total= only)")
        for item in self.iterable:
            yield item
            self.update(1)

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.disable:
            return
        now = self.clock()
        if now - self._last >= self.every:
            self._last = now
            self.write(self.line(now))

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, **values: Any) -> None:
        """What follows the counts in the next line, e.g. ``loss 0.3551, lr 3.00e-03``."""
        self.postfix = ", ".join(f"{k} {v}" for k, v in {**(ordered_dict or {}), **values}.items())

    def close(self) -> None:
        """Nothing to clear: the lines stay where they were written."""

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = now - self._start
        done = self.n - self._first
        count = f"{self.n}/{self.total} {self.units}" if self.total else f"{self.n} {self.units}"
        if self.total:
            count += f" ({100 * self.n / self.total:.0f}%)"
        parts = [count]
        if done > 0 and elapsed > 0:
            rate = done / elapsed
            parts.append(f"{rate:.3g} {self.units}/s" if rate >= 1 else f"{1 / rate:.3g} s per {self.unit}")
            if self.total and self.total > self.n:
                parts.append(f"about {_duration((self.total - self.n) / rate)} left")
        text = f"{self.description}: " + ", ".join(parts)
        return f"{text}; {self.postfix}" if self.postfix else text


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
