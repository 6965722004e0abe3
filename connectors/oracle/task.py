"""The ``oracle-logminer`` task: snapshot AS OF an SCN, then stream LogMiner windows.

One task per connector; its source partition is ``{"server": <topic.prefix>}`` and its
offset (all strings or booleans, as Debezium stores them):

- ``scn``: the resume SCN, mining restarts after it: at most the start SCN of the oldest
  transaction still open minus one, so that a transaction that was open at a crash is
  mined again whole;
- ``commit_scn``: ``"<commit SCN>:<redo thread>:<xid>-<xid>,..."``, per redo thread the
  last commit SCN emitted and the transactions emitted at it (a restart skips that
  thread's transactions committed below it, and those listed at it);
- ``snapshot_scn``: the SCN of the snapshot; transactions committed at or below it are
  in the snapshot and never streamed;
- ``tx_id``/``tx_seq`` (only on records inside a transaction): how many changes of
  that transaction are already written, so a restart part-way through a transaction
  writes the rest and nothing twice;
- ``snapshot_completed``: false while the initial snapshot runs (a restart redoes it).

Streaming: every round reads the current SCN, opens a LogMiner session on the window
``(mined, min(current, mined + batch)]``, feeds its rows to a
:class:`~headwater.connectors.oracle.buffer.TransactionBuffer` and turns each committed
transaction into change events in commit order (one Kafka transaction per Oracle
transaction when ``context.transactions`` is set). The window doubles while the source
lags (up to ``log.mining.batch.size.max``) and halves once it has caught up (down to
``...min``). DDL rows refresh the table's metadata; UNSUPPORTED (255) changes of captured
tables are skipped with a warning; with ``provide.transaction.metadata`` BEGIN and END
events go to ``<topic.prefix>.transaction``. Envelope ``ts_ms`` is the commit time (the
snapshot SCN's time for ``op=r``), not the processing time as in Debezium, so replayed
events are identical. Every record carries its key and value schemas
(:mod:`headwater.codecs.oracle.schema`, Debezium's types and names), built once per table
and again after its DDL; a NUMBER without scale is Debezium's VariableScaleDecimal struct.
Records come out of a generator, at most
``max.batch.size`` per ``poll()``, so a huge transaction never sits in memory as records.

Errors: ORA-01291 (a log is gone) is a :class:`FatalError` naming the SCN and the remedy,
or, with ``snapshot.mode=when_needed``, a new snapshot. Connection trouble (ORA-00028,
ORA-00310, ORA-03113, ORA-01555 in a snapshot, DPY-4011) is a :class:`RetriableError`; the
task then resumes from the last offset it returned. Statements it cannot read become
:class:`ErrantSourceRecord` s naming the SCN, XID and table.

All methods run on the task's thread.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import itertools
import logging
import re
import time
import typing as t

from headwater.codecs.oracle import redo
from headwater.codecs.oracle.convert import OracleColumn, ValueConversionError, compiled_reader, value_converter
from headwater.codecs.oracle.redo import RedoChange, parse_redo
from headwater.codecs.oracle.render import debezium_value
from headwater.codecs.oracle.schema import (
    HEARTBEAT_KEY,
    HEARTBEAT_VALUE,
    TRANSACTION_KEY,
    TRANSACTION_VALUE,
    TableSchemas,
    connect_value,
    is_decimal,
    is_variable_scale,
    table_schemas,
    variable_scale_literal,
)
from headwater.codecs.schema import Schema
from headwater.connectors.api import (
    ErrantSourceRecord,
    OffsetMarker,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.oracle.buffer import BufferedChange, CommittedTransaction, TransactionBuffer
from headwater.connectors.oracle.client import OracleClient, TableMetadata, driver_error_code, oracle_error_code
from headwater.connectors.oracle.config import OracleLogMinerConfig

__all__ = ["OracleLogMinerTask", "build_client"]

log = logging.getLogger(__name__)

_TOPIC_CHARS = re.compile(r"[^a-zA-Z0-9._-]")
_RETRIABLE = {28, 310, 1089, 1555, 3113, 3114, 3135, 12514, 12541, 12170}
Item: t.TypeAlias = SourceRecord | ErrantSourceRecord | OffsetMarker


class _Pause:
    """Yielded by the generator when it has caught up: ``poll()`` returns what it has."""


_PAUSE = _Pause()
_MISSING = object()
_UNDECODABLE = object()
_VALUE_CACHE_SIZE = 100_000


def build_client(config: OracleLogMinerConfig) -> OracleClient:
    """The emulator when ``emulator.scenario`` is set, else python-oracledb (thin mode)."""
    if config.emulator_scenario is not None:
        from headwater.conformance.emulators.oracle import LogMinerEmulator

        return LogMinerEmulator(config.emulator_scenario, config.emulator_seed)
    from headwater.connectors.oracle.client import OracledbClient

    assert config.database_hostname is not None
    assert config.database_user is not None
    password = config.database_password.get_secret_value() if config.database_password else ""
    dsn = f"{config.database_hostname}:{config.database_port}/{config.database_dbname}"
    return OracledbClient(dsn, config.database_user, password)


class _ResnapshotNeeded(Exception):
    """Internal: the resume SCN's logs are gone and snapshot.mode=when_needed."""


Commits: t.TypeAlias = dict[int, tuple[int, tuple[str, ...]]]
"""Per redo thread: the last commit SCN emitted and the XIDs emitted at it."""


def _format_commits(commits: Commits) -> str:
    """Debezium's ``commit_scn``: ``"<scn>:<thread>:<xid>-<xid>,..."``, one entry per redo thread."""
    return ",".join(f"{scn}:{thread}:{'-'.join(xids)}" for thread, (scn, xids) in sorted(commits.items()))


def _parse_commits(text: str | None) -> Commits:
    out: Commits = {}
    for entry in (text or "").split(","):
        if not entry.strip():
            continue
        scn, _, rest = entry.strip().partition(":")
        thread, _, xids = rest.partition(":")
        out[int(thread or 1)] = (int(scn), tuple(x for x in xids.split("-") if x))
    return out


class OracleLogMinerTask(SourceTask[OracleLogMinerConfig]):
    """See the module doc."""

    def __init__(
        self,
        config: OracleLogMinerConfig,
        context: SourceTaskContext,
        client: OracleClient | None = None,
    ) -> None:
        super().__init__(config, context)
        self.client = client if client is not None else build_client(config)
        self.partition = {"server": config.topic_prefix}
        self.tables: dict[str, TableMetadata] = {}
        self._known_columns: dict[str, dict[str, OracleColumn]] = {}
        self._schemas: dict[str, TableSchemas] = {}
        self._by_object: dict[int, TableMetadata] = {}
        self._work: t.Iterator[Item | _Pause] | None = None
        self._last_offset: t.Mapping[str, t.Any] | None = None
        self._batch = config.log_mining_batch_size_default
        self._mining_from = 0
        self._snapshot_scn: str | None = None
        self._plans: dict[str, _TablePlan] = {}
        self._caches: dict[str, list[dict[str, t.Any]]] = {}
        self._cached = 0
        # The compiled conversion loop (redo's switch decides, as for the parse): a column's
        # converter is then a _credo.Column and a clause is converted by _credo.convert_row.
        self._native: t.Any = redo._credo if redo.NATIVE_ENABLED and redo._credo is not None else None
        # Whether a clause's converted row is already the image: its columns, in the table's order.
        self._keys_are: t.Callable[[dict[str, t.Any], list[str]], bool] = (
            self._native.keys_are if self._native is not None else _keys_are
        )
        # Its own compiled reader (names cached per statement shape) for _credo.event.
        self._parser: t.Any = self._native.Parser(RedoChange) if self._native is not None else None
        # What _credo.records reads: (owner, table) -> (plan.native, topic, key schema, value
        # schema) for the routed tables with a compiled plan (filled by _route, cleared with _routes).
        self._native_routes: dict[tuple[str, str], tuple[t.Any, ...]] = {}
        self._record_setup: tuple[t.Any, ...] | None = None
        if self._native is not None and tuple(f.name for f in dataclasses.fields(SourceRecord)) == _RECORD_SLOTS:
            slots = tuple(vars(SourceRecord)[name] for name in _RECORD_SLOTS)
            self._record_setup = (
                self._native_routes, self.partition, SourceRecord, slots, config.tombstones_on_delete,
            )  # fmt: skip
        self._routes: dict[tuple[str, str], _TablePlan | object | None] = {}
        self._tx_source_of: CommittedTransaction | None = None
        self._tx_source: tuple[str, str, str, int] = ("", "", "", 0)
        self._last_heartbeat = time.monotonic()
        metrics = context.metrics
        self._m_events = metrics.counter("events", "change events emitted")
        self._m_transactions = metrics.counter("transactions", "committed transactions emitted")
        self._m_rolled_back = metrics.counter("rolled_back", "transactions rolled back and dropped")
        self._m_lag = metrics.gauge("lag_scns", "SCNs between the database and the mined window")

    # ------------------------------------------------------------------ metadata

    def _load_tables(self) -> None:
        for owner, name in self.client.list_tables():
            if self.config.captures(owner, name):
                self._remember(self.client.table_metadata(owner, name))

    def _remember(self, meta: TableMetadata) -> None:
        self.tables[meta.qualified] = meta
        self._routes.clear()
        self._native_routes.clear()
        known = self._known_columns.setdefault(meta.qualified, {})
        known.update({c.name: c for c in meta.columns})
        # Built once per table version: here when the table is first seen and after DDL.
        self._schemas[meta.qualified] = table_schemas(
            self.config.topic_prefix, meta.owner, meta.name, meta.columns, meta.primary_key,
            binary_handling_mode=self.config.binary_handling_mode,
            decimal_handling_mode=self.config.decimal_handling_mode,
            transaction_block=self.config.provide_transaction_metadata,
        )  # fmt: skip
        if meta.object_id:
            self._by_object[meta.object_id] = meta
        self._plans[meta.qualified] = self._plan(meta, known)

    def _plan(self, meta: TableMetadata, known: dict[str, OracleColumn]) -> _TablePlan:
        """What every change event of one table version shares, computed once."""
        names = [c.name for c in meta.columns]
        lobs = {c.name: self._placeholder(c) for c in meta.columns if c.base_type in ("CLOB", "NCLOB", "BLOB")}
        caches = self._caches[meta.qualified] = []  # the previous version's caches go with its plan
        schemas = self._schemas[meta.qualified]
        plan = _TablePlan(
            meta=meta,
            topic=self.topic(meta),
            schemas=schemas,
            names=names,
            lobs=lobs,
            converters={name: self._converter(column, caches) for name, column in known.items()},
            key_names=tuple(meta.primary_key),
            key_schema=schemas.key if meta.primary_key else None,
            value_schema=schemas.value,
            # _source's keys and order; ts_ms, scn and the stream fields are each change's own
            source_template=self._source(meta, snapshot="false", scn=0, ts_ms=0),
        )  # fmt: skip
        if self._native is not None and not lobs:
            plan.native = (plan.converters, plan.names, plan.key_names, plan.source_template)
        return plan

    def _converter(self, column: OracleColumn, caches: list[dict[str, t.Any]]) -> t.Callable[[str], t.Any]:
        """The literal-to-Connect-value function of one column (``literal`` is never None).

        Text is the literal itself unless it holds a function (``UNISTR``, ``EMPTY_CLOB()``);
        a NUMBER that is a Connect integer is ``int(literal)`` when that reads it, a float
        ``float(literal)`` (both cheaper than a cache); a NUMBER without scale under
        ``decimal.handling.mode=precise`` is read from its text straight into the
        VariableScaleDecimal struct; anything else (and text holding a function) is
        converted once per distinct literal and cached (a WHERE clause repeats the values
        the row's last change wrote; the values are immutable). All caches together hold at
        most ``_VALUE_CACHE_SIZE`` values: past that they are emptied. With the compiled
        reader these steps are a ``_credo.Column`` that ``_converted`` runs in C, the
        conversion of a cache miss still in Python, and dates, timestamps and plain
        VariableScaleDecimal literals are read in C with no cache (cheaper than one);
        ``tests/connectors/test_oracle_source.py`` holds both paths to the same events."""
        decimals = self.config.decimal_handling_mode
        kind = _converter_kind(column)
        typed = value_converter(column)
        if kind == "int" or column.base_type in ("BINARY_FLOAT", "BINARY_DOUBLE"):
            # int(literal) or float(literal), else the general path: no cache needed
            if self._native is None:
                return typed
            return self._native.Column(self._native.INT if kind == "int" else self._native.FLOAT, None, typed)
        reader = compiled_reader(column) if self._native is not None else None
        if reader is not None:  # dates and timestamps: read in C for less than a cache costs
            mode = self._native.EPOCH if reader[0] == "epoch" else self._native.ZONED
            return self._native.Column(mode, None, typed, reader[1])
        convert: t.Callable[[str], t.Any] = typed  # dates, times, intervals, floats: already Connect values
        if is_decimal(column) and decimals == "precise" and is_variable_scale(column):

            def convert(literal: str) -> t.Any:
                found = variable_scale_literal(literal)
                return found if found is not None else connect_value(column, typed(literal), decimals)

            if self._native is not None:  # a plain literal read in C, for less than a cache costs
                return self._native.Column(self._native.SCALED, None, convert)

        elif is_decimal(column) and decimals != "precise":  # precise keeps a scaled NUMBER's Decimal

            def convert(literal: str) -> t.Any:
                return connect_value(column, typed(literal), decimals)

        elif column.base_type in ("RAW", "BLOB", "LONG RAW") and self.config.binary_handling_mode != "bytes":
            binary = self._binary

            def convert(literal: str) -> t.Any:
                return binary(typed(literal))

        cache: dict[str, t.Any] = {}
        caches.append(cache)
        get = cache.get
        text = kind == "text"

        def miss(literal: str) -> t.Any:
            value = convert(literal)
            self._cached += 1
            if self._cached > _VALUE_CACHE_SIZE:
                for table in self._caches.values():
                    for each in table:
                        each.clear()
                self._cached = 0
            cache[literal] = value
            return value

        if self._native is not None:  # the same steps, run by convert_row without a Python frame
            return self._native.Column(self._native.TEXT if text else self._native.CACHED, cache, miss)

        def cached(literal: str) -> t.Any:
            if text and "(" not in literal and literal != _UNSUPPORTED:
                return literal  # plain text is its own value
            value = get(literal, _MISSING)
            return miss(literal) if value is _MISSING else value

        return cached

    def topic(self, meta: TableMetadata) -> str:
        """``<topic.prefix>.<OWNER>.<TABLE>`` with characters Kafka refuses replaced by ``_``."""
        return _TOPIC_CHARS.sub("_", f"{self.config.topic_prefix}.{meta.owner}.{meta.name}")

    # ------------------------------------------------------------------ poll

    def poll(self) -> list[Item]:
        """Up to ``max.batch.size`` records (and offset markers) from the snapshot or stream."""
        if self._work is None:
            self._work = self._run(self.context.offsets.offset(self.partition))
        out: list[Item] = []
        most = self.config.max_batch_size
        transactions = self.context.transactions
        try:
            for item in self._work:
                if isinstance(item, _Pause):
                    break
                marker = type(item) is OffsetMarker
                if marker and item.offset == self._last_offset:
                    continue  # nothing moved: an idle poll returns nothing
                out.append(item)
                self._last_offset = item.offset  # never changed once yielded: no copy
                if marker and transactions is not None:
                    # Markers come only between Oracle transactions (and at window ends):
                    # each closes the Kafka transaction, so offsets advance while idle too.
                    transactions.commit_transaction(item)
                if len(out) >= most:
                    break
            else:
                self._work = None
        except _ResnapshotNeeded:
            self._work = self._run(None, resnapshot=True)
        except Exception as exc:
            code = oracle_error_code(exc)
            if code is None and not _is_connection_error(exc):
                raise
            self._work = None  # the next poll resumes from the last offset returned
            if code == 1291:
                raise self._missing_log_error(exc) from exc
            if code is not None and code not in _RETRIABLE:
                msg = f"Oracle error while capturing changes: {exc}"
                raise FatalError(msg) from exc
            if out:
                return out
            msg = f"Oracle error during mining ({exc}); resuming from the last offset"
            raise RetriableError(msg) from exc
        return out

    def _missing_log_error(self, exc: BaseException) -> FatalError:
        scn = self._mining_from
        msg = (
            f"{exc}: the redo logs holding SCN {scn} (this connector's resume point) are no longer available. "
            "Restore the archived logs covering that SCN and restart, or set snapshot.mode=when_needed "
            "(or reset this connector's offsets) to take a new snapshot; changes between that SCN and the "
            "new snapshot cannot be recovered from LogMiner."
        )
        return FatalError(msg)

    # ------------------------------------------------------------------ the generator

    def _run(self, stored: t.Mapping[str, t.Any] | None, *, resnapshot: bool = False) -> t.Iterator[Item | _Pause]:
        if self._last_offset is not None and not resnapshot:
            stored = self._last_offset  # resuming after a retriable error in this process
        self._load_tables()
        mode = self.config.snapshot_mode
        if resnapshot or stored is None or not stored.get("snapshot_completed", True):
            if mode == "no_data" and not resnapshot:
                # As a snapshot without the reads: start at the oldest open transaction so that
                # one committed later is emitted whole; those committed by now are skipped.
                scn = self.client.current_scn()
                oldest = self.client.oldest_active_transaction_scn()
                resume = min(scn, oldest - 1) if oldest is not None else scn
                stored = {"scn": str(resume), "commit_scn": "", "snapshot_scn": str(scn), "snapshot_completed": True}
                yield OffsetMarker(self.partition, stored)
            else:
                stored = yield from self._snapshot()
        yield from self._stream(stored)

    def _snapshot(self) -> t.Generator[Item, None, dict[str, t.Any]]:
        scn = self.client.current_scn()
        oldest = self.client.oldest_active_transaction_scn()
        resume = min(scn, oldest - 1) if oldest is not None else scn
        # Transactions committed at or before the snapshot SCN are in the snapshot: skip them.
        done = {"scn": str(resume), "commit_scn": "", "snapshot_scn": str(scn), "snapshot_completed": True}
        running = {"scn": str(resume), "commit_scn": "", "snapshot_scn": str(scn), "snapshot_completed": False}
        names = sorted(self.tables)
        last: SourceRecord | None = None
        # ts_ms is the snapshot SCN's time (not the processing time, as in Debezium): a
        # replayed snapshot or stream then carries identical events.
        ts = _epoch_ms(self.client.scn_to_timestamp(scn))
        log.info("snapshot of %d table(s) at SCN %d started", len(names), scn)
        total_rows = 0
        for index, name in enumerate(names):
            meta = self.tables[name]
            decimals = self.config.decimal_handling_mode
            rows = self.client.flashback_select(meta.owner, meta.name, scn)
            pending = next(rows, None)
            table_rows = 0
            started = time.monotonic()
            while pending is not None:
                row, pending = pending, next(rows, None)
                table_rows += 1
                total_rows += 1
                if total_rows % 1000 == 0:
                    self.context.progress(total_rows, None, "rows", what=f"table {name} ({index + 1}/{len(names)})")
                final = pending is None and index == len(names) - 1
                value_row = {
                    c.name: connect_value(c, self._binary(debezium_value(c, row.get(c.name))), decimals)
                    for c in meta.columns
                }
                source = self._source(meta, snapshot="last" if final else "true", scn=scn, ts_ms=ts)
                value = {"before": None, "after": value_row, "source": source, "op": "r", "ts_ms": ts}
                record = self._record(meta, done if final else running, self._key(meta, value_row), value)
                last = record
                if pending is None and self.context.transactions is not None:
                    self.context.transactions.commit_transaction(record)  # one Kafka transaction per table
                yield record
            self.context.progress(total_rows, None, "rows", what=f"table {name} ({index + 1}/{len(names)})")
            log.info("snapshot of %s done: %d rows in %.1f s", name, table_rows, time.monotonic() - started)
        if last is None or last.offset is not done:
            yield OffsetMarker(self.partition, done)  # the last table was empty: mark the snapshot done
        log.info("snapshot of %d table(s) at SCN %d finished (%d rows); streaming from SCN %d",
                 len(names), scn, total_rows, resume)  # fmt: skip
        return done

    def _stream(self, stored: t.Mapping[str, t.Any]) -> t.Iterator[Item | _Pause]:
        mined = int(stored["scn"])
        commits = _parse_commits(t.cast(str | None, stored.get("commit_scn")))
        self._snapshot_scn = t.cast(str | None, stored.get("snapshot_scn"))
        partial_xid = t.cast(str | None, stored.get("tx_id"))
        partial_seq = int(t.cast(str, stored.get("tx_seq") or 0))
        buffer = TransactionBuffer(
            spill_threshold=self.config.log_mining_buffer_spill_threshold,
            spill_dir=self.context.scratch_dir,
            emitted=commits,
            floor=int(self._snapshot_scn or 0),
        )
        last_commit = commits
        while True:
            top = self.client.current_scn()
            self._m_lag.set(max(0, top - mined))
            if top <= mined:
                self.context.next_poll_in(self.config.log_mining_sleep_time_ms)
                yield from self._heartbeat(mined, buffer, last_commit)
                yield _PAUSE
                continue
            end = min(top, mined + self._batch)
            self._mining_from = mined
            try:
                self.client.start_logminer(mined, end)
            except Exception as exc:
                if oracle_error_code(exc) == 1291 and self.config.snapshot_mode == "when_needed":
                    log.warning(
                        "redo for SCN %d is gone (%s); taking a new snapshot (snapshot.mode=when_needed)", mined, exc
                    )
                    raise _ResnapshotNeeded from exc
                raise
            try:
                for row in self.client.fetch_contents(mined, end):
                    if row.operation_code == 5:
                        self._ddl(row.seg_owner, row.table_name)
                        continue
                    if row.operation_code == 255 and not self.config.captures(
                        row.seg_owner or "", row.table_name or ""
                    ):
                        continue
                    done = buffer.feed(row)
                    if done is None:
                        continue
                    skip = partial_seq if done.xid == partial_xid else 0
                    partial_xid, partial_seq = None, 0
                    previous_commit = last_commit
                    last_commit = self._next_commit(last_commit, done)
                    if done.unsupported:
                        log.warning(
                            "transaction %s: %d change(s) LogMiner cannot render (OPERATION_CODE 255, "
                            "an unsupported column type) were skipped", done.xid, done.unsupported,
                        )  # fmt: skip
                    yield from self._emit(done, buffer, mined, previous_commit, last_commit, skip)
            finally:
                self.client.end_logminer()
            self._m_rolled_back.inc(buffer.rolled_back)
            buffer.rolled_back = 0
            # Adapt the window: grow while behind, shrink once caught up.
            if end < top:
                self._batch = min(self.config.log_mining_batch_size_max, self._batch * 2)
            else:
                self._batch = max(self.config.log_mining_batch_size_min, self._batch // 2)
            mined = end
            yield OffsetMarker(self.partition, self._offset(buffer, mined, last_commit))

    @staticmethod
    def _next_commit(last: Commits, done: CommittedTransaction) -> Commits:
        scn, xids = last.get(done.thread, (0, ()))
        entry = (scn, (*xids, done.xid)) if done.commit_scn == scn else (done.commit_scn, (done.xid,))
        return {**last, done.thread: entry}

    def _offset(self, buffer: TransactionBuffer, mined: int, last_commit: Commits, **extra: t.Any) -> dict[str, t.Any]:
        oldest = buffer.oldest_open_scn()
        resume = mined if oldest is None else min(mined, oldest - 1)
        return {
            "scn": str(resume),
            "commit_scn": _format_commits(last_commit),
            **({"snapshot_scn": self._snapshot_scn} if self._snapshot_scn else {}),
            "snapshot_completed": True,
            **extra,
        }

    def _heartbeat(self, mined: int, buffer: TransactionBuffer, last_commit: Commits) -> t.Iterator[Item]:
        offset = self._offset(buffer, mined, last_commit)
        interval = self.config.heartbeat_interval_ms
        if interval and (time.monotonic() - self._last_heartbeat) * 1000 >= interval:
            self._last_heartbeat = time.monotonic()
            topic = f"{self.config.heartbeat_topics_prefix}.{self.config.topic_prefix}"
            ts = int(time.time() * 1000)
            key = {"serverName": self.config.topic_prefix}
            beat = SourceRecord(
                self.partition,
                offset,
                topic,
                key,
                {"ts_ms": ts},
                key_schema=HEARTBEAT_KEY,
                value_schema=HEARTBEAT_VALUE,
            )
            if self.context.transactions is not None:
                self.context.transactions.commit_transaction(beat)  # poll() returns it
            yield beat
        else:
            yield OffsetMarker(self.partition, offset)

    def _ddl(self, owner: str | None, table: str | None) -> None:
        if owner is None or table is None or not self.config.captures(owner, table):
            return
        try:
            meta = self.client.table_metadata(owner, table)
        except Exception as exc:
            if oracle_error_code(exc) == 942:  # the table was dropped
                self.tables.pop(f"{owner}.{table}", None)
                self._routes.clear()
                self._native_routes.clear()
                return
            raise
        self._remember(meta)  # new converters: a column's type may have changed
        log.info("table %s.%s changed; now %d columns", owner, table, len(meta.columns))

    # ------------------------------------------------------------------ events

    def _emit(
        self,
        done: CommittedTransaction,
        buffer: TransactionBuffer,
        mined: int,
        previous_commit: Commits,
        last_commit: Commits,
        skip: int,
    ) -> t.Iterator[Item]:
        final_offset = self._offset(buffer, mined, last_commit)
        in_tx = {**self._offset(buffer, mined, previous_commit), "tx_id": done.xid}
        transactions = self.context.transactions
        counts: dict[str, int] = {}
        metadata = self.config.provide_transaction_metadata
        previous: Item | None = None
        total = 0
        for item in self._tx_items(done, in_tx, skip):
            if previous is None and metadata and skip == 0:
                yield self._transaction_begin(done, {**in_tx, "tx_seq": "0"})
            if previous is not None:
                yield previous
            previous = item
            if isinstance(item, SourceRecord) and item.value is not None:
                total += 1
                if metadata:  # per-table counts only for the transaction block and END event
                    source = item.value["source"]
                    collection = f"{source['db']}.{source['schema']}.{source['table']}"
                    counts[collection] = counts.get(collection, 0) + 1
                    item.value["transaction"] = {
                        "id": done.xid.lower(),
                        "total_order": total,
                        "data_collection_order": counts[collection],
                    }
        self._m_events.inc(total)
        if previous is None:
            yield OffsetMarker(self.partition, final_offset)
            return
        # The last item of the transaction carries the offset that marks it emitted.
        if isinstance(previous, SourceRecord):
            last: Item = dataclasses.replace(previous, offset=final_offset)
        elif isinstance(previous, ErrantSourceRecord):
            # A marker after it carries the final offset (and ends the Kafka transaction).
            yield previous
            last = OffsetMarker(self.partition, final_offset)
        else:
            last = OffsetMarker(self.partition, final_offset)
        if self.config.provide_transaction_metadata:
            if not isinstance(last, OffsetMarker):  # the END event carries the final offset
                yield last
            last = self._transaction_end(done, counts, final_offset)
        self._m_transactions.inc()
        if transactions is not None and isinstance(last, SourceRecord):
            transactions.commit_transaction(last)  # poll() returns ``last`` in this batch
        yield last

    def _tx_items(self, done: CommittedTransaction, in_tx: dict[str, t.Any], skip: int) -> t.Iterator[Item]:
        """The records of one transaction's changes, after the first ``skip`` changes.

        Streamed change by change; with ``lob.enabled`` the transaction is gathered first so
        that LOB writes land in the insert or update they belong to (or in an update of
        their own, built from the locator's WHERE image)."""
        if not self.config.lob_enabled:
            if self._record_setup is not None:
                yield from self._compiled_items(done, in_tx, skip)
                return
            for sequence, change in enumerate(done.changes, start=1):
                if sequence > skip:
                    yield from self._change_records(change, done, {**in_tx, "tx_seq": str(sequence)})
            return
        items: list[Item] = []
        targets: list[_LobTarget] = []
        current: _LobTarget | None = None
        sequence = 0
        for change in done.changes:
            sequence += 1
            if sequence <= skip:
                continue
            offset = {**in_tx, "tx_seq": str(sequence)}
            if change.operation_code in (1, 2, 3):
                items.extend(self._change_records(change, done, offset))
                continue
            try:
                if change.operation_code == 9:
                    current = self._lob_locator(change, done, items, offset)
                    if current is not None:
                        targets.append(current)
                elif current is not None:
                    current.apply(change.sql)
            except RecordError as exc:
                items.append(ErrantSourceRecord(self.partition, offset, exc, change.sql.encode()))
        for target in targets:
            record = items[target.index]
            assert isinstance(record, SourceRecord)
            record.value["after"][target.column] = self._binary(target.value)
        yield from items

    def _compiled_items(self, done: CommittedTransaction, in_tx: dict[str, t.Any], skip: int) -> t.Iterator[Item]:
        """``_tx_items`` without LOBs, the records of runs of changes built by ``_credo.records``
        (exactly what ``_change_records`` gives each); a change it leaves comes back as
        ``(sequence, change)`` and goes through ``_change_records`` here, in its place."""
        assert self._record_setup is not None
        tx = self._tx_source if self._tx_source_of is done else self._transaction_source(done)
        build = self._native.records
        changes = iter(done.changes)
        for _ in itertools.islice(changes, skip):
            pass
        sequence = skip + 1
        while chunk := list(itertools.islice(changes, _RECORDS_AT_ONCE)):
            items, declined = build(self._parser, chunk, sequence, tx, in_tx, self._record_setup)
            sequence += len(chunk)
            if not declined:
                yield from items
                continue
            for item in items:
                if type(item) is tuple:
                    number, change = item
                    yield from self._change_records(change, done, {**in_tx, "tx_seq": str(number)})
                else:
                    yield item

    def _lob_locator(
        self, change: BufferedChange, done: CommittedTransaction, items: list[Item], offset: dict[str, t.Any]
    ) -> _LobTarget | None:
        where = f"SCN {change.scn}, XID {done.xid}, table {change.owner}.{change.table}"
        found = _LOCATOR.search(change.sql)
        if found is None:
            msg = "not a SEL_LOB_LOCATOR statement LogMiner writes"
            raise RecordError(msg, location=where, raw=change.sql.encode())
        column, locator, owner, table, condition = found.groups()
        meta = self.tables.get(f"{owner}.{table}")
        if meta is None or not self.config.captures(owner, table):
            return None
        parsed = parse_redo(f'delete from "{owner}"."{table}" where {condition};', position=where)
        image = self._converted(self._plans[meta.qualified], parsed.old)
        key = self._key(meta, image)
        topic = self.topic(meta)
        binary = locator == "loc_b"
        for index in range(len(items) - 1, -1, -1):
            item = items[index]
            if isinstance(item, SourceRecord) and item.topic == topic and item.key == key:
                if item.value is not None and item.value["op"] in ("c", "u"):
                    return _LobTarget(index, column, b"" if binary else "")
                break  # a delete or tombstone: the LOB write starts a new update
        # No insert or update of this row in the transaction: an update of its own, whose
        # before and after images are the locator's WHERE image (supplemental logging of all columns).
        lob_update = RedoChange("UPDATE", owner, table, {}, dict(parsed.old))
        items.extend(self._records_from(lob_update, self._plans[meta.qualified], change, done, offset))
        return _LobTarget(len(items) - 1, column, b"" if binary else "")

    def _transaction_begin(self, done: CommittedTransaction, offset: t.Mapping[str, t.Any]) -> SourceRecord:
        topic = f"{self.config.topic_prefix}.transaction"
        value = {
            "status": "BEGIN",
            "id": done.xid.lower(),
            "event_count": None,
            "data_collections": None,
            "ts_ms": done.commit_timestamp_ms,
        }
        return SourceRecord(
            self.partition, offset, topic, {"id": done.xid.lower()}, value,
            key_schema=TRANSACTION_KEY, value_schema=TRANSACTION_VALUE,
        )  # fmt: skip

    def _transaction_end(
        self, done: CommittedTransaction, counts: dict[str, int], offset: t.Mapping[str, t.Any]
    ) -> SourceRecord:
        topic = f"{self.config.topic_prefix}.transaction"
        value = {
            "status": "END",
            "id": done.xid.lower(),
            "event_count": sum(counts.values()),
            "data_collections": [{"data_collection": k, "event_count": v} for k, v in sorted(counts.items())],
            "ts_ms": done.commit_timestamp_ms,
        }
        return SourceRecord(
            self.partition, offset, topic, {"id": done.xid.lower()}, value,
            key_schema=TRANSACTION_KEY, value_schema=TRANSACTION_VALUE,
        )  # fmt: skip

    def _source(self, meta: TableMetadata, *, snapshot: str, scn: int, ts_ms: int, **more: t.Any) -> dict[str, t.Any]:
        return {
            "version": "headwater",
            "connector": "oracle",
            "name": self.config.topic_prefix,
            "ts_ms": ts_ms,
            "snapshot": snapshot,
            "db": self.config.database_dbname,
            "schema": meta.owner,
            "table": meta.name,
            "scn": str(scn),
            **_STREAM_SOURCE_FIELDS,  # null in snapshot events, as Debezium writes them
            **more,
        }

    @staticmethod
    def _key(meta: TableMetadata, row: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
        if not meta.primary_key:
            return None
        return {name: row.get(name) for name in meta.primary_key}

    def _resolve(self, owner: str, table: str) -> TableMetadata | None:
        return self.tables.get(f"{owner}.{table}")

    def _change_records(
        self, change: BufferedChange, done: CommittedTransaction, offset: dict[str, t.Any]
    ) -> list[Item]:
        if change.operation_code not in (1, 2, 3):
            return []
        plan = self._routes.get((change.owner, change.table), _MISSING)
        if plan is _MISSING:
            plan = self._route(change.owner, change.table)
        if plan is None:
            return []
        if plan is _UNDECODABLE:
            error = RecordError(
                "LogMiner could not name this table's columns (dictionary version mismatch after DDL); "
                "the change cannot be decoded with the online catalog",
                location=str(_Where((change, done))),
                raw=change.sql.encode(),
            )
            return [ErrantSourceRecord(self.partition, offset, error, change.sql.encode())]
        plan = t.cast(_TablePlan, plan)
        if plan.native is not None:
            tx = self._tx_source if self._tx_source_of is done else self._transaction_source(done)
            built = self._native.event(self._parser, change.sql, plan.native, change, tx)
            if built is not None:  # the plain case, built in C exactly as _records_from builds it
                key, value = built
                record = SourceRecord(
                    self.partition, offset, plan.topic, key, value,
                    key_schema=plan.key_schema, value_schema=plan.value_schema,
                )  # fmt: skip
                if value["after"] is None and self.config.tombstones_on_delete:
                    tombstone = SourceRecord(self.partition, offset, plan.topic, key, None, key_schema=plan.key_schema)
                    return [record, tombstone]
                return [record]
        try:
            parsed = parse_redo(change.sql, position=_Where((change, done)))  # str()'d only on an error
            return self._records_from(parsed, plan, change, done, offset)
        except RecordError as exc:
            return [ErrantSourceRecord(self.partition, offset, exc, change.sql.encode())]

    def _route(self, owner: str, table: str) -> _TablePlan | object | None:
        """Where the changes of ``owner.table`` go: its plan, None (not captured, or not a
        known table) or ``_UNDECODABLE`` (LogMiner could not name it); remembered until
        the tables change."""
        plan: _TablePlan | object | None = None
        if owner == "UNKNOWN" or table.startswith("OBJ# "):
            plan = _UNDECODABLE
        elif self.config.captures(owner, table):
            meta = self._resolve(owner, table)
            plan = None if meta is None else self._plans[meta.qualified]
            if plan is not None and plan.native is not None:
                route = (plan.native, plan.topic, plan.key_schema, plan.value_schema)
                self._native_routes[(owner, table)] = route
        self._routes[(owner, table)] = plan
        return plan

    def _records_from(
        self,
        parsed: RedoChange,
        plan: _TablePlan,
        change: BufferedChange,
        done: CommittedTransaction,
        offset: dict[str, t.Any],
    ) -> list[Item]:
        """The change event(s) of one parsed statement (a delete is followed by a tombstone).

        ``_credo.event`` builds the plain case the same way in one call (``_change_records``
        tries it first); this is the reference path and the one for everything else."""
        names = plan.names
        operation = parsed.operation
        before: dict[str, t.Any] | None = None
        after: dict[str, t.Any] | None = None
        if operation == "INSERT":
            row = self._converted(plan, parsed.new)
            if plan.lobs or not self._keys_are(row, names):
                row = self._image(plan, row)
            after = row
            op = "c"
        else:
            row = self._converted(plan, parsed.old)
            if plan.lobs or not self._keys_are(row, names):
                row = self._image(plan, row)
            before = row
            if operation == "UPDATE":
                row = {**row, **self._converted(plan, parsed.new)}
                if plan.lobs or len(row) != len(names):  # a LOB, or a column not in this version
                    row = self._image(plan, row)
                after = row
                op = "u"
            else:
                op = "d"
        tx = self._tx_source if self._tx_source_of is done else self._transaction_source(done)
        source = plan.source_template.copy()  # a copy and stores: half the cost of a literal with ** parts
        source["ts_ms"] = change.timestamp_ms
        source["scn"] = str(change.scn)
        source["txId"], source["commit_scn"], source["start_scn"], source["commit_ts_ms"] = tx
        source["row_id"] = change.row_id
        source["rs_id"] = change.rs_id
        source["ssn"] = change.ssn
        source["redo_thread"] = change.thread
        key_names = plan.key_names  # the key is the after image's, a delete's before image's
        if not key_names:
            key = None
        elif len(key_names) == 1:
            key = {key_names[0]: row.get(key_names[0])}
        else:
            key = {name: row.get(name) for name in key_names}
        value = {"before": before, "after": after, "source": source, "op": op, "ts_ms": tx[3]}
        record = SourceRecord(
            self.partition, offset, plan.topic, key, value, key_schema=plan.key_schema, value_schema=plan.value_schema
        )
        if after is None and self.config.tombstones_on_delete:
            return [record, SourceRecord(self.partition, offset, plan.topic, key, None, key_schema=plan.key_schema)]
        return [record]

    def _transaction_source(self, done: CommittedTransaction) -> tuple[str, str, str, int]:
        """The ``source`` fields every change event of ``done`` shares (txId, commit_scn,
        start_scn, commit_ts_ms), computed once per transaction."""
        self._tx_source_of = done
        self._tx_source = (done.xid.lower(), str(done.commit_scn), str(done.start_scn), done.commit_timestamp_ms)
        return self._tx_source

    def _image(self, plan: _TablePlan, values: dict[str, t.Any]) -> dict[str, t.Any]:
        """The row image of a clause that does not name every column in the table's order."""
        names, lobs = plan.names, plan.lobs
        if not lobs:
            return {n: values.get(n) for n in names}
        # Without lob.enabled a LOB's value never reaches the redo SQL (only EMPTY_CLOB()).
        keep_lobs = self.config.lob_enabled
        return {n: (values.get(n, lobs[n]) if keep_lobs else lobs[n]) if n in lobs else values.get(n) for n in names}

    def _converted(self, plan: _TablePlan, values: dict[str, str | None]) -> dict[str, t.Any]:
        """The typed values of one parsed clause, by column."""
        converters = plan.converters
        try:
            if self._native is not None:
                return self._native.convert_row(values, converters)
            return {k: v if v is None else converters[k](v) for k, v in values.items()}
        except KeyError as exc:
            name = exc.args[0] if exc.args else None
            if name in converters or name not in values:
                raise
            msg = f"column {name!r} is not in {plan.meta.qualified}'s metadata"
            raise ValueConversionError(msg) from exc

    def _record(
        self, meta: TableMetadata, offset: t.Mapping[str, t.Any], key: t.Any, value: dict[str, t.Any]
    ) -> SourceRecord:
        """A change event of ``meta`` with the table's key and envelope schemas."""
        schemas = self._schemas[meta.qualified]
        return SourceRecord(
            self.partition, offset, self.topic(meta), key, value,
            key_schema=schemas.key if key is not None else None, value_schema=schemas.value,
        )  # fmt: skip

    def _placeholder(self, column: OracleColumn) -> t.Any:
        """``unavailable.value.placeholder`` as the LOB column's type holds it (a BLOB: its bytes)."""
        text = self.config.unavailable_value_placeholder
        return self._binary(text.encode()) if column.base_type == "BLOB" else text

    def _binary(self, value: t.Any) -> t.Any:
        """RAW/BLOB values as ``binary.handling.mode`` asks."""
        if not isinstance(value, bytes) or self.config.binary_handling_mode == "bytes":
            return value
        if self.config.binary_handling_mode == "hex":
            return value.hex()
        if self.config.binary_handling_mode == "base64-url-safe":
            return base64.urlsafe_b64encode(value).decode()
        return base64.b64encode(value).decode()

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Close the database session."""
        self.client.close()


_LOCATOR = re.compile(
    r'select "([^"]*)" into (loc_[bc]) from "([^"]*)"\."([^"]*)" where (.*) for update;', re.DOTALL | re.IGNORECASE
)
_LOB_WRITE = re.compile(
    r":= ((?:HEXTORAW\()?'.*'(?:\))?);\s*dbms_lob\.write\([^,]+,\s*(\d+)\s*,\s*(\d+)\s*,", re.DOTALL | re.IGNORECASE
)
_LOB_TRIM = re.compile(r"dbms_lob\.trim\([^,]+,\s*(\d+)\s*\)", re.IGNORECASE)


class _Where(tuple[BufferedChange, CommittedTransaction]):
    """Names a change for error messages (``SCN ..., XID ..., table ...``), formatted only
    when an error needs it. ``_Where((change, done))``: a tuple, built per change without a
    Python ``__init__``."""

    __slots__ = ()

    def __str__(self) -> str:
        change, done = self
        return f"SCN {change.scn}, XID {done.xid}, table {change.owner}.{change.table}"


@dataclasses.dataclass(slots=True)
class _TablePlan:
    """What the change events of one table version share (built by ``_remember``).

    Attributes:
        converters: per column ever known in the table (dropped ones too: older redo
            may name them), the function from a literal to its Connect value.
        key_names: the primary key's columns (empty: records without a key).
        source_template: the streamed ``source`` block with the table's fields set, in
            ``_source``'s order; each change event copies it and sets its own fields.
        native: what ``_credo.event`` reads (converters, names, key names, template), or
            None: no compiled code, or a table with LOB columns (their placeholders and
            writes are the Python path's).
    """

    meta: TableMetadata
    topic: str
    schemas: TableSchemas
    names: list[str]
    lobs: dict[str, t.Any]
    converters: dict[str, t.Callable[[str], t.Any]]
    key_names: tuple[str, ...]
    key_schema: Schema | None
    value_schema: Schema
    source_template: dict[str, t.Any]
    native: tuple[t.Any, ...] | None = None


_UNSUPPORTED = "Unsupported Type"

_RECORD_SLOTS = (
    "partition", "offset", "topic", "key", "value", "headers", "timestamp_ms", "kafka_partition", "key_schema",
    "value_schema",
)  # fmt: skip
"""SourceRecord's fields, in the order ``_credo.records`` sets them (it is not used if they change)."""

_RECORDS_AT_ONCE = 512
"""Changes per ``_credo.records`` call: one call's records are built before the first is yielded."""


def _keys_are(row: dict[str, t.Any], names: list[str]) -> bool:
    """``row``'s keys are ``names``, in order (what ``_credo.keys_are`` checks without a list)."""
    return list(row) == names


def _converter_kind(column: OracleColumn) -> str:
    """``text`` (a character type), ``int`` (NUMBER(p<19, 0)) or ``other`` (see ``_converter``)."""
    base = column.base_type
    if base in ("CHAR", "NCHAR", "VARCHAR2", "NVARCHAR2", "VARCHAR", "CLOB", "NCLOB", "ROWID", "LONG"):
        return "text"
    if base == "NUMBER" and column.scale == 0 and column.precision is not None and column.precision < 19:
        return "int"
    return "other"


class _LobTarget:
    """One LOB value being assembled from LOB_WRITE/LOB_TRIM rows, and the record it goes to."""

    def __init__(self, index: int, column: str, value: str | bytes) -> None:
        self.index = index
        self.column = column
        self.value = value

    def apply(self, sql: str) -> None:
        """Apply a LOB_WRITE (data at a 1-based offset) or a LOB_TRIM (cut to a length)."""
        trim = _LOB_TRIM.search(sql)
        if trim is not None and "dbms_lob.write" not in sql:
            self.value = self.value[: int(trim.group(1))]
            return
        found = _LOB_WRITE.search(sql)
        if found is None:
            msg = "not a LOB_WRITE or LOB_TRIM statement LogMiner writes"
            raise RecordError(msg, raw=sql.encode())
        literal, offset = found.group(1), int(found.group(3))
        if literal.upper().startswith("HEXTORAW("):
            data: str | bytes = bytes.fromhex(literal[literal.index("'") + 1 : literal.rindex("'")])
        else:
            data = literal[1:-1].replace("''", "'")
        value = self.value
        if isinstance(value, bytes) != isinstance(data, bytes):
            msg = "a LOB_WRITE of text into a BLOB (or of bytes into a CLOB)"
            raise RecordError(msg, raw=sql.encode())
        pad = (b"\x00" if isinstance(value, bytes) else " ") * max(0, offset - 1 - len(value))
        self.value = value[: offset - 1] + pad + data + value[offset - 1 + len(data) :]  # type: ignore[operator]


_STREAM_SOURCE_FIELDS: dict[str, t.Any] = dict.fromkeys(
    ("txId", "commit_scn", "start_scn", "row_id", "rs_id", "ssn", "redo_thread", "commit_ts_ms")
)


def _epoch_ms(stamp: dt.datetime) -> int:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return int(stamp.timestamp() * 1000)


_RETRIABLE_DRIVER = {"DPY-4011", "DPY-6005", "DPY-4005", "DPY-4024", "DPY-6000"}


def _is_connection_error(exc: BaseException) -> bool:
    """python-oracledb's own errors for a connection that failed or broke."""
    return driver_error_code(exc) in _RETRIABLE_DRIVER
