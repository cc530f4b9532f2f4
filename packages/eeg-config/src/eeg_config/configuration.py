"""YAML -> frozen attrs configs through one strict cattrs converter, with ``--set`` overrides.

Shared by every app and library config. Strict means: unknown keys are errors, ints are never silently truncated from
floats or parsed from strings, bools are real booleans, and each problem is reported as one line
``what @ $.section.key``. Numeric strings such as ``"1e-4"`` (PyYAML reads ``1e-4`` as a string) are
accepted for float fields only.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs
import cattrs
import yaml
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn

from eeg_config.errors import UserError
from eeg_config.schema import MISSING, field_type, parse_value
from eeg_config.validators import FieldError

T = TypeVar("T")


class ConfigError(UserError):
    """One or more problems in a config; ``problems`` holds one ``what @ $.path`` line each."""

    multiline = True  # one problem per line

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f"invalid config {source}" if source else "invalid config"
        super().__init__(where + ":\n  " + "\n  ".join(self.problems))


class YamlSyntaxError(ConfigError):
    """A config file that is not valid YAML: one line ``FILE:LINE:COL: problem``."""

    multiline = False

    def __init__(self, line: str) -> None:
        UserError.__init__(self, line)
        self.problems = [line]
        self.source = None


def yaml_problem(path: str | os.PathLike[str], exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message (caret art, ``in "<unicode string>"``) as ``FILE:LINE:COL: problem``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    problem = " ".join(str(problem).split())
    if mark is None:
        return f"{path}: not valid YAML: {problem}"
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line != mark.line:
        problem += f" ({' '.join(context.split())} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    elif context:
        problem += f" ({' '.join(context.split())})"
    return f"{path}:{mark.line + 1}:{mark.column + 1}: {problem}"


def _strict_int(value: Any, _type: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"expected int, got {value!r}")
    return value


def _strict_float(value: Any, _type: type) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected float, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"expected float, got {value!r}")


def _strict_bool(value: Any, _type: type) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _strict_str(value: Any, _type: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected string, got {value!r}")
    return value


def _field_of(cls: type, exc: BaseException) -> str | None:
    """The field a constructor error concerns: the one a :class:`FieldError` carries, or the attribute
    that ``attrs.validators`` pass along. A plain ``ValueError`` from a class that does not use
    :mod:`eeg_config.validators` is pinned only when its message starts with the field
    (``Class.field: ...`` or ``field: ...``)."""
    if isinstance(exc, FieldError):
        return exc.field
    for arg in exc.args:
        if isinstance(arg, attrs.Attribute):
            return arg.name
    lead = re.match(rf"(?:{re.escape(cls.__name__)}\.)?(\w+):", _message_of(exc))
    if lead and lead.group(1) in {f.name for f in attrs.fields(cls)}:
        return lead.group(1)
    return None


def _message_of(exc: BaseException) -> str:
    return str(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else str(exc)


def _pin_unplaced(cls: type, group: ClassValidationError) -> ClassValidationError:
    """Give errors raised by the class's validators or ``__attrs_post_init__`` the path of their field."""
    pinned: list[Exception] = []
    for exc in group.exceptions:
        notes = getattr(exc, "__notes__", [])
        if isinstance(exc, ForbiddenExtraKeysError) or any(
            isinstance(n, cattrs.errors.AttributeValidationNote) for n in notes
        ):
            pinned.append(exc)
            continue
        field = _field_of(cls, exc)
        err = FieldError(_message_of(exc), field)
        if field is not None:  # a dotted field (model.window_length) extends the path into a section
            err.__notes__ = [cattrs.errors.AttributeValidationNote(f"in {field}", field, object)]
        pinned.append(err)
    return ClassValidationError(group.message, pinned, cls)


def make_converter() -> cattrs.Converter:
    """The one strict converter every app uses."""
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(str, _strict_str)

    def attrs_hook_factory(cls: type) -> Any:
        base = make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True)

        def structure(value: Any, _type: type) -> Any:
            if not isinstance(value, Mapping):
                raise ValueError(f"expected a mapping of keys for {cls.__name__}, got {value!r}")
            try:
                return base(value, cls)
            except ClassValidationError as exc:
                raise _pin_unplaced(cls, exc) from None
            except (ValueError, TypeError) as exc:
                raise _pin_unplaced(
                    cls, ClassValidationError(f"while structuring {cls.__name__}", [exc], cls)
                ) from None

        return structure

    conv.register_structure_hook_factory(attrs.has, attrs_hook_factory)
    return conv


CONVERTER = make_converter()


def _format_exception(exc: BaseException, _type: type | None) -> str:
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown key(s) {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, KeyError):
        return "required key missing"
    return _message_of(exc)


def structure(data: Mapping[str, Any], cls: type[T], source: str | None = None) -> T:
    """Build ``cls`` from plain data, raising :class:`ConfigError` with one line per problem."""
    try:
        return CONVERTER.structure(dict(data), cls)
    except ClassValidationError as exc:
        raise ConfigError(
            cattrs.transform_error(exc, path="$", format_exception=_format_exception), source
        ) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError([f"{_message_of(exc)} @ $"], source) from None


def unstructure(config: Any) -> dict[str, Any]:
    """Plain dict of a config (tuples become lists so YAML and MLflow read it back)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(CONVERTER.unstructure(config))


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping, with errors naming the file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError([f"config file not found: {p}"])
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(yaml_problem(p, exc)) from None
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [f"expected a mapping of sections at the top level, got {type(data).__name__}"], str(p)
        )
    return data


def parse_override(text: str, schema: type | None = None) -> tuple[list[str], Any]:
    """``section.key=value`` -> (``["section", "key"]``, YAML-parsed value). With ``schema`` (the attrs
    config class the value is for), a key that holds text keeps the text as typed
    (:func:`eeg_config.schema.parse_value`: ``pattern={participant}`` is not a mapping)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError([f"--set expects section.key=value, got {text!r}"])
    path = key.split(".")
    expected = field_type(schema, path) if schema is not None else MISSING
    return path, parse_value(raw, expected)


def add_override_option(parser: argparse.ArgumentParser, help: str) -> None:
    """The apps' repeatable ``--set section.key=value`` option, collected in ``args.overrides``."""
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE", help=help
    )


def apply_overrides(
    data: dict[str, Any], overrides: Iterable[str], schema: type | None = None
) -> dict[str, Any]:
    """Apply ``--set`` overrides to nested plain data (a copy); unknown keys are caught by the converter.
    ``schema``: the config class, so that text keys keep their values as typed (:func:`parse_override`)."""
    result = _deep_copy(data)
    for text in overrides:
        path, value = parse_override(text, schema)
        node = result
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError([f"--set {text!r}: {part} is not a section"])
            node = child
        node[path[-1]] = value
    return result


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


def dump_yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False)
