"""Write DML statements the way LogMiner writes them in ``SQL_REDO`` (pure, no I/O).

The LogMiner emulator uses these to produce ``V$LOGMNR_CONTENTS`` rows, and tests use
them to round-trip the parser. Values are literals as they appear in the statement:
``None`` is written ``NULL``; a :class:`Raw` is written verbatim (a number, a function
such as ``TO_DATE(...)``); any other string is quoted with its quotes doubled, unless
``unescaped_quotes`` asks for LogMiner's occasional bug of leaving them single.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing as t
from decimal import Decimal

from headwater.codecs.oracle.convert import OracleColumn, convert_value

__all__ = [
    "IntervalYM",
    "Raw",
    "debezium_value",
    "literal",
    "oracle_internal_bytes",
    "oracle_number_text",
    "quote",
    "render_delete",
    "render_insert",
    "render_update",
    "sql_literal",
]


class Raw(str):
    """A literal written verbatim: a bare number or a function call."""

    __slots__ = ()


Value: t.TypeAlias = "str | None"


def quote(value: str | None, *, unescaped_quotes: bool = False) -> str:
    """Render one literal as LogMiner does (see the module doc)."""
    if value is None:
        return "NULL"
    if isinstance(value, Raw):
        return str(value)
    return "'" + (value if unescaped_quotes else value.replace("'", "''")) + "'"


def _table(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


def _where(old: t.Mapping[str, str | None], unescaped: bool) -> str:
    conditions = [
        f'"{name}" IS NULL' if value is None else f'"{name}" = {quote(value, unescaped_quotes=unescaped)}'
        for name, value in old.items()
    ]
    return " where " + " and ".join(conditions) if conditions else ""


def render_insert(schema: str, table: str, new: t.Mapping[str, str | None], *, unescaped_quotes: bool = False) -> str:
    """``insert into "S"."T"("A","B") values ('x',NULL);``"""
    names = ",".join(f'"{name}"' for name in new)
    values = ",".join(quote(value, unescaped_quotes=unescaped_quotes) for value in new.values())
    return f"insert into {_table(schema, table)}({names}) values ({values});"


def render_update(
    schema: str,
    table: str,
    new: t.Mapping[str, str | None],
    old: t.Mapping[str, str | None],
    *,
    unescaped_quotes: bool = False,
) -> str:
    """``update "S"."T" set "A" = 'y' where "A" = 'x' and "B" IS NULL;``"""
    sets = ", ".join(f'"{name}" = {quote(value, unescaped_quotes=unescaped_quotes)}' for name, value in new.items())
    return f"update {_table(schema, table)} set {sets}{_where(old, unescaped_quotes)};"


def render_delete(schema: str, table: str, old: t.Mapping[str, str | None], *, unescaped_quotes: bool = False) -> str:
    """``delete from "S"."T" where "A" = 'x' and "B" IS NULL;``"""
    return f"delete from {_table(schema, table)}{_where(old, unescaped_quotes)};"


# --------------------------------------------------------------------------- literals by type


class IntervalYM(t.NamedTuple):
    """An INTERVAL YEAR TO MONTH value, as python-oracledb's ``oracledb.IntervalYM``."""

    years: int
    months: int


def oracle_number_text(value: int | Decimal) -> str:
    """A NUMBER as Oracle prints it: no exponent, no trailing zeros, ``.5`` for 0.5."""
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f") if value != 0 else "0"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text.startswith("0."):
        text = text[1:]
    elif text.startswith("-0."):
        text = "-" + text[2:]
    return text


def _binary_float_text(value: float, digits: int) -> str:
    if value != value:
        return "Nan"
    if value in (float("inf"), float("-inf")):
        return "Inf" if value > 0 else "-Inf"
    mantissa, _, exponent = f"{value:.{digits}E}".partition("E")
    return f"{mantissa}E{exponent[0]}{int(exponent[1:]):03d}"


def _unistr(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\005C")
        elif ord(ch) < 128:
            out.append("''" if ch == "'" else ch)
        else:
            for unit in range(0, len(ch.encode("utf-16-be")), 2):
                out.append("\\" + ch.encode("utf-16-be")[unit : unit + 2].hex().upper())
    return "UNISTR('" + "".join(out) + "')"


def _fraction(value: dt.datetime, digits: int) -> str:
    return "." + f"{value.microsecond:06d}000"[:digits] if digits else "."


def _seconds_text(value: dt.datetime) -> str:
    """``YYYY-MM-DD HH24:MI:SS``: ``isoformat`` (a third of ``strftime``'s time) where it
    writes what ``strftime`` does (not below the year 1000: ``%Y`` leaves those unpadded)."""
    if type(value) is dt.datetime and value.year >= 1000:
        return value.isoformat(" ", "seconds")[:19]
    return f"{value:%Y-%m-%d %H:%M:%S}"


def _date_text(value: dt.datetime) -> str:
    return f"TO_DATE('{_seconds_text(value)}', 'YYYY-MM-DD HH24:MI:SS')"


def _timestamp_text(value: dt.datetime, digits: int) -> str:
    return f"TO_TIMESTAMP('{_seconds_text(value)}{_fraction(value, digits)}')"


def _zoned_text(value: dt.datetime, digits: int) -> str:
    offset = value.utcoffset() if value.tzinfo else dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)  # type: ignore[union-attr]
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    return f"TO_TIMESTAMP_TZ('{_seconds_text(value)}{_fraction(value, digits)} {zone}')"


def _year_month_text(value: IntervalYM) -> str:
    months = value.years * 12 + value.months
    sign = "-" if months < 0 else "+"
    return f"TO_YMINTERVAL('{sign}{abs(months) // 12:02d}-{abs(months) % 12:02d}')"


def _day_second_text(value: dt.timedelta) -> str:
    total = abs(value)
    sign = "-" if value < dt.timedelta(0) else "+"
    hours, rest = divmod(total.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"TO_DSINTERVAL('{sign}{total.days:02d} {hours:02d}:{minutes:02d}:{seconds:02d}.{total.microseconds:06d}')"


def _hex_text(value: t.Any) -> str:
    return f"HEXTORAW('{bytes(value).hex()}')"


_NATIONAL = frozenset(("NVARCHAR2", "NCHAR", "NCLOB"))
_NUMBERS = frozenset(("NUMBER", "INTEGER", "FLOAT", "DECIMAL", "NUMERIC", "SMALLINT", "INT"))


def _raw_writer(column: OracleColumn) -> t.Callable[[t.Any], str] | None:
    """The writer of a type LogMiner writes verbatim (a number, a function), else None."""
    base = column.base_type
    if base in _NUMBERS:
        return oracle_number_text
    if base in ("BINARY_FLOAT", "BINARY_DOUBLE"):
        digits = 7 if base == "BINARY_FLOAT" else 16
        return lambda value: _binary_float_text(value, digits)
    if base in ("RAW", "BLOB"):
        return _hex_text
    if base == "DATE":
        return _date_text
    if base in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH LOCAL TIME ZONE"):
        digits = column.fraction_digits
        text = _timestamp_text if base == "TIMESTAMP" else _zoned_text
        return lambda value: text(value, digits)
    if base.startswith("INTERVAL YEAR"):
        return _year_month_text
    if base.startswith("INTERVAL DAY"):
        return _day_second_text
    if base in ("NVARCHAR2", "NCHAR", "NCLOB", "VARCHAR2", "VARCHAR", "CLOB", "CHAR"):
        return None
    return lambda value: "Unsupported Type"


def _text_of(column: OracleColumn) -> t.Callable[[t.Any], str]:
    """The text a character column holds for ``value`` (CHAR and NCHAR blank-padded)."""
    base = column.base_type
    if base in ("CHAR", "NCHAR"):
        width = column.length // 2 if base == "NCHAR" else column.length
        return lambda value: str(value).ljust(width)
    return str


def literal(column: OracleColumn, value: t.Any) -> str | None:
    """The literal LogMiner writes in SQL_REDO for ``value`` (a python-oracledb value) of ``column``.

    Strings come back plain (to be quoted by :func:`quote`); numbers and functions come
    back as :class:`Raw`. ``None`` is NULL. LOB columns give ``EMPTY_CLOB()``/``EMPTY_BLOB()``
    only when asked by the caller (an insert writes the locator first).
    """
    if value is None:
        return None
    raw, text_of = _writers(column)
    if raw is not None:
        return Raw(raw(value))
    text = text_of(value)
    if column.base_type in _NATIONAL and not text.isascii():
        return Raw(_unistr(text))
    return text


@functools.lru_cache(maxsize=4096)
def _writers(column: OracleColumn) -> tuple[t.Callable[[t.Any], str] | None, t.Callable[[t.Any], str]]:
    return _raw_writer(column), _text_of(column)


def sql_literal(column: OracleColumn) -> t.Callable[[t.Any], str]:
    """A function writing a value of ``column`` as SQL_REDO shows it: exactly
    ``quote(literal(column, value))``, with the type's dispatch done once (the emulator
    renders every row with these)."""
    raw, text_of = _writers(column)
    if raw is not None:
        return lambda value: "NULL" if value is None else raw(value)
    if column.base_type in _NATIONAL:

        def national(value: t.Any) -> str:
            if value is None:
                return "NULL"
            text = text_of(value)
            return "'" + text.replace("'", "''") + "'" if text.isascii() else _unistr(text)

        return national
    return lambda value: "NULL" if value is None else "'" + text_of(value).replace("'", "''") + "'"


def oracle_internal_bytes(column: OracleColumn, value: t.Any) -> bytes:
    """The value in Oracle's internal row format, as LogMiner shows it inside ``HEXTORAW``
    when it cannot name the columns (a dictionary mismatch): NUMBER in base-100, DATE in
    7 bytes, TIMESTAMP in 11, text in the database (AL32UTF8) or national (AL16UTF16) set."""
    base = column.base_type
    if base in ("NUMBER", "INTEGER", "FLOAT", "DECIMAL", "NUMERIC"):
        return _oracle_number(Decimal(value))
    if base in ("NVARCHAR2", "NCHAR", "NCLOB"):
        return str(value).encode("utf-16-be")
    if base in ("RAW", "BLOB"):
        return bytes(value)
    if base in ("DATE", "TIMESTAMP"):
        date = [value.year // 100 + 100, value.year % 100 + 100, value.month, value.day]
        head = bytes([*date, value.hour + 1, value.minute + 1, value.second + 1])
        return head if base == "DATE" or not value.microsecond else head + (value.microsecond * 1000).to_bytes(4, "big")
    return str(value).encode("utf-8")


def _oracle_number(value: Decimal) -> bytes:
    if value == 0:
        return b"\x80"
    sign, digit_tuple, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    if exponent % 2:
        digits += "0"
        exponent -= 1
    if len(digits) % 2:
        digits = "0" + digits
    pairs = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    while pairs and pairs[-1] == 0:
        pairs.pop()
        exponent += 2
    while pairs and pairs[0] == 0:
        pairs.pop(0)
    e100 = exponent // 2 + len(pairs) - 1
    if not sign:
        return bytes([193 + e100] + [p + 1 for p in pairs])
    out = [62 - e100] + [101 - p for p in pairs]
    if len(pairs) < 20:
        out.append(102)
    return bytes(out)


def debezium_value(column: OracleColumn, value: t.Any) -> t.Any:
    """The Debezium value of a python-oracledb ``value`` (a snapshot row's, or the emulator's):
    exactly what :func:`convert_value` gives for the literal LogMiner writes for it, so that
    snapshot (``op=r``) and streamed events agree."""
    written = literal(column, value)
    return convert_value(column, written, quoted=None if written is None or isinstance(written, Raw) else True)
