"""An in-process Oracle LogMiner emulator behind :class:`headwater.connectors.oracle.client.OracleClient`.

A scenario (:data:`SCENARIOS`, or a JSON file of :class:`Scenario` fields) and a seed
determine everything: the tables (ALL_TAB_COLUMNS metadata, primary keys, object ids),
their initial rows, and a workload of interleaved transactions (inserts, updates,
deletes, commits, rollbacks, rollbacks to a savepoint, DDL adding or dropping a column,
statements on a table with an unsupported column type, values long enough to span
several 4000-byte ``SQL_REDO`` rows). The history is generated whole from the seed, then
*revealed* as the connector mines: every :meth:`LogMinerEmulator.current_scn` call moves
the database's SCN forward by ``reveal_scns``, so a restarted worker meets the same
history, only possibly at another pace.

``V$LOGMNR_CONTENTS`` rows follow Oracle's formats: ``OPERATION``/``OPERATION_CODE``
(1 insert, 2 delete, 3 update, 5 DDL, 6 start, 7 commit, 9/10/11 LOB locator, write and
trim in the ``lobs`` scenario, 36 rollback, 255 unsupported; 27 replication markers and
34 missing SCN are not produced),
``ROLLBACK=1`` undo rows of a rollback to savepoint (and of a full rollback, before its
36 row) carrying the ``ROW_ID`` of the change they undo, ``RS_ID`` with LogMiner's
blanks, ``SSN``, ``THREAD#``, ``SEQUENCE#``, ``XID`` as 16 hex digits, ``INFO``/``STATUS``,
``SQL_REDO`` as LogMiner writes it (see :mod:`headwater.codecs.oracle.render`) cut into
4000-byte rows with ``CSF=1`` on all but the last. DML mined after a DDL changed its
table comes out in the dictionary-mismatch form (``"UNKNOWN"."OBJ# n"``, ``"COL n"``,
``HEXTORAW`` of the internal row format, ``STATUS=2``), as with ``DICT_FROM_ONLINE_CATALOG``.

Errors are python-oracledb look-alikes (:class:`DatabaseError` whose ``args[0]`` has
``code``, ``full_code``, ``message``): ORA-01291 when a LogMiner window needs a redo
log that has aged out (logs switch every ``log_scns`` SCNs and only the last
``retained_logs`` stay available), ORA-01555 for a flashback read older than
``undo_scns``, ORA-08181 for an SCN in the future, and any ORA code injected with
:meth:`LogMinerEmulator.inject` (ORA-00310, ORA-00028 "session killed" part-way through a
fetch, ...).

Not thread-safe: one task thread calls it, as with a real connection.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import json
import random
import struct
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from headwater.codecs.oracle.convert import OracleColumn
from headwater.codecs.oracle.render import (
    IntervalYM,
    debezium_value,
    literal,
    oracle_internal_bytes,
    quote,
    sql_literal,
)
from headwater.codecs.oracle.schema import connect_value
from headwater.connectors.oracle.client import LogMinerRow, TableMetadata

__all__ = [
    "SCENARIOS",
    "DatabaseError",
    "LogMinerEmulator",
    "OracleErrorInfo",
    "Scenario",
    "final_state",
    "load_scenario",
    "redo_statements",
]

_MAX_REDO = 4000
_EPOCH = dt.datetime(2026, 1, 5, 9, 0, 0)
_ROWID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class OracleErrorInfo:
    """The shape of python-oracledb's ``_Error`` (``exc.args[0]``)."""

    code: int
    message: str
    offset: int = 0
    isrecoverable: bool = False

    @property
    def full_code(self) -> str:
        """``ORA-01291``."""
        return f"ORA-{self.code:05d}"

    def __str__(self) -> str:
        return f"{self.full_code}: {self.message}"


class DatabaseError(Exception):
    """The look-alike of ``oracledb.DatabaseError``: ``args[0]`` is an :class:`OracleErrorInfo`."""


_MESSAGES = {
    28: "your session has been killed",
    310: "archived log contains sequence {seq}; sequence {need} required",
    1291: "missing logfile",
    1555: 'snapshot too old: rollback segment number 11 with name "_SYSSMU11_1180927186$" too small',
    8181: "specified number is not a valid system change number",
    3113: "end-of-file on communication channel",
}


def _ora(code: int, **fields: t.Any) -> DatabaseError:
    message = _MESSAGES.get(code, "injected error").format(**({"seq": 0, "need": 0} | fields))
    return DatabaseError(OracleErrorInfo(code, message))


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """The knobs of a workload (every field has a default; a scenario file overrides some).

    Attributes:
        transactions: committed or rolled-back transactions in the workload.
        concurrency: transactions open at the same time at most (they interleave).
        ops_per_transaction: the most DML statements in one transaction (1..n).
        rollback_ratio: share of transactions that end in ROLLBACK.
        savepoint_ratio: share of transactions with a rollback to a savepoint.
        initial_rows: rows per table before the history starts (snapshot input).
        ddl: add a column to CUSTOMERS and drop it again part-way through.
        unsupported: include the GEO table whose SDO_GEOMETRY column LogMiner cannot render.
        long_values: share of inserts whose NOTE is long enough to span SQL_REDO rows.
        long_transaction: one transaction that stays open across this many others (0: none).
        log_scns: SCNs per redo log (a log switch after each).
        retained_logs: redo logs (online + archived) still available; older ones age out.
        undo_scns: how far back a flashback read can go.
        reveal_scns: how far each ``current_scn`` call moves the database forward.
        threads: redo threads (RAC nodes); transactions are spread over them.
        lobs: add the DOCUMENTS table (a CLOB and a BLOB): LOB values are written as
            LogMiner shows them, EMPTY_CLOB()/EMPTY_BLOB() in the insert, then a
            SEL_LOB_LOCATOR (9) row and LOB_WRITE (10) rows of at most 1,000 characters (and a
            LOB_TRIM (11) when a value gets shorter). Transactions that touch DOCUMENTS never
            roll back (in whole or to a savepoint).
        tables: ``"shop"`` (CUSTOMERS and ORDER LINES with every type LogMiner writes, and
            DOCUMENTS or GEO as above) or ``"users"`` (TESTDB.USERS alone: the ten-column table
            and generated values of Redpanda Connect's published LogMiner benchmark,
            ``internal/impl/oracledb/bench/create.sql`` and ``users.sql``).
        insert_ratio: share of DML statements that insert a new row (the others update or
            delete one, 7 to 4); 1.0 is an insert-only load.
    """

    transactions: int = 300
    concurrency: int = 4
    ops_per_transaction: int = 6
    rollback_ratio: float = 0.1
    savepoint_ratio: float = 0.1
    initial_rows: int = 20
    ddl: bool = True
    unsupported: bool = True
    long_values: float = 0.02
    long_transaction: int = 0
    log_scns: int = 2_000
    retained_logs: int = 1_000
    undo_scns: int = 1_000_000
    reveal_scns: int = 500
    threads: int = 1
    lobs: bool = False
    tables: str = "shop"
    insert_ratio: float = 0.45


SCENARIOS: dict[str, Scenario] = {
    "default": Scenario(),
    "simple": Scenario(
        transactions=40, rollback_ratio=0, savepoint_ratio=0, ddl=False, unsupported=False, reveal_scns=50
    ),
    "rollbacks": Scenario(transactions=120, rollback_ratio=0.3, savepoint_ratio=0.4, ddl=False, unsupported=False),
    "long-transaction": Scenario(transactions=200, long_transaction=150, ddl=False, reveal_scns=100),
    "lobs": Scenario(transactions=150, ddl=False, unsupported=False, lobs=True, reveal_scns=200),
    "missing-log": Scenario(transactions=400, log_scns=200, retained_logs=3, ddl=False, unsupported=False),
    "bulk": Scenario(
        transactions=2_000,
        concurrency=8,
        ops_per_transaction=50,
        rollback_ratio=0.02,
        savepoint_ratio=0.02,
        initial_rows=100,
        ddl=False,
        unsupported=False,
        long_values=0.0,
        reveal_scns=20_000,
    ),
    # The reference benchmark's load: INSERT ... SELECT of up to 10,000 generated users a
    # transaction, one transaction at a time (it inserts 1,000,000; 36 transactions are
    # about 190,000 rows, seconds of streaming, so that a worker's start and stop weigh little).
    "users": Scenario(
        transactions=36,
        concurrency=1,
        ops_per_transaction=10_000,
        rollback_ratio=0,
        savepoint_ratio=0,
        initial_rows=0,
        ddl=False,
        unsupported=False,
        long_values=0.0,
        reveal_scns=100_000,
        tables="users",
        insert_ratio=1.0,
    ),
}


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name, or a JSON file ``{"base": "default", "field": value, ...}``.

    Raises:
        ValueError: an unknown name, an unreadable file, or a field that is unknown, of the
            wrong type or out of range; the message names the file and the field.
    """
    if name_or_path in SCENARIOS:
        return SCENARIOS[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        msg = f"unknown Oracle emulator scenario {name_or_path!r} (built in: {', '.join(SCENARIOS)}; or a JSON file)"
        raise ValueError(msg)
    try:
        spec = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        msg = f"{path}: not a readable JSON scenario file ({type(exc).__name__} at {getattr(exc, 'pos', '?')})"
        raise ValueError(msg) from exc
    if not isinstance(spec, dict):
        msg = f"{path}: a scenario file is a JSON object of Scenario fields"
        raise ValueError(msg)
    base_name = spec.pop("base", "default")
    if base_name not in SCENARIOS:
        msg = f"{path}: base must be a built-in scenario ({', '.join(SCENARIOS)}), not {base_name!r}"
        raise ValueError(msg)
    base = SCENARIOS[base_name]
    known = {f.name for f in dataclasses.fields(Scenario)}
    unknown = set(spec) - known
    if unknown:
        msg = f"{path}: unknown scenario fields {sorted(unknown)}"
        raise ValueError(msg)
    for name, value in spec.items():
        _check_field(path, name, value, getattr(base, name))
    return dataclasses.replace(base, **spec)


_RATIOS = ("rollback_ratio", "savepoint_ratio", "long_values", "insert_ratio")


def _check_field(path: Path, name: str, value: t.Any, default: t.Any) -> None:
    """A scenario file's field has its default's type (an int for a float is fine) and a
    sensible range, or the file is refused with the field named."""
    kind = type(default)
    if not (type(value) is kind or (kind is float and type(value) is int)):
        msg = f"{path}: scenario field {name} must be {kind.__name__}, not {type(value).__name__}"
        raise ValueError(msg)
    if name in _RATIOS and not 0 <= value <= 1:
        msg = f"{path}: scenario field {name} must be between 0 and 1, not {value}"
        raise ValueError(msg)
    if kind is int and value < 0:
        msg = f"{path}: scenario field {name} must not be negative, not {value}"
        raise ValueError(msg)


# --------------------------------------------------------------------------- tables


def _c(
    name: str, data_type: str, length: int = 0, precision: int | None = None, scale: int | None = None
) -> OracleColumn:
    return OracleColumn(name, data_type, length, precision, scale)


def _tables(scenario: Scenario) -> list[TableMetadata]:
    if scenario.tables == "users":
        return [_USERS]
    if scenario.tables != "shop":
        msg = f"unknown Oracle emulator table set {scenario.tables!r} (shop or users)"
        raise ValueError(msg)
    customers = (
        _c("ID", "NUMBER", 22, 10, 0),
        _c("NAME", "VARCHAR2", 100),
        _c("CITY", "NVARCHAR2", 80),
        _c("STATUS", "CHAR", 1),
        _c("BALANCE", "NUMBER", 22, 12, 2),
        _c("SCORE", "NUMBER", 22),
        _c("RATIO", "BINARY_DOUBLE", 8),
        _c("BIRTH_DATE", "DATE", 7),
        _c("UPDATED_AT", "TIMESTAMP(6)", 11, None, 6),
        _c("SEEN_AT", "TIMESTAMP(3) WITH TIME ZONE", 13, None, 3),
        _c("LOCAL_AT", "TIMESTAMP(6) WITH LOCAL TIME ZONE", 11, None, 6),
        _c("SESSION_TIME", "INTERVAL DAY(2) TO SECOND(6)", 11, 2, 6),
        _c("TOKEN", "RAW", 8),
        _c("NOTE", "VARCHAR2", 32767),
    )
    orders = (
        _c("ORDER_ID", "NUMBER", 22, 38, 0),
        _c("LINE_NO", "NUMBER", 22, 4, 0),
        _c("CUSTOMER_ID", "NUMBER", 22, 10, 0),
        _c("AMOUNT", "NUMBER", 22, 9, 3),
        _c("WEIGHT", "BINARY_FLOAT", 4),
        _c("TERM", "INTERVAL YEAR(2) TO MONTH", 5, 2, 0),
        _c("PLACED", "TIMESTAMP(9)", 11, None, 9),
        _c("ROUNDED", "NUMBER", 22, 5, -2),
    )

    def numbered(columns: tuple[OracleColumn, ...]) -> tuple[OracleColumn, ...]:
        return tuple(dataclasses.replace(c, column_id=i + 1) for i, c in enumerate(columns))

    tables = [
        TableMetadata("SHOP", "CUSTOMERS", numbered(customers), ("ID",), 74858),
        TableMetadata("SHOP", "ORDER LINES", numbered(orders), ("ORDER_ID", "LINE_NO"), 74860),
    ]
    if scenario.lobs:
        documents = (
            _c("ID", "NUMBER", 22, 10, 0),
            _c("TITLE", "VARCHAR2", 100),
            _c("BODY", "CLOB", 4000),
            _c("PICTURE", "BLOB", 4000),
        )
        tables.append(TableMetadata("SHOP", "DOCUMENTS", numbered(documents), ("ID",), 74864))
    if scenario.unsupported:
        geo = (_c("ID", "NUMBER", 22, 10, 0), _c("SHAPE", "SDO_GEOMETRY", 1))
        tables.append(TableMetadata("SHOP", "GEO", numbered(geo), ("ID",), 74862))
    return tables


_USERS = TableMetadata(
    "TESTDB",
    "USERS",
    tuple(
        dataclasses.replace(c, column_id=i + 1)
        for i, c in enumerate(
            (
                _c("ID", "NUMBER", 22),  # GENERATED ALWAYS AS IDENTITY: no precision, no scale
                _c("NAME", "NVARCHAR2", 200),
                _c("SURNAME", "NVARCHAR2", 200),
                _c("EMAIL", "NVARCHAR2", 510),
                _c("DATE_OF_BIRTH", "DATE", 7),
                _c("JOIN_DATE", "DATE", 7),
                _c("CREATED_AT", "TIMESTAMP(6)", 11, None, 6),
                _c("IS_ACTIVE", "NUMBER", 22, 1, 0),
                _c("LOGIN_COUNT", "NUMBER", 22),
                _c("BALANCE", "NUMBER", 22, 10, 2),
            )
        )
    ),
    ("ID",),
    74870,
)


def _users_row(n: int) -> dict[str, t.Any]:
    """User ``n`` as the reference benchmark's ``users.sql`` generates it: SYSDATE and
    SYSTIMESTAMP are the statement's, one INSERT ... SELECT per 10,000 users."""
    now = _EPOCH + dt.timedelta(seconds=(n - 1) // 10_000, microseconds=123_456)
    return {
        "ID": n,
        "NAME": f"user-{n}",
        "SURNAME": f"surname-{n}",
        "EMAIL": f"user{n}@example.com",
        "DATE_OF_BIRTH": now.replace(microsecond=0) - dt.timedelta(days=n % 10_000),
        "JOIN_DATE": now.replace(microsecond=0),
        "CREATED_AT": now,
        "IS_ACTIVE": 1 if n % 2 == 0 else 0,
        "LOGIN_COUNT": n % 100,
        "BALANCE": Decimal(n % 1000) + Decimal(n % 100) / 100,
    }


_NAMES = ["Ada", "O'Brien", "Zoë", "d'Arc", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Frances"]
_CITIES = ["Paris", "Zürich", "Москва", "東京", "Reykjavík", "Lagos", "Lima", "Oslo"]


def _value(rng: random.Random, column: OracleColumn, key: int) -> t.Any:
    base = column.base_type
    if rng.random() < 0.08 and column.name not in ("ID", "ORDER_ID", "LINE_NO", "NAME", "TITLE"):
        return None
    if base == "NUMBER":
        if column.scale is None:
            return Decimal(rng.randint(-(10**6), 10**6)) / Decimal(10 ** rng.randint(0, 4))
        if column.scale > 0:
            limit = 10 ** ((column.precision or 10) - column.scale) - 1
            return Decimal(rng.randint(-limit, limit)) + Decimal(rng.randint(0, 10**column.scale - 1)).scaleb(
                -column.scale
            )
        if column.scale < 0:
            return rng.randint(0, 10 ** (column.precision or 5) - 1) * 10 ** (-column.scale)
        return rng.randint(0, 10 ** min(column.precision or 9, 9) - 1)
    if base == "VARCHAR2":
        if column.name == "NAME":
            return f"{rng.choice(_NAMES)} {key}"
        return " ".join(
            rng.choice(["it's", "a", "note, with", "commas", "and", "where", "quotes ''", "set"])
            for _ in range(rng.randint(1, 6))
        )
    if base == "NVARCHAR2":
        return rng.choice(_CITIES)
    if base == "CHAR":
        return rng.choice("AIP")
    if base == "BINARY_DOUBLE":
        return float(f"{rng.uniform(-1e6, 1e6):.6g}")
    if base == "BINARY_FLOAT":
        return struct.unpack("f", struct.pack("f", float(f"{rng.uniform(0, 1000):.4g}")))[0]
    if base == "DATE":
        return dt.datetime(1950, 1, 1) + dt.timedelta(seconds=rng.randint(0, 2_000_000_000))
    if base == "TIMESTAMP":
        micros = rng.randint(0, 999_999) if column.fraction_digits >= 6 else rng.randint(0, 999) * 1000
        return _EPOCH + dt.timedelta(seconds=rng.randint(-(10**8), 10**8), microseconds=micros)
    if base == "TIMESTAMP WITH TIME ZONE":
        zone = dt.timezone(dt.timedelta(minutes=rng.choice([-660, -300, 0, 60, 330, 600])))
        return (_EPOCH + dt.timedelta(seconds=rng.randint(0, 10**7), milliseconds=rng.randint(0, 999))).replace(
            tzinfo=zone
        )
    if base == "TIMESTAMP WITH LOCAL TIME ZONE":
        return _EPOCH + dt.timedelta(seconds=rng.randint(0, 10**7), microseconds=rng.randint(0, 999_999))
    if base.startswith("INTERVAL DAY"):
        return dt.timedelta(
            days=rng.randint(-30, 30), seconds=rng.randint(0, 86_399), microseconds=rng.randint(0, 999_999)
        )
    if base.startswith("INTERVAL YEAR"):
        months = rng.randint(-200, 200)
        return IntervalYM(int(months / 12), months - int(months / 12) * 12)
    if base == "RAW":
        return rng.randbytes(rng.randint(1, column.length))
    if base == "CLOB":
        return ("Chapter it's " + "lorem ipsum, dolor " * 200)[: rng.randint(1, 3_000)]
    if base == "BLOB":
        return rng.randbytes(rng.randint(1, 1_500))
    if base == "SDO_GEOMETRY":
        return f"POINT({rng.randint(0, 90)} {rng.randint(0, 90)})"
    msg = f"no generator for {column.data_type}"
    raise AssertionError(msg)


def _row(rng: random.Random, table: TableMetadata, key: tuple[int, ...]) -> dict[str, t.Any]:
    if table is _USERS:
        return _users_row(key[0])
    row = {c.name: _value(rng, c, key[0]) for c in table.columns}
    for name, part in zip(table.primary_key, key, strict=True):
        row[name] = part
    return row


_Made = t.TypeVar("_Made")


def _per_version(
    kept: dict[int, tuple[TableMetadata, _Made]], meta: TableMetadata, make: t.Callable[[TableMetadata], _Made]
) -> _Made:
    """``make(meta)``, made once per dictionary version and kept in ``kept`` (by identity: a
    history's versions live as long as it does, and are not hashed per row)."""
    found = kept.get(id(meta))
    if found is None or found[0] is not meta:
        found = kept[id(meta)] = (meta, make(meta))
    return found[1]


def _shape(meta: TableMetadata) -> tuple[list[str], bool]:
    """A dictionary version's LOB columns, and whether it has a type LogMiner cannot render."""
    return [c.name for c in meta.columns if _lob(c)], any(c.base_type == "SDO_GEOMETRY" for c in meta.columns)


def _rowid(object_id: int, serial: int) -> str:
    return _b64(object_id, 6) + _b64(7, 3) + _b64(128 + serial // 100, 6) + _b64(serial % 100, 3)


@functools.lru_cache(maxsize=8192)
def _b64(number: int, width: int) -> str:
    """``number`` in ``width`` digits of the ROWID alphabet (most rows share their parts)."""
    out = []
    for _ in range(width):
        number, digit = divmod(number, 64)
        out.append(_ROWID_ALPHABET[digit])
    return "".join(reversed(out))


# --------------------------------------------------------------------------- history


@dataclass(slots=True)
class _Change:
    """One DML as redo records it (rendered to SQL_REDO when mined)."""

    table: str
    kind: str  # INSERT / UPDATE / DELETE / UNSUPPORTED
    row_id: str
    before: dict[str, t.Any] | None
    after: dict[str, t.Any] | None
    version: int
    set_columns: tuple[str, ...] = ()
    lob_locator: bool = False


@dataclass(slots=True)
class _Event:
    """One logical entry of the redo stream (one or more V$LOGMNR_CONTENTS rows)."""

    scn: int
    code: int
    xid: str
    thread: int
    ssn: int = 0
    change: _Change | None = None
    rollback: int = 0
    ddl: str | None = None
    ddl_table: str | None = None
    start_scn: int | None = None
    lob: tuple[str, t.Any, int] | None = None  # column, chunk (or new length for a trim), offset


@dataclass(slots=True)
class _Tx:
    xid: str
    thread: int
    start_scn: int
    planned: int
    rollback: bool
    savepoint_at: int | None
    ops: list[_Change] = field(default_factory=list)
    savepoint_mark: int | None = None
    locked: set[tuple[str, tuple[t.Any, ...]]] = field(default_factory=set)
    working: dict[str, dict[tuple[t.Any, ...], tuple[str, dict[str, t.Any] | None]]] = field(default_factory=dict)
    ssn: int = 0
    long: bool = False


class _History:
    """The whole seeded history: table versions, initial rows, events, commits."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        rng = random.Random(seed)
        self.tables = {t_.qualified: t_ for t_ in _tables(scenario)}
        self.versions: dict[str, list[tuple[int, TableMetadata]]] = {q: [(0, m)] for q, m in self.tables.items()}
        self._choices = {
            undone: (names, [1 if q == "SHOP.GEO" else 10 for q in names])
            for undone in (False, True)
            for names in [[q for q in sorted(self.tables) if not undone or q != "SHOP.DOCUMENTS"]]
        }
        self._shapes: dict[int, tuple[TableMetadata, tuple[list[str], bool]]] = {}
        self.scn = 1_000_000 + rng.randint(0, 9_999)
        self.first_scn = self.scn
        self.events: list[_Event] = []
        self.committed: dict[str, dict[tuple[t.Any, ...], tuple[str, dict[str, t.Any]]]] = {}
        self.commit_log: list[tuple[int, list[_Change]]] = []
        self.ddl_log: list[tuple[int, str, TableMetadata]] = []
        self.spans: list[tuple[int, int]] = []  # (start SCN, end SCN) of every transaction
        serials = {q: 0 for q in self.tables}
        self.key_lists: dict[str, list[tuple[t.Any, ...]]] = {}
        self.key_positions: dict[str, dict[tuple[t.Any, ...], int]] = {}
        self.locks: dict[tuple[str, tuple[t.Any, ...]], str] = {}
        self.initial: dict[str, dict[tuple[t.Any, ...], tuple[str, dict[str, t.Any]]]] = {}
        next_key = {q: 1 for q in self.tables}
        for q, meta in self.tables.items():
            rows = {}
            for _ in range(scenario.initial_rows):
                key = self._new_key(meta, next_key)
                serials[q] += 1
                rows[key] = (_rowid(meta.object_id, serials[q]), _row(rng, meta, key))
            self.initial[q] = rows
            self.committed[q] = {k: (r, dict(v)) for k, (r, v) in rows.items()}
            self.key_lists[q] = list(rows)
            self.key_positions[q] = {k: i for i, k in enumerate(rows)}
        self.snapshot_scn = self.scn
        self._generate(rng, next_key, serials)
        self.last_scn = self.scn
        self.event_scns = [e.scn for e in self.events]

    # -- helpers

    @staticmethod
    def _new_key(meta: TableMetadata, next_key: dict[str, int]) -> tuple[int, ...]:
        n = next_key[meta.qualified]
        next_key[meta.qualified] += 1
        return (n, 1) if len(meta.primary_key) == 2 else (n,)

    def _tick(self, rng: random.Random) -> int:
        self.scn += rng.randint(1, 3)
        return self.scn

    def version_at(self, table: str, scn: int) -> tuple[int, TableMetadata]:
        versions = self.versions[table]
        if len(versions) == 1:
            return 0, versions[0][1]
        index = bisect.bisect_right([s for s, _ in versions], scn) - 1
        return index, versions[index][1]

    # -- workload

    def _generate(self, rng: random.Random, next_key: dict[str, int], serials: dict[str, int]) -> None:
        s = self.scenario
        open_txs: list[_Tx] = []
        started = 0
        xid_seq = rng.randint(100, 900)
        ddl_points = {s.transactions // 3: "add", (2 * s.transactions) // 3: "drop"} if s.ddl else {}
        pending_ddl: list[str] = []
        finished = 0
        while started < s.transactions or open_txs:
            can_start = started < s.transactions and len([x for x in open_txs if not x.long]) < s.concurrency
            if can_start and (not open_txs or rng.random() < 0.35):
                xid_seq += 1
                thread = 1 + started % s.threads
                xid = f"{(started % 10) + 1:04X}{(xid_seq % 32):04X}{xid_seq:08X}"
                is_long = s.long_transaction > 0 and started == 1
                tx = _Tx(
                    xid=xid, thread=thread, start_scn=self._tick(rng), planned=rng.randint(1, s.ops_per_transaction),
                    rollback=rng.random() < s.rollback_ratio,
                    savepoint_at=None, long=is_long,
                )  # fmt: skip
                if rng.random() < s.savepoint_ratio and tx.planned >= 2:
                    tx.savepoint_at = rng.randint(0, tx.planned - 1)
                if is_long:
                    tx.planned = max(tx.planned, 20)
                started += 1
                self.events.append(_Event(tx.start_scn, 6, xid, thread, start_scn=tx.start_scn))
                open_txs.append(tx)
                continue
            tx = rng.choice(open_txs)
            done_ops = len(tx.ops)
            if tx.long and finished < s.long_transaction and (len(open_txs) > 1 or started < s.transactions):
                if done_ops < tx.planned and rng.random() < 0.2:
                    self._dml(rng, tx, next_key, serials, open_txs)
                continue
            if done_ops < tx.planned:
                if tx.savepoint_at is not None and done_ops == tx.savepoint_at and tx.savepoint_mark is None:
                    tx.savepoint_mark = done_ops
                self._dml(rng, tx, next_key, serials, open_txs)
                if tx.savepoint_mark is not None and tx.savepoint_at is not None and len(tx.ops) == tx.planned:
                    self._undo(rng, tx, tx.savepoint_mark)
                    tx.savepoint_at = None
                continue
            # end the transaction
            open_txs.remove(tx)
            finished += 1
            scn = self._tick(rng)
            if tx.rollback:
                self._undo(rng, tx, 0, final=True)
                self.events.append(_Event(self._tick(rng), 36, tx.xid, tx.thread, rollback=0))
            else:
                self.events.append(_Event(scn, 7, tx.xid, tx.thread, start_scn=tx.start_scn))
                self._commit(tx, scn)
            self.spans.append((tx.start_scn, self.scn + 1))
            for lock in tx.locked:
                self.locks.pop(lock, None)
            if finished in ddl_points:
                pending_ddl.append(ddl_points.pop(finished))
            if pending_ddl and not any("SHOP.CUSTOMERS" in x.working for x in open_txs):
                self._ddl(rng, pending_ddl.pop(0), xid_seq)
                xid_seq += 1

    def _pick(self, rng: random.Random, tx: _Tx, table: str) -> tuple[t.Any, ...] | None:
        """A row ``tx`` may update or delete: visible to it and not locked by another
        transaction (a few random tries, so that big tables cost nothing)."""
        for _ in range(8):
            own = tx.working.get(table)
            if own and rng.random() < 0.3:
                alive = [k for k, (_, row) in own.items() if row is not None]
                if not alive:
                    continue
                key = alive[rng.randrange(len(alive))]
            else:
                keys = self.key_lists[table]
                if not keys:
                    return None
                key = keys[rng.randrange(len(keys))]
            if self.locks.get((table, key), tx.xid) != tx.xid:
                continue
            if self._current(tx, table, key) is None:
                continue
            return key
        return None

    def _index(self, table: str, key: tuple[t.Any, ...], present: bool) -> None:
        keys, positions = self.key_lists[table], self.key_positions[table]
        if present and key not in positions:
            positions[key] = len(keys)
            keys.append(key)
        elif not present and key in positions:
            index = positions.pop(key)
            last = keys.pop()
            if index < len(keys):
                keys[index] = last
                positions[last] = index

    def _current(self, tx: _Tx, table: str, key: tuple[t.Any, ...]) -> tuple[str, dict[str, t.Any]] | None:
        work = tx.working.get(table, {})
        if key in work:
            row_id, row = work[key]
            return None if row is None else (row_id, row)
        return self.committed[table].get(key)

    def _dml(
        self,
        rng: random.Random,
        tx: _Tx,
        next_key: dict[str, int],
        serials: dict[str, int],
        open_txs: list[_Tx],
    ) -> None:
        # LOB work is never undone here: no DOCUMENTS in a transaction that rolls back.
        undone = tx.rollback or tx.savepoint_at is not None or tx.savepoint_mark is not None
        names, weights = self._choices[undone]
        table = rng.choices(names, weights)[0]
        version, meta = self.version_at(table, self.scn)
        choice = rng.random()
        insert_ratio = self.scenario.insert_ratio
        picked = None if choice < insert_ratio else self._pick(rng, tx, table)
        scn = self._tick(rng)
        tx.ssn += 1
        if picked is None:
            key = self._new_key(meta, next_key)
            serials[table] += 1
            row_id = _rowid(meta.object_id, serials[table])
            after = _row(rng, meta, key)
            if rng.random() < self.scenario.long_values and meta.column("NOTE") is not None:
                after["NOTE"] = ("long text, it's " * 600)[: rng.randint(4_500, 9_000)]
            change = _Change(table, "INSERT", row_id, None, after, version)
            tx.working.setdefault(table, {})[key] = (row_id, after)
        else:
            key = picked
            current = self._current(tx, table, key)
            assert current is not None
            row_id, before = current
            if choice < insert_ratio + (1 - insert_ratio) * 7 / 11:
                after = dict(before)
                names = [c.name for c in meta.columns if c.name not in meta.primary_key]
                changed = tuple(sorted(rng.sample(names, rng.randint(1, min(3, len(names)))), key=names.index))
                fresh = _row(rng, meta, key)
                for name in changed:
                    after[name] = fresh[name]
                change = _Change(table, "UPDATE", row_id, before, after, version, changed)
                tx.working.setdefault(table, {})[key] = (row_id, after)
            else:
                change = _Change(table, "DELETE", row_id, before, None, version)
                tx.working.setdefault(table, {})[key] = (row_id, None)
        lob_columns, unsupported = _per_version(self._shapes, meta, _shape)
        if unsupported:
            change.kind = "UNSUPPORTED:" + change.kind
        tx.locked.add((table, key))
        self.locks[(table, key)] = tx.xid
        tx.ops.append(change)
        if lob_columns and change.kind == "UPDATE":
            # LOB columns set to a value are written through a locator, not in the UPDATE.
            assert change.after is not None
            change.set_columns = tuple(
                n for n in change.set_columns if n not in lob_columns or change.after.get(n) is None
            )
        if change.kind != "UPDATE" or change.set_columns:
            code = 255 if change.kind.startswith("UNSUPPORTED") else _OP_CODES[change.kind]
            self.events.append(_Event(scn, code, tx.xid, tx.thread, tx.ssn, change))
        if lob_columns and change.kind in ("INSERT", "UPDATE"):
            self._lob_events(rng, tx, change, lob_columns)

    def _lob_events(self, rng: random.Random, tx: _Tx, change: _Change, lob_columns: list[str]) -> None:
        """SEL_LOB_LOCATOR, LOB_WRITE and LOB_TRIM rows for the LOB values ``change`` sets."""
        assert change.after is not None
        for name in lob_columns:
            value = change.after.get(name)
            previous = change.before.get(name) if change.before is not None else None
            if value is None or (change.kind == "UPDATE" and value == previous):
                continue
            tx.ssn += 1
            self.events.append(_Event(self._tick(rng), 9, tx.xid, tx.thread, tx.ssn, change, lob=(name, None, 0)))
            for offset in range(0, len(value), 1_000):
                chunk = value[offset : offset + 1_000]
                event = _Event(self._tick(rng), 10, tx.xid, tx.thread, tx.ssn, change, lob=(name, chunk, offset + 1))
                self.events.append(event)
            if previous is not None and len(previous) > len(value):
                event = _Event(self._tick(rng), 11, tx.xid, tx.thread, tx.ssn, change, lob=(name, len(value), 0))
                self.events.append(event)

    def _undo(self, rng: random.Random, tx: _Tx, mark: int, *, final: bool = False) -> None:
        """Undo rows (ROLLBACK=1) for ``tx.ops[mark:]`` in reverse order, and restore the working state."""
        undone = tx.ops[mark:]
        for change in reversed(undone):
            if change.kind.startswith("UNSUPPORTED"):
                inverse = _Change(change.table, change.kind, change.row_id, change.after, change.before, change.version)
                code = 255
            elif change.kind == "INSERT":
                inverse = _Change(change.table, "DELETE", change.row_id, change.after, None, change.version)
                code = 2
            elif change.kind == "DELETE":
                inverse = _Change(change.table, "INSERT", change.row_id, None, change.before, change.version)
                code = 1
            else:
                inverse = _Change(
                    change.table,
                    "UPDATE",
                    change.row_id,
                    change.after,
                    change.before,
                    change.version,
                    change.set_columns,
                )
                code = 3
            tx.ssn += 1
            self.events.append(_Event(self._tick(rng), code, tx.xid, tx.thread, tx.ssn, inverse, rollback=1))
        del tx.ops[mark:]
        # rebuild the working state from the remaining operations
        tx.working = {}
        for change in tx.ops:
            meta = self.tables[change.table]
            row = change.after if change.after is not None else change.before
            assert row is not None
            key = tuple(row[k] for k in meta.primary_key)
            tx.working.setdefault(change.table, {})[key] = (change.row_id, change.after)

    def _commit(self, tx: _Tx, scn: int) -> None:
        for table, rows in tx.working.items():
            for key, (row_id, row) in rows.items():
                if row is None:
                    self.committed[table].pop(key, None)
                else:
                    self.committed[table][key] = (row_id, dict(row))
                self._index(table, key, row is not None)
        self.commit_log.append((scn, list(tx.ops)))

    def _ddl(self, rng: random.Random, action: str, xid_seq: int) -> None:
        table = "SHOP.CUSTOMERS"
        _, meta = self.version_at(table, self.scn)
        scn = self._tick(rng)
        if action == "add":
            column = OracleColumn("LOYALTY", "VARCHAR2", 20, column_id=len(meta.columns) + 1)
            new_meta = dataclasses.replace(meta, columns=(*meta.columns, column))
            sql = 'ALTER TABLE "SHOP"."CUSTOMERS" ADD ("LOYALTY" VARCHAR2(20));'
        else:
            new_meta = dataclasses.replace(meta, columns=tuple(c for c in meta.columns if c.name != "LOYALTY"))
            sql = 'ALTER TABLE "SHOP"."CUSTOMERS" DROP COLUMN "LOYALTY";'
        self.versions[table].append((scn, new_meta))
        self.tables[table] = new_meta
        for key, (row_id, row) in self.committed[table].items():
            self.committed[table][key] = (row_id, {c.name: row.get(c.name) for c in new_meta.columns})
        self.ddl_log.append((scn, table, new_meta))
        xid = f"{(xid_seq % 10) + 1:04X}0001{xid_seq + 50_000:08X}"
        self.events.append(_Event(scn, 5, xid, 1, 1, ddl=sql, ddl_table=table))

    # -- state

    def state_at(self, scn: int) -> dict[str, dict[tuple[t.Any, ...], tuple[str, dict[str, t.Any]]]]:
        """Every table's committed rows as of ``scn`` (flashback)."""
        state = {q: {k: (r, dict(v)) for k, (r, v) in rows.items()} for q, rows in self.initial.items()}
        steps: list[tuple[int, int, t.Any]] = [(s, 0, ops) for s, ops in self.commit_log if s <= scn]
        steps += [(s, 1, (q, m)) for s, q, m in self.ddl_log if s <= scn]
        for _, kind, payload in sorted(steps, key=lambda x: (x[0], x[1])):
            if kind == 1:
                table, meta = payload
                state[table] = {
                    k: (r, {c.name: v.get(c.name) for c in meta.columns}) for k, (r, v) in state[table].items()
                }
                continue
            for change in payload:
                meta = self.tables[change.table]
                row = change.after if change.after is not None else change.before
                key = tuple(row[k] for k in meta.primary_key)
                if change.after is None:
                    state[change.table].pop(key, None)
                else:
                    _, version_meta = self.version_at(change.table, scn)
                    state[change.table][key] = (
                        change.row_id,
                        {c.name: change.after.get(c.name) for c in version_meta.columns},
                    )
        return state


_OP_CODES = {"INSERT": 1, "DELETE": 2, "UPDATE": 3}
_OP_NAMES = {
    1: "INSERT",
    2: "DELETE",
    3: "UPDATE",
    5: "DDL",
    6: "START",
    7: "COMMIT",
    9: "SEL_LOB_LOCATOR",
    10: "LOB_WRITE",
    11: "LOB_TRIM",
    36: "ROLLBACK",
    255: "UNSUPPORTED",
}


# --------------------------------------------------------------------------- rendering


def _lob(column: OracleColumn) -> bool:
    return column.base_type in ("CLOB", "NCLOB", "BLOB")


@dataclass(frozen=True, slots=True)
class _Writer:
    """How one column is written in SQL_REDO: its quoted name, its literal writer, and
    the locator LogMiner writes instead of a LOB's value (None for other types)."""

    name: str
    quoted: str
    write: t.Callable[[t.Any], str]
    locator: str | None

    def text(self, value: t.Any) -> str:
        """What an INSERT's values or an UPDATE's SET write for ``value`` (a LOB's locator)."""
        return self.locator if self.locator and value is not None else self.write(value)


@dataclass(frozen=True, slots=True)
class TableWriter:
    """A dictionary version's columns, each with its writer, made once per version."""

    names: str
    columns: tuple[_Writer, ...]

    @classmethod
    def of(cls, meta: TableMetadata) -> TableWriter:
        """The writer of ``meta``'s columns (in its column order)."""
        columns = tuple(
            _Writer(
                c.name,
                f'"{c.name}"',
                sql_literal(c),
                ("EMPTY_BLOB()" if c.base_type == "BLOB" else "EMPTY_CLOB()") if _lob(c) else None,
            )
            for c in meta.columns
        )
        return cls(",".join(w.quoted for w in columns), columns)


def render_change(change: _Change, writer: TableWriter) -> str:
    """SQL_REDO of one change, by the writer of the dictionary version that wrote it."""
    owner, _, name = change.table.partition(".")
    target = f'"{owner}"."{name}"'
    if change.kind == "INSERT":
        after = change.after
        assert after is not None
        values = ",".join(column.text(after.get(column.name)) for column in writer.columns)
        return f"insert into {target}({writer.names}) values ({values});"
    before = change.before
    assert before is not None
    conditions = []
    for column in writer.columns:
        if column.locator:
            continue
        value = before.get(column.name)
        conditions.append(f"{column.quoted} IS NULL" if value is None else f"{column.quoted} = {column.write(value)}")
    where = " and ".join(conditions)
    if change.kind == "DELETE":
        return f"delete from {target} where {where};"
    after = change.after
    assert after is not None
    sets = ", ".join(
        f"{column.quoted} = {column.text(after.get(column.name))}"
        for column in writer.columns
        if column.name in change.set_columns
    )
    return f"update {target} set {sets} where {where};"


_LOB_DECLARE = (
    "DECLARE \n loc_c CLOB; \n buf_c VARCHAR2(6426); \n loc_b BLOB; \n buf_b RAW(6426); \n"
    " loc_t VARCHAR2(50); \n buf_t VARCHAR2(50); \nBEGIN\n"
)


def render_lob(lob: tuple[str, t.Any, int], change: _Change, meta: TableMetadata, code: int) -> str:
    """SQL_REDO of a SEL_LOB_LOCATOR (9), LOB_WRITE (10) or LOB_TRIM (11) row."""
    name, payload, offset = lob
    column = meta.column(name)
    assert column is not None
    binary = column.base_type == "BLOB"
    locator, buffer = ("loc_b", "buf_b") if binary else ("loc_c", "buf_c")
    if code == 9:
        owner, _, table = change.table.partition(".")
        row = change.after or {}
        where = " and ".join(
            f'"{c.name}" IS NULL' if row.get(c.name) is None else f'"{c.name}" = {quote(literal(c, row.get(c.name)))}'
            for c in meta.columns
            if not _lob(c)
        )
        return f'{_LOB_DECLARE} select "{name}" into {locator} from "{owner}"."{table}" where {where} for update;\nEND;'
    if code == 11:
        return f" dbms_lob.trim({locator}, {payload});"
    data = f"HEXTORAW('{payload.hex()}')" if binary else quote(payload)
    return f" {buffer} := {data}; \n  dbms_lob.write({locator}, {len(payload)}, {offset}, {buffer});"


def render_mismatch(change: _Change, meta: TableMetadata) -> str:
    """SQL_REDO of a change LogMiner cannot name with the current dictionary."""
    table = f'"UNKNOWN"."OBJ# {meta.object_id}"'

    def hexed(column: OracleColumn, value: t.Any) -> str:
        return "NULL" if value is None else f"HEXTORAW('{oracle_internal_bytes(column, value).hex()}')"

    if change.kind == "INSERT":
        assert change.after is not None
        names = ",".join(f'"COL {i + 1}"' for i in range(len(meta.columns)))
        values = ",".join(hexed(c, change.after.get(c.name)) for c in meta.columns)
        return f"insert into {table}({names}) values ({values});"
    assert change.before is not None
    where = " and ".join(
        f'"COL {i + 1}" IS NULL'
        if change.before.get(c.name) is None
        else f'"COL {i + 1}" = {hexed(c, change.before.get(c.name))}'
        for i, c in enumerate(meta.columns)
    )
    if change.kind == "DELETE":
        return f"delete from {table} where {where};"
    assert change.after is not None
    sets = ", ".join(
        f'"COL {i + 1}" = {hexed(c, change.after.get(c.name))}'
        for i, c in enumerate(meta.columns)
        if c.name in change.set_columns
    )
    return f"update {table} set {sets} where {where};"


def _chunks(text: str) -> list[str]:
    """Cut ``text`` into pieces of at most 4000 UTF-8 bytes, on character boundaries."""
    data = text.encode("utf-8")
    if len(data) <= _MAX_REDO:
        return [text]
    out, start = [], 0
    while start < len(data):
        end = min(start + _MAX_REDO, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        out.append(data[start:end].decode("utf-8"))
        start = end
    return out


# --------------------------------------------------------------------------- the emulator


@dataclass(slots=True)
class _Fault:
    call: str
    code: int
    after_rows: int
    times: int


class LogMinerEmulator:
    """:class:`headwater.connectors.oracle.client.OracleClient` over a seeded history (see the module doc).

    Args:
        scenario: a built-in name, a JSON file path, or a :class:`Scenario`.
        seed: the history's seed.
    """

    def __init__(self, scenario: str | Scenario = "default", seed: int = 1) -> None:
        self.scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
        self.seed = seed
        self.history = _History(self.scenario, seed)
        self.visible_scn = self.history.snapshot_scn
        self._session: tuple[int, int] | None = None
        self._faults: list[_Fault] = []
        self.calls: dict[str, int] = {}
        self._row_cache: dict[int, tuple[int, list[LogMinerRow]]] = {}
        self._writers: dict[int, tuple[TableMetadata, TableWriter]] = {}

    # -- test controls

    def inject(self, call: str, code: int, *, after_rows: int = 0, times: int = 1) -> None:
        """Make the next ``times`` calls of ``call`` (``current_scn``, ``flashback_select``,
        ``start_logminer``, ``fetch_contents``, ``table_metadata``) raise ORA-``code``;
        for the two iterators, after yielding ``after_rows`` rows."""
        self._faults.append(_Fault(call, code, after_rows, times))

    def reveal(self, scns: int) -> None:
        """Move the database forward by ``scns`` (bounded by the end of the history)."""
        self.visible_scn = min(self.history.last_scn, self.visible_scn + scns)

    def reveal_all(self) -> None:
        """Reveal the whole history."""
        self.visible_scn = self.history.last_scn

    @property
    def finished(self) -> bool:
        """Whether the whole history is visible."""
        return self.visible_scn >= self.history.last_scn

    def _fault(self, call: str) -> _Fault | None:
        self.calls[call] = self.calls.get(call, 0) + 1
        for fault in self._faults:
            if fault.call == call and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _raise_now(self, call: str) -> _Fault | None:
        fault = self._fault(call)
        if fault is not None and fault.after_rows == 0:
            raise _ora(fault.code)
        return fault

    # -- logs

    def log_sequence(self, scn: int) -> int:
        """The redo log sequence holding ``scn`` (a log switch every ``log_scns``)."""
        return 1 + max(0, scn - self.history.first_scn) // self.scenario.log_scns

    def oldest_available_scn(self) -> int:
        """The first SCN of the oldest redo log not yet aged out."""
        current = self.log_sequence(self.visible_scn)
        oldest = max(1, current - self.scenario.retained_logs + 1)
        return self.history.first_scn + (oldest - 1) * self.scenario.log_scns

    # -- OracleClient

    def current_scn(self) -> int:
        """See :meth:`OracleClient.current_scn`; moves the database forward by ``reveal_scns``."""
        self._raise_now("current_scn")
        self.reveal(self.scenario.reveal_scns)
        return self.visible_scn

    def scn_to_timestamp(self, scn: int) -> dt.datetime:
        """See :meth:`OracleClient.scn_to_timestamp` (10 ms per SCN from the history's start)."""
        return _EPOCH + dt.timedelta(milliseconds=10 * (scn - self.history.first_scn))

    def oldest_active_transaction_scn(self) -> int | None:
        """See :meth:`OracleClient.oldest_active_transaction_scn`."""
        scn = self.visible_scn
        return min((start for start, end in self.history.spans if start <= scn < end), default=None)

    def list_tables(self, owners: t.Collection[str] | None = None) -> list[tuple[str, str]]:
        """See :meth:`OracleClient.list_tables`."""
        found = [(m.owner, m.name) for m in self.history.tables.values()]
        return sorted(x for x in found if owners is None or x[0] in owners)

    def table_metadata(self, owner: str, table: str) -> TableMetadata:
        """See :meth:`OracleClient.table_metadata` (the dictionary as of the current SCN)."""
        self._raise_now("table_metadata")
        qualified = f"{owner}.{table}"
        if qualified not in self.history.versions:
            raise _ora(942)
        return self.history.version_at(qualified, self.visible_scn)[1]

    def flashback_select(self, owner: str, table: str, scn: int) -> t.Iterator[dict[str, t.Any]]:
        """See :meth:`OracleClient.flashback_select`."""
        fault = self._raise_now("flashback_select")
        if scn > self.visible_scn:
            raise _ora(8181)
        if scn < self.visible_scn - self.scenario.undo_scns or scn < self.history.snapshot_scn:
            raise _ora(1555)
        qualified = f"{owner}.{table}"
        state = self.history.state_at(scn)[qualified]
        _, meta = self.history.version_at(qualified, scn)
        for count, (_, (_, row)) in enumerate(sorted(state.items())):
            if fault is not None and count == fault.after_rows:
                raise _ora(fault.code)
            yield {c.name: row.get(c.name) for c in meta.columns}

    def start_logminer(self, start_scn: int, end_scn: int) -> None:
        """See :meth:`OracleClient.start_logminer`; ORA-01291 when a needed log aged out."""
        self._raise_now("start_logminer")
        if start_scn + 1 < self.oldest_available_scn():
            raise _ora(1291)
        self._session = (start_scn, min(end_scn, self.visible_scn))

    def fetch_contents(self, start_scn: int, end_scn: int, arraysize: int = 10_000) -> t.Iterator[LogMinerRow]:
        """See :meth:`OracleClient.fetch_contents` (rows with ``start_scn < SCN <= end_scn``,
        bounded by the current SCN)."""
        fault = self._raise_now("fetch_contents")
        if self._session is None:
            raise _ora(1306)  # dbms_logmnr.start_logmnr() must be invoked before selecting
        end_scn = min(end_scn, self.visible_scn)
        first = bisect.bisect_right(self.history.event_scns, start_scn)
        last = bisect.bisect_right(self.history.event_scns, end_scn)
        count = 0
        for index in range(first, last):
            for row in self._cached_rows(index):
                if fault is not None and count == fault.after_rows:
                    raise _ora(fault.code)
                count += 1
                yield row

    def end_logminer(self) -> None:
        """See :meth:`OracleClient.end_logminer`."""
        self._session = None

    def close(self) -> None:
        """See :meth:`OracleClient.close`."""
        self._session = None

    # -- rows

    def _cached_rows(self, index: int) -> list[LogMinerRow]:
        """The rows of event ``index``, rendered once per dictionary version of its table."""
        event = self.history.events[index]
        table = event.change.table if event.change is not None else None
        version = self.history.version_at(table, self.visible_scn)[0] if table else 0
        cached = self._row_cache.get(index)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = self._rows(event)
        self._row_cache[index] = (version, rows)
        return rows

    def _rows(self, event: _Event) -> list[LogMinerRow]:
        sequence = self.log_sequence(event.scn)
        block = (event.scn - self.history.first_scn) % self.scenario.log_scns
        rs_id = f" 0x{sequence:06x}.{block * 7 + 2:08x}.{(event.ssn * 16) % 0x1F0 + 0x10:04x} "
        # V$LOGMNR_CONTENTS.TIMESTAMP is a DATE: whole seconds (SCN_TO_TIMESTAMP is finer).
        timestamp = self.scn_to_timestamp(event.scn).replace(microsecond=0)
        owner = table = row_id = info = None
        status = 0
        redo: str
        code = event.code
        if code in (6, 7, 36):
            redo = {6: "set transaction read write;", 7: "commit;", 36: "rollback;"}[code]
        elif code in (9, 10, 11):
            change = event.change
            assert change is not None
            assert event.lob is not None
            owner, _, table = change.table.partition(".")
            row_id = change.row_id
            redo = render_lob(event.lob, change, self.history.version_at(change.table, event.scn)[1], code)
        elif code == 5:
            assert event.ddl is not None
            assert event.ddl_table is not None
            owner, _, table = event.ddl_table.partition(".")
            redo, info = event.ddl, "USER DDL (PlSql=0 RecDep=0)"
        else:
            change = event.change
            assert change is not None
            owner, _, table = change.table.partition(".")
            row_id = change.row_id
            written_version, written_meta = self.history.version_at(change.table, event.scn)
            current_version, _ = self.history.version_at(change.table, self.visible_scn)
            if code == 255:
                redo, info, status = "Unsupported", "Object or Data type Unsupported", 2
            elif written_version != current_version:
                redo = render_mismatch(change, written_meta)
                owner, table = "UNKNOWN", f"OBJ# {written_meta.object_id}"
                info, status = "Dictionary Version Mismatch", 2
            else:
                redo = render_change(change, _per_version(self._writers, written_meta, TableWriter.of))
        operation = _OP_NAMES[code]
        pieces = _chunks(redo)
        return [
            LogMinerRow(
                scn=event.scn,
                start_scn=event.start_scn,
                commit_scn=event.scn if code == 7 else None,
                timestamp=timestamp,
                xid=event.xid,
                operation=operation,
                operation_code=code,
                seg_owner=owner,
                table_name=table,
                row_id=row_id,
                rollback=event.rollback,
                rs_id=rs_id,
                ssn=event.ssn,
                csf=1 if index < len(pieces) - 1 else 0,
                thread=event.thread,
                info=info,
                status=status,
                sql_redo=piece,
                data_obj=None,
                sequence=sequence,
                username="APP",
            )
            for index, piece in enumerate(pieces)
        ]


# --------------------------------------------------------------------------- outputs


def _json_value(value: t.Any, binary: str = "base64") -> t.Any:
    if isinstance(value, bytes):
        import base64

        if binary == "bytes":
            return value
        if binary == "hex":
            return value.hex()
        if binary == "base64-url-safe":
            return base64.urlsafe_b64encode(value).decode()
        return base64.b64encode(value).decode()
    return value


def final_state(scenario: str | Scenario, seed: int, *, binary: str = "base64") -> list[dict[str, t.Any]]:
    """The rows a consumer holds after folding the change stream by key, one entry per row:
    ``{"table": "SHOP.CUSTOMERS", "key": {...}, "row": {...}}`` with Debezium's values
    (:func:`headwater.codecs.oracle.convert.convert_value`, then
    :func:`headwater.codecs.oracle.schema.connect_value`: a NUMBER without scale is
    Debezium's VariableScaleDecimal struct with its bytes; RAW as base64, as Kafka
    Connect's JSON converter writes bytes, or as ``binary`` names it, like the source's
    ``binary.handling.mode``). Tables LogMiner cannot render (GEO) are left out: no change
    of theirs reaches a consumer.
    """
    history = _History(load_scenario(scenario) if isinstance(scenario, str) else scenario, seed)
    state = history.state_at(history.last_scn)
    out = []
    for table in sorted(state):
        _, meta = history.version_at(table, history.last_scn)
        if any(c.base_type == "SDO_GEOMETRY" for c in meta.columns):
            continue
        for _key, (_, row) in sorted(state[table].items()):
            typed = {
                c.name: _json_value(connect_value(c, debezium_value(c, row.get(c.name))), binary) for c in meta.columns
            }
            out.append({"table": table, "key": {k: typed[k] for k in meta.primary_key}, "row": typed})
    return out


def redo_statements(scenario: str | Scenario, seed: int) -> t.Iterator[tuple[TableMetadata, LogMinerRow, str]]:
    """Every DML statement of a history as the connector would mine it (CSF rows joined),
    with the table metadata that names its columns: for bulk parser tests."""
    emulator = LogMinerEmulator(scenario, seed)
    emulator.reveal_all()
    emulator.start_logminer(emulator.history.first_scn - 1, emulator.visible_scn)
    pending: list[str] = []
    for row in emulator.fetch_contents(emulator.history.first_scn - 1, emulator.visible_scn):
        if row.operation_code not in (1, 2, 3):
            continue
        pending.append(row.sql_redo or "")
        if row.csf:
            continue
        sql, pending = "".join(pending), []
        if row.seg_owner == "UNKNOWN":
            continue
        qualified = f"{row.seg_owner}.{row.table_name}"
        meta = emulator.history.version_at(qualified, row.scn)[1]
        yield meta, row, sql


class BigTransactionEmulator:
    """An :class:`~headwater.connectors.oracle.client.OracleClient` holding one huge transaction.

    ``rows`` inserts into ``SHOP.EVENTS`` in a single transaction, then its COMMIT; every
    ``V$LOGMNR_CONTENTS`` row is made when fetched and nothing is kept, so the memory a
    test measures is the source's, not the emulator's. Each ``current_scn`` call reveals
    ``reveal_scns`` more SCNs (one insert per SCN), so the transaction spans many windows.
    """

    COLUMNS = (
        OracleColumn("ID", "NUMBER", 22, 10, 0, column_id=1),
        OracleColumn("PAYLOAD", "VARCHAR2", 200, column_id=2),
    )

    def __init__(self, rows: int, reveal_scns: int = 50_000) -> None:
        self.rows = rows
        self.reveal_scns = reveal_scns
        self.first_scn = 5_000_000
        self.last_scn = self.first_scn + rows + 2  # START, the inserts, COMMIT
        self.visible_scn = self.first_scn
        self.meta = TableMetadata("SHOP", "EVENTS", self.COLUMNS, ("ID",), 80_000)

    @property
    def finished(self) -> bool:
        """Whether the COMMIT is visible."""
        return self.visible_scn >= self.last_scn

    def current_scn(self) -> int:
        """See :meth:`OracleClient.current_scn`."""
        self.visible_scn = min(self.last_scn, self.visible_scn + self.reveal_scns)
        return self.visible_scn

    def scn_to_timestamp(self, scn: int) -> dt.datetime:
        """See :meth:`OracleClient.scn_to_timestamp`."""
        return _EPOCH + dt.timedelta(milliseconds=scn - self.first_scn)

    def oldest_active_transaction_scn(self) -> int | None:
        """See :meth:`OracleClient.oldest_active_transaction_scn`."""
        return self.first_scn + 1 if self.first_scn < self.visible_scn < self.last_scn else None

    def list_tables(self, owners: t.Collection[str] | None = None) -> list[tuple[str, str]]:
        """See :meth:`OracleClient.list_tables`."""
        return [("SHOP", "EVENTS")]

    def table_metadata(self, owner: str, table: str) -> TableMetadata:
        """See :meth:`OracleClient.table_metadata`."""
        return self.meta

    def flashback_select(self, owner: str, table: str, scn: int) -> t.Iterator[dict[str, t.Any]]:
        """See :meth:`OracleClient.flashback_select` (the table is empty before the commit)."""
        if scn >= self.last_scn:
            for i in range(self.rows):
                yield {"ID": i + 1, "PAYLOAD": f"event {i + 1}, it's payload"}

    def start_logminer(self, start_scn: int, end_scn: int) -> None:
        """See :meth:`OracleClient.start_logminer`."""

    def fetch_contents(self, start_scn: int, end_scn: int, arraysize: int = 10_000) -> t.Iterator[LogMinerRow]:
        """See :meth:`OracleClient.fetch_contents`."""
        xid = "0004000A00000BAD"
        for scn in range(max(start_scn + 1, self.first_scn + 1), min(end_scn, self.visible_scn) + 1):
            index = scn - self.first_scn - 1
            stamp = self.scn_to_timestamp(scn).replace(microsecond=0)  # a DATE, as in V$LOGMNR_CONTENTS
            base = {"scn": scn, "timestamp": stamp, "xid": xid, "rs_id": " 0x000001.00000001.0010 ", "thread": 1}
            if index == 0:
                yield LogMinerRow(start_scn=scn, commit_scn=None, operation="START", operation_code=6, seg_owner=None,
                                  table_name=None, row_id=None, rollback=0, ssn=0, csf=0, info=None, status=0,
                                  sql_redo="set transaction read write;", **base)  # fmt: skip
            elif index <= self.rows:
                key = index
                sql = f'insert into "SHOP"."EVENTS"("ID","PAYLOAD") values ({key},\'event {key}, it\'\'s payload\');'
                yield LogMinerRow(start_scn=None, commit_scn=None, operation="INSERT", operation_code=1,
                                  seg_owner="SHOP", table_name="EVENTS", row_id=_rowid(80_000, key), rollback=0,
                                  ssn=key, csf=0, info=None, status=0, sql_redo=sql, **base)  # fmt: skip
            else:
                yield LogMinerRow(start_scn=None, commit_scn=scn, operation="COMMIT", operation_code=7,
                                  seg_owner=None, table_name=None, row_id=None, rollback=0, ssn=0, csf=0, info=None,
                                  status=0, sql_redo="commit;", **base)  # fmt: skip

    def end_logminer(self) -> None:
        """See :meth:`OracleClient.end_logminer`."""

    def close(self) -> None:
        """See :meth:`OracleClient.close`."""
