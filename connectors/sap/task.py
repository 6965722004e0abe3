"""The ``sap-rfc-table`` task: snapshots, timestamp deltas and change documents over RFC.

Partition per table ``{"client": <sap.client>, "table": <TABLE>}``; offsets (JSON scalars):

* snapshot: ``{"mode": "snapshot", "key": <last key, JSON text>, "done": bool}``: the
  snapshot goes on after ``key`` (ranges are read in key order); ``done`` ends it.
* timestamp: ``{"mode": "timestamp", "watermark": "YYYYMMDDHHMMSS", "key": <JSON text>}``:
  the change stamp and key of the last row emitted. The next delta read starts
  ``overlap.seconds`` before the watermark; rows already emitted with the same stamp are
  dropped (in memory while the task runs; after a restart rows up to
  ``(watermark, key)`` are skipped).
* change-documents: ``{"mode": "change-documents", "watermark": "YYYYMMDDHHMMSS",
  "changenr": <CHANGENR>, "changenr.max": <CHANGENR>}``: the last change document
  handled in (stamp, number) order and the highest number handled; the same overlap, and
  documents are deduplicated on CHANGENR. After a restart a document stamped before the
  watermark is handled again only when its number is above ``changenr.max`` (a late
  commit); one committed late with a *lower* number than an already handled one, or a
  timestamp-mode row committed late across a restart, can be missed.

``ts_ms`` (event and source) is the SAP time of the change (the change document's or the
changed-on stamp, server-local time read as UTC); snapshot reads carry 0, as SAP gives no
time for them, so replaying a read gives the same event.

Every method runs on the task's thread. A broken connection raises RetriableError with
the read state intact, so the runtime's retry continues where the call failed: no row
is lost and none is emitted twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import time
import typing as t
from collections import deque
from dataclasses import dataclass, field

import orjson

from headwater.codecs.envelope import ChangeEvent, Op, to_messages
from headwater.connectors.api import (
    ErrantSourceRecord,
    OffsetMarker,
    SourceOffset,
    SourceRecord,
    SourceTask,
    SourceTaskContext,
)
from headwater.connectors.errors import FatalError, RecordError
from headwater.connectors.sap.client import PyrfcClient, RfcClient, SapCallError
from headwater.connectors.sap.config import SapRfcTableConfig
from headwater.connectors.sap.reader import (
    Column,
    Dictionary,
    RangeReader,
    RawRow,
    Row,
    and_conditions,
    decode,
    key_in,
    projections,
    quote,
    sort_key,
)
from headwater.connectors.sap.schemas import table_schemas

__all__ = ["SapRfcTableTask", "advice"]

log = logging.getLogger(__name__)

Output: t.TypeAlias = "SourceRecord | ErrantSourceRecord | OffsetMarker"
_POLL_BUDGET_S = 0.5
_CONNECTOR = "sap-rfc-table"
_CD_CHUNK = 40
_EPOCH = "00000000000000"


def advice(table: str, exc: SapCallError, user: str) -> str:
    """A message for a failed read that says what to do."""
    hints = {
        "NOT_AUTHORIZED": (
            f"RFC user {user or '?'} is not authorized to read table {table}: it needs S_TABU_DIS for the table's "
            f"authorization group (or S_TABU_NAM for {table}) with activity 03, and S_RFC for function group SDTX"
        ),
        "TABLE_NOT_AVAILABLE": f"table {table} does not exist or cannot be read in this system",
        "TABLE_WITHOUT_DATA": f"{table} is a structure without data",
        "DATA_BUFFER_EXCEEDED": f"a read of {table} is wider than 512 characters; narrow table.{table}.fields",
        "FIELD_NOT_VALID": f"a field of table.{table}.fields does not exist in {table}",
        "OPTION_NOT_VALID": f"the WHERE condition on {table} is not valid Open SQL; check table.{table}.where",
        "ASSIGN_CASTING_ILLEGAL_CAST": (
            f"{table} has STRING or RAWSTRING columns, which RFC_READ_TABLE cannot read (it dumps whatever fields are "
            "selected); set read.function to a function module without that limit"
        ),
        "TSV_TNEW_PAGE_ALLOC_FAILED": f"the SAP system ran out of memory reading {table}; lower page.size",
        "FU_NOT_FOUND": "the read function module does not exist in this system; check read.function",
    }
    hint = hints.get(exc.key, f"reading {table} failed")
    return f"{hint} ({exc})"


def _stamp_ms(stamp: str) -> int:
    try:
        moment = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S")
    except ValueError:
        return 0
    return calendar.timegm(moment.timetuple()) * 1000


def _minus(stamp: str, seconds: int) -> tuple[str, str]:
    """(date, time) of ``stamp`` minus ``seconds``; the epoch stays the epoch."""
    if stamp == _EPOCH or not stamp:
        return "00000000", "000000"
    moment = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S") - dt.timedelta(seconds=seconds)
    moment = max(moment, dt.datetime(1, 1, 1))
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


def _since(date_field: str, time_field: str, date: str, time_: str) -> str:
    if not time_field:
        return f"{date_field} >= {quote(date)}"
    return f"{date_field} > {quote(date)} OR ( {date_field} = {quote(date)} AND {time_field} >= {quote(time_)} )"


@dataclass
class _Table:
    """The read state of one table."""

    name: str
    mode: str
    partition: dict[str, t.Any]
    topic: str
    dictionary: Dictionary
    key: list[Column]
    """Paging key: the key fields without the client."""
    identity: list[Column]
    """The record key: client (if any) and key fields."""
    groups: list[list[Column]]
    condition: str
    reader: RangeReader | None = None
    done: bool = False
    last_key: str | None = None
    watermark: str = _EPOCH
    since: str = _EPOCH
    """Delta modes: the next read starts ``overlap.seconds`` before this stamp. It lags a cycle
    behind the watermark: a row or document committed while a cycle read its key ranges
    can carry a stamp below the cycle's watermark, and the next cycle still reads it."""
    cycle_start: str = _EPOCH
    schemas: tuple[t.Any, t.Any] = (None, None)
    """(key schema, envelope schema) from the dictionary."""
    changenr: str = ""
    max_changenr: str = ""
    """change-documents: the highest CHANGENR handled (late commits carry higher numbers)."""
    cycle_max: str = ""
    """change-documents: ``max_changenr`` when the last cycle ended."""
    floor: str = ""
    """change-documents: ``max_changenr`` when the cycle before the last one ended. Every
    document numbered up to it and stamped up to the watermark has been handled: a cycle
    reads key ranges one after another, so a document committed while it ran (with a
    number below others it read) is only sure to be read by the next cycle. Offsets store
    this as ``changenr.max``, never a number whose lower neighbours may still be unread."""
    resume_after: tuple[str, str] | None = None
    """After a restart: (stamp, key or CHANGENR) already emitted; skip up to it."""
    seen: dict[str, str] = field(default_factory=dict)
    """Delta modes: key (or CHANGENR) -> stamp of the version emitted, within the overlap."""
    queue: deque[Output] = field(default_factory=deque)
    collected: list[RawRow] = field(default_factory=list)
    docs: deque[list[RawRow]] = field(default_factory=deque)
    next_cycle_at: float = 0.0
    read_rows: int = 0
    started_at: float = field(default_factory=time.monotonic)
    estimate: int = 0
    """Snapshot: the rows the system says the table has (0: unknown)."""

    @property
    def columns(self) -> list[Column]:
        return self.key + [c for g in self.groups for c in g]


class SapRfcTableTask(SourceTask[SapRfcTableConfig]):
    """Reads the task's tables in their modes and emits Debezium-style change events."""

    def __init__(self, config: SapRfcTableConfig, context: SourceTaskContext) -> None:
        super().__init__(config, context)
        self._client: RfcClient | None = None
        self._emulated_host: str | None = None
        self.emulated_system: t.Any = None
        """Emulator mode: the :class:`~headwater.conformance.emulators.sap.SapSystem` read (for tests)."""
        self._shared_system: t.Any = None
        """The system opened on ``emulator.state.file``, released by :meth:`stop`."""
        self._tables: list[_Table] | None = None
        self._sysid = config.sap_sysid
        self._client_id = config.sap_client
        self._turn = 0
        metrics = context.metrics
        self._rows_read = metrics.counter("snapshot_rows_read", "Rows read by table snapshots")
        self._rows_estimated = metrics.gauge("snapshot_rows_estimated", "Rows the snapshots are expected to read")
        self._rate = metrics.gauge("snapshot_rows_per_second", "Snapshot read rate since the snapshot started")

    # -- set-up --------------------------------------------------------------------

    def _connect(self) -> RfcClient:
        if self._client is not None:
            return self._client
        config = self.config
        if config.emulator_scenario is None:
            self._client = PyrfcClient(config.rfc_params())
            return self._client
        from headwater.conformance.emulators import sap as emulator
        from headwater.conformance.emulators.sap import pyrfc as emulated_pyrfc

        faults = emulator.Faults(
            communication_calls=frozenset(int(n) for n in config.emulator_fail_calls.split(",") if n.strip()),
            denied_tables=frozenset(n.strip().upper() for n in config.emulator_denied_tables.split(",") if n.strip()),
        )
        settings: dict[str, t.Any] = {
            "scenario": config.emulator_scenario,
            "seed": config.emulator_seed,
            "count": config.emulator_count,
            "history": config.emulator_history,
            "faults": faults,
        }
        try:
            if config.emulator_state_file:
                system = self._shared_system = emulator.open_shared(config.emulator_state_file, **settings)
            else:
                system = emulator.SapSystem(**settings)
        except (emulator.StateFileError, OSError) as exc:
            msg = f"emulator.state.file: {exc}"
            raise FatalError(msg) from exc
        self.emulated_system = system
        self._emulated_host = f"emulator-{id(self)}"
        emulated_pyrfc.register(self._emulated_host, system)
        params = {
            "ashost": self._emulated_host,
            "sysnr": "00",
            "client": system.client,
            "user": config.sap_user or emulator.DEFAULT_USER,
            "passwd": config.sap_passwd.get_secret_value() if config.sap_passwd else emulator.DEFAULT_PASSWORD,
        }
        self._client_id = system.client
        self._client = PyrfcClient(params, module=emulated_pyrfc)
        return self._client

    def _setup(self) -> list[_Table]:
        client = self._connect()
        if not self._sysid:
            try:
                info = client.call("RFC_SYSTEM_INFO")
                self._sysid = str(info.get("RFCSI_EXPORT", {}).get("RFCSYSID", "")).strip()
            except SapCallError:
                self._sysid = ""
        tables = [self._plan(client, name) for name in self.config.own_tables()]
        estimate = 0
        for table in tables:
            if table.mode == "snapshot" and not table.done:
                table.estimate = self._estimate(client, table.name)
                estimate += table.estimate
        self._rows_estimated.set(estimate)
        return tables

    def _estimate(self, client: RfcClient, name: str) -> int:
        try:
            result = client.call("EM_GET_NUMBER_OF_ENTRIES", IT_TABLES=[{"TABNAME": name}])
            return int(result["IT_TABLES"][0]["TABROWS"])
        except (SapCallError, KeyError, IndexError, ValueError, TypeError):
            return 0  # an estimate only: not every system exposes the function

    def _plan(self, client: RfcClient, name: str) -> _Table:
        config = self.config
        settings = config.settings(name)
        mode = config.mode_of(name)
        dictionary = Dictionary.load(client, name)
        cols = dictionary.by_name
        wanted = settings.field_list()
        for field_name in wanted + settings.key_list():
            if field_name not in cols:
                msg = f"table.{name}.fields: {name} has no field {field_name}"
                raise FatalError(msg)
        raw_fields = [c.name for c in dictionary.columns if c.inttype == "X"]
        if any(f in raw_fields for f in wanted):
            msg = (
                f"table.{name}.fields: RAW fields ({', '.join(f for f in wanted if f in raw_fields)}) come through "
                "RFC_READ_TABLE as hex cut to half their length; leave them out"
            )
            raise FatalError(msg)
        if raw_fields and not wanted:
            log.warning("%s: RAW fields %s are left out (RFC_READ_TABLE cuts their hex text)", name, raw_fields)
        client_col = dictionary.client_column
        key = [cols[k] for k in settings.key_list()] or [c for c in dictionary.columns if c.key and c is not client_col]
        if not key:
            msg = f"table.{name}.key.fields: {name} has no key in the dictionary; name the key fields"
            raise FatalError(msg)
        needed = [settings.changed_date_field, settings.changed_time_field]
        needed += [settings.created_date_field, settings.created_time_field]
        for field_name in needed:
            if field_name and field_name not in cols:
                msg = f"table.{name}: {name} has no field {field_name}"
                raise FatalError(msg)
        names = wanted or [c.name for c in dictionary.columns if c.inttype != "X"]
        names += [n for n in needed if n and n not in names]
        others = [cols[n] for n in names if cols[n] not in key and cols[n] is not client_col]
        if client_col is not None:
            others.insert(0, client_col)
        groups = projections(key, others, config.delimiter)
        identity = ([client_col] if client_col is not None else []) + key
        table = _Table(
            name=name,
            mode=mode,
            partition={"client": self._client_id, "table": name},
            topic=f"{config.topic_prefix}.{name}",
            dictionary=dictionary,
            key=key,
            identity=identity,
            groups=groups,
            condition=settings.where.strip(),
        )
        read = [c for c in dictionary.columns if c in identity or any(c in g for g in groups)]
        table.schemas = table_schemas(table.topic, identity, read)
        self._restore(table)
        return table

    def _restore(self, table: _Table) -> None:
        stored = self.context.offsets.offset(table.partition)
        table.watermark = table.since = self.config.initial_watermark or _EPOCH
        if not stored:
            return
        if stored.get("mode") != table.mode:
            log.warning(
                "%s: stored offset is for mode %s, not %s; starting over", table.name, stored.get("mode"), table.mode
            )
            return
        if table.mode == "snapshot":
            table.done = bool(stored.get("done"))
            table.last_key = t.cast(str | None, stored.get("key"))
        elif table.mode == "timestamp":
            table.watermark = str(stored.get("watermark") or table.watermark)
            table.since = str(stored.get("since") or table.watermark)
            table.last_key = t.cast(str | None, stored.get("key"))
            table.resume_after = (table.watermark, table.last_key or "")
        else:
            table.watermark = str(stored.get("watermark") or table.watermark)
            table.since = str(stored.get("since") or table.watermark)
            table.changenr = str(stored.get("changenr") or "")
            # An empty changenr.max (stored during the first two cycles) vouches for no
            # document: falling back to changenr would skip documents committed behind
            # the first cycle's key ranges, never emitted. Only offsets without the key
            # (none are written any more) fall back.
            floor = stored.get("changenr.max")
            table.max_changenr = str(floor) if floor is not None else table.changenr
            table.cycle_max = table.floor = table.max_changenr
            table.resume_after = (table.watermark, table.changenr)

    # -- polling -------------------------------------------------------------------

    def poll(self) -> list[Output]:
        """Up to ``batch.size`` records from the task's tables, taking turns."""
        if self._tables is None:
            try:
                self._tables = self._setup()
            except SapCallError as exc:
                raise FatalError(advice("?", exc, self.config.sap_user)) from exc
        out: list[Output] = []
        deadline = time.monotonic() + _POLL_BUDGET_S
        tables = self._tables
        idle = 0
        while len(out) < self.config.batch_size and time.monotonic() < deadline and idle < len(tables):
            table = tables[self._turn % len(tables)]
            self._turn += 1
            try:
                produced = self._work(table, self.config.batch_size - len(out), deadline)
            except SapCallError as exc:
                raise FatalError(advice(table.name, exc, self.config.sap_user)) from exc
            idle = 0 if produced else idle + 1
            out.extend(produced)
        out = self._collapse_markers(out)
        if any(self._busy(tb) for tb in tables):
            self.context.next_poll_in(0)
        else:
            waits = [max(0.0, tb.next_cycle_at - time.monotonic()) for tb in tables if tb.mode != "snapshot"]
            self.context.next_poll_in(int(min(waits, default=1.0) * 1000) or 100)
        return out

    def _collapse_markers(self, out: list[Output]) -> list[Output]:
        """Drop each OffsetMarker that a later record of its partition in the batch supersedes."""
        kept: list[Output] = []
        followed: set[str] = set()
        for item in reversed(out):
            name = str(item.partition.get("table"))
            if isinstance(item, OffsetMarker) and name in followed:
                continue
            followed.add(name)
            kept.append(item)
        kept.reverse()
        return kept

    def _work(self, table: _Table, room: int, deadline: float) -> list[Output]:
        """Read ``table`` until it has records to hand out, has nothing left to read now, or time is up."""
        while not table.queue:
            if table.mode == "snapshot":
                if table.done:
                    return []
                table.queue.extend(self._snapshot_step(table))
            elif time.monotonic() < table.next_cycle_at and table.reader is None and not table.docs:
                return []
            elif table.mode == "timestamp":
                self._timestamp_step(table)
                if table.reader is None and not table.queue:
                    return []  # a cycle ended with nothing new
            else:
                self._change_document_step(table)
                if table.reader is None and not table.docs and not table.queue:
                    return []
            if time.monotonic() > deadline:
                break
        return [table.queue.popleft() for _ in range(min(room, len(table.queue)))]

    def _busy(self, table: _Table) -> bool:
        if table.queue or table.reader is not None or table.docs:
            return True
        return table.mode == "snapshot" and not table.done

    def _reader(self, table: _Table, condition: str, start_after: str | None = None) -> RangeReader:
        return RangeReader(
            client=self._connect(),
            function=self.config.read_function,
            table=table.name,
            key=table.key,
            groups=table.groups,
            condition=condition,
            page_size=self.config.page_size,
            delimiter=self.config.delimiter,
            start_after=tuple(orjson.loads(start_after)) if start_after else None,
        )

    # -- snapshot ------------------------------------------------------------------

    def _snapshot_step(self, table: _Table) -> list[Output]:
        if table.done:
            return []
        if table.reader is None:
            table.reader = self._reader(table, table.condition, table.last_key)
            table.started_at = time.monotonic()
            log.info("snapshot of %s %s (about %s rows)", table.name,
                     f"resumed after key {table.last_key}" if table.last_key else "started",
                     table.estimate or "an unknown number of")  # fmt: skip
        rows = table.reader.step()
        out: list[Output] = []
        for index, raw in enumerate(rows):
            table.last_key = self._key_text(table, raw)
            last = table.reader.done and index == len(rows) - 1
            offset = {"mode": "snapshot", "key": table.last_key, "done": last}
            out.extend(self._event(table, raw, Op.READ, offset, snapshot=True))
        table.read_rows += len(rows)
        self._rows_read.inc(len(rows))
        elapsed = time.monotonic() - table.started_at
        if elapsed > 0:
            self._rate.set(table.read_rows / elapsed)
        self._report_progress(table)
        if table.reader.done:
            table.done = True
            log.info("snapshot of %s done: %d rows in %.1f s", table.name, table.read_rows, elapsed)
            if not rows:
                out.append(OffsetMarker(table.partition, {"mode": "snapshot", "key": table.last_key, "done": True}))
        return out

    def _report_progress(self, table: _Table) -> None:
        """``context.progress`` over the task's snapshot tables: rows read (since this start) of the estimate."""
        snapshots = [tb for tb in self._tables or () if tb.mode == "snapshot" and (tb.read_rows or not tb.done)]
        done = sum(tb.read_rows for tb in snapshots)
        estimate = sum(tb.estimate for tb in snapshots)
        total = max(estimate, done) if estimate and all(tb.estimate for tb in snapshots) else None
        self.context.progress(done, total, "rows", what=f"table {table.name}")

    # -- timestamp -----------------------------------------------------------------

    def _row_stamp(self, table: _Table, raw: RawRow) -> tuple[str, bool]:
        """(YYYYMMDDHHMMSS, created) of a row: the changed stamp, or the created one while it is empty."""
        settings = self.config.settings(table.name)
        date = raw[settings.changed_date_field].strip()
        clock = raw[settings.changed_time_field].strip() if settings.changed_time_field else ""
        if date.strip("0") == "" and settings.created_date_field:
            date = raw[settings.created_date_field].strip()
            clock = raw[settings.created_time_field].strip() if settings.created_time_field else ""
            return (date or "00000000") + (clock or "000000"), True
        return (date or "00000000") + (clock or "000000"), date.strip("0") == ""

    def _timestamp_step(self, table: _Table) -> None:
        settings = self.config.settings(table.name)
        if table.reader is None:
            table.cycle_start = table.watermark
            date, clock = _minus(table.since, self.config.overlap_seconds)
            since = _since(settings.changed_date_field, settings.changed_time_field, date, clock)
            if settings.created_date_field:
                created = _since(settings.created_date_field, settings.created_time_field, date, clock)
                since = f"( {since} ) OR ( {settings.changed_date_field} = '00000000' AND ( {created} ) )"
            table.reader = self._reader(table, and_conditions(table.condition, since))
            table.collected = []
        table.collected.extend(table.reader.step())
        if not table.reader.done:
            return
        stamped: list[tuple[str, bool, str, RawRow]] = []
        for raw in table.collected:
            stamp, is_new = self._row_stamp(table, raw)
            stamped.append((stamp, is_new, self._key_text(table, raw), raw))
        stamped.sort(key=lambda item: (item[0], sort_key(table.key, orjson.loads(item[2]))))
        for stamp, is_new, key_text, raw in stamped:
            if table.seen.get(key_text, "") >= stamp and key_text in table.seen:
                continue
            if table.resume_after is not None and (stamp, key_text) <= table.resume_after:
                table.seen[key_text] = stamp
                continue
            table.seen[key_text] = stamp
            if (stamp, key_text) > (table.watermark, table.last_key or ""):
                table.watermark, table.last_key = stamp, key_text
            offset = {"mode": "timestamp", "watermark": table.watermark, "key": table.last_key, "since": table.since}
            table.queue.extend(self._event(table, raw, Op.CREATE if is_new else Op.UPDATE, offset, stamp=stamp))
        self._end_cycle(table)

    def _end_cycle(self, table: _Table) -> None:
        table.since = table.cycle_start
        table.floor, table.cycle_max = table.cycle_max, table.max_changenr
        low = "".join(_minus(table.since, self.config.overlap_seconds))
        table.seen = {k: s for k, s in table.seen.items() if s >= low}
        table.resume_after = None  # what it skipped is in ``seen`` now
        table.reader = None
        table.collected = []
        table.next_cycle_at = time.monotonic() + self.config.poll_interval_ms / 1000

    # -- change documents ----------------------------------------------------------

    def _cd_reader(
        self, table: _Table, name: str, key: list[Column], groups: list[list[Column]], condition: str
    ) -> RangeReader:
        return RangeReader(
            client=self._connect(),
            function=self.config.read_function,
            table=name,
            key=key,
            groups=groups,
            condition=condition,
            page_size=self.config.page_size,
            delimiter=self.config.delimiter,
        )

    def _change_document_step(self, table: _Table) -> None:
        if table.docs:
            self._handle_documents(table, table.docs[0])
            table.docs.popleft()
            if not table.docs:
                self._end_cycle(table)
            return
        if table.reader is None:
            cdhdr = _cd_columns("CDHDR")
            table.cycle_start = table.watermark
            date, clock = _minus(table.since, self.config.overlap_seconds)
            condition = and_conditions(
                f"OBJECTCLAS = {quote(self.config.object_class(table.name))}", _since("UDATE", "UTIME", date, clock)
            )
            table.reader = self._cd_reader(table, "CDHDR", cdhdr[:3], [cdhdr[3:]], condition)
            table.collected = []
        table.collected.extend(table.reader.step())
        if not table.reader.done:
            return
        docs = []
        for raw in table.collected:
            stamp = raw["UDATE"].strip() + raw["UTIME"].strip()
            changenr = raw["CHANGENR"].strip()
            if changenr in table.seen:
                continue
            if table.resume_after is not None and self._handled_before_restart(table, stamp, changenr):
                table.seen[changenr] = stamp
                continue
            docs.append((stamp, changenr, raw))
        docs.sort(key=lambda item: (item[0], item[1]))
        chunks = [[raw for _, _, raw in docs[i : i + _CD_CHUNK]] for i in range(0, len(docs), _CD_CHUNK)]
        table.docs.extend(chunks)
        table.reader = None
        if not chunks:
            self._end_cycle(table)

    @staticmethod
    def _handled_before_restart(table: _Table, stamp: str, changenr: str) -> bool:
        """After a restart: was this document handled (and committed) by the previous run?

        Documents up to ``(watermark, changenr)`` numbered up to ``changenr.max`` were (see
        :attr:`_Table.floor`); one above it may have been committed while the last cycle
        read, after its key range was read, so it is handled again (at worst a duplicate).
        """
        assert table.resume_after is not None
        return (stamp, changenr) <= table.resume_after and changenr <= table.max_changenr

    def _handle_documents(self, table: _Table, headers: list[RawRow]) -> None:
        """Turn a chunk of CDHDR rows into events: CDPOS by change number, then the rows by key."""
        objectclas = quote(self.config.object_class(table.name))
        numbers = [h["CHANGENR"].strip() for h in headers]
        cdpos = _cd_columns("CDPOS")
        condition = and_conditions(
            f"OBJECTCLAS = {objectclas}",
            f"TABNAME = {quote(table.name)}",
            "CHANGENR IN ( " + " , ".join(quote(n) for n in numbers) + " )",
        )
        items = _drain(self._cd_reader(table, "CDPOS", cdpos, [[]], condition))
        per_doc: dict[str, dict[str, str]] = {}
        for item in items:
            ops = per_doc.setdefault(item["CHANGENR"].strip(), {})
            tabkey = item["TABKEY"].rstrip()
            indicator = item["CHNGIND"].strip()
            previous = ops.get(tabkey)
            ops[tabkey] = indicator if indicator in "ID" or previous is None else previous
        wanted = {tabkey for ops in per_doc.values() for tabkey, op in ops.items() if op != "D"}
        current = self._rows_by_tabkey(table, wanted)
        out = self._document_events(table, headers, per_doc, current)
        table.queue.extend(out)

    def _document_events(
        self,
        table: _Table,
        headers: list[RawRow],
        per_doc: dict[str, dict[str, str]],
        current: dict[str, RawRow],
    ) -> list[Output]:
        out: list[Output] = []
        for header in headers:
            stamp = header["UDATE"].strip() + header["UTIME"].strip()
            changenr = header["CHANGENR"].strip()
            table.seen[changenr] = stamp
            if (stamp, changenr) > (table.watermark, table.changenr):
                table.watermark, table.changenr = stamp, changenr
            table.max_changenr = max(table.max_changenr, changenr)
            offset = {
                "mode": "change-documents",
                "watermark": table.watermark,
                "changenr": table.changenr,
                "changenr.max": table.floor,
                "since": table.since,
            }
            produced: list[Output] = []
            extra = {"changenr": changenr, "user": header["USERNAME"].strip(), "tcode": header["TCODE"].strip()}
            for tabkey, indicator in per_doc.get(changenr, {}).items():
                if indicator == "D":
                    produced.extend(self._delete_event(table, tabkey, offset, stamp, extra))
                elif tabkey in current:
                    op = Op.CREATE if indicator == "I" else Op.UPDATE
                    produced.extend(self._event(table, current[tabkey], op, offset, stamp=stamp, extra=extra))
                # else: the row is gone already; its delete document follows.
            out.extend(produced or [OffsetMarker(table.partition, offset)])
        return out

    def _split_tabkey(self, table: _Table, tabkey: str) -> RawRow:
        values: RawRow = {}
        position = 0
        for column in table.dictionary.columns:
            if not column.key:
                continue
            values[column.name] = tabkey[position : position + column.leng].ljust(column.leng)
            position += column.leng
        return values

    def _rows_by_tabkey(self, table: _Table, tabkeys: set[str]) -> dict[str, RawRow]:
        if not tabkeys:
            return {}
        keys = {tk: self._split_tabkey(table, tk) for tk in sorted(tabkeys)}
        condition = and_conditions(
            table.condition, key_in(table.key, [[k[c.name] for c in table.key] for k in keys.values()])
        )
        rows = _drain(self._reader(table, condition))
        found = {sort_key(table.key, [r[c.name] for c in table.key]): r for r in rows}
        out = {}
        for tabkey, key in keys.items():
            row = found.get(sort_key(table.key, [key[c.name] for c in table.key]))
            if row is not None:
                out[tabkey] = row
        return out

    # -- events --------------------------------------------------------------------

    def _key_text(self, table: _Table, raw: RawRow) -> str:
        return orjson.dumps([raw[c.name].rstrip() for c in table.key]).decode()

    def _source(
        self, table: _Table, stamp: str | None, *, snapshot: bool, extra: t.Mapping[str, t.Any]
    ) -> dict[str, t.Any]:
        return {
            "version": "1",
            "connector": _CONNECTOR,
            "name": self.config.topic_prefix,
            "ts_ms": _stamp_ms(stamp) if stamp else 0,
            "snapshot": "true" if snapshot else "false",
            "db": self._sysid,
            "sysid": self._sysid,
            "client": self._client_id,
            "table": table.name,
            "mode": table.mode,
            "changenr": extra.get("changenr"),
            "user": extra.get("user"),
            "tcode": extra.get("tcode"),
        }

    def _event(
        self,
        table: _Table,
        raw: RawRow,
        op: Op,
        offset: SourceOffset,
        *,
        snapshot: bool = False,
        stamp: str | None = None,
        extra: t.Mapping[str, t.Any] | None = None,
    ) -> list[Output]:
        try:
            row: Row = {c.name: decode(c, raw[c.name]) for c in table.dictionary.columns if c.name in raw}
        except RecordError as exc:
            key_text = self._key_text(table, raw)
            message = f"{table.name} key {key_text}: {exc}"
            error = RecordError(message, location=f"table {table.name}, key {key_text}")
            return [ErrantSourceRecord(table.partition, dict(offset), error, orjson.dumps(raw))]
        key = {c.name: row[c.name] for c in table.identity}
        event = ChangeEvent(
            op=op,
            key=key,
            before=None,
            after=row,
            source=self._source(table, stamp, snapshot=snapshot, extra=extra or {}),
            ts_ms=_stamp_ms(stamp) if stamp else 0,
        )
        return self._records(table, event, offset)

    def _delete_event(
        self, table: _Table, tabkey: str, offset: SourceOffset, stamp: str, extra: t.Mapping[str, t.Any]
    ) -> list[Output]:
        raw = self._split_tabkey(table, tabkey)
        try:
            key = {c.name: decode(c, raw[c.name]) for c in table.identity}
        except RecordError as exc:
            message = f"{table.name} TABKEY {tabkey!r}: {exc}"
            error = RecordError(message, location=f"table {table.name}")
            return [ErrantSourceRecord(table.partition, dict(offset), error, tabkey.encode())]
        before = {
            c.name: key.get(c.name)
            for c in table.dictionary.columns
            if c in table.identity or any(c in g for g in table.groups)
        }
        event = ChangeEvent(
            op=Op.DELETE,
            key=key,
            before=before,
            after=None,
            source=self._source(table, stamp, snapshot=False, extra=extra),
            ts_ms=_stamp_ms(stamp),
        )
        return self._records(table, event, offset)

    def _records(self, table: _Table, event: ChangeEvent, offset: SourceOffset) -> list[Output]:
        key_schema, value_schema = table.schemas
        return [
            SourceRecord(
                partition=table.partition,
                offset=dict(offset),
                topic=table.topic,
                key=key,
                value=value,
                key_schema=key_schema,
                value_schema=value_schema,
            )
            for key, value in to_messages(event, tombstone_on_delete=self.config.tombstones_on_delete)
        ]

    def stop(self) -> None:
        """Close the RFC connection (and forget the emulated system)."""
        if self._client is not None:
            self._client.close()
        if self._emulated_host is not None:
            from headwater.conformance.emulators.sap import pyrfc as emulated_pyrfc

            emulated_pyrfc.unregister(self._emulated_host)
            self._emulated_host = None
        if self._shared_system is not None:
            from headwater.conformance.emulators import sap as emulator

            emulator.release_shared(self._shared_system)
            self._shared_system = None


def _drain(reader: RangeReader) -> list[RawRow]:
    rows: list[RawRow] = []
    while not reader.done:
        rows.extend(reader.step())
    return rows


_CD_FIELDS = {
    "CDHDR": (("OBJECTCLAS", 15), ("OBJECTID", 90), ("CHANGENR", 10), ("UDATE", 8), ("UTIME", 6),
              ("USERNAME", 12), ("TCODE", 20), ("CHANGE_IND", 1)),
    "CDPOS": (("OBJECTCLAS", 15), ("OBJECTID", 90), ("CHANGENR", 10), ("TABNAME", 30), ("TABKEY", 70),
              ("FNAME", 30), ("CHNGIND", 1)),
}  # fmt: skip


def _cd_columns(table: str) -> list[Column]:
    """The CDHDR/CDPOS fields the source reads (their layout is the same in every release)."""
    kinds = {"UDATE": ("DATS", "D"), "UTIME": ("TIMS", "T")}
    return [
        Column(name, *kinds.get(name, ("CHAR", "C")), leng, 0, name in ("OBJECTCLAS", "OBJECTID", "CHANGENR"), "")
        for name, leng in _CD_FIELDS[table]
    ]
