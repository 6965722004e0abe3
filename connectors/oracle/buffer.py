"""Per-transaction buffering of ``V$LOGMNR_CONTENTS`` rows until COMMIT.

LogMiner without ``COMMITTED_DATA_ONLY`` returns the changes of every transaction as they
were written, interleaved, including the ones that are later rolled back. The
:class:`TransactionBuffer` is fed those rows in SCN order and hands back committed
transactions in commit order:

- ``CSF=1`` rows are joined with the rows that follow them into one ``SQL_REDO``.
- START (6) opens a transaction (a DML of an unknown XID opens one too: its START may
  lie before the mined window when the source resumes).
- A DML row with ``ROLLBACK=1`` (the undo of a rollback to savepoint, or of a failed
  statement) removes the latest buffered change of the same transaction with the same
  ``ROW_ID``, as Debezium does.
- ROLLBACK (36) drops the whole transaction; COMMIT (7) returns it.
- UNSUPPORTED (255) rows are kept out of the events and counted per transaction.
- LOB rows (9 SEL_LOB_LOCATOR, 10 LOB_WRITE, 11 LOB_TRIM) stay in the transaction, in order,
  for the task to assemble when ``lob.enabled``.
- Transactions already emitted (a restart that re-mines from the resume SCN) are
  skipped: the caller passes, per redo thread, the last commit SCN emitted and the XIDs
  emitted at it, and the snapshot SCN below which everything is in the snapshot.

A transaction with more than ``spill_threshold`` changes moves its changes to a file in
``spill_dir`` (one JSON line per change) and reads them back at commit, so memory stays
bounded by the threshold times the number of open transactions.

Used by the source task from its own thread only; not thread-safe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from headwater.connectors.oracle.client import LogMinerRow

__all__ = ["BufferedChange", "CommittedTransaction", "TransactionBuffer"]


@dataclass(slots=True)
class BufferedChange:
    """One DML of a transaction: its first row's metadata and its whole SQL_REDO.

    Treated as immutable, but not ``frozen``: one is built per buffered row, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) costs about six times as much."""

    scn: int
    operation_code: int
    owner: str
    table: str
    row_id: str
    sql: str
    rs_id: str
    ssn: int
    thread: int
    timestamp_ms: int
    status: int = 0
    info: str | None = None


@dataclass(slots=True)
class CommittedTransaction:
    """A committed transaction, ready to emit."""

    xid: str
    start_scn: int
    commit_scn: int
    thread: int
    commit_timestamp_ms: int
    changes: t.Iterable[BufferedChange]
    unsupported: int = 0


@dataclass(slots=True)
class _Open:
    xid: str
    start_scn: int
    thread: int
    changes: list[BufferedChange] = field(default_factory=list)
    spilled: Path | None = None
    spilled_count: int = 0
    unsupported: int = 0


_STAMPS: dict[dt.datetime, int] = {}


def _epoch_ms(row: LogMinerRow) -> int:
    """Epoch milliseconds of a row's TIMESTAMP (naive means UTC); cached: the rows of one
    second share it (at most 4,096 entries, then the cache starts over)."""
    stamp = row.timestamp
    found = _STAMPS.get(stamp)
    if found is not None:
        return found
    if len(_STAMPS) >= 4096:
        _STAMPS.clear()
    aware = stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp
    found = _STAMPS[stamp] = int(aware.timestamp() * 1000)
    return found


class TransactionBuffer:
    """See the module doc.

    Args:
        spill_threshold: changes held in memory per transaction before spilling to disk.
        spill_dir: where spill files go (the task's scratch directory).
        emitted: per redo thread, the commit SCN of the last emitted transaction(s) and
            their XIDs (from the offset); a transaction of that thread committing below
            it, or at it with a listed XID, is dropped.
        floor: transactions committing at or below this SCN are dropped (they are in the
            snapshot taken at it).
    """

    def __init__(
        self,
        *,
        spill_threshold: int = 100_000,
        spill_dir: Path | None = None,
        emitted: t.Mapping[int, tuple[int, t.Collection[str]]] | None = None,
        floor: int = 0,
    ) -> None:
        self.spill_threshold = spill_threshold
        self.spill_dir = spill_dir
        self.emitted = {thread: (scn, set(xids)) for thread, (scn, xids) in (emitted or {}).items()}
        self.floor = floor
        self.open: dict[str, _Open] = {}
        self._pending: list[LogMinerRow] = []
        self.rolled_back = 0
        self.partial_rollbacks = 0

    def oldest_open_scn(self) -> int | None:
        """The start SCN of the oldest open transaction (the resume SCN), or None."""
        return min((tx.start_scn for tx in self.open.values()), default=None)

    def _tx(self, row: LogMinerRow) -> _Open:
        tx = self.open.get(row.xid)
        if tx is None:
            tx = _Open(row.xid, row.start_scn or row.scn, row.thread)
            self.open[row.xid] = tx
        return tx

    def feed(self, row: LogMinerRow) -> CommittedTransaction | None:
        """Take one row; return the transaction its COMMIT completes, else None."""
        if row.csf:
            self._pending.append(row)
            return None
        if self._pending:
            first = self._pending[0]
            sql = "".join(r.sql_redo or "" for r in self._pending) + (row.sql_redo or "")
            self._pending = []
            row = dataclasses.replace(first, sql_redo=sql, csf=0)
        code = row.operation_code
        if code == 6:
            self._tx(row)
            return None
        if code == 7:
            return self._commit(row)
        if code == 36:
            tx = self.open.pop(row.xid, None)
            if tx is not None:
                self.rolled_back += 1
                self._discard(tx)
            return None
        if code in (1, 2, 3):
            tx = self._tx(row)
            if row.rollback:
                self._remove_last(tx, row.row_id or "")
                return None
            self._add(tx, row)
            return None
        if code in (9, 10, 11):  # SEL_LOB_LOCATOR, LOB_WRITE, LOB_TRIM: kept in order for the task
            if not row.rollback:
                self._add(self._tx(row), row)
            return None
        if code == 255:
            self._tx(row).unsupported += 0 if row.rollback else 1
        return None

    def _add(self, tx: _Open, row: LogMinerRow) -> None:
        change = BufferedChange(
            row.scn, row.operation_code, row.seg_owner or "", row.table_name or "", row.row_id or "",
            row.sql_redo or "", row.rs_id, row.ssn, row.thread, _epoch_ms(row), row.status, row.info,
        )  # fmt: skip
        tx.changes.append(change)
        if len(tx.changes) >= self.spill_threshold and self.spill_dir is not None:
            self._spill(tx)

    def _spill(self, tx: _Open) -> None:
        assert self.spill_dir is not None
        if tx.spilled is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            tx.spilled = self.spill_dir / f"oracle-tx-{tx.xid}.jsonl"
            tx.spilled.write_bytes(b"")
        with tx.spilled.open("ab") as out:
            for change in tx.changes:
                out.write(orjson.dumps(dataclasses.astuple(change), option=orjson.OPT_APPEND_NEWLINE))
        tx.spilled_count += len(tx.changes)
        tx.changes = []

    def _remove_last(self, tx: _Open, row_id: str) -> None:
        for index in range(len(tx.changes) - 1, -1, -1):
            if tx.changes[index].row_id == row_id:
                del tx.changes[index]
                self.partial_rollbacks += 1
                return
        if tx.spilled is not None:
            # The change to undo is on disk: rewrite the file without its last match.
            lines = tx.spilled.read_bytes().splitlines()
            for index in range(len(lines) - 1, -1, -1):
                if BufferedChange(*orjson.loads(lines[index])).row_id == row_id:
                    del lines[index]
                    tx.spilled.write_bytes(b"".join(line + b"\n" for line in lines))
                    tx.spilled_count -= 1
                    self.partial_rollbacks += 1
                    return

    def _discard(self, tx: _Open) -> None:
        if tx.spilled is not None:
            tx.spilled.unlink(missing_ok=True)

    def _commit(self, row: LogMinerRow) -> CommittedTransaction | None:
        tx = self.open.pop(row.xid, None)
        commit_scn = row.commit_scn or row.scn
        last_scn, last_xids = self.emitted.get(row.thread, (0, set()))
        if commit_scn <= self.floor or commit_scn < last_scn or (commit_scn == last_scn and row.xid in last_xids):
            if tx is not None:
                self._discard(tx)
            return None
        if tx is None:
            return None  # an empty transaction (or one whose changes were all in skipped windows)
        changes: t.Iterable[BufferedChange] = tx.changes
        if tx.spilled is not None:
            changes = self._replay(tx)
        return CommittedTransaction(
            tx.xid, tx.start_scn, commit_scn, row.thread, _epoch_ms(row), changes, tx.unsupported
        )

    @staticmethod
    def _replay(tx: _Open) -> t.Iterator[BufferedChange]:
        path = tx.spilled
        assert path is not None
        tail = list(tx.changes)
        with path.open("rb") as source:
            for line in source:
                yield BufferedChange(*orjson.loads(line))
        yield from tail
        path.unlink(missing_ok=True)
