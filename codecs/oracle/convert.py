"""Typed conversion of LogMiner literals by column type, to Debezium's conventions.

:func:`headwater.codecs.oracle.redo.parse_redo` returns values as written; this module
turns one such literal into the value Debezium's Oracle connector emits with its
defaults (``decimal.handling.mode=precise``, ``time.precision.mode=adaptive``,
``interval.handling.mode=numeric``, ``binary.handling.mode=bytes``):

========================================  ====================================================
Oracle type (ALL_TAB_COLUMNS)              Python value
========================================  ====================================================
NUMBER(p, s>0)                             ``Decimal`` with exactly ``s`` decimals
NUMBER(p, s<=0), p - s < 19                ``int``
NUMBER(p, s<=0), p - s >= 19; INTEGER      ``Decimal`` (scale 0)
NUMBER, FLOAT (no precision)               ``Decimal`` as written (VariableScaleDecimal)
BINARY_FLOAT, BINARY_DOUBLE                ``float``
DATE, TIMESTAMP(0-3)                       ``int`` epoch milliseconds (no time zone)
TIMESTAMP(4-6) / TIMESTAMP(7-9)            ``int`` epoch microseconds / nanoseconds
TIMESTAMP(n) WITH TIME ZONE                ``str`` ISO-8601 with the offset kept
TIMESTAMP(n) WITH LOCAL TIME ZONE          ``str`` ISO-8601 in UTC (``...Z``)
INTERVAL YEAR TO MONTH / DAY TO SECOND     ``float`` microseconds (a month is 365.25/12 days)
CHAR, NCHAR, VARCHAR2, NVARCHAR2, CLOB     ``str`` (``UNISTR`` escapes decoded)
RAW, BLOB                                  ``bytes``
========================================  ====================================================

``NULL``, ``IS NULL`` and the ``Unsupported Type`` token give ``None``;
``EMPTY_CLOB()``/``EMPTY_BLOB()`` give ``""``/``b""``. Pure functions, any thread.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
import typing as t
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from headwater.codecs.oracle import redo
from headwater.connectors.errors import RecordError

__all__ = [
    "OracleColumn",
    "ValueConversionError",
    "compiled_reader",
    "convert_value",
    "general_converter",
    "unistr",
    "value_converter",
]

_EPOCH = dt.datetime(1970, 1, 1)
_MONTH_US = 365.25 / 12 * 86_400 * 1_000_000


class ValueConversionError(RecordError):
    """A literal that does not fit its column's type (names the column and the literal)."""


@dataclass(frozen=True, slots=True)
class OracleColumn:
    """One column as ALL_TAB_COLUMNS describes it.

    Attributes:
        name: COLUMN_NAME.
        data_type: DATA_TYPE as Oracle spells it (``NUMBER``, ``VARCHAR2``,
            ``TIMESTAMP(6) WITH TIME ZONE``, ``INTERVAL DAY(2) TO SECOND(6)``, ...).
        length: DATA_LENGTH (bytes).
        precision: DATA_PRECISION (None for NUMBER without precision, INTEGER, FLOAT).
        scale: DATA_SCALE (None for NUMBER without precision and FLOAT; 0 for INTEGER).
        nullable: NULLABLE = 'Y'.
        column_id: COLUMN_ID (1-based position).
    """

    name: str
    data_type: str
    length: int = 0
    precision: int | None = None
    scale: int | None = None
    nullable: bool = True
    column_id: int = 0

    @property
    def base_type(self) -> str:
        """The type without its parameters: ``TIMESTAMP(6) WITH TIME ZONE`` -> ``TIMESTAMP WITH TIME ZONE``."""
        return _base_type(self.data_type)

    @property
    def fraction_digits(self) -> int:
        """Fractional-second digits of a TIMESTAMP type (DATA_SCALE, else the ``(n)`` in the name, else 6)."""
        if self.scale is not None:
            return self.scale
        return _type_digits(self.data_type)


@functools.lru_cache(maxsize=1024)
def _base_type(data_type: str) -> str:
    return re.sub(r"\(\d+\)", "", data_type).upper()


@functools.lru_cache(maxsize=1024)
def _type_digits(data_type: str) -> int:
    found = re.search(r"TIMESTAMP\((\d)\)", data_type.upper())
    return int(found.group(1)) if found else 6


_FUNCTION = re.compile(r"\s*(?:/\*[^*]*\*/\s*)?([A-Za-z_]+)\s*\((.*)\)\s*", re.DOTALL)
_ARGS = re.compile(r"'((?:[^']|'')*)'")
_UNISTR_ESCAPE = re.compile(r"\\([0-9A-Fa-f]{4})|\\\\")
_TS = re.compile(
    r"\s*(-?\d{1,4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d*))?)?"
    r"(?:\s*(?:([+-])(\d{1,2}):(\d{2})|([A-Za-z_/]+)))?\s*"
)


def unistr(text: str) -> str:
    """Decode Oracle ``UNISTR`` escapes (``\\XXXX`` UTF-16 code units, ``\\\\`` a backslash)."""

    def one(match: re.Match[str]) -> str:
        return chr(int(match.group(1), 16)) if match.group(1) else "\\"

    decoded = _UNISTR_ESCAPE.sub(one, text)
    return decoded.encode("utf-16", "surrogatepass").decode("utf-16")


def _split_concat(literal: str) -> list[str]:
    """Split ``a || b || c`` at top level (outside quotes and parentheses)."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(literal):
        ch = literal[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and literal.startswith("||", i):
            parts.append(literal[start:i].strip())
            start = i + 2
            i += 1
        i += 1
    parts.append(literal[start:].strip())
    return parts


def _function(literal: str) -> tuple[str, list[str]] | None:
    m = _FUNCTION.fullmatch(literal)
    if m is None:
        return None
    return m.group(1).upper(), [a.replace("''", "'") for a in _ARGS.findall(m.group(2))]


def _first_argument(literal: str) -> str:
    """The first quoted argument of ``F('...', ...)`` (or the literal itself), quickly."""
    start = literal.find("'")
    if start < 0:
        return literal
    end = literal.find("'", start + 1)
    if end < 0 or literal[end + 1 : end + 2] == "'":
        found = _function(literal)
        return found[1][0] if found and found[1] else literal
    return literal[start + 1 : end]


def _parts_of(literal: str, column: OracleColumn) -> tuple[str, datetime_parts]:
    """Return the timestamp text inside TO_DATE/TO_TIMESTAMP(_TZ) (or the bare text) parsed."""
    text = _first_argument(literal)
    m = _TS.fullmatch(text)
    if m is None:
        msg = f"column {column.name} ({column.data_type}): not a date or timestamp: {literal!r}"
        raise ValueConversionError(msg)
    return text, m.groups()


datetime_parts: t.TypeAlias = tuple[str | None, ...]


_FAST_STAMP = re.compile(
    r"TO_[A-Z_]+\('(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: ([+-]\d\d:\d\d))?'"
)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _fast_stamp(literal: str) -> tuple[int, int, str, str | None] | None:
    """LogMiner's usual ``TO_DATE``/``TO_TIMESTAMP``/``TO_TIMESTAMP_TZ`` literal read without
    building a datetime: (epoch seconds, nanoseconds, ``YYYY-MM-DDTHH:MM:SS[.fraction]``,
    the ``+hh:mm`` offset or None). None for any other form, a year before 1000 or a field
    out of range: the general path (:func:`_parts_of`) then reads it, or names the error."""
    m = _FAST_STAMP.match(literal)
    if m is None:
        return None
    y, mo, d, h, mi, s, fraction, offset = m.groups()
    year, hour, minute, second = int(y), int(h), int(mi), int(s)
    if year < 1000 or hour > 23 or minute > 59 or second > 59:
        return None
    try:
        days = dt.date(year, int(mo), int(d)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    text = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return days * 86_400 + hour * 3_600 + minute * 60 + second, nanos, text, offset


def _naive(parts: datetime_parts) -> tuple[dt.datetime, int]:
    year, month, day, hour, minute, second, fraction = parts[:7]
    nanos = int((fraction or "").ljust(9, "0")[:9] or 0)
    stamp = dt.datetime(
        int(year or 0), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0)
    )
    return stamp, nanos


def _epoch(stamp: dt.datetime, nanos: int, unit: int) -> int:
    delta = stamp - _EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    if unit == 1_000:
        return seconds * 1_000 + nanos // 1_000_000
    if unit == 1_000_000:
        return seconds * 1_000_000 + nanos // 1_000
    return seconds * 1_000_000_000 + nanos


def _iso(stamp: dt.datetime, nanos: int, offset: str) -> str:
    # isoformat() pads years below 1000 to four digits, strftime does not: keep strftime's text there.
    text = stamp.isoformat() if stamp.year >= 1000 else stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + offset


def _zoned(parts: datetime_parts, local: bool) -> str:
    stamp, nanos = _naive(parts)
    sign, oh, om, region = parts[7:11]
    if local:
        return _iso(stamp, nanos, "Z")  # the session time zone is UTC (the adapter sets it)
    if sign is not None:
        minutes = int(oh or 0) * 60 + int(om or 0)
        if minutes == 0:
            return _iso(stamp, nanos, "Z")
        return _iso(stamp, nanos, f"{sign}{int(oh or 0):02d}:{int(om or 0):02d}")
    if region:
        import zoneinfo

        zone = zoneinfo.ZoneInfo(region)
        offset = stamp.replace(tzinfo=zone).utcoffset() or dt.timedelta(0)
        total = int(offset.total_seconds() // 60)
        if total == 0:
            return _iso(stamp, nanos, "Z")
        sign = "-" if total < 0 else "+"
        return _iso(stamp, nanos, f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}")
    return _iso(stamp, nanos, "Z")


_YM = re.compile(r"\s*([+-])?(\d+)-(\d+)\s*")
_DS = re.compile(r"\s*([+-])?(\d+)\s+(\d+):(\d+):(\d+)(?:\.(\d+))?\s*")


def _interval(literal: str, column: OracleColumn) -> float:
    text = _first_argument(literal)
    m = _YM.fullmatch(text)
    if m:
        months = int(m.group(2)) * 12 + int(m.group(3))
        value = months * _MONTH_US
        return -value if m.group(1) == "-" else value
    m = _DS.fullmatch(text)
    if m:
        micros = int((m.group(6) or "").ljust(6, "0")[:6] or 0)
        seconds = int(m.group(2)) * 86_400 + int(m.group(3)) * 3_600 + int(m.group(4)) * 60 + int(m.group(5))
        value = float(seconds * 1_000_000 + micros)
        return -value if m.group(1) == "-" else value
    msg = f"column {column.name} ({column.data_type}): not an interval: {literal!r}"
    raise ValueConversionError(msg)


_TEXT_FUNCTION = re.compile(r"\s*(?:UNISTR|EMPTY_N?CLOB)\s*\(", re.IGNORECASE)


def _text(literal: str, column: OracleColumn, quoted: bool | None) -> str:
    if quoted or "(" not in literal:
        return literal
    if literal.startswith("UNISTR('") and literal.endswith("')") and literal.count("'") == 2:
        return unistr(literal[8:-2])  # one UNISTR call, LogMiner's usual form
    if _TEXT_FUNCTION.match(literal) is None:
        return literal
    out = []
    for part in _split_concat(literal):
        found = _function(part)
        if found and found[0] == "UNISTR":
            out.append(unistr(found[1][0] if found[1] else ""))
        elif found and found[0] in ("EMPTY_CLOB", "EMPTY_NCLOB"):
            out.append("")
        elif part.startswith("'") and part.endswith("'") and len(part) >= 2:
            out.append(part[1:-1].replace("''", "'"))
        else:
            out.append(part)
    return "".join(out)


def _binary(literal: str, column: OracleColumn) -> bytes:
    found = _function(literal)
    if found and found[0] == "EMPTY_BLOB":
        return b""
    hex_text = _first_argument(literal) if found and found[0] == "HEXTORAW" else literal
    try:
        return bytes.fromhex(hex_text)
    except ValueError as exc:
        msg = f"column {column.name} ({column.data_type}): not hexadecimal: {literal!r}"
        raise ValueConversionError(msg) from exc


def _number(literal: str, column: OracleColumn) -> int | Decimal:
    precision, scale = column.precision, column.scale
    if scale == 0 and precision is not None and precision < 19:
        try:
            return int(literal)
        except ValueError:
            pass  # a decimal point or an exponent: the general path below
    try:
        value = Decimal(literal.strip())
    except InvalidOperation as exc:
        msg = f"column {column.name} ({column.data_type}): not a number: {literal!r}"
        raise ValueConversionError(msg) from exc
    if not value.is_finite():  # Decimal reads Infinity and NaN; a NUMBER holds neither
        msg = f"column {column.name} ({column.data_type}): not a finite number: {literal!r}"
        raise ValueConversionError(msg)
    if scale is None:
        return value  # NUMBER without precision, FLOAT: VariableScaleDecimal, as written
    try:
        if scale > 0:
            return value.quantize(_quantum(scale), context=_WIDE)
        if precision is not None and precision - scale < 19:
            return int(value)
        return value.quantize(Decimal(1), context=_WIDE) if value == value.to_integral_value() else value
    except InvalidOperation as exc:  # more digits than any NUMBER holds (38, exponents to 125)
        msg = f"column {column.name} ({column.data_type}): out of range: {literal!r}"
        raise ValueConversionError(msg) from exc


_KINDS = {
    **dict.fromkeys(("NUMBER", "INTEGER", "FLOAT", "DECIMAL", "NUMERIC", "SMALLINT", "INT"), "number"),
    **dict.fromkeys(("BINARY_FLOAT", "BINARY_DOUBLE"), "float"),
    **dict.fromkeys(("CHAR", "NCHAR", "VARCHAR2", "NVARCHAR2", "VARCHAR", "CLOB", "NCLOB", "ROWID", "LONG"), "text"),
    **dict.fromkeys(("RAW", "BLOB", "LONG RAW"), "binary"),
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "zoned",
    "TIMESTAMP WITH LOCAL TIME ZONE": "local",
}


_WIDE = decimal.Context(prec=200)
"""Room for any Oracle NUMBER (38 digits, scale up to 127): the default context's 28
digits would refuse ``quantize`` of NUMBER(38) values."""


@functools.lru_cache(maxsize=64)
def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def _float(literal: str) -> float:
    text = literal.strip().lower()
    specials = {"nan": "nan", "inf": "inf", "+inf": "inf", "-inf": "-inf"}
    return float(specials.get(text, text))


def convert_value(column: OracleColumn, literal: str | None, *, quoted: bool | None = None) -> t.Any:
    """Convert one literal (as :func:`parse_redo` returns it) to the column's Debezium value.

    Args:
        column: the column's ALL_TAB_COLUMNS metadata.
        literal: the value as written; None for SQL NULL.
        quoted: whether the literal was a quoted string; when None, a text column's literal
            that starts with ``UNISTR(`` or ``EMPTY_CLOB()`` is read as that function (as
            Debezium does), anything else as text.

    Raises:
        ValueConversionError: the literal does not fit the type (names column and literal).
    """
    if literal is None or literal == _UNSUPPORTED:
        return None
    if quoted and _kind(column) == "text":
        return literal
    return value_converter(column)(literal)


_UNSUPPORTED = "Unsupported Type"


def _kind(column: OracleColumn) -> str | None:
    base = column.base_type
    kind = _KINDS.get(base)
    if kind is None and base.startswith("INTERVAL"):
        kind = "interval"
    return kind


@functools.lru_cache(maxsize=4096)
def general_converter(column: OracleColumn) -> t.Callable[[str], t.Any]:
    """The general conversion of one column's non-NULL literals: every form LogMiner writes,
    and the errors. :func:`value_converter` reads LogMiner's usual forms faster and leaves
    everything else to this one; it is also the reference the fast paths are tested against."""
    kind = _kind(column)
    convert: t.Callable[[str], t.Any]
    if kind == "number":
        convert = functools.partial(_number, column=column)
    elif kind == "text":
        convert = functools.partial(_text, column=column, quoted=None)
    elif kind == "float":
        convert = _float
    elif kind == "binary":
        convert = functools.partial(_binary, column=column)
    elif kind in ("date", "timestamp"):
        unit = _per_second(column)

        def convert(literal: str) -> t.Any:
            fast = _fast_stamp(literal)
            if fast is None:
                return _epoch(*_naive(_parts_of(literal, column)[1]), unit)
            seconds, nanos = fast[0], fast[1]
            if unit == 1_000:
                return seconds * 1_000 + nanos // 1_000_000
            if unit == 1_000_000:
                return seconds * 1_000_000 + nanos // 1_000
            return seconds * 1_000_000_000 + nanos

    elif kind in ("zoned", "local"):
        local = kind == "local"

        def convert(literal: str) -> t.Any:
            fast = _fast_stamp(literal)
            if fast is None:
                return _zoned(_parts_of(literal, column)[1], local=local)
            text, offset = fast[2], fast[3]
            if local or offset is None or offset[1:] == "00:00":
                return text + "Z"
            return text + offset

    elif kind == "interval":
        convert = functools.partial(_interval, column=column)
    else:

        def convert(literal: str) -> t.Any:
            msg = f"column {column.name}: unsupported Oracle type {column.data_type}"
            raise ValueConversionError(msg)

    def checked(literal: str) -> t.Any:
        if literal == _UNSUPPORTED:
            return None
        try:
            return convert(literal)
        except (ValueError, OverflowError) as exc:
            msg = f"column {column.name} ({column.data_type}): cannot convert {literal!r}: {exc}"
            raise ValueConversionError(msg) from exc

    return checked


def value_converter(column: OracleColumn) -> t.Callable[[str], t.Any]:
    """The function :func:`convert_value` applies to one column's non-NULL literals (with
    ``quoted=None``), built once per column: callers converting many rows of a table keep
    one per column and skip the dispatch by type. Any thread; raises as convert_value.

    LogMiner's usual forms (a plain number with the column's scale, ``HEXTORAW('..')``, a
    float, ``TO_TIMESTAMP('..')``) are read by one closure per column without the general
    path's dispatch; every other literal, and every error, goes to :func:`general_converter`,
    which gives the same value (``tests/codecs/test_oracle_convert_fast.py``)."""
    return _value_converter(column, redo.NATIVE_ENABLED and redo._credo is not None)


def compiled_reader(column: OracleColumn) -> tuple[str, int] | None:
    """The ``_credo`` reader :func:`value_converter` puts before its Python closure for this
    column: ``("epoch", per_second)`` for a DATE or TIMESTAMP, ``("zoned", local)`` for a
    TIMESTAMP WITH [LOCAL] TIME ZONE, else None. A caller may run it itself (as the Oracle
    task's compiled conversion loop does) and call the converter only when it gives None."""
    kind = _kind(column)
    if kind in ("date", "timestamp"):
        return "epoch", _per_second(column)
    if kind in ("zoned", "local"):
        return "zoned", int(kind == "local")
    return None


@functools.lru_cache(maxsize=4096)
def _value_converter(column: OracleColumn, native: bool) -> t.Callable[[str], t.Any]:
    """:func:`value_converter`, with the compiled readers of timestamps (``_credo.epoch``
    and ``_credo.zoned``) when ``native``: they give the Python closures' values or None,
    and on None the closure reads the literal (``tests/codecs/test_oracle_redo_native.py``)."""
    general = general_converter(column)
    kind = _kind(column)
    if kind == "number":
        return _number_converter(column, general)
    if kind == "float":

        def floating(literal: str) -> t.Any:
            try:
                return float(literal)  # float() reads what _float reads (it only respells Inf/NaN)
            except ValueError:
                return general(literal)

        return floating
    if kind == "binary":

        def binary(literal: str) -> t.Any:
            if literal.startswith("HEXTORAW('") and literal.endswith("')") and literal.count("'") == 2:
                try:
                    return bytes.fromhex(literal[10:-2])
                except ValueError:
                    pass
            return general(literal)

        return binary
    if kind in ("date", "timestamp"):
        per_second = _per_second(column)
        per_nano = 1_000_000_000 // per_second
        match = _FAST_STAMP.match
        ordinal = _date_ordinal

        def stamp(literal: str) -> t.Any:
            m = match(literal)
            if m is None:
                return general(literal)
            y, mo, d, h, mi, s, fraction, _ = m.groups()
            hour, minute, second = int(h), int(mi), int(s)
            days = ordinal(y, mo, d)
            if days is None or hour > 23 or minute > 59 or second > 59:
                return general(literal)
            seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
            if fraction is None:
                return seconds * per_second
            return seconds * per_second + int(fraction.ljust(9, "0")) // per_nano

        return _compiled_first(column, stamp) if native else stamp
    if kind in ("zoned", "local"):
        local = kind == "local"
        match = _FAST_STAMP.match
        ordinal = _date_ordinal

        def zoned(literal: str) -> t.Any:
            m = match(literal)
            if m is None:
                return general(literal)
            y, mo, d, h, mi, s, fraction, offset = m.groups()
            if ordinal(y, mo, d) is None or int(h) > 23 or int(mi) > 59 or int(s) > 59:
                return general(literal)
            text = f"{y}-{mo}-{d}T{h}:{mi}:{s}"
            if fraction is not None:
                digits = fraction.rstrip("0")
                if digits:
                    text = f"{text}.{digits}"
            if local or offset is None or offset[1:] == "00:00":
                return text + "Z"
            return text + offset

        return _compiled_first(column, zoned) if native else zoned
    return general


def _per_second(column: OracleColumn) -> int:
    """Units a second of a DATE or TIMESTAMP column's Connect value: ms, us or ns by precision."""
    digits = column.fraction_digits if _kind(column) == "timestamp" else 0
    return 1_000 if digits <= 3 else 1_000_000 if digits <= 6 else 1_000_000_000


def _compiled_first(column: OracleColumn, closure: t.Callable[[str], t.Any]) -> t.Callable[[str], t.Any]:
    """``closure``'s values, read first by the column's ``_credo`` reader (see
    :func:`compiled_reader`); the closure reads what the reader leaves (None)."""
    found = compiled_reader(column)
    if found is None or redo._credo is None:
        return closure
    read, argument = getattr(redo._credo, found[0]), found[1]

    def compiled(literal: str) -> t.Any:
        value = read(literal, argument)
        return closure(literal) if value is None else value

    return compiled


@functools.lru_cache(maxsize=8192)
def _date_ordinal(year: str, month: str, day: str) -> int | None:
    """Days from 1970-01-01 of a ``YYYY``, ``MM``, ``DD`` date (cached: rows share dates);
    None for a year before 1000 or a date that does not exist."""
    number = int(year)
    if number < 1000:
        return None
    try:
        return dt.date(number, int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


_FAST_DIGITS = 100
"""Longest plain number the fast paths take (the general path's context holds 200 digits)."""


def _plain_digits(text: str) -> bool:
    """``text`` is ASCII digits, optionally after a minus sign (what LogMiner writes for an integer)."""
    digits = text[1:] if text.startswith("-") else text
    return digits.isdigit() and digits.isascii()


def _number_converter(column: OracleColumn, general: t.Callable[[str], t.Any]) -> t.Callable[[str], t.Any]:
    precision, scale = column.precision, column.scale
    if scale is not None and scale <= 0 and precision is not None and precision - scale < 19:

        def integer(literal: str) -> t.Any:  # a Connect integer: int() reads what Decimal -> int gives
            try:
                return int(literal)
            except ValueError:
                return general(literal)

        return integer
    if scale is not None and scale > 0:

        def scaled(literal: str) -> t.Any:
            dot = literal.find(".")
            if (
                dot >= 0
                and len(literal) - dot - 1 == scale
                and len(literal) <= _FAST_DIGITS
                and (dot == 0 or literal[:dot] == "-" or _plain_digits(literal[:dot]))
                and literal[dot + 1 :].isdigit()
                and literal.isascii()
            ):
                return Decimal(literal)  # already at the column's scale: quantize would not change it
            return general(literal)

        return scaled
    if scale == 0:

        def whole(literal: str) -> t.Any:
            if len(literal) <= _FAST_DIGITS and _plain_digits(literal):
                return Decimal(literal)  # exponent 0 already
            return general(literal)

        return whole
    return general
