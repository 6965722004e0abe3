"""Decoder: values, code pages, signs, errors, ODO, segments, batch == per-record."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mainframe_samples import CUSTOMER

from headwater.codecs.copybook.decoder import compile_plan, decode_batch, decode_record
from headwater.codecs.copybook.encoder import encode_ibm_float, encode_record
from headwater.codecs.copybook.errors import DecodeError
from headwater.codecs.copybook.fields import ibm_float
from headwater.codecs.copybook.options import DecodeOptions, FloatFormat, OnError, Trim
from headwater.codecs.copybook.parser import parse_copybook
from headwater.codecs.ebcdic import code_page, custom_code_page

LAYOUT = parse_copybook(CUSTOMER)
VALUES = {
    "CUST_ID": 42,
    "CUST_NAME": "JOHN SMITH",
    "BALANCE": Decimal("-59.80"),
    "STATUS_CODE": "A",
    "BRANCH": -7,
    "RATE": Decimal("1.2500"),
}
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "mainframe" / "customer.cp037.dat"


def test_golden_file_decodes_to_known_values() -> None:
    data = GOLDEN.read_bytes()
    assert data == encode_record(LAYOUT, VALUES) * 2  # the golden file is stable
    records = decode_batch(compile_plan(LAYOUT), data, LAYOUT.record_length)
    assert records == [VALUES, VALUES]
    assert str(records[0]["BALANCE"]) == "-59.80"  # full scale kept


def test_batch_and_per_record_paths_agree() -> None:
    plan = compile_plan(LAYOUT, DecodeOptions(debug_hex=True))
    record = encode_record(LAYOUT, VALUES)
    assert decode_batch(plan, record * 3, len(record)) == [decode_record(plan, record)] * 3
    assert decode_record(plan, record)["BALANCE_hex"] == "000005980D"  # type: ignore[index]


@settings(max_examples=200)
@given(st.integers(min_value=-(10**9) + 1, max_value=10**9 - 1), st.integers(min_value=0, max_value=4))
def test_packed_round_trip(unscaled: int, scale: int) -> None:
    layout = parse_copybook(
        f"01 R.\n  05 P PIC S9({9 - scale})V9({scale}) COMP-3.\n  05 Q PIC S9(9) COMP-3.\n"
        if scale
        else "01 R.\n  05 P PIC S9(9) COMP-3.\n  05 Q PIC S9(9) COMP-3.\n"
    )
    value = Decimal(unscaled).scaleb(-scale) if scale else unscaled
    data = encode_record(layout, {"P": value, "Q": unscaled})
    plan = compile_plan(layout)
    assert decode_record(plan, data) == {"P": value, "Q": unscaled}
    assert decode_batch(plan, data, len(data)) == [{"P": value, "Q": unscaled}]


@settings(max_examples=200)
@given(
    st.integers(min_value=-(10**7) + 1, max_value=10**7 - 1),
    st.sampled_from(["", " SIGN LEADING", " SIGN TRAILING SEPARATE", " SIGN LEADING SEPARATE CHARACTER"]),
    st.sampled_from(["cp037", "ascii"]),
)
def test_zoned_round_trip(value: int, sign: str, page: str) -> None:
    layout = parse_copybook(f"01 R.\n  05 Z PIC S9(5)V99{sign}.\n")
    options = DecodeOptions(code_page=page)
    number = Decimal(value).scaleb(-2)
    data = encode_record(layout, {"Z": number}, options)
    plan = compile_plan(layout, options)
    assert decode_record(plan, data) == {"Z": number}
    assert decode_batch(plan, data * 2, len(data)) == [{"Z": number}] * 2


@settings(max_examples=200)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=0, max_value=2**32 - 1))
def test_binary_round_trip(signed: int, unsigned: int) -> None:
    layout = parse_copybook("01 R.\n  05 S PIC S9(18) COMP.\n  05 U PIC 9(9) COMP-5.\n  05 H PIC S9(4) BINARY.\n")
    values = {"S": signed, "U": unsigned, "H": -1234}
    data = encode_record(layout, values)
    plan = compile_plan(layout)
    assert decode_record(plan, data) == values
    assert decode_batch(plan, data, len(data)) == [values]


def test_ibm_and_ieee_floats() -> None:
    assert ibm_float(bytes.fromhex("41480000")) == 4.5
    assert ibm_float(bytes.fromhex("C13C0000")) == -3.75
    assert encode_ibm_float(4.5, 4) == bytes.fromhex("41480000")
    layout = parse_copybook("01 R.\n  05 F COMP-1.\n  05 D COMP-2.\n")
    for float_format in FloatFormat:
        options = DecodeOptions(float_format=float_format)
        data = encode_record(layout, {"F": -3.75, "D": 1234.5}, options)
        plan = compile_plan(layout, options)
        assert decode_record(plan, data) == {"F": -3.75, "D": 1234.5}
        assert decode_batch(plan, data, len(data)) == [{"F": -3.75, "D": 1234.5}]


def test_p_scaling_and_edited_pictures() -> None:
    layout = parse_copybook(
        "01 R.\n  05 H PIC 9(3)PP.\n  05 M PIC SVPP99.\n  05 E PIC ZZ,ZZ9.99-.\n  05 X PIC 9(4).9(2).\n"
    )
    data = code_page("cp037").encode("123") + bytes([0xF4, 0xD5]) + code_page("cp037").encode(" 1,234.50-0012.34")
    record = decode_record(compile_plan(layout), data)
    assert record == {"H": 12300, "M": Decimal("-0.0045"), "E": Decimal("-1234.50"), "X": Decimal("12.34")}


def test_code_pages_and_ibm_controls() -> None:
    for name in ["cp037", "cp273", "cp500", "cp875", "cp1047", "cp1140", "cp1141", "cp1148"]:
        page = code_page(name)
        assert page.family == "ebcdic"
        assert page.table[0x0D] == "\r"
        assert page.table[0x25] == "\n"
        assert page.decode(page.encode("HELLO 123")) == "HELLO 123"
    assert code_page("cp1141").decode(b"\x9f") == "€"
    layout = parse_copybook("01 R.\n  05 A PIC X(3).\n  05 B PIC X(3).\n")
    plan = compile_plan(layout, DecodeOptions(field_code_pages=(("B", "ascii"),)))
    assert decode_record(plan, bytes([0xC1, 0xC2, 0xC3]) + b"abc") == {"A": "ABC", "B": "abc"}
    table = "".join(chr(0x30 + (b & 0x0F)) if b >= 0xF0 else chr(b) for b in range(256))
    page = custom_code_page(table)
    assert page.decode(b"\xf1\xf2") == "12"


@pytest.mark.parametrize(
    ("trim", "expected"), [(Trim.BOTH, "AB"), (Trim.LEFT, "AB  "), (Trim.RIGHT, "  AB"), (Trim.NONE, "  AB  ")]
)
def test_trim_policies(trim: Trim, expected: str) -> None:
    layout = parse_copybook("01 R.\n  05 A PIC X(6).\n  05 B PIC X.\n")
    plan = compile_plan(layout, DecodeOptions(trim=trim))
    data = code_page("cp037").encode("  AB  X")
    assert decode_record(plan, data)["A"] == expected  # type: ignore[index]
    assert decode_batch(plan, data, 7)[0]["A"] == expected


def test_relaxed_sign_and_blank_numbers() -> None:
    layout = parse_copybook("01 R.\n  05 U PIC 9(3).\n  05 S PIC S9(3).\n")
    data = bytes([0xF1, 0xF2, 0xC3, 0x40, 0x40, 0x40])  # overpunched '+3' in an unsigned field
    with pytest.raises(DecodeError, match="field U"):
        decode_record(compile_plan(layout), data)
    relaxed = compile_plan(layout, DecodeOptions(relaxed_sign=True))
    assert decode_record(relaxed, data) == {"U": 123, "S": None}
    assert decode_record(relaxed, bytes([0x40, 0xF2, 0xF3, 0xF0, 0xF0, 0xD1])) == {"U": 23, "S": -1}


def _error(data: bytes, copybook: str) -> DecodeError:
    layout = parse_copybook(copybook)
    plan = compile_plan(layout)
    with pytest.raises(DecodeError) as caught:
        decode_batch(plan, data * 3, len(data), first_record_number=10, base_offset=1000, source="in.dat")
    return caught.value


def test_bad_packed_nibble_names_file_record_offset_field_and_bytes() -> None:
    error = _error(bytes.fromhex("F1F2") + bytes.fromhex("12A45C"), "01 R.\n  05 A PIC 99.\n  05 P PIC S9(5) COMP-3.\n")
    message = str(error)
    assert (error.source, error.record_number, error.byte_offset, error.field) == ("in.dat", 10, 1002, "P")
    for part in ["in.dat", "record 10", "byte offset 1002", "field P", "12 A4 5C", "nibble A"]:
        assert part in message


def test_non_digit_zoned() -> None:
    error = _error(bytes.fromhex("F1C1F3"), "01 R.\n  05 Z PIC 9(3).\n")
    assert error.field == "Z"
    assert error.byte_offset == 1000
    assert error.raw == bytes.fromhex("F1C1F3")
    assert "not a digit" in str(error)
    assert "F1 C1 F3" in str(error)


def test_truncated_record_and_array_subscript() -> None:
    layout = parse_copybook("01 R.\n  05 A PIC X(2).\n  05 N PIC 9 OCCURS 3.\n")
    plan = compile_plan(layout)
    with pytest.raises(DecodeError) as caught:
        decode_record(plan, bytes.fromhex("C1C1F1F2"), record_number=5, byte_offset=50, source="f.dat")
    assert caught.value.field == "N(3)"
    assert caught.value.byte_offset == 54
    assert "truncated" in str(caught.value)
    assert "record 5" in str(caught.value)


def test_on_error_null_lists_errors() -> None:
    layout = parse_copybook("01 R.\n  05 A PIC 9(2).\n  05 B PIC X.\n")
    plan = compile_plan(layout, DecodeOptions(on_error=OnError.NULL))
    data = bytes.fromhex("F1E2C2")
    expected = {
        "A": None,
        "B": "B",
        "_errors": [{"field": "A", "offset": 0, "reason": "byte E2 at position 1 is not a digit", "raw": "F1E2"}],
    }
    assert decode_record(plan, data) == expected
    assert decode_batch(plan, data + bytes.fromhex("F1F2C2"), 3) == [expected, {"A": 12, "B": "B"}]


ODO = """
       01  REC.
           05  CNT        PIC 9.
           05  ITEM       OCCURS 0 TO 3 DEPENDING ON CNT.
               10  CODE   PIC X(2).
               10  AMT    PIC S9(3)V9 COMP-3.
           05  TAIL       PIC X(2).
"""


def test_occurs_depending_on_max_size_and_shifting() -> None:
    layout = parse_copybook(ODO)
    values = {
        "CNT": 2,
        "ITEM": [{"CODE": "AA", "AMT": Decimal("1.5")}, {"CODE": "BB", "AMT": Decimal("-2.0")}],
        "TAIL": "ZZ",
    }
    fixed = encode_record(layout, values)
    assert len(fixed) == 1 + 3 * 5 + 2
    plan = compile_plan(layout)
    assert decode_record(plan, fixed) == values
    assert decode_batch(plan, fixed * 2, len(fixed)) == [values, values]
    options = DecodeOptions(variable_size_occurs=True)
    shifted = encode_record(layout, values, options)
    assert len(shifted) == 1 + 2 * 5 + 2
    assert decode_record(compile_plan(layout, options), shifted) == values


def test_odo_count_out_of_range() -> None:
    layout = parse_copybook(ODO)
    data = bytearray(encode_record(layout, {"CNT": 1}))
    data[0] = 0xF9
    with pytest.raises(DecodeError, match="DEPENDING ON CNT = 9"):
        decode_batch(compile_plan(layout), bytes(data), len(data))


SEGMENTS = """
       01  REC.
           05  SEG-ID      PIC X.
           05  CUSTOMER.
               10  NAME    PIC X(6).
           05  ACCOUNT REDEFINES CUSTOMER.
               10  AMOUNT  PIC S9(5) COMP-3.
               10  FILLER  PIC X(3).
"""


def test_segment_map_and_filter() -> None:
    layout = parse_copybook(SEGMENTS)
    customer = encode_record(layout, {"SEG_ID": "C", "CUSTOMER": {"NAME": "ANN"}})
    account = encode_record(layout, {"SEG_ID": "A", "ACCOUNT": {"AMOUNT": -12}})
    options = DecodeOptions(segment_field="SEG-ID", segment_map=(("C", "CUSTOMER"), ("A", "ACCOUNT")))
    plan = compile_plan(layout, options)
    assert decode_batch(plan, customer + account, 7) == [
        {"SEG_ID": "C", "CUSTOMER": {"NAME": "ANN"}, "ACCOUNT": None},
        {"SEG_ID": "A", "CUSTOMER": None, "ACCOUNT": {"AMOUNT": -12}},
    ]
    filtered = compile_plan(
        layout, DecodeOptions(segment_field="SEG_ID", segment_map=options.segment_map, segment_filter=("A",))
    )
    assert decode_batch(filtered, customer + account, 7) == [
        {"SEG_ID": "A", "CUSTOMER": None, "ACCOUNT": {"AMOUNT": -12}}
    ]
