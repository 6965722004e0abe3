"""Reading SAP tables through RFC_READ_TABLE: dictionary, WHERE lines, decoding, key-range paging.

RFC_READ_TABLE has no ORDER BY and returns at most ROWCOUNT rows *in any order*, so a
page of ``K > last`` is an arbitrary subset, not the next rows. :class:`RangeReader`
therefore reads key ranges ``(low, high]`` with ROWCOUNT = ``page.size``: a range that
comes back short is complete; a full one may have been cut, so it is split at the median
key of what came back and both halves are read again (lower half first). Completed
ranges are handed out in key order, so every row is read exactly once however the
database orders them, and no read is ever unbounded.

Rows wider than 512 characters are read as projections of at most 512 characters,
each with the key fields, and joined on the key (not atomic: a row changed between two
projection reads may mix versions; a row deleted in between is dropped).
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from headwater.connectors.errors import FatalError, RecordError
from headwater.connectors.sap.client import RfcClient, SapCallError

__all__ = [
    "Column",
    "Dictionary",
    "RangeReader",
    "Row",
    "and_conditions",
    "decode",
    "key_bound",
    "key_in",
    "where_lines",
]

WIDTH = 512
_LINE = 72
_NUMERIC = frozenset("PIbs8F")

RawRow: t.TypeAlias = dict[str, str]
"""Field name -> the field's text as RFC_READ_TABLE returned it (fixed width)."""
Row: t.TypeAlias = dict[str, t.Any]


@dataclass(frozen=True, slots=True)
class Column:
    """One field as the data dictionary (DDIF_FIELDINFO_GET) describes it."""

    name: str
    datatype: str
    inttype: str
    leng: int
    decimals: int
    key: bool
    text: str


@dataclass
class Dictionary:
    """A table's fields, in DDIC order, and its key."""

    table: str
    columns: list[Column]

    def __post_init__(self) -> None:
        self.by_name = {c.name: c for c in self.columns}

    @classmethod
    def load(cls, client: RfcClient, table: str) -> Dictionary:
        """DDIF_FIELDINFO_GET for ``table``.

        Raises:
            FatalError: the table does not exist (or is a structure), naming it.
        """
        try:
            result = client.call("DDIF_FIELDINFO_GET", TABNAME=table)
        except SapCallError as exc:
            if exc.key == "NOT_FOUND":
                msg = f"table {table} does not exist in the SAP system (DDIF_FIELDINFO_GET: NOT_FOUND)"
                raise FatalError(msg) from exc
            raise
        if result.get("DDOBJTYPE") == "INTTAB":
            msg = f"{table} is a structure, not a table: it has no data to read"
            raise FatalError(msg)
        columns = [
            Column(
                name=str(row["FIELDNAME"]).strip(),
                datatype=str(row["DATATYPE"]).strip(),
                inttype=str(row["INTTYPE"]).strip(),
                leng=int(row["LENG"]),
                decimals=int(row["DECIMALS"] or 0),
                key=str(row.get("KEYFLAG", "")).strip() == "X",
                text=str(row.get("FIELDTEXT", "")).strip(),
            )
            for row in result.get("DFIES_TAB", [])
            if str(row.get("FIELDNAME", "")).strip() and not str(row["FIELDNAME"]).startswith(".")
        ]
        return cls(table, columns)

    @property
    def client_column(self) -> Column | None:
        """The client field (MANDT, MANDANT...), when the table is client-dependent."""
        first = self.columns[0] if self.columns else None
        return first if first is not None and first.datatype == "CLNT" else None


def quote(value: str) -> str:
    """An Open SQL literal."""
    return "'" + value.replace("'", "''") + "'"


def where_lines(condition: str) -> list[dict[str, str]]:
    """OPTIONS rows for ``condition``: lines of at most 72 characters, split between tokens.

    Raises:
        FatalError: a single literal longer than a line (SAP cannot take it either).
    """
    tokens: list[str] = []
    i = 0
    while i < len(condition):
        if condition[i].isspace():
            i += 1
            continue
        j = i
        if condition[i] == "'":
            j += 1
            while j < len(condition):
                if condition[j] == "'" and condition[j + 1 : j + 2] != "'":
                    break
                j += 2 if condition[j] == "'" else 1
            j += 1
        else:
            while j < len(condition) and not condition[j].isspace():
                j += 1
        tokens.append(condition[i:j])
        i = j
    lines: list[str] = []
    current = ""
    for token in tokens:
        if len(token) > _LINE:
            msg = f"a WHERE token is longer than {_LINE} characters: {token[:40]}..."
            raise FatalError(msg)
        if current and len(current) + 1 + len(token) > _LINE:
            lines.append(current)
            current = token
        else:
            current = f"{current} {token}" if current else token
    if current:
        lines.append(current)
    return [{"TEXT": line} for line in lines]


def and_conditions(*conditions: str) -> str:
    """The conditions joined with AND, each in parentheses (empty ones left out)."""
    parts = [c for c in conditions if c]
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return " AND ".join(f"( {c} )" for c in parts)


def _literal(column: Column, text: str) -> str:
    return text.strip() if column.inttype in _NUMERIC else quote(text.rstrip())


def key_bound(columns: t.Sequence[Column], values: t.Sequence[str], strict: str, last: str) -> str:
    """``(K1, K2...) > (a, b...)`` and the like, as an Open SQL condition on the key fields.

    ``strict`` is the operator on a leading field (``>`` or ``<``); ``last`` the one on the
    last field (``>``, ``>=``, ``<``, ``<=``).
    """
    ors = []
    for index, column in enumerate(columns):
        equal = [f"{c.name} = {_literal(c, v)}" for c, v in zip(columns[:index], values[:index], strict=True)]
        op = last if index == len(columns) - 1 else strict
        test = f"{column.name} {op} {_literal(column, values[index])}"
        ors.append(" AND ".join([*equal, test]) if equal else test)
    return " OR ".join(f"( {o} )" for o in ors) if len(ors) > 1 else ors[0]


def key_in(columns: t.Sequence[Column], keys: t.Sequence[t.Sequence[str]]) -> str:
    """Rows whose key is one of ``keys``."""
    if len(columns) == 1:
        return f"{columns[0].name} IN ( " + " , ".join(_literal(columns[0], k[0]) for k in keys) + " )"
    return " OR ".join(
        "( " + " AND ".join(f"{c.name} = {_literal(c, v)}" for c, v in zip(columns, k, strict=True)) + " )"
        for k in keys
    )


def sort_key(columns: t.Sequence[Column], values: t.Sequence[str]) -> tuple[t.Any, ...]:
    """How SAP orders keys: numeric fields by value, character fields by text (trailing blanks ignored)."""
    out: list[t.Any] = []
    for column, value in zip(columns, values, strict=True):
        if column.inttype in _NUMERIC:
            text = value.strip()
            out.append(-Decimal(text[:-1]) if text.endswith("-") else Decimal(text or 0))
        else:
            out.append(value.rstrip())
    return tuple(out)


def _bad(column: Column, text: str) -> t.NoReturn:
    msg = f"field {column.name}: {text!r} does not fit type {column.datatype}"
    raise ValueError(msg)


def decode(column: Column, text: str) -> t.Any:
    """One field's internal text as a value: see the README's SAP type table.

    CHAR (and CLNT, CUKY, UNIT, LANG) -> ``str`` without trailing blanks; NUMC -> ``str``
    with its leading zeros; DATS -> ``datetime.date`` (None for ``00000000`` or blanks);
    TIMS -> ``datetime.time``; DEC, CURR, QUAN -> ``Decimal`` at the field's scale;
    INT1/2/4/8 -> ``int``; FLTP -> ``float``.

    Raises:
        RecordError: text that is not valid for the type (a packed overflow ``*``...).
    """
    kind = column.inttype
    if kind in "Cg":
        return text.rstrip()
    if kind == "N":
        return text.strip()
    if kind == "D":
        value = text.strip()
        if value in ("", "00000000"):
            return None
        try:
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])) if len(value) == 8 else _bad(column, text)
        except ValueError as exc:
            msg = f"field {column.name}: {text!r} is not a date (YYYYMMDD)"
            raise RecordError(msg) from exc
    if kind == "T":
        value = text.strip()
        if not value:
            return None
        try:
            return dt.time(int(value[:2]), int(value[2:4]), int(value[4:6])) if len(value) == 6 else _bad(column, text)
        except ValueError as exc:
            msg = f"field {column.name}: {text!r} is not a time (HHMMSS)"
            raise RecordError(msg) from exc
    value = text.strip()
    if value.startswith("*"):
        msg = (
            f"field {column.name}: {text!r} overflowed its {column.leng} characters in {column.datatype} "
            "(RFC_READ_TABLE cannot show this value; use a wider read function)"
        )
        raise RecordError(msg)
    negative = value.endswith("-")
    digits = value[:-1].strip() if negative else value
    try:
        if kind == "P":
            number = Decimal(digits or "0").quantize(Decimal(1).scaleb(-column.decimals))
            return -number if negative else number
        if kind in "Ibs8":
            whole = int(digits or "0")
            return -whole if negative else whole
        if kind == "F":
            real = float(digits or "0")
            return -real if negative else real
    except (InvalidOperation, ValueError) as exc:
        msg = f"field {column.name}: {text!r} is not a {column.datatype} number"
        raise RecordError(msg) from exc
    msg = f"field {column.name}: type {column.datatype} is not supported"
    raise RecordError(msg)


def projections(key: list[Column], others: list[Column], delimiter: str) -> list[list[Column]]:
    """Split ``others`` into groups that, each with ``key``, fit in 512 characters."""
    width = sum(c.leng for c in key) + len(delimiter) * max(0, len(key) - 1)
    if width > WIDTH:
        msg = f"the key fields alone are {width} characters, more than RFC_READ_TABLE's {WIDTH}"
        raise FatalError(msg)
    groups: list[list[Column]] = []
    current: list[Column] = []
    used = width
    for column in others:
        extra = column.leng + len(delimiter)
        if width + extra > WIDTH:
            msg = f"field {column.name} ({column.leng} characters) does not fit in one {WIDTH}-character read"
            raise FatalError(msg)
        if used + extra > WIDTH:
            groups.append(current)
            current, used = [], width
        current.append(column)
        used += extra
    if current or not groups:
        groups.append(current)
    return groups


@dataclass
class _Range:
    low: tuple[str, ...] | None
    high: tuple[str, ...] | None


@dataclass
class RangeReader:
    """Reads every row matching ``condition`` exactly once, in key order, range by range.

    Call :meth:`step` until :attr:`done`; each call makes one to a few RFC calls and
    returns the rows of a completed range (sorted by key; possibly empty). The state
    changes only after every call of a step succeeded, so after a RetriableError the
    same step is simply made again.
    """

    client: RfcClient
    function: str
    table: str
    key: list[Column]
    groups: list[list[Column]]
    condition: str
    page_size: int
    delimiter: str = ""
    start_after: tuple[str, ...] | None = None
    reads: int = 0
    _stack: list[_Range] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stack = [_Range(self.start_after, None)]

    @property
    def done(self) -> bool:
        return not self._stack

    def step(self) -> list[RawRow]:
        """Read the next range; its rows when it was complete, else [] after splitting it."""
        current = self._stack[-1]
        condition = and_conditions(
            self.condition,
            key_bound(self.key, current.low, ">", ">") if current.low is not None else "",
            key_bound(self.key, current.high, "<", "<=") if current.high is not None else "",
        )
        rows = self._read(self.key + self.groups[0], condition)
        keys = [tuple(row[c.name] for c in self.key) for row in rows]
        if len(rows) >= self.page_size:
            ordered = sorted(keys, key=lambda k: sort_key(self.key, k))
            pivot = ordered[(len(ordered) - 1) // 2]
            self._stack.pop()
            self._stack.append(_Range(pivot, current.high))
            self._stack.append(_Range(current.low, pivot))
            return []
        by_key = {k: row for k, row in zip(keys, rows, strict=True)}
        for group in self.groups[1:]:
            more = self._read(self.key + group, condition)
            joined = {}
            for row in more:
                k = tuple(row[c.name] for c in self.key)
                if k in by_key:
                    joined[k] = by_key[k] | row
            by_key = joined  # rows missing from a later projection were deleted in between
        self._stack.pop()
        return [by_key[k] for k in sorted(by_key, key=lambda k: sort_key(self.key, k))]

    def _read(self, columns: list[Column], condition: str) -> list[RawRow]:
        result = self.client.call(
            self.function,
            QUERY_TABLE=self.table,
            DELIMITER=self.delimiter,
            ROWCOUNT=self.page_size,
            OPTIONS=where_lines(condition),
            FIELDS=[{"FIELDNAME": c.name} for c in columns],
        )
        self.reads += 1
        return split_rows(result)


def split_rows(result: t.Mapping[str, t.Any]) -> list[RawRow]:
    """Cut each DATA line into fields by the FIELDS offsets and lengths (never by the delimiter)."""
    layout = [(str(f["FIELDNAME"]).strip(), int(f["OFFSET"]), int(f["LENGTH"])) for f in result.get("FIELDS", [])]
    width = max((offset + length for _, offset, length in layout), default=0)
    rows = []
    for line in result.get("DATA", []):
        wa = str(line.get("WA", "")).ljust(width)  # pyrfc right-strips: the last field may be short
        rows.append({name: wa[offset : offset + length] for name, offset, length in layout})
    return rows
