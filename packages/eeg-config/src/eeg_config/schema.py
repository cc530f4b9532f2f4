"""What a config class expects at a dotted key, and command-line text read as that.

``--set`` and ``sweep --vary`` values are YAML, so ``42`` is a number and ``[a, b]`` a list. Where the
config expects text, YAML's reading is not what the user meant: ``{participant}_run-{run}`` is a YAML
mapping, ``1e3`` and ``yes`` are a string and a boolean, ``010`` a number. :func:`parse_value` keeps such
values as the text typed, reads ``1e-4`` as a number where the config expects a float (PyYAML reads an
exponent without a dot as text), and reads everything else as YAML.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

import attrs
import yaml

__all__ = ["MISSING", "field_type", "parse_value", "wants_number", "wants_text"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`field_type` returns for a key the class does not have.
MISSING: Any = _Missing()


def field_type(cls: type, path: Sequence[str]) -> Any:
    """The annotated type of the field at ``path`` (``["data", "val_ratio"]``) of the attrs class ``cls``,
    following nested attrs classes (also ``Section | None``); :data:`MISSING` when there is no such field,
    or when ``path`` runs through a field that is not a section."""
    node: Any = cls
    for depth, name in enumerate(path):
        section = _attrs_class(node)
        if section is None:
            return MISSING
        if name not in attrs.fields_dict(section):
            return MISSING
        node = typing.get_type_hints(section)[name]
        if depth == len(path) - 1:
            return node
    return MISSING


def wants_text(expected: Any) -> bool:
    """Whether a field of type ``expected`` holds text: ``str`` or ``str | None``."""
    if expected is str:
        return True
    members = _union_members(expected)
    return bool(members) and str in members and all(m in (str, type(None)) for m in members)


def wants_number(expected: Any) -> bool:
    """Whether a field of type ``expected`` holds a float: ``float`` or ``float | None``."""
    if expected is float:
        return True
    members = _union_members(expected)
    return bool(members) and float in members and all(m in (float, type(None)) for m in members)


def parse_value(raw: str, expected: Any = MISSING) -> Any:
    """``raw`` (the text after ``=``) as YAML; where ``expected`` is text (:func:`wants_text`), the text
    as typed unless YAML reads it as a string too (``"a: b"`` quoted) or as null for an optional field.
    Empty text is None, as YAML has it."""
    if not raw.strip():
        return None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and expected is not MISSING and wants_number(expected):
        try:
            return float(value)  # 1e-4: PyYAML reads exponents without a dot as text
        except ValueError:
            return value
    if expected is MISSING or not wants_text(expected) or isinstance(value, str):
        return value
    if value is None and type(None) in _union_members(expected):
        return None
    return raw.strip()


def _attrs_class(annotation: Any) -> type | None:
    if isinstance(annotation, type) and attrs.has(annotation):
        return annotation
    sections = [m for m in _union_members(annotation) if isinstance(m, type) and attrs.has(m)]
    return sections[0] if len(sections) == 1 else None


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return ()
