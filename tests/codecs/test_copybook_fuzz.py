"""Fuzzers for the copybook parser and the record decoder: nothing but Headwater errors.

A copybook (well formed or not) either parses or raises :class:`CopybookSyntaxError`; any
bytes either decode or raise :class:`DecodeError` (``on_error="fail"``), and with
``on_error="null"`` always decode. The per-record and the vectorised batch decoder agree
on every record, and the encoder's bytes decode back to the same layout. A bounded run is
part of CI; ``-m slow`` runs many more examples.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.codecs.copybook import (
    CopybookSyntaxError,
    DecodeError,
    DecodeOptions,
    OnError,
    compile_plan,
    decode_batch,
    decode_record,
    encode_record,
    parse_copybook,
)
from headwater.codecs.copybook.parser import MAX_RECORD_BYTES

CI = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=4000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_COUNTS = st.one_of(
    st.integers(0, 40).map(str),
    st.sampled_from(["2000000000", "99999999999999999999999", "0", "²", "\u0661\u0662", "3\u0663", "00010"]),
)
_PICTURES = st.builds(
    lambda sign, symbol, count, tail: f"{sign}{symbol}({count}){tail}",
    st.sampled_from(["", "S", "SS", "-", "+"]),
    st.sampled_from(["9", "X", "A", "N", "Z", "*", "P", "G", "V", "B", "0", "Q"]),
    _COUNTS,
    st.sampled_from(["", "V99", "V9(3)", ".9(2)", "CR", "DB", "-", "PP", "9", ".99-", "V(2)", ")"]),
)
_USAGES = st.sampled_from(
    [
        "", "COMP", "COMP-0", "COMP-1", "COMP-2", "COMP-3", "COMP-3U", "COMP-4", "COMP-5", "COMP-9", "BINARY",
        "PACKED-DECIMAL", "DISPLAY", "NATIONAL", "INDEX", "POINTER", "COMP-7", "USAGE IS COMP-3",
    ]
)  # fmt: skip
_LEVELS = st.sampled_from(
    ["01", "05", "10", "15", "49", "50", "66", "77", "88", "1", "\u0660\u0665", "0\uff15", "005", "A"]
)
_NAMES = st.sampled_from(["A", "B", "A-1", "FILLER", "REC", "CNT", "X", "COPY", "PIC", "-A", "A_B", "Ä"])


@st.composite
def _entries(draw: st.DrawFn) -> str:
    level = draw(_LEVELS)
    name = draw(_NAMES)
    parts = [level, name]
    if draw(st.booleans()):
        parts += ["PIC", draw(_PICTURES)]
    usage = draw(_USAGES)
    if usage:
        parts.append(usage)
    if draw(st.integers(0, 5)) == 0:
        parts += ["OCCURS", draw(_COUNTS)]
        if draw(st.booleans()):
            parts += ["TO", draw(_COUNTS)]
        if draw(st.booleans()):
            parts += ["DEPENDING", "ON", draw(_NAMES)]
    if draw(st.integers(0, 6)) == 0:
        parts += ["REDEFINES", draw(_NAMES)]
    if draw(st.integers(0, 8)) == 0:
        parts += ["VALUE", draw(st.sampled_from(["'A'", "SPACES", "'unclosed", "1"]))]
    if draw(st.integers(0, 10)) == 0:
        parts = [
            "COPY",
            draw(_NAMES),
            *draw(st.sampled_from([[], ["REPLACING", "==A==", "BY", "==B=="], ["REPLACING"]])),
        ]
    return " ".join(parts) + draw(st.sampled_from([".", ".", ".", "", " ."]))


@st.composite
def _copybooks(draw: st.DrawFn) -> str:
    entries = draw(st.lists(_entries(), min_size=1, max_size=8))
    indent = draw(st.sampled_from(["       ", "      ", "", "  ", "\t"]))
    text = "\n".join(indent + entry for entry in entries)
    if draw(st.integers(0, 5)) == 0:
        noise = draw(st.text(alphabet=string.printable + "\u00b2\u0661\u0662ÄЖ€\x00\x85", max_size=30))
        position = draw(st.integers(0, len(text)))
        text = text[:position] + noise + text[position:]
    return text


def _parse_or_syntax_error(text: str) -> Any:
    members = {"A": "           05 M PIC X.", "B": "           COPY B.", "REC": "garbage (", "X": ""}
    try:
        return parse_copybook(text, include=members.__getitem__)
    except CopybookSyntaxError:
        return None


@CI
@given(_copybooks())
def test_parser_raises_only_syntax_errors(text: str) -> None:
    layout = _parse_or_syntax_error(text)
    if layout is not None:
        assert 0 <= layout.record_length <= MAX_RECORD_BYTES


@CI
@given(st.text(max_size=300))
def test_parser_on_arbitrary_text(text: str) -> None:
    _parse_or_syntax_error(text)


# -------------------------------------------------------------------------- decoder

_VALID_FIELDS = [
    "PIC X(3)", "PIC A(2)", "PIC 9(4)", "PIC S9(3)V99", "PIC S9(3) SIGN LEADING", "PIC S9(2) SIGN TRAILING SEPARATE",
    "PIC S9(5) COMP-3", "PIC 9(3) COMP-3", "PIC S9(4) COMP", "PIC 9(9) BINARY", "PIC S9(18) COMP-5",
    "PIC 9(2) COMP-9", "PIC S9(6) COMP-9", "COMP-1", "COMP-2", "PIC N(2)", "PIC ZZ9.99-", "PIC 9(4).9(2)",
    "PIC $$,$$9.99CR", "PIC ***9", "PIC 9(20)", "PIC S9(25)V9(5) COMP-3", "PIC X(4) COMP", "PIC 9(4) COMP-3U",
    "PIC 9(3)PP", "PIC SVPP99",
]  # fmt: skip


@st.composite
def _layouts(draw: st.DrawFn) -> str:
    lines = ["       01  REC.", "           05  CNT PIC 9."]
    for index in range(draw(st.integers(1, 6))):
        clause = draw(st.sampled_from(_VALID_FIELDS))
        occurs = draw(
            st.sampled_from(["", "", "", " OCCURS 2", " OCCURS 3 DEPENDING ON CNT", " OCCURS 0 TO 2 DEPENDING ON CNT"])
        )
        lines.append(f"           05  F{index} {clause}")
        lines.append(f"              {occurs}.")  # code ends at column 72: the clause goes on its own line
    if draw(st.booleans()):
        lines.append("           05  G.")
        lines.append("               10  FILLER PIC X(2).")
        lines.append(f"               10  H {draw(st.sampled_from(_VALID_FIELDS))}.")
    if draw(st.booleans()):
        lines.append("       77  STANDALONE PIC X(5).")
    return "\n".join(lines) + "\n"


@st.composite
def _decode_cases(draw: st.DrawFn) -> tuple[str, DecodeOptions, list[bytes]]:
    copybook = draw(_layouts())
    options = DecodeOptions(
        code_page=draw(st.sampled_from(["cp037", "common", "ascii", "cp1047"])),
        relaxed_sign=draw(st.booleans()),
        variable_size_occurs=draw(st.booleans()),
        zero_bytes_null=draw(st.booleans()),
        allow_short_records=draw(st.booleans()),
        drop_group_fillers=draw(st.booleans()),
        drop_value_fillers=draw(st.booleans()),
        filler_naming=draw(st.sampled_from(["sequence_numbers", "previous_field_name"])),
        debug_hex=draw(st.booleans()),
    )
    length = parse_copybook(copybook).record_length
    byte = st.one_of(
        st.sampled_from([0x40, 0xF0, 0xF5, 0xC1, 0xD3, 0x00, 0x0C, 0x0D, 0xEA, 0xB2, 0x4B]), st.integers(0, 255)
    )
    records = draw(st.lists(st.lists(byte, min_size=length, max_size=length).map(bytes), min_size=1, max_size=4))
    return copybook, options, records


def _decode_one(plan: Any, data: bytes, number: int = 1, offset: int = 0) -> Any:
    try:
        return decode_record(plan, data, record_number=number, byte_offset=offset)
    except DecodeError as exc:
        return ("error", exc.record_number, exc.field)


@CI
@given(_decode_cases())
def test_decoder_raises_only_decode_errors_and_both_paths_agree(case: tuple[str, DecodeOptions, list[bytes]]) -> None:
    copybook, options, records = case
    layout = parse_copybook(copybook)
    for on_error in (OnError.FAIL, OnError.NULL):
        plan = compile_plan(layout, DecodeOptions(**{**_fields(options), "on_error": on_error}))
        length = layout.record_length
        single = [_decode_one(plan, data, index + 1, index * length) for index, data in enumerate(records)]
        if on_error is OnError.NULL:
            assert all(isinstance(record, dict) for record in single)
        try:
            batch = decode_batch(plan, b"".join(records), layout.record_length)
        except DecodeError:
            assert any(isinstance(record, tuple) for record in single)
            continue
        assert batch == single


def _fields(options: DecodeOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in DecodeOptions.__dataclass_fields__}


@CI
@given(_decode_cases())
def test_short_and_long_records_raise_only_decode_errors(case: tuple[str, DecodeOptions, list[bytes]]) -> None:
    copybook, options, records = case
    plan = compile_plan(parse_copybook(copybook), options)
    for data in records:
        for cut in (0, 1, len(data) // 2, len(data) + 3):
            _decode_one(plan, (data + b"\xf1\xf2\xf3")[:cut])


def test_77_level_after_a_group_is_not_part_of_the_record() -> None:
    """Layout, per-record decoder, batch decoder and encoder agree (issue 13, item 11)."""
    layout = parse_copybook(
        "       01  REC.\n           05  A PIC X(2).\n           05  N PIC 9(3).\n       77  K PIC X(4).\n"
    )
    assert layout.record_length == 5
    plan = compile_plan(layout)
    data = encode_record(layout, {"A": "AB", "N": 42})
    assert data == "AB042".encode("cp037")
    assert decode_record(plan, data) == {"A": "AB", "N": 42}
    assert decode_batch(plan, data * 3) == [{"A": "AB", "N": 42}] * 3


@pytest.mark.parametrize(
    "copybook",
    [
        "       01  R.\n           05  A PIC X(2000000000).\n",
        "       01  R.\n           05  A PIC X OCCURS 99999999999999999999999.\n",
        "       01  R.\n           05  G OCCURS 1000000.\n               10  B PIC X(1000).\n",
        "       01  R.\n           05  A PIC X OCCURS ².\n",
        "       \u0660\u0661  R.\n           05  A PIC X.\n",
        "       01  R.\n           05  A PIC X(9999999999999999999999999999).\n",
    ],
)
def test_huge_or_non_ascii_numbers_are_syntax_errors(copybook: str) -> None:
    with pytest.raises(CopybookSyntaxError):
        parse_copybook(copybook)


def test_numeric_edited_superscript_digit_is_a_decode_error() -> None:
    """Byte 0xEA (cp037 '²') in a numeric-edited field is invalid data, not a ValueError."""
    plan = compile_plan(parse_copybook("       01  R.\n           05  E PIC ZZ9.99.\n"))
    with pytest.raises(DecodeError, match="does not match the edited picture"):
        decode_record(plan, bytes.fromhex("40F1EA4BF0F0"))


def test_numeric_edited_asterisk_in_the_fraction_is_a_decode_error() -> None:
    """Check-protection asterisks lead a number; ``.*0`` (found by the sweep fuzzer) is
    invalid data, not a ValueError from int()."""
    plan = compile_plan(parse_copybook("       01  R.\n           05  E PIC ZZ9.99-.\n"))
    with pytest.raises(DecodeError, match="does not match the edited picture"):
        decode_record(plan, "    .*0".encode("cp037"))


def test_duplicate_sibling_names_are_refused() -> None:
    with pytest.raises(CopybookSyntaxError, match="two items named A"):
        parse_copybook("       01  R.\n           05  A PIC X.\n           05  A PIC 9.\n")


@pytest.mark.sweep
@LONG
@given(_copybooks())
def test_parser_long_run(text: str) -> None:
    _parse_or_syntax_error(text)


@pytest.mark.sweep
@LONG
@given(_decode_cases())
def test_decoder_long_run(case: tuple[str, DecodeOptions, list[bytes]]) -> None:
    test_decoder_raises_only_decode_errors_and_both_paths_agree.hypothesis.inner_test(case)  # type: ignore[attr-defined]


@CI
@given(st.integers(-9999, 9999), st.integers(0, 99))
def test_comp_9_is_little_endian_both_ways(signed: int, small: int) -> None:
    layout = parse_copybook("       01  R.\n           05  A PIC S9(4) COMP-9.\n           05  B PIC 9(2) COMP-9.\n")
    data = encode_record(layout, {"A": signed, "B": small})
    assert data == signed.to_bytes(2, "little", signed=True) + bytes([small])
    plan = compile_plan(layout)
    assert decode_record(plan, data) == decode_batch(plan, data)[0] == {"A": signed, "B": small}
