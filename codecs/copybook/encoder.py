"""Encode Python values into mainframe records (test data, golden files, emulators).

:func:`encode_record` is the inverse of :func:`headwater.codecs.copybook.decoder.decode_record`
for the same layout and options: ``values`` has the decoder's shape (keys with ``_``,
groups as dicts, OCCURS as lists). Missing values are filled with the field's "empty"
value: spaces for text, zero for numbers, and FILLER bytes are spaces in the code page.
The framing helpers wrap encoded records into V/VB/FB/T files.

Numbers must fit their picture exactly: a value with more decimal places than the scale,
or more digits than the picture, raises ``ValueError`` (never rounds).
"""

from __future__ import annotations

import math
import struct
import typing as t
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from headwater.codecs.copybook.fields import zoned_tables
from headwater.codecs.copybook.layout import Field, Layout
from headwater.codecs.copybook.options import DecodeOptions, FloatFormat
from headwater.codecs.copybook.picture import Category, Picture, Usage
from headwater.codecs.ebcdic import CodePage, code_page, custom_code_page

__all__ = [
    "encode_ibm_float",
    "encode_record",
    "frame_fb",
    "frame_text",
    "frame_v",
    "frame_vb",
    "frame_vbs",
    "rdw",
]


def _unscaled(value: int | Decimal | float | str, scale: int, name: str) -> int:
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    shifted = number.scaleb(scale)
    if shifted != shifted.to_integral_value():
        msg = f"{name}: {value} has more decimal places than the picture allows ({scale})"
        raise ValueError(msg)
    return int(shifted)


def _digits(value: int, width: int, name: str) -> str:
    text = str(abs(value))
    if len(text) > width:
        msg = f"{name}: {value} does not fit in {width} digits"
        raise ValueError(msg)
    return text.zfill(width)


def encode_ibm_float(value: float, length: int) -> bytes:
    """Encode ``value`` as an IBM hexadecimal float of 4 or 8 bytes (truncating)."""
    fraction_bits = length * 8 - 8
    if value == 0:
        return bytes(length)
    sign = 0x80 if value < 0 else 0
    mantissa, exponent2 = math.frexp(abs(value))  # abs = mantissa * 2**exponent2
    exponent16 = math.ceil(exponent2 / 4)
    fraction = int(math.ldexp(mantissa, fraction_bits + exponent2 - 4 * exponent16))
    if not 0 <= exponent16 + 64 <= 127:
        msg = f"{value} is out of the IBM float range"
        raise ValueError(msg)
    bits = (sign | (exponent16 + 64)) << fraction_bits | fraction
    return bits.to_bytes(length, "big")


class _Encoder:
    def __init__(self, page: CodePage, options: DecodeOptions, overrides: dict[str, CodePage]) -> None:
        self.page = page
        self.options = options
        self.overrides = overrides
        self.tables = zoned_tables(page.family)
        self.space = bytes([page.space])

    def elementary(self, item: Field, value: Any) -> bytes:
        picture = item.picture
        usage = item.usage
        name = item.name
        length = item.length
        if usage in (Usage.FLOAT, Usage.DOUBLE):
            number = float(value or 0)
            if self.options.float_format is FloatFormat.IBM:
                return encode_ibm_float(number, length)
            return struct.pack(">f" if usage is Usage.FLOAT else ">d", number)
        if usage in (Usage.INDEX, Usage.POINTER):
            return int(value or 0).to_bytes(4, "big", signed=False)
        if usage in (Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE):
            if picture is not None and not picture.is_numeric:
                return bytes.fromhex(value) if value else bytes(length)
            unscaled = _unscaled(value or 0, picture.scale if picture else 0, name)
            signed = picture.signed if picture else False
            order: t.Literal["big", "little"] = "little" if usage is Usage.BINARY_LE else "big"
            try:
                return unscaled.to_bytes(length, order, signed=signed)
            except OverflowError as exc:
                msg = f"{name}: {value} does not fit in {length} binary bytes"
                raise ValueError(msg) from exc
        if usage in (Usage.PACKED, Usage.PACKED_UNSIGNED):
            return self.packed(item, picture, value)
        assert picture is not None
        if picture.category is Category.NATIONAL:
            text = "" if value is None else str(value)
            if len(text) > picture.size:
                msg = f"{name}: {text!r} is longer than {picture.size} national characters"
                raise ValueError(msg)
            return text.ljust(picture.size).encode("utf-16-be")
        if picture.category is Category.NUMERIC:
            return self.zoned(item, picture, value)
        page = self.overrides.get(name, self.page)
        if picture.category is Category.NUMERIC_EDITED:
            return page.encode(_edit(picture, value, name))
        text = "" if value is None else str(value)
        if len(text) > length:
            msg = f"{name}: {text!r} is longer than {length} characters"
            raise ValueError(msg)
        return page.encode(text.ljust(length))

    def packed(self, item: Field, picture: Picture | None, value: Any) -> bytes:
        scale = picture.scale if picture is not None and picture.is_numeric else 0
        unscaled = _unscaled(value or 0, scale, item.name)
        if item.usage is Usage.PACKED_UNSIGNED:
            if unscaled < 0:
                msg = f"{item.name}: COMP-3U cannot hold negative {value}"
                raise ValueError(msg)
            return bytes.fromhex(_digits(unscaled, item.length * 2, item.name))
        signed = picture is not None and picture.signed
        if unscaled < 0 and not signed:
            msg = f"{item.name}: unsigned field cannot hold {value}"
            raise ValueError(msg)
        sign = "d" if unscaled < 0 else ("c" if signed else "f")
        return bytes.fromhex(_digits(unscaled, item.length * 2 - 1, item.name) + sign)

    def zoned(self, item: Field, picture: Picture, value: Any) -> bytes:
        unscaled = _unscaled(value or 0, picture.scale, item.name)
        if unscaled < 0 and not picture.signed:
            msg = f"{item.name}: unsigned field cannot hold {value}"
            raise ValueError(msg)
        separate = item.sign_separate and picture.signed
        width = item.length - (1 if separate else 0)
        ebcdic = self.page.family == "ebcdic"
        digits = [int(d) for d in _digits(unscaled, width, item.name)]
        body = bytearray((0xF0 if ebcdic else 0x30) | d for d in digits)
        negative = unscaled < 0
        if separate:
            sign_byte = self.tables.minus if negative else self.tables.plus
            return bytes([sign_byte]) + bytes(body) if item.sign_leading else bytes(body) + bytes([sign_byte])
        if picture.signed:
            index = 0 if item.sign_leading else width - 1
            digit = digits[index]
            if ebcdic:
                body[index] = (0xD0 if negative else 0xC0) | digit
            elif negative:
                body[index] = ord("}") if digit == 0 else ord("J") + digit - 1
            else:
                body[index] = ord("{") if digit == 0 else ord("A") + digit - 1
        return bytes(body)


def _edit(picture: Picture, value: Any, name: str) -> str:
    """Render ``value`` through a numeric-edited picture (9 Z . , + - CR DB supported)."""
    symbols = picture.expanded.replace("CR", "C").replace("DB", "D")
    if value is None:
        return " " * picture.size
    unscaled = _unscaled(value, max(picture.scale, 0), name)
    negative = unscaled < 0
    digit_slots = sum(1 for s in symbols if s in "9Z*")
    digits = _digits(unscaled, digit_slots, name)
    significant = False
    out: list[str] = []
    position = 0
    for symbol in symbols:
        if symbol in "9Z*":
            digit = digits[position]
            position += 1
            significant = significant or digit != "0" or symbol == "9" or position > digit_slots - max(picture.scale, 0)
            out.append(digit if significant else (" " if symbol == "Z" else "*" if symbol == "*" else digit))
        elif symbol == ",":
            out.append("," if significant else " ")
        elif symbol in ".":
            significant = True
            out.append(".")
        elif symbol == "V" or symbol == "S":
            continue
        elif symbol == "-":
            out.append("-" if negative else " ")
        elif symbol == "+":
            out.append("-" if negative else "+")
        elif symbol == "C":
            out.append("CR" if negative else "  ")
        elif symbol == "D":
            out.append("DB" if negative else "  ")
        elif symbol == "B":
            out.append(" ")
        else:
            out.append(symbol)
    return "".join(out)


def encode_record(
    layout: Layout,
    values: Mapping[str, Any],
    options: DecodeOptions | None = None,
    *,
    custom_table: str | bytes | None = None,
) -> bytes:
    """Encode one record.

    Args:
        layout: the parsed copybook.
        values: the record in the decoder's output shape; missing keys get empty values.
        options: code page, float format and ``variable_size_occurs`` (when set, OCCURS
            DEPENDING ON arrays are written with only their present elements, so the record
            is shorter; otherwise they are padded to the maximum with empty elements).
        custom_table: a 256-entry code page overriding ``options``.

    Returns:
        The record bytes (the layout's full length unless ODO arrays shrink it).

    Raises:
        ValueError: a value does not fit its field.
    """
    options = options or DecodeOptions()
    table = custom_table if custom_table is not None else options.custom_code_page
    page = custom_code_page(table) if table is not None else code_page(options.code_page)
    overrides = {layout.find(n).name: code_page(p) for n, p in options.field_code_pages}
    encoder = _Encoder(page, options, overrides)
    out = bytearray(encoder.space * layout.record_length)
    roots = layout.output_roots
    end = _encode_group(encoder, roots, values, out, 0, 0, counts={})
    if options.variable_size_occurs and layout.variable:
        return bytes(out[:end])
    return bytes(out)


def _encode_group(
    encoder: _Encoder,
    items: Sequence[Field],
    values: Mapping[str, Any],
    out: bytearray,
    start: int,
    static_start: int,
    counts: dict[str, int],
) -> int:
    """Write ``items`` (siblings whose static offsets start at ``static_start``) at ``start``."""
    shifting = encoder.options.variable_size_occurs
    position = start
    starts: dict[str, int] = {}
    for item in items:
        if item.redefines:
            begin = starts.get(item.redefines, position)
            if item.key not in values:
                continue  # only the alternative that has values is written
        else:
            begin = position if shifting else start + (item.offset - static_start)
        starts[item.name] = begin
        value = values.get(item.key) if not item.is_filler else None
        end = _encode_item(encoder, item, value, out, begin, counts)
        position = max(position, end)
    return position


def _encode_item(encoder: _Encoder, item: Field, value: Any, out: bytearray, start: int, counts: dict[str, int]) -> int:
    occurs = item.occurs
    if occurs is None:
        return _encode_element(encoder, item, value, out, start, counts)
    elements = list(value or [])
    present = occurs.maximum
    if occurs.depending_on is not None:
        present = counts.get(occurs.depending_on, len(elements))
    if len(elements) > occurs.maximum:
        msg = f"{item.name}: {len(elements)} elements, at most {occurs.maximum} allowed"
        raise ValueError(msg)
    position = start
    shifting = encoder.options.variable_size_occurs and occurs.depending_on is not None
    slots = present if shifting else occurs.maximum
    for index in range(slots):
        element = elements[index] if index < len(elements) else None
        position = _encode_element(encoder, item, element, out, position, counts)
    return position


def _encode_element(
    encoder: _Encoder, item: Field, value: Any, out: bytearray, start: int, counts: dict[str, int]
) -> int:
    if item.children:
        end = _encode_group(encoder, item.children, value or {}, out, start, item.offset, counts)
        return end if encoder.options.variable_size_occurs else start + item.length
    if item.is_filler:
        data = encoder.space * item.length
    else:
        data = encoder.elementary(item, value)
        if isinstance(value, int) and not isinstance(value, bool):
            counts[item.name] = value
    if len(out) < start + len(data):
        out.extend(encoder.space * (start + len(data) - len(out)))
    out[start : start + len(data)] = data
    return start + len(data)


# ------------------------------------------------------------------------------ framing


def rdw(length: int, *, big_endian: bool = True, adjustment: int = 0) -> bytes:
    """A 4-byte record (or block) descriptor word for ``length`` payload bytes.

    The IBM value counts the 4 header bytes too: ``LL = length + 4 - adjustment``,
    mirroring the splitter's ``payload = LL - 4 + adjustment``.
    """
    value = length + 4 - adjustment
    if not 0 < value <= 0xFFFF:
        msg = f"descriptor value {value} does not fit in 2 bytes"
        raise ValueError(msg)
    return value.to_bytes(2, "big" if big_endian else "little") + b"\x00\x00"


def frame_v(records: Iterable[bytes], *, big_endian: bool = True, adjustment: int = 0) -> bytes:
    """RECFM=V: each record preceded by its RDW."""
    return b"".join(rdw(len(r), big_endian=big_endian, adjustment=adjustment) + r for r in records)


def frame_vb(
    records: Iterable[bytes],
    *,
    records_per_block: int = 10,
    rdw_big_endian: bool = True,
    bdw_big_endian: bool = True,
    rdw_adjustment: int = 0,
    bdw_adjustment: int = 0,
) -> bytes:
    """RECFM=VB: blocks of RDW records, each block preceded by its BDW."""
    return _blocks(
        [rdw(len(r), big_endian=rdw_big_endian, adjustment=rdw_adjustment) + r for r in records],
        records_per_block, bdw_big_endian, bdw_adjustment,
    )  # fmt: skip


def frame_vbs(records: Iterable[bytes], *, block_length: int = 64, big_endian: bool = True) -> bytes:
    """RECFM=VBS: records cut into segments (SDW control codes 0 whole, 1 first, 3 middle,
    2 last) so that no block holds more than ``block_length`` bytes, BDW included."""
    blocks: list[bytes] = []
    block = b""
    room = block_length - 4
    for record in records:
        rest, first = record, True
        while True:
            if room - len(block) < 5:  # not even a 1-byte segment fits: close the block
                blocks.append(block)
                block = b""
            take = min(len(rest), room - len(block) - 4)
            last = take == len(rest)
            control = (0 if last else 1) if first else (2 if last else 3)
            header = (take + 4).to_bytes(2, "big" if big_endian else "little") + bytes([control, 0])
            block += header + rest[:take]
            rest, first = rest[take:], False
            if last:
                break
    if block:
        blocks.append(block)
    return b"".join(rdw(len(b), big_endian=big_endian) + b for b in blocks)


def frame_fb(
    records: Iterable[bytes],
    *,
    records_per_block: int = 10,
    with_bdw: bool = True,
    bdw_big_endian: bool = True,
    bdw_adjustment: int = 0,
) -> bytes:
    """RECFM=FB: fixed records in blocks, with a BDW per block or none (plain concatenation)."""
    items = list(records)
    if not with_bdw:
        return b"".join(items)
    return _blocks(items, records_per_block, bdw_big_endian, bdw_adjustment)


def _blocks(items: list[bytes], per_block: int, big_endian: bool, adjustment: int) -> bytes:
    out = bytearray()
    for first in range(0, len(items), per_block):
        block = b"".join(items[first : first + per_block])
        out += rdw(len(block), big_endian=big_endian, adjustment=adjustment) + block
    return bytes(out)


def frame_text(records: Iterable[bytes], *, crlf: bool = False) -> bytes:
    """Text lines (T format): records joined by LF or CRLF, with a final line end."""
    end = b"\r\n" if crlf else b"\n"
    return b"".join(record + end for record in records)
