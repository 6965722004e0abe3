"""COBOL PICTURE strings: what a picture says about a field's category, digits and scale.

A picture is parsed once into a frozen :class:`Picture`. The storage size of a field also
depends on its USAGE; :func:`storage_length` combines the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["MAX_ITEM_BYTES", "Category", "Picture", "PictureError", "Usage", "parse_picture", "storage_length"]

# The largest picture (display positions) parsed; checked before any repeat is expanded.
MAX_ITEM_BYTES = 16 * 1024 * 1024


class PictureError(ValueError):
    """The picture string is malformed; ``column`` is the 0-based index inside it."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.column = column


class Category(StrEnum):
    """What kind of data a picture describes."""

    ALPHANUMERIC = "alphanumeric"  # X, or a mix of X/A/9
    ALPHABETIC = "alphabetic"  # only A
    NUMERIC = "numeric"  # 9, S, V, P
    NUMERIC_EDITED = "numeric-edited"  # Z . , + - CR DB * $ B 0 / or an explicit point
    NATIONAL = "national"  # only N: UTF-16 characters, two bytes each


class Usage(StrEnum):
    """Storage format of an elementary item."""

    DISPLAY = "DISPLAY"
    BINARY = "COMP"  # COMP, COMP-4, BINARY (and Cobrix's COMP-0): big-endian two's complement
    BINARY_LE = "COMP-9"  # Cobrix's COMP-9: little-endian two's complement; 1 byte up to 2 digits
    NATIVE_BINARY = "COMP-5"  # same bytes as COMP; not truncated to the PIC digits
    PACKED = "COMP-3"  # PACKED-DECIMAL
    PACKED_UNSIGNED = "COMP-3U"  # packed digits without a sign nibble (Cobrix extension)
    FLOAT = "COMP-1"  # 4-byte float, IBM hex or IEEE 754
    DOUBLE = "COMP-2"  # 8-byte float, IBM hex or IEEE 754
    NATIONAL = "NATIONAL"  # UTF-16BE text (PIC N; also PIC N without a USAGE, as NSYMBOL(NATIONAL))
    INDEX = "INDEX"  # 4-byte binary
    POINTER = "POINTER"  # 4-byte binary


@dataclass(frozen=True, slots=True)
class Picture:
    """A parsed PICTURE string.

    Attributes:
        source: the picture as written (``S9(5)V99``).
        expanded: the picture with repeat counts expanded (``S9999999`` without ``V``
            removed; ``V`` kept).
        category: alphanumeric, alphabetic, numeric or numeric-edited.
        size: display positions (characters; ``S`` and ``V`` count zero, CR/DB two).
        digits: digit positions (9, Z, *, and P for scaling) that hold stored digits;
            for numeric pictures the number of stored digits (P excluded).
        scale: decimal places of the value: stored digits right of V, plus P positions
            left of the digits; negative when P positions follow the digits
            (``9(3)PP`` means hundreds, scale -2).
        signed: ``S`` present (or, for edited pictures, a sign symbol).
    """

    source: str
    expanded: str
    category: Category
    size: int
    digits: int
    scale: int
    signed: bool

    @property
    def is_numeric(self) -> bool:
        """True for numeric and numeric-edited pictures."""
        return self.category in (Category.NUMERIC, Category.NUMERIC_EDITED)


_REPEAT = re.compile(r"(CR|DB|.)\(([0-9]+)\)")
_EDIT_SYMBOLS = set("Z*.,+-$B0/") | {"C", "D"}


def _expand(source: str) -> str:
    text = source.upper()
    position = 0
    parts: list[str] = []
    size = 0
    while position < len(text):
        match = _REPEAT.match(text, position)
        if match:
            digits = match.group(2).lstrip("0")
            count = int(digits or "0") if len(digits) <= 9 else MAX_ITEM_BYTES + 1
            if count == 0:
                msg = f"repeat count 0 in picture {source!r}"
                raise PictureError(msg, match.start(2))
            size += count
            if size > MAX_ITEM_BYTES:
                msg = f"picture {source!r} is larger than the limit of {MAX_ITEM_BYTES:,} positions"
                raise PictureError(msg, match.start(2))
            parts.append(match.group(1) * count)
            position = match.end()
            continue
        if text[position] in "()":
            msg = f"unbalanced or empty parenthesis in picture {source!r}"
            raise PictureError(msg, position)
        parts.append(text[position])
        position += 1
    return "".join(parts)


def parse_picture(source: str) -> Picture:
    """Parse a PICTURE character string.

    Raises:
        PictureError: unknown symbols, a misplaced ``S`` or more than one ``V``.
    """
    if not source:
        msg = "empty picture"
        raise PictureError(msg)
    expanded = _expand(source)
    symbols = set(expanded)
    if "G" in symbols:
        msg = f"PIC G (DBCS) in {source!r} is not supported: no DBCS EBCDIC code page (cp300, cp930) is available"
        raise PictureError(msg, expanded.index("G"))
    if symbols == {"N"}:
        return Picture(source, expanded, Category.NATIONAL, len(expanded), 0, 0, signed=False)
    if symbols <= set("XA9") and symbols & set("XA"):
        category = Category.ALPHABETIC if symbols == {"A"} else Category.ALPHANUMERIC
        return Picture(source, expanded, category, len(expanded), 0, 0, signed=False)
    if symbols <= set("S9VP"):
        return _numeric(source, expanded)
    return _edited(source, expanded)


def _numeric(source: str, expanded: str) -> Picture:
    if "S" in expanded[1:]:
        msg = f"S must be the first symbol of picture {source!r}"
        raise PictureError(msg, expanded.index("S", 1))
    if expanded.count("V") > 1:
        msg = f"more than one V in picture {source!r}"
        raise PictureError(msg, expanded.rindex("V"))
    signed = expanded.startswith("S")
    body = expanded.removeprefix("S")
    integer_part, _, fraction_part = body.partition("V")
    if "9" not in body:
        msg = f"numeric picture {source!r} has no digit positions"
        raise PictureError(msg)
    digits = body.count("9")
    if "V" in body:
        # P right after V (SVPP99) shifts the digits further right.
        scale = len(fraction_part)
        if "P" in integer_part and integer_part.strip("P"):
            # 9(3)PPV is legal but means the same as 9(3)PP.
            scale = -integer_part.count("P")
    elif body.startswith("P"):
        scale = len(body)  # PPP99 = .00099: P positions and digits are all fractional
    else:
        scale = -body.count("P")
    return Picture(source, expanded, Category.NUMERIC, digits, digits, scale, signed)


def _edited(source: str, expanded: str) -> Picture:
    text = expanded.replace("CR", "C").replace("DB", "D")
    unknown = set(text) - _EDIT_SYMBOLS - set("9VSXA")
    if unknown or set(text) & set("XA"):
        bad = next(iter(sorted(unknown or set(text) & set("XA"))))
        msg = f"unknown or misplaced symbol {bad!r} in picture {source!r}"
        raise PictureError(msg, expanded.find(bad))
    signed = bool(set(text) & set("+-CD"))
    point = text.find(".") if "." in text else text.find("V")
    digit_positions = "9Z*"  # a trailing sign after the point is not a decimal place
    if point >= 0:
        fraction = text[point + 1 :]
        scale = sum(1 for char in fraction if char in digit_positions)
    else:
        scale = 0
    digits = sum(1 for char in text if char in "9Z*")
    size = sum(2 if char in "CD" else 1 for char in text if char not in "VS")
    return Picture(source, expanded, Category.NUMERIC_EDITED, size, digits, scale, signed)


def binary_length(digits: int) -> int:
    """Bytes of a COMP/BINARY item with ``digits`` digits (IBM: 2, 4, 8; 16 above 18)."""
    if digits <= 4:
        return 2
    if digits <= 9:
        return 4
    if digits <= 18:
        return 8
    return 16


def storage_length(picture: Picture | None, usage: Usage, *, sign_separate: bool = False) -> int:
    """Bytes an elementary item occupies.

    Raises:
        PictureError: the usage needs a picture and none was given, or the picture
            category does not fit the usage.
    """
    if usage is Usage.FLOAT:
        return 4
    if usage is Usage.DOUBLE:
        return 8
    if usage in (Usage.INDEX, Usage.POINTER):
        return 4
    if picture is None:
        msg = f"USAGE {usage.value} needs a PICTURE clause"
        raise PictureError(msg)
    if (picture.category is Category.NATIONAL) != (usage is Usage.NATIONAL) and usage is not Usage.DISPLAY:
        msg = f"USAGE {usage.value} does not fit picture {picture.source!r} (NATIONAL goes with PIC N only)"
        raise PictureError(msg)
    if picture.category is Category.NATIONAL:
        return 2 * picture.size
    if usage is Usage.DISPLAY:
        extra = 1 if sign_separate and picture.category is Category.NUMERIC else 0
        return picture.size + extra
    if not picture.is_numeric:
        if usage in (Usage.PACKED_UNSIGNED, Usage.BINARY, Usage.NATIVE_BINARY, Usage.BINARY_LE):
            return picture.size  # PIC X(k) COMP / COMP-3U: k raw bytes
        msg = f"USAGE {usage.value} needs a numeric picture, got {picture.source!r}"
        raise PictureError(msg)
    if usage in (Usage.BINARY, Usage.NATIVE_BINARY):
        return binary_length(picture.digits)
    if usage is Usage.BINARY_LE:
        return 1 if picture.digits <= 2 else binary_length(picture.digits)
    if usage is Usage.PACKED:
        return picture.digits // 2 + 1
    return (picture.digits + 1) // 2  # PACKED_UNSIGNED
