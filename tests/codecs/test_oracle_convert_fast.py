"""The typed conversion's fast paths against the general path they stand in for.

:func:`value_converter` reads LogMiner's usual literals (plain numbers, ``HEXTORAW``,
floats, ``TO_TIMESTAMP``) in one closure per column and sends everything else to
:func:`general_converter`; the two must agree on every literal: the same value (for a
``Decimal``, the same digits and exponent) or the same error. The VariableScaleDecimal
struct read from a literal's text must equal the one made from its ``Decimal``.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.codecs.oracle.convert import OracleColumn, ValueConversionError, general_converter, value_converter
from headwater.codecs.oracle.schema import connect_value, variable_scale_literal

_NUMBERS = [
    OracleColumn("N", "NUMBER", 22, precision, scale)
    for precision, scale in [(10, 0), (4, 0), (18, 0), (19, 0), (38, 0), (12, 2), (9, 3), (5, -2), (30, -2),
                             (None, None), (None, 0), (38, 5), (3, 1)]
]  # fmt: skip
_OTHERS = [
    OracleColumn("F", "BINARY_FLOAT", 4),
    OracleColumn("D", "BINARY_DOUBLE", 8),
    OracleColumn("R", "RAW", 8),
    OracleColumn("B", "BLOB", 4000),
    OracleColumn("T", "DATE", 7),
    OracleColumn("T", "TIMESTAMP(3)", 11, None, 3),
    OracleColumn("T", "TIMESTAMP(6)", 11, None, 6),
    OracleColumn("T", "TIMESTAMP(9)", 11, None, 9),
    OracleColumn("Z", "TIMESTAMP(3) WITH TIME ZONE", 13, None, 3),
    OracleColumn("L", "TIMESTAMP(6) WITH LOCAL TIME ZONE", 11, None, 6),
]


def _outcome(convert: t.Callable[[str], t.Any], literal: str) -> tuple[str, t.Any]:
    try:
        value = convert(literal)
    except ValueConversionError as exc:
        return "error", str(exc)
    if isinstance(value, Decimal):
        return "decimal", (str(value), value.as_tuple())
    if isinstance(value, float):
        return "float", repr(value)  # NaN equals itself as text
    return type(value).__name__, value


def _agree(column: OracleColumn, literal: str) -> None:
    assert _outcome(value_converter(column), literal) == _outcome(general_converter(column), literal), literal


_NUMBER_TEXT = st.one_of(
    st.from_regex(r"-?[0-9]{0,40}(\.[0-9]{0,12})?", fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.sampled_from(["", "-", ".", "-.", "1e5", "1E+5", " 12", "12 ", "+7", "1_000", "0.50", "-0", "-0.000",
                     "Unsupported Type", "NULL", "١٢", "9" * 101, "9" * 99 + ".5", "Infinity", "NaN"]),
    st.text(max_size=12),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(column=st.sampled_from(_NUMBERS), literal=_NUMBER_TEXT)
def test_number_fast_paths_agree_with_the_general_path(column: OracleColumn, literal: str) -> None:
    _agree(column, literal)


_OTHER_TEXT = st.one_of(
    _NUMBER_TEXT,
    st.binary(max_size=8).map(lambda b: f"HEXTORAW('{b.hex()}')"),
    st.sampled_from(["HEXTORAW('0g')", "HEXTORAW('abc')", "HEXTORAW('ab cd')", "HEXTORAW('')", "EMPTY_BLOB()",
                     "HEXTORAW('ab')x", "HEXTORAW('a''b')", "'ab'", "abcd", "inf", "-Inf", "+inf", " nan ",
                     "TO_TIMESTAMP('2024-02-30 10:00:00')", "TO_TIMESTAMP('0999-01-01 10:00:00')",
                     "TO_TIMESTAMP('2024-01-01 24:00:00')", "TO_TIMESTAMP('2024-01-01 10:00:00.')",
                     "TO_TIMESTAMP_TZ('2024-01-01 10:00:00.000 +00:00')",
                     "TO_TIMESTAMP_TZ('2024-01-01 10:00:00.120 -05:30')",
                     "TO_TIMESTAMP_TZ('2024-01-01 10:00:00 Europe/Paris')"]),
    st.from_regex(r"TO_TIMESTAMP(_TZ)?\('[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                  r"( [+-][0-9]{2}:[0-9]{2})?'\)", fullmatch=True),
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(column=st.sampled_from(_OTHERS), literal=_OTHER_TEXT)
def test_float_binary_and_timestamp_fast_paths_agree_with_the_general_path(column: OracleColumn, literal: str) -> None:
    _agree(column, literal)


_VSD = OracleColumn("V", "NUMBER", 22)


@settings(max_examples=500, deadline=None)
@given(literal=_NUMBER_TEXT)
def test_variable_scale_struct_from_text_is_the_struct_of_the_decimal(literal: str) -> None:
    found = variable_scale_literal(literal)
    if found is None:
        return  # not a plain number: the task takes the general path
    assert found == connect_value(_VSD, general_converter(_VSD)(literal)), literal


@pytest.mark.parametrize("literal", ["-623.105", ".5", "-.5", "5.", "0", "-0.000", "127", "128", "-128", "9" * 40])
def test_plain_numbers_take_the_variable_scale_fast_path(literal: str) -> None:
    assert variable_scale_literal(literal) == connect_value(_VSD, Decimal(literal))
