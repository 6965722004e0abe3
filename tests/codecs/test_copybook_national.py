"""PIC N national items: UTF-16BE text, two bytes a character, strict about bad bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headwater.codecs.copybook.decoder import compile_plan, decode_batch, decode_record
from headwater.codecs.copybook.encoder import encode_record
from headwater.codecs.copybook.errors import CopybookSyntaxError, DecodeError
from headwater.codecs.copybook.options import DecodeOptions, OnError, Trim
from headwater.codecs.copybook.parser import parse_copybook

COPYBOOK = """\
       01  SUPPLIER.
           05  SUPPLIER-ID       PIC 9(6).
           05  NAME-KANJI        PIC N(8).
           05  CITY              PIC N(6) USAGE NATIONAL.
           05  RATING            PIC S9(3) COMP-3.
"""
LAYOUT = parse_copybook(COPYBOOK)
VALUES = {"SUPPLIER_ID": 123456, "NAME_KANJI": "東京精密工業", "CITY": "大阪", "RATING": -12}


def test_national_items_take_two_bytes_a_character() -> None:
    assert (LAYOUT.find("NAME-KANJI").offset, LAYOUT.find("NAME-KANJI").length) == (6, 16)
    assert (LAYOUT.find("CITY").offset, LAYOUT.find("CITY").length) == (22, 12)
    assert LAYOUT.record_length == 6 + 16 + 12 + 2


def test_national_text_round_trips_and_is_trimmed() -> None:
    data = encode_record(LAYOUT, VALUES)
    assert data[6:22] == "東京精密工業  ".encode("utf-16-be")  # padded with U+0020, not EBCDIC spaces
    assert decode_record(compile_plan(LAYOUT), data) == VALUES
    untrimmed = decode_record(compile_plan(LAYOUT, DecodeOptions(trim=Trim.NONE)), data)
    assert untrimmed is not None and untrimmed["CITY"] == "大阪    "


def test_the_batch_decoder_agrees_with_the_per_record_one() -> None:
    rows = [dict(VALUES, SUPPLIER_ID=i, CITY=["大阪", "名古屋", "札幌😀"][i % 3]) for i in range(50)]
    data = b"".join(encode_record(LAYOUT, row) for row in rows)
    plan = compile_plan(LAYOUT)
    assert decode_batch(plan, data, LAYOUT.record_length) == rows


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=" \t\n\r"), max_size=3))
def test_any_text_round_trips(text: str) -> None:
    data = encode_record(LAYOUT, dict(VALUES, CITY=text))
    if len(text.encode("utf-16-be")) <= 12:  # characters beyond the BMP take two UTF-16 units
        decoded = decode_record(compile_plan(LAYOUT, DecodeOptions(trim=Trim.NONE)), data)
        assert decoded is not None and decoded["CITY"].rstrip(" ") == text.rstrip(" ")


def test_a_lone_surrogate_is_an_error_naming_the_field() -> None:
    data = bytearray(encode_record(LAYOUT, VALUES))
    data[22:24] = b"\xd8\x00"  # a high surrogate followed by an ordinary character
    with pytest.raises(DecodeError) as caught:
        decode_record(compile_plan(LAYOUT), bytes(data), record_number=3, source="SUPPLIERS.DAT")
    message = str(caught.value)
    assert "CITY" in message and "SUPPLIERS.DAT" in message and "record 3" in message
    assert "UTF-16" in message
    nulled = decode_record(compile_plan(LAYOUT, DecodeOptions(on_error=OnError.NULL)), bytes(data))
    assert nulled is not None and nulled["CITY"] is None and nulled["_errors"]


def test_usage_national_needs_pic_n() -> None:
    with pytest.raises(CopybookSyntaxError) as caught:
        parse_copybook("       01  R.\n           05  A  PIC X(4) USAGE NATIONAL.\n")
    assert caught.value.line == 2
    assert "NATIONAL" in str(caught.value)


def test_dbcs_pictures_are_refused_with_their_position() -> None:
    with pytest.raises(CopybookSyntaxError) as caught:
        parse_copybook("       01  R.\n           05  A  PIC G(4).\n")
    assert (caught.value.line, caught.value.column) == (2, 23)
    assert "DBCS" in str(caught.value)
