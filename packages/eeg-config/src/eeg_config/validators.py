"""The attrs validators and converters every config class of the workspace uses, and the error they raise.

A failed check raises :class:`FieldError`, a :class:`~eeg_config.UserError` and ``ValueError`` that carries
the field it concerns in ``.field`` and starts its message with the dotted name, ``ClassName.field``::

    DataConfig.window_length must be a positive integer, got 0

:func:`~eeg_config.structure` reads ``.field`` to report the problem at its YAML path
(``... @ $.data.window_length``), so a message never has to be parsed. Cross-field checks in
``__attrs_post_init__`` raise :func:`field_error` naming the field they pin to (a dotted name such as
``model.window_length`` reaches into a section).

A class may set ``field_error_type`` (a :class:`FieldError` subclass, e.g. ``eeg_ssm.ModelConfigError``)
so its validators raise the library's own error type.

>>> import attrs
>>> @attrs.frozen(kw_only=True)
... class Train:
...     epochs: int = attrs.field(default=10, validator=positive_int)
...     device: str = attrs.field(default="auto", validator=one_of(("auto", "cpu", "cuda")))
>>> Train(epochs=0)
Traceback (most recent call last):
...
eeg_config.validators.FieldError: Train.epochs must be a positive integer, got 0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from eeg_config.errors import UserError

__all__ = [
    "Check",
    "FieldError",
    "at_least",
    "boolean",
    "field_error",
    "in_range",
    "name_list",
    "non_empty_str",
    "non_negative_int",
    "non_negative_number",
    "nonzero_number",
    "one_of",
    "optional",
    "optional_float",
    "optional_tuple",
    "positive_int",
    "positive_number",
    "to_float",
    "to_tuple",
]


class FieldError(UserError, ValueError):
    """A config value a user chose is invalid; ``field`` names it (``None`` when no one field is to blame)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def field_error(instance: object, field: str, text: str) -> FieldError:
    """The error for ``field`` of ``instance``: ``"{Class}.{field} {text}"``, of the class's
    ``field_error_type`` (default :class:`FieldError`)."""
    cls = instance if isinstance(instance, type) else type(instance)
    error_type = getattr(cls, "field_error_type", FieldError)
    return error_type(f"{cls.__name__}.{field} {text}", field=field)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@attrs.frozen
class Check:
    """An attrs validator: ``test(value)`` must hold, else ``Class.field must be {expected}, got value``
    (``separator`` before ``got``: ``"; "`` after a list of choices)."""

    expected: str
    test: Callable[[Any], bool]
    separator: str = ", "

    def __call__(self, instance: object, attribute: attrs.Attribute, value: object) -> None:
        if not self.test(value):
            raise field_error(
                instance, attribute.name, f"must be {self.expected}{self.separator}got {value!r}"
            )


def at_least(low: int) -> Check:
    """An integer (not a bool) >= ``low``."""
    return Check(f"an integer >= {low}", lambda value: _is_int(value) and value >= low)


positive_int = Check("a positive integer", lambda value: _is_int(value) and value >= 1)
non_negative_int = at_least(0)
boolean = Check("true or false", lambda value: isinstance(value, bool))


def positive_number(unit: str | None = None) -> Check:
    """A finite number > 0 (``unit`` names it: ``a positive number of Hz``)."""
    return Check(
        "a positive number" + (f" of {unit}" if unit else ""), lambda value: _is_number(value) and value > 0
    )


non_negative_number = Check("a number >= 0", lambda value: _is_number(value) and value >= 0)
nonzero_number = Check("a finite non-zero number", lambda value: _is_number(value) and value != 0)


def in_range(low: float, high: float, *, low_open: bool = False, high_open: bool = True) -> Check:
    """A finite number in the interval, ``[low, high)`` by default."""

    def test(value: object) -> bool:
        if not _is_number(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return Check(f"a number in {interval}", test)


def one_of(choices: Iterable[str]) -> Check:
    """One of ``choices`` (strings)."""
    choices = tuple(choices)
    return Check(f"one of {', '.join(map(repr, choices))}", lambda value: value in choices, "; ")


def non_empty_str(what: str = "string") -> Check:
    """A string with something besides white space (``what`` says what it is: ``path string``)."""
    return Check(f"a non-empty {what}", lambda value: isinstance(value, str) and bool(value.strip()))


def optional(check: Check) -> Check:
    """``None`` or what ``check`` accepts."""
    return Check(
        f"{check.expected} or null", lambda value: value is None or check.test(value), check.separator
    )


def name_list(what: str = "channel", *, allow_empty: bool = True, allow_none: bool = False):
    """A tuple of non-empty names (``to_tuple`` turns YAML lists into tuples), none twice ignoring case.

    ``allow_none``: ``None`` passes (e.g. "every channel"); ``allow_empty``: ``()`` passes."""

    def check(instance: object, attribute: attrs.Attribute, value: object) -> None:
        if value is None and allow_none:
            return
        if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
            raise field_error(
                instance, attribute.name, f"must be a list of {what} names (strings), got {value!r}"
            )
        if not value and not allow_empty:
            raise field_error(
                instance,
                attribute.name,
                f"must name at least one {what}" + (", or be null for all" if allow_none else ""),
            )
        upper = [v.strip().upper() for v in value]
        repeated = sorted({v for v in upper if upper.count(v) > 1})
        if repeated:
            raise field_error(
                instance, attribute.name, f"names {', '.join(repeated)} twice (names are case-insensitive)"
            )

    return check


def to_float(value: object) -> object:
    """Converter: ints and numeric strings (PyYAML reads ``1e-4`` as a string) become floats; anything
    else reaches the validator unchanged."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if _is_int(value):
        return float(value)
    return value


def optional_float(value: object) -> object:
    return None if value is None else to_float(value)


def to_tuple(value: object) -> object:
    """Converter: YAML gives lists; keep tuples so a frozen config stays hashable."""
    return tuple(value) if isinstance(value, list) else value


def optional_tuple(value: object) -> object:
    return None if value is None else to_tuple(value)
