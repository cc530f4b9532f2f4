"""The shared validators: messages that start with ``Class.field``, errors that carry the field, and the
converter reporting each problem at its field's path from the carried field alone."""

from __future__ import annotations

import attrs
import pytest

from eeg_config import ConfigError, FieldError, UserError, field_error, structure
from eeg_config.validators import (
    at_least,
    boolean,
    in_range,
    name_list,
    non_empty_str,
    non_negative_int,
    nonzero_number,
    one_of,
    optional,
    optional_tuple,
    positive_int,
    positive_number,
    to_float,
)


class SectionError(FieldError):
    """A library's own error type."""


@attrs.frozen(kw_only=True)
class Section:
    field_error_type = SectionError

    size: int = attrs.field(default=4, validator=positive_int)
    seed: int = attrs.field(default=0, validator=non_negative_int)
    folds: int = attrs.field(default=5, validator=at_least(2))
    rate: float = attrs.field(default=256.0, converter=to_float, validator=positive_number("Hz"))
    ratio: float = attrs.field(default=0.5, validator=in_range(0.0, 1.0, low_open=True))
    scale: float = attrs.field(default=1.0, validator=nonzero_number)
    mode: str = attrs.field(default="a", validator=one_of(("a", "b")))
    flag: bool = attrs.field(default=False, validator=boolean)
    path: str | None = attrs.field(default=None, validator=optional(non_empty_str("path string")))
    names: tuple[str, ...] | None = attrs.field(
        default=None, converter=optional_tuple, validator=name_list(allow_empty=False, allow_none=True)
    )
    fmin: float | None = attrs.field(default=None, validator=optional(positive_number("Hz")))
    fmax: float = 40.0

    def __attrs_post_init__(self) -> None:
        if self.fmin is not None and self.fmin >= self.fmax:
            raise field_error(self, "fmin", f"must be below fmax = {self.fmax:g}, got {self.fmin:g}")


@attrs.frozen(kw_only=True)
class Run:
    model: Section = attrs.Factory(Section)
    data: Section = attrs.Factory(Section)

    def __attrs_post_init__(self) -> None:
        if self.model.size != self.data.size:
            raise field_error(
                self, "model.size", f"must equal data.size = {self.data.size}, got {self.model.size}"
            )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "Section.size must be a positive integer, got 0"),
        ({"size": True}, "Section.size must be a positive integer, got True"),
        ({"size": 2.0}, "Section.size must be a positive integer, got 2.0"),
        ({"seed": -1}, "Section.seed must be an integer >= 0, got -1"),
        ({"folds": 1}, "Section.folds must be an integer >= 2, got 1"),
        ({"rate": 0}, "Section.rate must be a positive number of Hz, got 0.0"),
        ({"rate": "fast"}, "Section.rate must be a positive number of Hz, got 'fast'"),
        ({"ratio": 0.0}, "Section.ratio must be a number in (0, 1), got 0.0"),
        ({"ratio": float("nan")}, "Section.ratio must be a number in (0, 1), got nan"),
        ({"scale": 0}, "Section.scale must be a finite non-zero number, got 0"),
        ({"mode": "c"}, "Section.mode must be one of 'a', 'b'; got 'c'"),
        ({"flag": 1}, "Section.flag must be true or false, got 1"),
        ({"path": " "}, "Section.path must be a non-empty path string or null, got ' '"),
        ({"names": []}, "Section.names must name at least one channel, or be null for all"),
        ({"names": ["Cz", "cz"]}, "Section.names names CZ twice (names are case-insensitive)"),
        ({"names": "Cz"}, "Section.names must be a list of channel names (strings), got 'Cz'"),
        ({"fmin": 50.0}, "Section.fmin must be below fmax = 40, got 50"),
    ],
)
def test_messages_start_with_the_dotted_field_and_errors_carry_it(kwargs, message):
    with pytest.raises(SectionError) as info:
        Section(**kwargs)
    assert str(info.value) == message
    assert info.value.field == next(iter(kwargs))
    assert isinstance(info.value, FieldError | UserError | ValueError)


def test_valid_values_pass_and_converters_normalise():
    section = Section(rate=128, names=["Cz"], path="x", fmin=1.0)
    assert section.rate == 128.0 and section.names == ("Cz",) and hash(section)
    assert Section(path=None, names=None).names is None
    assert to_float("1e-4") == 1e-4 and to_float(True) is True


def test_without_a_class_error_type_the_error_is_a_field_error():
    @attrs.frozen
    class Plain:
        n: int = attrs.field(default=1, validator=positive_int)

    with pytest.raises(FieldError, match=r"^Plain\.n must be a positive integer, got 0$"):
        Plain(n=0)


def test_structure_reports_each_problem_at_its_carried_field():
    with pytest.raises(ConfigError) as info:
        structure({"model": {"fmin": 60.0}, "data": {"mode": "z", "size": 4}}, Run, "run.yaml")
    assert sorted(info.value.problems) == [
        "Section.fmin must be below fmax = 40, got 60 @ $.model.fmin",  # cross-field, nested section
        "Section.mode must be one of 'a', 'b'; got 'z' @ $.data.mode",
    ]


def test_a_message_naming_other_fields_is_still_pinned_to_its_own():
    # the message mentions fmax; the carried field (fmin) decides the path, not the text
    with pytest.raises(ConfigError) as info:
        structure({"fmin": 45.0, "fmax": 40.0}, Section)
    assert info.value.problems == ["Section.fmin must be below fmax = 40, got 45 @ $.fmin"]


def test_a_dotted_field_reaches_into_a_section():
    with pytest.raises(ConfigError) as info:
        structure({"model": {"size": 2}, "data": {"size": 3}}, Run)
    assert info.value.problems == ["Run.model.size must equal data.size = 3, got 2 @ $.model.size"]


@attrs.frozen(kw_only=True)
class Whole:
    a: int = 1

    def __attrs_post_init__(self) -> None:
        if self.a != 1:
            raise FieldError("Whole: nothing but a = 1 works")


@attrs.frozen(kw_only=True)
class HasWhole:
    whole: Whole = attrs.Factory(Whole)


def test_an_error_without_a_field_is_reported_at_its_class():
    with pytest.raises(ConfigError) as info:
        structure({"whole": {"a": 2}}, HasWhole)
    assert info.value.problems == ["Whole: nothing but a = 1 works @ $.whole"]
