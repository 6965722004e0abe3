"""The Oracle database behind the ``oracle-logminer`` source, as a narrow protocol.

The source needs only these calls: the current SCN, the table list and column metadata
(ALL_TAB_COLUMNS, primary keys), a flashback read ``SELECT ... AS OF SCN``, and a LogMiner
session over an SCN window whose ``V$LOGMNR_CONTENTS`` rows it fetches. Two classes
implement :class:`OracleClient`: :class:`OracledbClient` (python-oracledb, thin mode,
imported lazily; it cannot be exercised here, no Oracle server is reachable) and the
in-process emulator :class:`headwater.conformance.emulators.oracle.LogMinerEmulator`.

Errors: both raise exceptions shaped like python-oracledb's ``oracledb.DatabaseError``:
``exc.args[0]`` has ``.code`` (int, e.g. 1291), ``.full_code`` (``"ORA-01291"``) and
``.message``. :func:`oracle_error_code` reads that shape; the source maps codes to
Headwater errors (ORA-01291/ORA-00310 retriable or a re-snapshot, ORA-01555 retriable
for a snapshot, a killed session retriable).

Calls come from the source task's thread only; an instance is not thread-safe.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from dataclasses import dataclass

from headwater.codecs.oracle.convert import OracleColumn

__all__ = [
    "LogMinerRow",
    "OracleClient",
    "OracledbClient",
    "TableMetadata",
    "driver_error_code",
    "oracle_error_code",
]


@dataclass(frozen=True, slots=True)
class TableMetadata:
    """A table as the data dictionary describes it (ALL_TAB_COLUMNS + primary key)."""

    owner: str
    name: str
    columns: tuple[OracleColumn, ...]
    primary_key: tuple[str, ...]
    object_id: int = 0

    @property
    def qualified(self) -> str:
        """``OWNER.TABLE``."""
        return f"{self.owner}.{self.name}"

    def column(self, name: str) -> OracleColumn | None:
        """The column called ``name``, or None."""
        for column in self.columns:
            if column.name == name:
                return column
        return None


@dataclass(frozen=True, slots=True)
class LogMinerRow:
    """One ``V$LOGMNR_CONTENTS`` row, with the columns the source selects.

    ``xid`` is ``RAWTOHEX(XID)`` (16 hex digits); ``rs_id`` keeps LogMiner's blanks
    (``" 0x000004.0000964e.009c "``); ``commit_scn``/``start_scn`` may be None (LogMiner
    fills them reliably only with ``COMMITTED_DATA_ONLY``).
    """

    scn: int
    start_scn: int | None
    commit_scn: int | None
    timestamp: dt.datetime
    xid: str
    operation: str
    operation_code: int
    seg_owner: str | None
    table_name: str | None
    row_id: str | None
    rollback: int
    rs_id: str
    ssn: int
    csf: int
    thread: int
    info: str | None
    status: int
    sql_redo: str | None
    data_obj: int | None = None
    sequence: int = 0
    username: str | None = None


def oracle_error_code(exc: BaseException) -> int | None:
    """The ORA code of an ``oracledb.DatabaseError`` (or the emulator's look-alike), else None
    (also for python-oracledb's own ``DPY-`` errors, whose code is 0)."""
    info = exc.args[0] if exc.args else None
    code = getattr(info, "code", None)
    if not isinstance(code, int) or not str(getattr(info, "full_code", "ORA-")).startswith("ORA-"):
        return None
    return code


def driver_error_code(exc: BaseException) -> str | None:
    """python-oracledb's own error code (``"DPY-6005"``), or None."""
    info = exc.args[0] if exc.args else None
    full_code = getattr(info, "full_code", None)
    return full_code if isinstance(full_code, str) and full_code.startswith("DPY-") else None


class OracleClient(t.Protocol):
    """What the ``oracle-logminer`` source calls on the database."""

    def current_scn(self) -> int:
        """``SELECT CURRENT_SCN FROM V$DATABASE``."""
        ...

    def scn_to_timestamp(self, scn: int) -> dt.datetime:
        """``SCN_TO_TIMESTAMP(scn)`` in UTC (the time of a snapshot's SCN)."""
        ...

    def oldest_active_transaction_scn(self) -> int | None:
        """The start SCN of the oldest transaction open now (``V$TRANSACTION``), or None.

        A snapshot taken at SCN S misses the changes that open transactions made before
        S; the source mines from here so their commits after S come through whole."""
        ...

    def list_tables(self, owners: t.Collection[str] | None = None) -> list[tuple[str, str]]:
        """``(owner, table)`` of every user table (of ``owners`` when given), sorted."""
        ...

    def table_metadata(self, owner: str, table: str) -> TableMetadata:
        """Columns from ALL_TAB_COLUMNS (by COLUMN_ID) and the primary key from ALL_CONSTRAINTS."""
        ...

    def flashback_select(self, owner: str, table: str, scn: int) -> t.Iterator[dict[str, t.Any]]:
        """``SELECT * FROM "OWNER"."TABLE" AS OF SCN :scn``, rows as python-oracledb gives them
        (Decimal/int/float, str, bytes, datetime, timedelta); raises ORA-01555 when the undo
        needed is gone."""
        ...

    def start_logminer(self, start_scn: int, end_scn: int) -> None:
        """Add the redo logs (online and archived) covering ``start_scn``..``end_scn`` and start
        LogMiner with DICT_FROM_ONLINE_CATALOG; ORA-01291 when a needed log is gone."""
        ...

    def fetch_contents(self, start_scn: int, end_scn: int, arraysize: int = 10_000) -> t.Iterator[LogMinerRow]:
        """The rows with ``start_scn < SCN <= end_scn`` in LogMiner's order (no owner filter
        beyond the system schemas)."""
        ...

    def end_logminer(self) -> None:
        """``DBMS_LOGMNR.END_LOGMNR`` (an already-ended session, ORA-01307, is not an error)."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


_EXCLUDED_OWNERS = (
    "APPQOSSYS", "AUDSYS", "CTXSYS", "DVSYS", "DBSFWUSER", "DBSNMP", "GGSHAREDCAP", "GSMADMIN_INTERNAL",
    "LBACSYS", "MDSYS", "OJVMSYS", "OLAPSYS", "ORDDATA", "ORDSYS", "OUTLN", "SYS", "SYSTEM", "VECSYS",
    "WMSYS", "XDB",
)  # fmt: skip

_CONTENTS_QUERY = f"""
SELECT SCN, START_SCN, COMMIT_SCN, TIMESTAMP, RAWTOHEX(XID), OPERATION, OPERATION_CODE, SEG_OWNER,
       TABLE_NAME, ROW_ID, ROLLBACK, RS_ID, SSN, CSF, THREAD#, INFO, STATUS, SQL_REDO, DATA_OBJ#,
       SEQUENCE#, USERNAME
  FROM V$LOGMNR_CONTENTS
 WHERE SCN > :start_scn AND SCN <= :end_scn
   AND ((OPERATION_CODE IN (1,2,3,6,7,9,10,11,27,29,34,36,255)
         AND (SEG_OWNER IS NULL OR SEG_OWNER NOT IN ({", ".join(f"'{o}'" for o in _EXCLUDED_OWNERS)}))
         AND (TABLE_NAME IS NULL OR TABLE_NAME NOT LIKE 'MLOG$%'))
        OR (OPERATION_CODE = 5 AND INFO NOT LIKE 'INTERNAL DDL%'))
"""


class OracledbClient:
    """:class:`OracleClient` on python-oracledb in thin mode (no Oracle Client libraries).

    The user needs the grants Debezium documents (``CREATE SESSION``, ``SELECT ANY
    TRANSACTION``, ``LOGMINING``, ``EXECUTE_CATALOG_ROLE``, ``SELECT`` on ``V_$DATABASE``,
    ``V_$LOG``, ``V_$LOGFILE``, ``V_$ARCHIVED_LOG``, ``V_$LOGMNR_CONTENTS``, ``V_$LOGMNR_LOGS``,
    ``FLASHBACK ANY TABLE`` or per-table ``FLASHBACK``) and the database needs
    ``ARCHIVELOG`` mode and supplemental logging (``ALTER DATABASE ADD SUPPLEMENTAL LOG DATA``
    plus ``ALTER TABLE ... ADD SUPPLEMENTAL LOG DATA (ALL) COLUMNS`` per captured table).
    """

    def __init__(self, dsn: str, user: str, password: str) -> None:
        import oracledb  # lazy: an optional dependency (pip install headwater[oracle])

        self._oracledb = oracledb
        self._dsn, self._user, self._password = dsn, user, password
        self._connection: t.Any = None

    @property
    def _conn(self) -> t.Any:
        """The connection, opened on first use (so that a database that is down is a
        retriable error of ``poll()``, not a failure to build the task)."""
        if self._connection is None:
            conn = self._oracledb.connect(user=self._user, password=self._password, dsn=self._dsn)
            with conn.cursor() as cur:
                cur.execute("ALTER SESSION SET TIME_ZONE = 'UTC'")
                cur.execute("ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,'")
            self._connection = conn
        return self._connection

    def current_scn(self) -> int:
        """See :meth:`OracleClient.current_scn`."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT CURRENT_SCN FROM V$DATABASE")
            return int(cur.fetchone()[0])

    def scn_to_timestamp(self, scn: int) -> dt.datetime:
        """See :meth:`OracleClient.scn_to_timestamp`."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT SYS_EXTRACT_UTC(CAST(SCN_TO_TIMESTAMP(:s) AS TIMESTAMP WITH TIME ZONE)) FROM DUAL", s=scn
            )
            return t.cast(dt.datetime, cur.fetchone()[0])

    def oldest_active_transaction_scn(self) -> int | None:
        """See :meth:`OracleClient.oldest_active_transaction_scn`."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT MIN(START_SCN) FROM V$TRANSACTION")
            found = cur.fetchone()[0]
            return None if found is None else int(found)

    def list_tables(self, owners: t.Collection[str] | None = None) -> list[tuple[str, str]]:
        """See :meth:`OracleClient.list_tables`."""
        with self._conn.cursor() as cur:
            cur.execute("SELECT OWNER, TABLE_NAME FROM ALL_TABLES WHERE NESTED = 'NO' AND TEMPORARY = 'N'")
            found = [(o, n) for o, n in cur if o not in _EXCLUDED_OWNERS]
        return sorted(x for x in found if owners is None or x[0] in owners)

    def table_metadata(self, owner: str, table: str) -> TableMetadata:
        """See :meth:`OracleClient.table_metadata`."""
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, DATA_LENGTH, DATA_PRECISION, DATA_SCALE, NULLABLE, COLUMN_ID"
                " FROM ALL_TAB_COLUMNS WHERE OWNER = :o AND TABLE_NAME = :t ORDER BY COLUMN_ID",
                o=owner, t=table,
            )  # fmt: skip
            columns = tuple(
                OracleColumn(name, dtype, int(length or 0), precision, scale, nullable == "Y", int(cid))
                for name, dtype, length, precision, scale, nullable, cid in cur
            )
            cur.execute(
                "SELECT cc.COLUMN_NAME FROM ALL_CONSTRAINTS c JOIN ALL_CONS_COLUMNS cc"
                " ON cc.OWNER = c.OWNER AND cc.CONSTRAINT_NAME = c.CONSTRAINT_NAME"
                " WHERE c.OWNER = :o AND c.TABLE_NAME = :t AND c.CONSTRAINT_TYPE = 'P' ORDER BY cc.POSITION",
                o=owner, t=table,
            )  # fmt: skip
            key = tuple(row[0] for row in cur)
            cur.execute(
                "SELECT OBJECT_ID FROM ALL_OBJECTS WHERE OWNER = :o AND OBJECT_NAME = :t AND OBJECT_TYPE = 'TABLE'",
                o=owner, t=table,
            )  # fmt: skip
            found = cur.fetchone()
        return TableMetadata(owner, table, columns, key, int(found[0]) if found else 0)

    def flashback_select(self, owner: str, table: str, scn: int) -> t.Iterator[dict[str, t.Any]]:
        """See :meth:`OracleClient.flashback_select`."""
        with self._conn.cursor() as cur:
            cur.arraysize = 10_000
            cur.execute(f'SELECT * FROM "{owner}"."{table}" AS OF SCN :scn', scn=scn)
            names = [d[0] for d in cur.description]
            for row in cur:
                yield dict(zip(names, row, strict=True))

    def _logs_for(self, start_scn: int) -> list[str]:
        with self._conn.cursor() as cur:
            cur.execute(
                "SELECT MIN(F.MEMBER) FROM V$LOG L JOIN V$LOGFILE F ON F.GROUP# = L.GROUP#"
                " WHERE L.STATUS != 'UNUSED' AND L.NEXT_CHANGE# > :s GROUP BY L.GROUP#"
                " UNION SELECT A.NAME FROM V$ARCHIVED_LOG A WHERE A.NAME IS NOT NULL AND A.ARCHIVED = 'YES'"
                " AND A.STATUS = 'A' AND A.DELETED = 'NO' AND A.NEXT_CHANGE# > :s AND A.DEST_ID IN"
                " (SELECT DEST_ID FROM V$ARCHIVE_DEST_STATUS WHERE STATUS = 'VALID' AND TYPE = 'LOCAL')",
                s=start_scn,
            )
            return sorted({row[0] for row in cur})

    def start_logminer(self, start_scn: int, end_scn: int) -> None:
        """See :meth:`OracleClient.start_logminer`."""
        with self._conn.cursor() as cur:
            for index, name in enumerate(self._logs_for(start_scn)):
                option = "DBMS_LOGMNR.NEW" if index == 0 else "DBMS_LOGMNR.ADDFILE"
                cur.execute(f"BEGIN SYS.DBMS_LOGMNR.ADD_LOGFILE(LOGFILENAME => :1, OPTIONS => {option}); END;", [name])
            cur.execute(
                "BEGIN SYS.DBMS_LOGMNR.START_LOGMNR(STARTSCN => :1, ENDSCN => :2, OPTIONS =>"
                " DBMS_LOGMNR.DICT_FROM_ONLINE_CATALOG + DBMS_LOGMNR.NO_ROWID_IN_STMT); END;",
                [start_scn, end_scn],
            )

    def fetch_contents(self, start_scn: int, end_scn: int, arraysize: int = 10_000) -> t.Iterator[LogMinerRow]:
        """See :meth:`OracleClient.fetch_contents`."""
        with self._conn.cursor() as cur:
            cur.arraysize = arraysize
            cur.prefetchrows = arraysize
            cur.execute(_CONTENTS_QUERY, start_scn=start_scn, end_scn=end_scn)
            for r in cur:
                yield LogMinerRow(
                    scn=int(r[0]), start_scn=None if r[1] is None else int(r[1]),
                    commit_scn=None if r[2] is None else int(r[2]), timestamp=r[3], xid=r[4], operation=r[5],
                    operation_code=int(r[6]), seg_owner=r[7], table_name=r[8], row_id=r[9], rollback=int(r[10] or 0),
                    rs_id=r[11] or "", ssn=int(r[12] or 0), csf=int(r[13] or 0), thread=int(r[14] or 1), info=r[15],
                    status=int(r[16] or 0), sql_redo=r[17], data_obj=r[18], sequence=int(r[19] or 0), username=r[20],
                )  # fmt: skip

    def end_logminer(self) -> None:
        """See :meth:`OracleClient.end_logminer`."""
        try:
            with self._conn.cursor() as cur:
                cur.execute("BEGIN SYS.DBMS_LOGMNR.END_LOGMNR(); END;")
        except self._oracledb.DatabaseError as exc:
            if oracle_error_code(exc) != 1307:  # ORA-01307: no LogMiner session is active
                raise

    def close(self) -> None:
        """See :meth:`OracleClient.close`."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
