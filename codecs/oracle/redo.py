"""Parse LogMiner ``SQL_REDO`` DML statements into column values (pure, no I/O).

LogMiner writes one statement per change (reassembled from ``CSF=1`` rows by the caller):

- ``insert into "S"."T"("A","B") values ('x',NULL);``
- ``update "S"."T" set "A" = 'y' where "A" = 'x' and "B" IS NULL;`` (optionally with a
  table alias, ``update "S"."T" a set a."A" = ...``)
- ``delete from "S"."T" where "A" = 'x' and "B" IS NULL;``

Values are returned *as written*: a quoted literal without its quotes and with doubled
quotes undone (``'O''Brien'`` -> ``O'Brien``), ``NULL`` (and ``IS NULL`` in a WHERE clause)
as ``None``, and anything else (bare numbers, ``TO_DATE(...)``, ``TO_TIMESTAMP(...)``,
``TO_TIMESTAMP_TZ(...)``, ``HEXTORAW(...)``, ``UNISTR(...) || UNISTR(...)``,
``EMPTY_CLOB()``, ``Unsupported Type``) as its exact text. Typed conversion by column type
is a separate step (:mod:`headwater.codecs.oracle.convert`).

Identifiers are whatever LogMiner put between double quotes, so names with spaces, ``#``
or single quotes, and the dictionary-mismatch forms (``"UNKNOWN"."OBJ# 74858"`` and
``"COL 1"``), come through unchanged. A ``ROWID = '...'`` predicate (written when the
session does not use ``NO_ROWID_IN_STMT``) is not a column and is dropped.

LogMiner sometimes writes an apostrophe inside a string without doubling it. When the
strict reading fails, a relaxed one runs: a quote closes a string only where a
separator follows it (``,`` or the end of the list, `` and``, `` where``, ``||``), as
Debezium's relaxed quote detection does.

Everything here is a pure function, safe to call from any thread.

The statements in LogMiner's own three shapes are read first by an optional C extension,
``headwater.codecs.oracle._credo`` (built by ``pip install`` when a C compiler is there;
the package works without it), which returns the same change as the regular expressions
below or nothing, and then they read the statement (and raise every error). It is used
whenever it imports, unless the environment variable ``HEADWATER_ORACLE_NATIVE`` is ``0``
at import time (or :data:`NATIVE_ENABLED` is set to False, as the differential tests do).
"""

from __future__ import annotations

import os
import re
import typing as t
from dataclasses import dataclass, field

from headwater.connectors.errors import RecordError

try:
    from headwater.codecs.oracle import _credo
except ImportError:  # no C compiler at install time: the regular expressions read everything
    _credo = None

__all__ = ["NATIVE_AVAILABLE", "NATIVE_ENABLED", "RedoChange", "RedoParseError", "parse_redo"]

#: True when the compiled reader of LogMiner's shapes (``_credo``) is installed.
NATIVE_AVAILABLE: bool = _credo is not None
#: Set to False to parse with the pure-Python path only (tests, or a suspected bug).
NATIVE_ENABLED: bool = NATIVE_AVAILABLE and os.environ.get("HEADWATER_ORACLE_NATIVE", "1") != "0"


class RedoParseError(RecordError):
    """A ``SQL_REDO`` statement that is not a well-formed LogMiner insert, update or delete.

    ``location`` names the statement (its position in the input, when the caller gave
    one) and the character offset where reading stopped.
    """


@dataclass(slots=True)
class RedoChange:
    """One parsed DML statement.

    Attributes:
        operation: ``INSERT``, ``UPDATE`` or ``DELETE``.
        schema: the owner as written (``UNKNOWN`` on a dictionary mismatch).
        table: the table name as written (``OBJ# 74858`` on a dictionary mismatch).
        new: the values of an insert's list or an update's SET clause, by column.
        old: the values of the WHERE clause of an update or delete, by column
            (``IS NULL`` gives ``None``).
    """

    operation: str
    schema: str
    table: str
    new: dict[str, str | None] = field(default_factory=dict)
    old: dict[str, str | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, t.Any]:
        """The ``headwater oracle parse-redo`` shape: operation, ``SCHEMA.TABLE``, new, old."""
        return {"operation": self.operation, "table": f"{self.schema}.{self.table}", "new": self.new, "old": self.old}


_native_parse: t.Callable[[str], RedoChange | None] | None = (
    _credo.Parser(RedoChange).parse if _credo is not None else None
)
"""The compiled one-pass reader: the change of a statement in one of LogMiner's shapes
(exactly what :func:`_fast` or the general reader gives), or None (see ``_credo.c``)."""


# --------------------------------------------------------------------------- patterns

_STRICT_Q = r"'[^']*(?:''[^']*)*'"
# Relaxed: a lone quote is part of the string unless a separator follows it.
_RELAXED_Q = r"'(?:[^']|''|'(?!\s*(?:,|\)|;|$|\|\||(?i:and|where)\s)))*'"


def _atom(q: str) -> str:
    args = r"\([^'()]*(?:" + q + r"[^'()]*)*\)"
    return (
        r"(?:/\*[^*]*\*/\s*)?(?:[A-Za-z_][A-Za-z0-9_$#]*\s*" + args + r"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
        r"|Unsupported Type|NULL|[-+]?Inf|Nan)"
    )


class _Patterns:
    """The compiled regular expressions of one quoting mode (strict or relaxed).

    Statement prefixes are matched first; the rest of the statement is then read by one
    ``findall`` whose last alternative ``(.)`` catches anything unexpected, so the whole
    text is accounted for without a Python loop per character.
    """

    def __init__(self, q: str) -> None:
        atom = _atom(q)
        expr = rf"(?:{atom}|{q})(?:\s*\|\|\s*(?:{atom}|{q}))*"
        value = rf"(?:({q})|({expr}))"
        table = r'"([^"]*)"\."([^"]*)"'
        alias = r"(?:\s+(?!(?i:set|where)\b)[A-Za-z_]\w*)?"
        self.insert = re.compile(rf'\s*(?i:insert\s+into)\s+{table}\s*\(((?:\s*"[^"]*"\s*,?)*)\)\s*(?i:values)\s*\(')
        self.update = re.compile(rf"\s*(?i:update)\s+{table}{alias}\s+(?i:set)\s+")
        self.delete = re.compile(rf"\s*(?i:delete\s+from)\s+{table}{alias}(?:\s*;?\s*$|\s+(?i:where)\s+)")
        self.values = re.compile(rf"\s*{value}\s*(?:,|(\)\s*;?\s*$))|(.)", re.DOTALL)
        self.pairs = re.compile(
            rf'(?:[A-Za-z_]\w*\.)?(?:"([^"]*)"|(ROWID))\s*(?:=\s*{value}|(IS NULL))'
            rf"(\s*,\s*|\s+(?i:where|and)\s+|\s*;?\s*$)|(.)",
            re.DOTALL,
        )


_STRICT = _Patterns(_STRICT_Q)
_RELAXED = _Patterns(_RELAXED_Q)
_IDENT = re.compile(r'\s*"([^"]*)"\s*(?:,|$)|(.)', re.DOTALL)
_KEYWORD = re.compile(r"\s*(insert|update|delete)\b", re.IGNORECASE)


class _Bad(Exception):
    """Internal: where and why a statement did not parse (turned into RedoParseError)."""

    def __init__(self, why: str, offset: int) -> None:
        super().__init__(why)
        self.why = why
        self.offset = offset


def _error_offset(pattern: re.Pattern[str], text: str, base: int) -> int:
    for match in pattern.finditer(text):
        if match.group(match.re.groups):
            return base + match.start(match.re.groups)
    return base + len(text)


def _values(p: _Patterns, sql: str, base: int) -> list[str | None]:
    text = sql[base:]
    out: list[str | None] = []
    closed = False
    for quoted, other, end, bad in p.values.findall(text):
        if bad or closed:
            msg = "expected a value (a quoted string, a number, NULL or a function)"
            raise _Bad(msg, _error_offset(p.values, text, base))
        if quoted:
            quoted = quoted[1:-1]
            out.append(quoted.replace("''", "'") if "''" in quoted else quoted)
        elif other == "NULL":
            out.append(None)
        else:
            out.append(other.rstrip())
        closed = bool(end)
    if not closed:
        msg = "the values list is not closed by ')'"
        raise _Bad(msg, base + len(text))
    return out


def _pairs(p: _Patterns, sql: str, base: int, in_where: bool) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Read ``"A" = v, "B" = w where "A" = x and "B" IS NULL`` (from the SET clause, or
    from the WHERE clause when ``in_where``) to the end of the statement."""
    text = sql[base:]
    new: dict[str, str | None] = {}
    old: dict[str, str | None] = {}
    target = old if in_where else new
    ended = False
    for name, rowid, quoted, other, is_null, sep, bad in p.pairs.findall(text):
        if bad or ended or (is_null and not in_where):
            msg = (
                'expected "COLUMN" = value or "COLUMN" IS NULL in the WHERE clause'
                if in_where
                else 'expected "COLUMN" = value in the SET clause'
            )
            raise _Bad(msg, _error_offset(p.pairs, text, base))
        if quoted:
            quoted = quoted[1:-1]
            value: str | None = quoted.replace("''", "'") if "''" in quoted else quoted
        elif is_null or other == "NULL":
            value = None
        else:
            value = other.rstrip()
        if not rowid:
            target[name] = value
        word = sep.strip().lower()
        if word in ("", ";"):
            ended = True
        elif word == "where":
            if in_where:
                msg = "a second WHERE"
                raise _Bad(msg, _error_offset(p.pairs, text, base))
            in_where, target = True, old
        elif (word == ",") == in_where:
            msg = "'and' separates WHERE conditions, ',' separates SET assignments"
            raise _Bad(msg, _error_offset(p.pairs, text, base))
    if not ended:
        msg = "the statement ends in the middle of a condition or assignment"
        raise _Bad(msg, base + len(text))
    return new, old


def _parse(p: _Patterns, sql: str) -> RedoChange:
    keyword = _KEYWORD.match(sql)
    if keyword is None:
        msg = "not an insert, update or delete statement"
        raise _Bad(msg, 0)
    kind = keyword.group(1).lower()
    if kind == "insert":
        m = p.insert.match(sql)
        if m is None:
            msg = 'expected insert into "SCHEMA"."TABLE"("COL",...) values (...);'
            raise _Bad(msg, keyword.end())
        listed = m.group(3)
        columns = listed[1:-1].split('","')  # LogMiner's own form: "A","B" without blanks
        if listed[:1] != '"' or listed[-1:] != '"' or any('"' in name for name in columns):
            columns = []
            for name, bad in _IDENT.findall(listed):
                if bad:
                    msg = 'expected a quoted column name ("COL")'
                    raise _Bad(msg, _error_offset(_IDENT, listed, m.start(3)))
                columns.append(name)
        values = _values(p, sql, m.end())
        if len(values) != len(columns):
            msg = f"{len(columns)} columns but {len(values)} values"
            raise _Bad(msg, m.end())
        return RedoChange("INSERT", m.group(1), m.group(2), dict(zip(columns, values, strict=True)), {})
    if kind == "update":
        m = p.update.match(sql)
        if m is None:
            msg = 'expected update "SCHEMA"."TABLE" set "COL" = value, ... [where ...];'
            raise _Bad(msg, keyword.end())
        new, old = _pairs(p, sql, m.end(), in_where=False)
        return RedoChange("UPDATE", m.group(1), m.group(2), new, old)
    m = p.delete.match(sql)
    if m is None:
        msg = 'expected delete from "SCHEMA"."TABLE" [where ...];'
        raise _Bad(msg, keyword.end())
    if m.end() == len(sql):
        return RedoChange("DELETE", m.group(1), m.group(2), {}, {})
    _, old = _pairs(p, sql, m.end(), in_where=True)
    return RedoChange("DELETE", m.group(1), m.group(2), {}, old)


# --------------------------------------------------------------------------- fast path
#
# LogMiner writes every statement in one of three fixed shapes. For a statement in exactly
# that shape (lower-case keywords, single blanks, no alias, no ``ROWID`` predicate, no
# ``||`` and no comment) one regular expression, compiled once per shape (the kind and the
# number of values), matches the whole statement and captures every name and value: one
# pass in C, possessive quantifiers so that it never backtracks, and a short Python loop.
# A statement in any other form, or one the shape's expression does not match (an
# unescaped quote, a shape miscounted because a string holds ``" = ``, an error), goes to
# the general reader above, so results and errors are the general reader's. The strict
# quoting grammar reads a statement one way only, so a full match gives the values the
# general reader gives (``tests/codecs/test_oracle_redo.py`` compares the two).

_F_QUOTED = r"'([^']*+(?:''[^']*+)*+)'"
# Atomic: once a value has matched, a later mismatch never re-splits it (``\d+\.?\d*`` alone
# can split ``12`` two ways, so a statement that fails late would retry 2**values splits).
_F_OTHER = (
    r"((?>NULL|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
    r"|[A-Za-z_][A-Za-z0-9_$#]*\((?>[^'()]++|'[^']*+(?:''[^']*+)*+')*+\)"
    r"|Unsupported Type|[-+]?Inf|Nan))"
)
_F_VALUE = rf"(?:{_F_QUOTED}|{_F_OTHER})"
_F_TABLE = r'"([^"]*+)"\."([^"]*+)"'
_F_SHAPES: dict[tuple[str, int, int], re.Pattern[str]] = {}
_F_MAX_VALUES = 128
_F_NEVER = re.compile(r"(?!)")


def _shape(kind: str, first: int, second: int) -> re.Pattern[str]:
    """The whole-statement expression of one shape (compiled on first use, then cached); for
    a shape of more than ``_F_MAX_VALUES`` values (compiling grows with the width, about
    1.4 s for 1,000 columns, while the general reader takes about 2 us a column) and for an
    update with an empty SET list (the general reader's error), one that never matches."""
    if first + second > _F_MAX_VALUES or (kind == "update" and first == 0):
        return _F_NEVER
    if kind == "insert":  # the values list only: the head is read once per table (_insert_head)
        text = ",".join([_F_VALUE] * first) + r"\);?"
    else:
        pair = rf'"([^"]*+)" = {_F_VALUE}'
        condition = rf'"([^"]*+)" (?:= {_F_VALUE}|IS NULL)'
        where = (" where " + " and ".join([condition] * second)) if second else ""
        if kind == "update":
            text = rf"update {_F_TABLE} set " + ", ".join([pair] * first) + where + ";?"
        else:
            text = rf"delete from {_F_TABLE}{where};?"
    if len(_F_SHAPES) >= 4096:
        _F_SHAPES.clear()
    pattern = _F_SHAPES[(kind, first, second)] = re.compile(text, re.DOTALL)
    return pattern


_F_INSERT_HEAD = re.compile(r'insert into "([^"]*+)"\."([^"]*+)"\(("[^"]*+"(?:,"[^"]*+")*+)')
_F_HEADS: dict[str, tuple[str, str, list[str], re.Pattern[str]] | None] = {}
_UNSEEN: t.Any = object()


def _insert_head(head: str) -> tuple[str, str, list[str], re.Pattern[str]] | None:
    """Schema, table, columns and values expression of an insert's text before ``) values (``
    (the same for every insert into a table, so read once and cached); None if not LogMiner's form."""
    m = _F_INSERT_HEAD.fullmatch(head)
    found = None
    if m is not None:
        columns = m.group(3)[1:-1].split('","')
        shape = _F_SHAPES.get(("insert", len(columns), 0)) or _shape("insert", len(columns), 0)
        found = (m.group(1), m.group(2), columns, shape)
    if len(_F_HEADS) >= 4096:
        _F_HEADS.clear()
    _F_HEADS[head] = found
    return found


def _fast_values(sql: str, quoted: tuple[str | None, ...], other: tuple[str | None, ...]) -> list[str | None]:
    """The values as written from a shape's groups: a quoted string's text (doubled quotes
    undone), ``NULL`` (and ``IS NULL``, where neither group took part) as None, else the text."""
    values = list(quoted)
    for index, text in enumerate(other):
        if text is not None:
            values[index] = None if text == "NULL" else text
    if "''" in sql:
        for index, text in enumerate(quoted):
            if text and "''" in text:
                values[index] = text.replace("''", "'")
    return values


_F_CONDITIONS: dict[tuple[str, str], int] = {}
"""Per kind and table (as written), how many WHERE conditions its last statement had: with
supplemental logging of all columns that is every time the same, so counting is skipped."""


def _fast_where(sql: str, kind: str, table: str, first: int, where: int) -> re.Match[str] | None:
    """The whole-statement match of an update or delete whose WHERE clause starts at ``where``:
    the table's last number of conditions first, else counted (a wrong guess costs a retry)."""
    key = (kind, table)
    second = _F_CONDITIONS.get(key)
    if second is not None:
        m = (_F_SHAPES.get((kind, first, second)) or _shape(kind, first, second)).fullmatch(sql)
        if m is not None:
            return m
    counted = sql.count('" = ', where) + sql.count('" IS NULL', where)
    if counted == second:
        return None
    m = (_F_SHAPES.get((kind, first, counted)) or _shape(kind, first, counted)).fullmatch(sql)
    if m is not None:
        if len(_F_CONDITIONS) >= 4096:
            _F_CONDITIONS.clear()
        _F_CONDITIONS[key] = counted
    return m


def _fast(sql: str) -> RedoChange | None:
    """The statement's change when it has exactly one of LogMiner's shapes, else None."""
    head = sql[:7]
    if head == "insert ":
        end = sql.find(") values (")
        if end < 0:
            return None
        text = sql[:end]
        table = _F_HEADS.get(text, _UNSEEN)  # one lookup: another thread may clear the cache
        if table is _UNSEEN:
            table = _insert_head(text)
        if table is None:
            return None
        m = table[3].fullmatch(sql, end + 10)
        if m is None:
            return None
        g = m.groups()
        values = _fast_values(sql, g[0::2], g[1::2])
        return RedoChange("INSERT", table[0], table[1], dict(zip(table[2], values, strict=True)), {})
    if head == "update ":
        where = sql.find(' where "')
        if where < 0:
            first = sql.count('" = ')
            m = (_F_SHAPES.get(("update", first, 0)) or _shape("update", first, 0)).fullmatch(sql)
        else:
            first = sql.count('" = ', 0, where)
            m = _fast_where(sql, "update", sql[7 : sql.find(" set ", 7, where)], first, where)
        if m is None:
            return None
        g = m.groups()
        names = g[2::3]
        values = _fast_values(sql, g[3::3], g[4::3])
        new = dict(zip(names[:first], values[:first], strict=True))
        old = dict(zip(names[first:], values[first:], strict=True))
        return RedoChange("UPDATE", g[0], g[1], new, old)
    if head == "delete ":
        where = sql.find(' where "')
        if where < 0:
            m = (_F_SHAPES.get(("delete", 0, 0)) or _shape("delete", 0, 0)).fullmatch(sql)
        else:
            m = _fast_where(sql, "delete", sql[12:where], 0, where)
        if m is None:
            return None
        g = m.groups()
        return RedoChange(
            "DELETE", g[0], g[1], {}, dict(zip(g[2::3], _fast_values(sql, g[3::3], g[4::3]), strict=True))
        )
    return None


def parse_redo(sql: str, *, position: object = None) -> RedoChange:
    """Parse one ``SQL_REDO`` insert, update or delete.

    Args:
        sql: the whole statement (continuation rows already joined).
        position: where the statement came from, for the error message (e.g.
            ``"line 12"`` or ``"SCN 2122185 XID 0a000600a4020000"``): a string, or any
            object whose ``str()`` gives one (formatted only when there is an error).

    Returns:
        The operation, the table and the column values as written (see the module doc).

    Raises:
        RedoParseError: the statement is not a well-formed LogMiner DML statement; the
            location names ``position`` and the character offset where reading failed.
    """
    if NATIVE_ENABLED and _native_parse is not None:
        fast = _native_parse(sql)  # LogMiner's own shapes, compiled
        if fast is not None:
            return fast
    fast = _fast(sql)  # LogMiner's own shapes, in one pass of a regular expression
    if fast is not None:
        return fast
    try:
        return _parse(_STRICT, sql)
    except _Bad as strict_error:
        if "'" not in sql:
            first = strict_error
        else:
            try:
                return _parse(_RELAXED, sql)
            except _Bad:
                first = strict_error
    where = f"{position}, character {first.offset}" if position else f"character {first.offset}"
    snippet = sql[first.offset : first.offset + 40]
    msg = f"{first.why} (at {snippet!r})"
    raise RedoParseError(msg, location=where, raw=sql.encode("utf-8", "replace"))
