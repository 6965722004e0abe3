"""The compiled batch decoder (``_cdecode``) against the numpy path and the per-record path.

Both batch paths must give the same records as :func:`decode_record`, value by value and
type by type (``Decimal('1.50')`` is not ``Decimal('1.5')``), and the same error when a row
is invalid. Generated layouts cover every USAGE, sign form, OCCURS / ODO, FILLER policy,
code page, trim and float format; the data is mostly valid (so rows take the compiled path)
with some corrupted bytes (so rows fall back). The compiled program also refuses a program
or a buffer that would read outside the record, instead of crashing.

Runs when the extension is built (``pip install`` with a C compiler); CI sets
``HEADWATER_REQUIRE_NATIVE=1`` so a missing build fails instead of skipping.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.codecs.copybook import (
    DecodeError,
    DecodeOptions,
    FloatFormat,
    OnError,
    Trim,
    compile_plan,
    decode_batch,
    decode_record,
    decode_records,
    native,
    parse_copybook,
)
from headwater.codecs.copybook.fields import InvalidField
from headwater.codecs.copybook.layout import Field, Layout
from headwater.codecs.copybook.picture import Category, Usage
from headwater.codecs.ebcdic import code_page
from headwater.connectors.commands.copybook import _write as write_json_line

if os.environ.get("HEADWATER_REQUIRE_NATIVE") == "1":
    assert native.AVAILABLE, "the _cdecode extension was not built (is a C compiler installed?)"
pytestmark = pytest.mark.skipif(not native.AVAILABLE, reason="the _cdecode extension is not built")

CI = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def typed(value: Any) -> Any:
    """A value with its type made explicit, so 1 != 1.0 != Decimal(1) and scales count."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


def outcome(plan: Any, data: bytes, length: int, *, path: str) -> Any:
    """The typed records of ``decode_batch`` on one path, or the error it raised."""
    saved = native.ENABLED
    native.ENABLED = path != "numpy"
    try:
        if path == "native":
            assert native.native_program(plan) is not None or not plan.vectorizable or plan.options.debug_hex
        if path == "native-slow-decimal":
            program = native.native_program(plan, fast_decimal=False)
            if program is None:
                return outcome(plan, data, length, path="native")
            assert not program.fast_decimal
            records, bad = program.decode(data, length, len(data) // length, 0)
            for row in bad:
                records[row] = _single(plan, data[row * length : (row + 1) * length], row + 1, row * length)
                if isinstance(records[row], tuple):
                    return records[row]  # decode_batch raises the first bad row's error
            return typed(records)
        return typed(decode_batch(plan, data, length))
    except DecodeError as exc:
        return ("error", exc.record_number, exc.byte_offset, exc.field, str(exc))
    finally:
        native.ENABLED = saved


def _single(plan: Any, data: bytes, number: int, offset: int) -> Any:
    try:
        return decode_record(plan, data, record_number=number, byte_offset=offset)
    except DecodeError as exc:
        return ("error", exc.record_number, exc.byte_offset, exc.field, str(exc))


# ------------------------------------------------------------------------ generated cases

_FIELDS = [
    "PIC X(3)", "PIC A(2)", "PIC 9(4)", "PIC S9(3)V99", "PIC S9(3) SIGN LEADING", "PIC S9(2) SIGN TRAILING SEPARATE",
    "PIC S9(4)V9 SIGN LEADING SEPARATE", "PIC S9(5) COMP-3", "PIC 9(3) COMP-3", "PIC S9(4) COMP", "PIC 9(9) BINARY",
    "PIC S9(18) COMP-5", "PIC 9(2) COMP-9", "PIC S9(6) COMP-9", "COMP-1", "COMP-2", "PIC N(2)", "PIC ZZ9.99-",
    "PIC 9(20)", "PIC S9(25)V9(5) COMP-3", "PIC X(4) COMP", "PIC 9(4) COMP-3U", "PIC 9(3)PP", "PIC SVPP99",
    "PIC S9(17)V9 COMP-3", "PIC S9(16)V99", "PIC 9(18)", "PIC S9(18)V99 COMP", "PIC 9(18)V9 COMP", "PIC S9(3) COMP-3",
    "PIC S9(7)V99 COMP-3", "PIC X(12)", "PIC S9(1)", "INDEX", "POINTER", "PIC S99PPP COMP", "PIC S9(5)PPP COMP-3",
]  # fmt: skip


@st.composite
def layouts(draw: st.DrawFn) -> str:
    lines = ["       01  REC.", "           05  CNT PIC 9."]
    for index in range(draw(st.integers(1, 7))):
        clause = draw(st.sampled_from(_FIELDS))
        occurs = draw(
            st.sampled_from(["", "", "", " OCCURS 2", " OCCURS 3 DEPENDING ON CNT", " OCCURS 1 TO 2 DEPENDING ON CNT"])
        )
        lines.append(f"           05  F{index} {clause}")
        lines.append(f"              {occurs}.")
    if draw(st.booleans()):
        occurs = draw(st.sampled_from(["", " OCCURS 2", " OCCURS 0 TO 3 DEPENDING ON CNT"]))
        lines.append(f"           05  G{occurs}.")
        lines.append("               10  FILLER PIC X(2).")
        lines.append(f"               10  H {draw(st.sampled_from(_FIELDS))}.")
        lines.append(f"               10  J {draw(st.sampled_from(_FIELDS))}.")
    if draw(st.booleans()):
        lines.append("           05  R1 PIC X(4).")
        lines.append("           05  R2 REDEFINES R1 PIC S9(7) COMP-3.")
    if draw(st.booleans()):
        lines.append("           05  FILLER.")
        lines.append("               10  FILLER PIC X(3).")
    return "\n".join(lines) + "\n"


def occurrences(fields: tuple[Field, ...], delta: int = 0) -> Iterator[tuple[Field, int]]:
    """Every elementary occurrence with its offset in the record."""
    for item in fields:
        count = item.occurs.maximum if item.occurs else 1
        for index in range(count):
            start = delta + index * item.length
            if item.children:
                yield from occurrences(item.children, start)
            else:
                yield item, item.offset + start


def _zoned_bytes(draw: st.DrawFn, item: Field, family: str) -> bytes:
    picture = item.picture
    assert picture is not None
    zero = 0xF0 if family == "ebcdic" else 0x30
    separate = item.sign_separate and picture.signed
    width = item.length - (1 if separate else 0)
    digits = [draw(st.integers(0, 9)) for _ in range(width)]
    body = bytearray(zero + digit for digit in digits)
    negative = picture.signed and draw(st.booleans())
    if separate:
        sign = (0x60 if negative else 0x4E) if family == "ebcdic" else (0x2D if negative else 0x2B)
        return bytes([sign]) + bytes(body) if item.sign_leading else bytes(body) + bytes([sign])
    if picture.signed and width:
        index = 0 if item.sign_leading else width - 1
        digit = digits[index]
        if family == "ebcdic":
            body[index] = (
                draw(st.sampled_from([0xD0, 0xB0])) if negative else draw(st.sampled_from([0xC0, 0xF0, 0xA0, 0xE0]))
            ) | digit
        else:
            body[index] = (
                (ord("}") if digit == 0 else ord("J") + digit - 1)
                if negative
                else ((ord("{") if digit == 0 else ord("A") + digit - 1) if draw(st.booleans()) else zero + digit)
            )
    return bytes(body)


def _packed_bytes(draw: st.DrawFn, item: Field) -> bytes:
    has_sign = item.usage is Usage.PACKED
    nibbles = [draw(st.integers(0, 9)) for _ in range(item.length * 2 - (1 if has_sign else 0))]
    if has_sign:
        signed = item.picture is not None and item.picture.signed
        nibbles.append(draw(st.sampled_from([0xC, 0xD, 0xF, 0xB, 0xA, 0xE] if signed else [0xC, 0xF, 0xF])))
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


@st.composite
def record_bytes(draw: st.DrawFn, layout: Layout, family: str) -> bytes:
    """Mostly valid data for ``layout``; sometimes blanks, zeros or a corrupted byte."""
    data = bytearray(draw(st.binary(min_size=layout.record_length, max_size=layout.record_length)))
    space = 0x40 if family == "ebcdic" else 0x20
    for item, offset in occurrences(tuple(layout.roots)):
        picture = item.picture
        choice = draw(st.integers(0, 19))
        if choice == 0:
            value = bytes([space]) * item.length
        elif choice == 1:
            value = bytes(item.length)
        elif item.name == "CNT":
            value = bytes([(0xF0 if family == "ebcdic" else 0x30) + draw(st.integers(0, 3))])
        elif item.usage is Usage.DISPLAY and picture is not None and picture.category is Category.NUMERIC:
            value = _zoned_bytes(draw, item, family)
        elif item.usage in (Usage.PACKED, Usage.PACKED_UNSIGNED):
            value = _packed_bytes(draw, item)
        elif item.usage is Usage.DISPLAY and picture is not None and picture.category is not Category.NUMERIC_EDITED:
            alphabet = [0x40, 0xC1, 0xC2, 0x81, 0x4B, 0x00, 0x15, 0x25, 0x5A, 0xB0, 0xFF, 0x4A, 0x20, 0x41, 0x61, 0x7E]
            value = bytes(draw(st.sampled_from(alphabet)) for _ in range(item.length))
        else:
            continue  # binary, floats, edited, national: the random bytes stand
        data[offset : offset + item.length] = value
    if draw(st.integers(0, 4)) == 0 and data:
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, DecodeOptions, bytes, int]:
    copybook = draw(layouts())
    layout = parse_copybook(copybook)
    page = draw(st.sampled_from(["cp037", "common", "ascii", "cp1047", "common_extended", "cp875"]))
    field_pages: tuple[tuple[str, str], ...] = ()
    if draw(st.integers(0, 4)) == 0:
        field_pages = (("F0", draw(st.sampled_from(["ascii", "cp037", "cp1047"]))),)
    options = DecodeOptions(
        code_page=page,
        field_code_pages=field_pages,
        trim=draw(st.sampled_from(list(Trim))),
        relaxed_sign=draw(st.integers(0, 4)) == 0,
        float_format=draw(st.sampled_from(list(FloatFormat))),
        zero_bytes_null=draw(st.booleans()),
        drop_group_fillers=draw(st.booleans()),
        drop_value_fillers=draw(st.booleans()),
        filler_naming=draw(st.sampled_from(["sequence_numbers", "previous_field_name"])),
        on_error=draw(st.sampled_from(list(OnError))),
    )
    family = code_page(page).family
    extra = draw(st.sampled_from([0, 0, 3]))  # a physical record longer than the layout
    records = draw(st.lists(record_bytes(layout, family), min_size=1, max_size=5))
    data = b"".join(record + b"\x40" * extra for record in records)
    return copybook, options, data, layout.record_length + extra


def check_case(case: tuple[str, DecodeOptions, bytes, int]) -> None:
    copybook, options, data, length = case
    plan = compile_plan(parse_copybook(copybook), options)
    reference = [
        _single(plan, data[begin : begin + length], index + 1, begin)
        for index, begin in enumerate(range(0, len(data), length))
    ]
    compiled = outcome(plan, data, length, path="native")
    assert compiled == outcome(plan, data, length, path="numpy"), copybook
    assert compiled == outcome(plan, data, length, path="native-slow-decimal"), copybook
    errors = [record for record in reference if isinstance(record, tuple)]
    if errors:
        assert compiled == errors[0]  # the first bad record's error, as decode_record raises it
    else:
        assert compiled == typed(reference)
        assert as_json(plan, data, length, decimal_text=orjson.Fragment) == as_json(plan, data, length), copybook


def as_json(plan: Any, data: bytes, length: int, decimal_text: Any = None) -> bytes:
    """JSON lines as ``copybook decode`` writes them (decimals as fragments or through its default)."""
    triples = [
        (index + 1, begin, data[begin : begin + length]) for index, begin in enumerate(range(0, len(data), length))
    ]
    out = io.BytesIO()
    for record in decode_records(plan, triples, decimal_text=decimal_text):
        write_json_line(out, record)
    return out.getvalue()


@CI
@given(cases())
def test_compiled_numpy_and_per_record_paths_agree(case: tuple[str, DecodeOptions, bytes, int]) -> None:
    check_case(case)


@pytest.mark.sweep
@LONG
@given(cases())
def test_compiled_paths_agree_long_run(case: tuple[str, DecodeOptions, bytes, int]) -> None:
    check_case(case)


# --------------------------------------------------------------------------- pinned values

EDGES = """
       01  R.
           05  Z0  PIC S9(3)V99.
           05  Z1  PIC S9(18).
           05  P0  PIC S9(5)V99 COMP-3.
           05  P1  PIC S9(17) COMP-3.
           05  B0  PIC S9(18) COMP.
           05  B1  PIC 9(16)V99 COMP.
           05  B2  PIC S9(1)V9(3) COMP-9.
           05  B3  PIC S99PPP COMP.
           05  T0  PIC X(6).
           05  F0  COMP-1.
           05  F1  COMP-2.
"""


@pytest.mark.parametrize(
    ("hexdata", "expected"),
    [
        (
            "F0F0F0F0C0" "F9F9F9F9F9F9F9F9F9F9F9F9F9F9F9F9F9D9" "0000000C" "99999999999999999D"
            "8000000000000000" "FFFFFFFFFFFFFFFF" "18FC" "FFFF" "40C1C240C340" "41100000" "4110000000000000",
            {
                "Z0": Decimal("0.00"), "Z1": -999999999999999999, "P0": Decimal("0.00"), "P1": -99999999999999999,
                "B0": -(2**63), "B1": Decimal("184467440737095516.15"), "B2": Decimal("-1.000"), "B3": -1000,
                "T0": "AB C", "F0": 1.0, "F1": 1.0,
            },
        ),
        (
            "F0F0F0F0D5" "F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0F0C0" "0000005D" "00000000000000000C"
            "7FFFFFFFFFFFFFFF" "0000000000000001" "0100" "0001" "404040404040" "00000000" "C110000000000000",
            {
                "Z0": Decimal("-0.05"), "Z1": 0, "P0": Decimal("-0.05"), "P1": 0, "B0": 2**63 - 1,
                "B1": Decimal("0.01"), "B2": Decimal("0.001"), "B3": 1000, "T0": "", "F0": 0.0, "F1": -1.0,
            },
        ),
    ],
)  # fmt: skip
def test_edge_values_are_exact_on_every_path(hexdata: str, expected: dict[str, Any]) -> None:
    plan = compile_plan(parse_copybook(EDGES))
    data = bytes.fromhex(hexdata)
    assert native.native_program(plan) is not None
    assert typed(decode_record(plan, data)) == typed(expected)
    for path in ("native", "numpy", "native-slow-decimal"):
        assert outcome(plan, data * 3, len(data), path=path) == [typed(expected)] * 3, path


def test_invalid_rows_fall_back_and_report_the_same_error() -> None:
    plan = compile_plan(parse_copybook(EDGES))
    good = bytes.fromhex(
        "F0F0F0F0C0F9F9F9F9F9F9F9F9F9F9F9F9F9F9F9F9F9D90000000C99999999999999999D8000000000000000"
        "FFFFFFFFFFFFFFFF18FCFFFF40C1C240C340C1100000C110000000000000"
    )
    bad = b"\xf0\xf0\xc1\xf0\xc0" + good[5:]
    for path in ("native", "numpy"):
        error = outcome(plan, good + bad + good, len(good), path=path)
        assert error[:4] == ("error", 2, len(good) + 0, "Z0"), path
        assert "not a digit" in error[4]
    null_plan = compile_plan(parse_copybook(EDGES), DecodeOptions(on_error=OnError.NULL))
    rows = decode_batch(null_plan, good + bad, len(good))
    assert rows[1]["Z0"] is None and rows[1]["_errors"][0]["field"] == "Z0"
    assert "_errors" not in rows[0]


# ----------------------------------------------------------------------------- hostility

_Program = native._cdecode.Program if native._cdecode is not None else None


def _program(ops: list[tuple[Any, ...]], span: int = 4) -> Any:
    return _Program(ops, [code_page("cp037").table], [], 0, span, Decimal, InvalidField)


def _op(kind: int, key: str | None, offset: int = 0, length: int = 0, children: int = 0) -> tuple[Any, ...]:
    return (kind, key, offset, length, children, -1, -1, 0, 0, 0, 0, 0, 1, None)


@pytest.mark.parametrize(
    "ops",
    [
        [_op(0, None, children=1), _op(2, "A", 2, 3)],  # past the span
        [_op(0, None, children=1), _op(2, "A", -1, 2)],  # before the record
        [_op(0, None, children=2), _op(2, "A", 0, 2)],  # a child missing
        [_op(0, None, children=1), _op(2, None, 0, 2)],  # a group member without a key
        [_op(0, None, children=1), _op(2, "A", 0, 2), _op(2, "B", 0, 2)],  # ops after the root
        [_op(2, "A", 0, 2)],  # the root is no group
        [_op(0, None, children=1), (*_op(2, "A", 0, 2)[:11], 5, 1, None)],  # text table 5 of 1
        [_op(0, None, children=1), (*_op(3, "A", 0, 2)[:11], 0, 1, None)],  # no zoned tables
        [_op(0, None, children=1), _op(5, "A", 0, 9)],  # binary wider than 8 bytes
        [_op(0, None, children=1), _op(7, "A", 0, 2)],  # converter missing
        [_op(0, None, children=1), (*_op(1, "A", children=1)[:5], 0, -1, 0, 5, 0, 0, 0, 0, None), _op(2, None, 0, 1)],
    ],
)
def test_programs_that_would_read_outside_the_record_are_refused(ops: list[tuple[Any, ...]]) -> None:
    with pytest.raises(ValueError, match="invalid decode program"):
        _program(ops)


def test_buffers_shorter_than_the_records_are_refused() -> None:
    program = _program([_op(0, None, children=1), _op(2, "A", 0, 4)])
    assert program.decode(b"\xc1\xc2\xc3\xc4" * 2, 4, 2, 0) == ([{"A": "ABCD"}] * 2, [])
    for args in (
        (b"\xc1" * 7, 4, 2, 0),
        (b"\xc1" * 8, 3, 2, 0),
        (b"\xc1" * 8, 4, 2, 1),
        (b"", 0, 0, 0),
        (b"", 4, -1, 0),
    ):
        with pytest.raises(ValueError, match="buffer too small"):
            program.decode(*args)
