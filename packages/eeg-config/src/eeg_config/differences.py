"""Which settings differ between two configs: one line per key, for resume, sweep folders and checkpoints."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["ABSENT", "config_differences", "flatten"]

#: How a key present on one side only is shown.
ABSENT = "<absent>"


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (for MLflow params and comparisons)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def config_differences(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    labels: tuple[str, str] = ("checkpoint", "config"),
    ignore: Collection[str] = (),
    ignore_prefixes: tuple[str, ...] = (),
) -> list[str]:
    """``key: <labels[0]> X, <labels[1]> Y`` for every key whose value differs, sorted by key.

    Nested mappings are compared key by key (``section.key``). Values are compared as they read back
    from YAML or JSON: tuples equal lists, and ``1`` equals ``1.0``. Keys in ``ignore`` or starting
    with one of ``ignore_prefixes`` are skipped.
    """
    flat_before, flat_after = flatten(before), flatten(after)
    out = []
    for key in sorted(set(flat_before) | set(flat_after)):
        if key in ignore or key.startswith(ignore_prefixes):
            continue
        a, b = flat_before.get(key, ABSENT), flat_after.get(key, ABSENT)
        if _plain(a) != _plain(b):
            out.append(f"{key}: {labels[0]} {a!r}, {labels[1]} {b!r}")
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)  # YAML may read back 1.0 as 1
    return value
