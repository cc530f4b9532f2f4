"""Command-line values read against the config schema: text stays the text typed where a string is expected."""

from __future__ import annotations

import attrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from eeg_config import apply_overrides, field_type, parse_override, parse_value, structure
from eeg_config.schema import MISSING


@attrs.frozen(kw_only=True)
class Input:
    pattern: str = "{participant}_run-{run}"
    label: str | None = None
    rate: float = 1.0
    names: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Section:
    input: Input = attrs.Factory(Input)
    steps: int = 3


@attrs.frozen(kw_only=True)
class Config:
    pretraining: Section = attrs.Factory(Section)
    optional: Section | None = None
    flag: bool = False


def test_field_type_follows_sections_and_knows_what_is_missing():
    assert field_type(Config, ["pretraining", "input", "pattern"]) is str
    assert field_type(Config, ["optional", "steps"]) is int  # through an optional section
    assert field_type(Config, ["pretraining", "input"]) is Input
    assert field_type(Config, ["pretraining", "nope"]) is MISSING
    assert field_type(Config, ["flag", "deeper"]) is MISSING  # flag is not a section


def test_the_known_quirk_a_pattern_in_braces_stays_a_string():
    # YAML reads {participant} as a mapping; the config wants text
    assert yaml.safe_load("{participant}") == {"participant": None}
    path, value = parse_override("pretraining.input.pattern={participant}", Config)
    assert path == ["pretraining", "input", "pattern"] and value == "{participant}"
    raw = apply_overrides({}, ["pretraining.input.pattern={participant}", "pretraining.steps=5"], Config)
    config = structure(raw, Config)
    assert config.pretraining.input.pattern == "{participant}" and config.pretraining.steps == 5
    # without the schema, YAML's reading as before (and the converter refuses it)
    assert parse_override("pretraining.input.pattern={participant}")[1] == {"participant": None}


@pytest.mark.parametrize(
    ("raw", "expected", "value"),
    [
        ("yes", str, "yes"),  # YAML: true
        ("010", str, "010"),  # YAML: 10
        ("1e3", str, "1e3"),
        ("[a, b]", str, "[a, b]"),
        ('"a: b"', str, "a: b"),  # quoted: YAML's string, unquoted
        ("null", str | None, None),  # null stays null where the field may be null
        ("null", str, "null"),
        ("", str, None),  # empty is null, as before
        ("1e-4", float, 1e-4),  # PyYAML reads an exponent without a dot as text
        ("1e-4", MISSING, "1e-4"),  # unknown key: YAML alone
        ("7", int, 7),
        ("[a, 1]", tuple[str, ...], ["a", 1]),  # not text: YAML (the converter judges it)
        ("true", bool, True),
    ],
)
def test_values_are_yaml_except_where_text_is_expected(raw, expected, value):
    assert parse_value(raw, expected) == value
    assert type(parse_value(raw, expected)) is type(value)


_TEXT = st.text(alphabet=st.sampled_from("abcXYZ019_-./:{}[],=+ "), min_size=1, max_size=20).filter(
    lambda s: s == s.strip() and "#" not in s
)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_any_unquoted_text_for_a_text_field_reads_back_as_typed(text):
    value = parse_value(text, str)
    assert isinstance(value, str)
    # YAML may read plain text as the same string, or as a number, list, mapping...: either way the text
    assert value == text


@settings(max_examples=100, deadline=None)
@given(st.integers(-(10**12), 10**12), st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_for_number_fields_read_as_numbers(integer, number):
    assert parse_value(str(integer), int) == integer
    assert parse_value(repr(number), float) == number
