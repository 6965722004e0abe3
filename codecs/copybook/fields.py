"""Per-field converters: raw bytes of one elementary item -> a Python value.

Each converter is a plain function of ``bytes`` that returns the value or raises
:class:`InvalidField` with a reason (the decoder adds file, record, offset and field).
The tables in :class:`ZonedTables` are shared with the vectorised batch decoder so both
paths accept exactly the same bytes.

Value types (never ``float`` for DISPLAY/packed/binary numbers):

* text -> ``str`` (trimmed per :class:`Trim`);
* numbers with scale 0 (or negative, P scaling) -> ``int``;
* numbers with decimal places -> ``decimal.Decimal`` with exactly the picture's scale
  (``59.80``, not ``59.8``);
* COMP-1/COMP-2 -> ``float``;
* ``PIC X COMP`` (raw binary) -> upper-case hex ``str``;
* a DISPLAY numeric field that is all spaces -> ``None`` (see options).
"""

from __future__ import annotations

import math
import struct
import typing as t
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from headwater.codecs.copybook.layout import Field
from headwater.codecs.copybook.options import FloatFormat, Trim
from headwater.codecs.copybook.picture import Category, Picture, Usage
from headwater.codecs.ebcdic import CodePage

__all__ = [
    "BLANKS",
    "DECIMAL_CONTEXT",
    "Converter",
    "InvalidField",
    "ZonedTables",
    "make_converter",
    "scaled",
    "zoned_tables",
]

Converter = Callable[[bytes], Any]

# Trimming removes characters up to U+0020 (spaces, NUL, C0 controls), as Java's trim().
BLANKS = "".join(chr(code) for code in range(0x21))

# Wide enough that scaleb never rounds (COBOL allows at most 38 digits).
DECIMAL_CONTEXT = Context(prec=80)


class InvalidField(ValueError):
    """The bytes are not valid for the field's PICTURE and USAGE."""


def scaled(value: int, scale: int) -> int | Decimal:
    """``value * 10**-scale`` exactly: ``int`` when scale <= 0, else ``Decimal``."""
    if scale == 0:
        return value
    if scale < 0:
        return value * 10**-scale
    return Decimal(value).scaleb(-scale, DECIMAL_CONTEXT)


@dataclass(frozen=True, slots=True)
class ZonedTables:
    """256-entry lookup tables for zoned decimal bytes of one code-page family.

    Attributes:
        plain: digit of an unsigned digit byte (``F0``-``F9`` / ``30``-``39``), else -1.
        over_digit: digit of a byte that may carry an overpunched sign, else -1.
        over_sign: +1 / -1 for signed forms, 0 for invalid bytes; plain digits are +1.
        relaxed_digit: digit of any byte accepted in relaxed mode (any sign zone; space = 0).
        space: the space byte; plus / minus: separate sign characters.
    """

    plain: tuple[int, ...]
    over_digit: tuple[int, ...]
    over_sign: tuple[int, ...]
    relaxed_digit: tuple[int, ...]
    space: int
    plus: int
    minus: int


def zoned_tables(family: str) -> ZonedTables:
    """Build the zoned-decimal tables for ``"ebcdic"`` or ``"ascii"`` data."""
    plain = [-1] * 256
    over_digit = [-1] * 256
    over_sign = [0] * 256
    if family == "ebcdic":
        for digit in range(10):
            plain[0xF0 + digit] = digit
            # IBM: zones C, A, E, F are positive, D and B negative.
            for zone, sign in ((0xF, 1), (0xC, 1), (0xA, 1), (0xE, 1), (0xD, -1), (0xB, -1)):
                over_digit[zone << 4 | digit] = digit
                over_sign[zone << 4 | digit] = sign
        space, plus, minus = 0x40, 0x4E, 0x60
    else:
        for digit in range(10):
            plain[0x30 + digit] = digit
            over_digit[0x30 + digit] = digit
            over_sign[0x30 + digit] = 1
            positive = ord("{") if digit == 0 else ord("A") + digit - 1
            negative = ord("}") if digit == 0 else ord("J") + digit - 1
            for byte, sign in ((positive, 1), (negative, -1), (0x70 + digit, -1)):
                over_digit[byte] = digit  # 0x70-0x79: Micro Focus negative convention
                over_sign[byte] = sign
        space, plus, minus = 0x20, 0x2B, 0x2D
    relaxed = list(over_digit)
    relaxed[space] = 0
    return ZonedTables(tuple(plain), tuple(over_digit), tuple(over_sign), tuple(relaxed), space, plus, minus)


def _text(code_page: CodePage, trim: Trim) -> Converter:
    decode = code_page.decode
    if trim is Trim.BOTH:
        return lambda raw: decode(raw).strip(BLANKS)
    if trim is Trim.LEFT:
        return lambda raw: decode(raw).lstrip(BLANKS)
    if trim is Trim.RIGHT:
        return lambda raw: decode(raw).rstrip(BLANKS)
    return decode


def _national(trim: Trim) -> Converter:
    """PIC N: UTF-16BE text; a lone surrogate or an odd byte is invalid data, not a guess."""

    def convert(raw: bytes) -> str:
        try:
            text = raw.decode("utf-16-be")
        except UnicodeDecodeError as exc:
            msg = f"not UTF-16BE national text: {exc.reason} at byte {exc.start}"
            raise InvalidField(msg) from exc
        if trim is Trim.BOTH:
            return text.strip(BLANKS)
        if trim is Trim.LEFT:
            return text.lstrip(BLANKS)
        if trim is Trim.RIGHT:
            return text.rstrip(BLANKS)
        return text

    return convert


def _zoned(item: Field, picture: Picture, tables: ZonedTables, relaxed: bool) -> Converter:
    """Zoned decimal. Strict: every byte a digit, the sign (when signed) overpunched on the
    last byte (first with SIGN LEADING) or in its separate byte. Relaxed (``relaxed_sign``):
    spaces before and after the digits are ignored, and the sign may be overpunched on the
    last (first with SIGN LEADING) remaining digit, also in an unsigned field (positive
    only); every other position must still be a plain digit."""
    signed = picture.signed
    scale = picture.scale
    separate = item.sign_separate and signed
    leading = item.sign_leading
    plain = tables.plain
    space = tables.space
    space_char = bytes([space])
    zero = 0xF0 if space == 0x40 else 0x30

    def convert(raw: bytes) -> int | Decimal | None:
        if raw.count(space) == len(raw):
            return None
        body = raw
        sign = 1
        shift = 0  # index in ``raw`` of body[0], for messages
        if separate:
            sign_byte = raw[0] if leading else raw[-1]
            body = raw[1:] if leading else raw[:-1]
            shift = 1 if leading else 0
            if sign_byte == tables.minus:
                sign = -1
            elif sign_byte != tables.plus:
                msg = f"sign byte {sign_byte:02X} is neither '+' nor '-'"
                raise InvalidField(msg)
        if relaxed:
            stripped = body.lstrip(space_char)
            shift += len(body) - len(stripped)
            body = stripped.rstrip(space_char)
            if not body:
                return None
        if not separate and (signed or relaxed):
            index = 0 if leading else len(body) - 1
            punched = body[index]
            digit = tables.over_digit[punched]
            sign = tables.over_sign[punched]
            if digit < 0 or sign == 0:
                msg = f"byte {punched:02X} at position {index + shift} is not a digit"
                raise InvalidField(msg)
            if sign < 0 and not signed:
                msg = "negative sign in an unsigned field"
                raise InvalidField(msg)
            body = body[:index] + bytes([zero | digit]) + body[index + 1 :]
        value = 0
        for index, byte in enumerate(body):
            digit = plain[byte]
            if digit < 0:
                msg = f"byte {byte:02X} at position {index + shift} is not a digit"
                raise InvalidField(msg)
            value = value * 10 + digit
        return scaled(sign * value, scale)

    return convert


def _packed(picture: Picture | None, usage: Usage, relaxed: bool) -> Converter:
    has_sign = usage is Usage.PACKED
    signed = picture.signed if picture is not None else False
    scale = picture.scale if picture is not None and picture.is_numeric else 0

    def convert(raw: bytes) -> int | Decimal:
        if not raw:
            msg = "empty packed field"
            raise InvalidField(msg)
        text = raw.hex()
        digits = text[:-1] if has_sign else text
        if not digits.isdigit() and digits:
            bad = next(i for i, c in enumerate(digits) if not c.isdigit())
            msg = f"nibble {digits[bad].upper()} at nibble {bad} is not a digit"
            raise InvalidField(msg)
        sign = 1
        if has_sign:
            nibble = text[-1]
            if nibble in "bd":
                sign = -1
            elif nibble not in "acef":
                msg = f"sign nibble {nibble.upper()} is not a packed sign (A-F)"
                raise InvalidField(msg)
            if sign < 0 and not signed and not relaxed:
                msg = "negative sign in an unsigned packed field"
                raise InvalidField(msg)
        return scaled(sign * int(digits or "0"), scale)

    return convert


def _binary(item: Field, picture: Picture | None) -> Converter:
    signed = picture.signed if picture is not None else False
    scale = picture.scale if picture is not None else 0
    order: t.Literal["big", "little"] = "little" if item.usage is Usage.BINARY_LE else "big"

    def convert(raw: bytes) -> int | Decimal:
        return scaled(int.from_bytes(raw, order, signed=signed), scale)

    return convert


def ibm_float(raw: bytes) -> float:
    """Decode an IBM System/360 hexadecimal float (4 or 8 bytes, big-endian)."""
    bits = int.from_bytes(raw, "big")
    fraction_bits = len(raw) * 8 - 8
    sign = -1.0 if bits >> (len(raw) * 8 - 1) else 1.0
    exponent = (bits >> fraction_bits) & 0x7F
    fraction = bits & ((1 << fraction_bits) - 1)
    # value = 0.fraction (hex) * 16 ** (exponent - 64); single rounding via ldexp.
    return sign * math.ldexp(float(fraction), 4 * (exponent - 64) - fraction_bits)


def _float(usage: Usage, float_format: FloatFormat) -> Converter:
    if float_format is FloatFormat.IBM:
        return ibm_float
    unpack = struct.Struct(">f" if usage is Usage.FLOAT else ">d").unpack
    return lambda raw: unpack(raw)[0]


def _edited(picture: Picture, code_page: CodePage) -> Converter:
    """Numeric-edited (``ZZ,ZZ9.99-``, ``9(8).9(2)``): parse the printed number."""
    scale = picture.scale
    has_nine = "9" in picture.expanded
    decode = code_page.decode

    def convert(raw: bytes) -> int | Decimal | None:
        text = decode(raw).strip()
        if not text:
            return None if has_nine else scaled(0, scale)
        negative = text.endswith(("-", "CR", "DB")) or text.startswith("-")
        cleaned = text.strip("+-CRDB$* ").replace(",", "").replace(" ", "").replace("/", "")
        whole, _, fraction = cleaned.partition(".")
        digits = (whole + fraction).lstrip("*") or "0"
        # Check protection (``*``) only leads: the fraction is digits alone (``.*0`` is no number).
        if not (digits.isascii() and digits.isdigit() and (whole or "0").isdigit() and (fraction or "0").isdigit()):
            msg = f"{text!r} does not match the edited picture {picture.source}"
            raise InvalidField(msg)
        fraction = fraction.ljust(scale, "0")[:scale] if scale > 0 else ""
        value = int((whole or "0") + fraction)
        return scaled(-value if negative else value, max(scale, 0))

    return convert


def make_converter(
    item: Field,
    *,
    code_page: CodePage,
    trim: Trim,
    relaxed_sign: bool,
    float_format: FloatFormat,
    zero_bytes_null: bool = False,
) -> Converter:
    """The converter for one elementary item under the given options.

    ``zero_bytes_null`` (Cobrix's ``improved_null_detection``): a DISPLAY or packed field
    whose bytes are all 0x00 is None (no value written), not an empty string or an error.
    Binary and floating-point fields are never affected (0x00 bytes are the number 0).
    """
    converter = _converter(item, code_page, trim, relaxed_sign, float_format)
    if zero_bytes_null and item.usage not in _BINARY_USAGES:

        def or_null(raw: bytes) -> Any:
            return None if raw.count(0) == len(raw) else converter(raw)

        return or_null
    return converter


_BINARY_USAGES = frozenset(
    {Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE, Usage.FLOAT, Usage.DOUBLE, Usage.INDEX, Usage.POINTER}
)


def _converter(
    item: Field, code_page: CodePage, trim: Trim, relaxed_sign: bool, float_format: FloatFormat
) -> Converter:
    picture = item.picture
    usage = item.usage
    if usage in (Usage.FLOAT, Usage.DOUBLE):
        return _float(usage, float_format)
    if usage in (Usage.PACKED, Usage.PACKED_UNSIGNED):
        return _packed(picture, usage, relaxed_sign)
    if usage in (Usage.INDEX, Usage.POINTER):
        return _binary(item, None)
    if usage in (Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE):
        if picture is not None and not picture.is_numeric:
            return lambda raw: raw.hex().upper()
        return _binary(item, picture)
    assert picture is not None  # the parser guarantees a picture for DISPLAY items
    if picture.category is Category.NATIONAL:
        return _national(trim)
    if picture.category is Category.NUMERIC:
        return _zoned(item, picture, zoned_tables(code_page.family), relaxed_sign)
    if picture.category is Category.NUMERIC_EDITED:
        return _edited(picture, code_page)
    return _text(code_page, trim)
