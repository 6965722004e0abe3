"""The ``snowflake`` sink task: buffered batches written with their Kafka offsets in one transaction.

Each due batch of a table is loaded into the task's own load table (bound ``INSERT`` for
small batches, ``PUT`` of a gzip'd JSON-lines file to a stage and ``COPY INTO`` for larger
ones), then applied, and the next offset of every partition in the batch is appended to
the offsets table in the same transaction as the applied rows (the session runs with
autocommit off, so only ``COMMIT`` ends it). ``open`` returns those stored offsets, so a
restarted or rebalanced task resumes from what Snowflake holds; records below them (a
replay) are skipped; ``pre_commit`` reports only stored offsets. A crash at any point
therefore neither loses nor duplicates a row.

``raw`` rows are Snowflake's Kafka connector layout (``RECORD_CONTENT``,
``RECORD_METADATA``, the latter's keys chosen by the ``snowflake.metadata.*`` toggles);
all tables of a write and their offsets commit in one transaction. ``cdc`` applies
Headwater change events to a typed table keyed on the record key, with one ``MERGE`` per
table and batch: the last event per key in the batch wins (in offset order); c, r and u
insert or update the whole row, d and tombstones delete it. Each ``MERGE`` commits with
its partitions' offsets; the load tables are committed before (see :meth:`_write`). A new
column in the events is added with ``ALTER TABLE ADD COLUMN`` before the batch.
"""

from __future__ import annotations

import contextlib
import gzip
import typing as t
import uuid

import orjson

from headwater.codecs.schema import Schema, Type
from headwater.connectors.api import SinkRecord, SinkTask, SinkTaskContext, TopicPartition
from headwater.connectors.batching import Batcher
from headwater.connectors.errors import RecordError
from headwater.sinks.snowflake.client import SnowflakeClient, connect, ident, quote
from headwater.sinks.snowflake.columns import column_type, fits, read_expression, to_json
from headwater.sinks.snowflake.config import SnowflakeSinkConfig

__all__ = ["SnowflakeSinkTask"]

_UPSERT_OPS = frozenset({"c", "r", "u"})
_CLEANUP_EVERY = 3
"""Writes between two cleanups of a load table. Each statement reading or filling a load
table gets slower as old batches pile up there; a ``DELETE`` costs a round trip. Measured
on fakesnow (bench/bench_snowflake.py), every 3 writes costs least (every 20: about 15 %
slower writes)."""
_OFFSET_ROWS_KEPT = 100
"""Offset rows a partition gets (one per write) before the superseded ones are deleted."""
_DELETE = '"__headwater_delete"'
"""The source column of a ``MERGE`` telling a delete from an upsert."""


def _default(value: t.Any) -> t.Any:
    """What orjson cannot write itself: exact decimals as strings, binaries as hex."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    return str(value)


def _json(value: t.Any) -> str:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _path(*keys: str) -> str:
    return "V" + "".join(f"[{_literal(key)}]" for key in keys)


def _type_of(data_type: str, precision: t.Any, scale: t.Any) -> str:
    data_type = data_type.upper()
    if data_type in ("NUMBER", "DECIMAL", "NUMERIC", "INTEGER", "BIGINT"):
        return f"NUMBER({precision or 38},{scale or 0})"
    if data_type in ("TEXT", "VARCHAR", "STRING"):
        return "VARCHAR"
    return data_type


def _after_schema(schema: Schema | None) -> Schema | None:
    """The row schema of a change event's ``after`` field (None without one)."""
    if schema is None or schema.type != Type.STRUCT:
        return None
    field = schema.field("after")
    return field.schema if field is not None else None


class _Row(t.NamedTuple):
    record: SinkRecord
    line: dict[str, t.Any]


class _Plan(t.NamedTuple):
    """One table's part of a write."""

    table: str
    """The table (SQL name)."""
    load: str
    """Its load table (SQL name)."""
    lines: list[dict[str, t.Any]]
    """Rows for the load table, each tagged with the batch id."""
    apply: list[str]
    """Statements moving this batch's rows from the load table into the table."""
    ends: dict[TopicPartition, int]
    """Next offset of each partition once the batch is stored."""


class SnowflakeSinkTask(SinkTask[SnowflakeSinkConfig]):
    """See the module docstring. ``client`` replaces the driver session (tests)."""

    def __init__(
        self, config: SnowflakeSinkConfig, context: SinkTaskContext, *, client: SnowflakeClient | None = None
    ) -> None:
        super().__init__(config, context)
        self.client: SnowflakeClient = client if client is not None else connect(config)
        self.batcher = Batcher(
            max_records=config.buffer_count_records,
            max_bytes=config.buffer_size_bytes,
            max_age_ms=config.buffer_flush_time * 1000,
        )
        self.offsets_table = ident(config.snowflake_offsets_table)
        self.client.execute(
            f"CREATE TABLE IF NOT EXISTS {self.offsets_table}"
            " (CONNECTOR VARCHAR, TOPIC VARCHAR, PARTITION NUMBER(10,0), NEXT_OFFSET NUMBER(19,0))"
        )
        self.client.commit()
        self.stored: dict[TopicPartition, int] = self._read_offsets()
        self.seen: dict[TopicPartition, int] = dict(self.stored)
        """Next offset past what is stored or buffered, per partition (skips redeliveries)."""
        self.columns: dict[str, dict[str, str]] = {}
        """cdc tables: column -> type, as created or read from the information schema."""
        self.prepared: set[str] = set()
        self.loads: dict[str, int] = {}
        """Writes per load table since its last cleanup (rows of committed batches stay
        there, told apart by their batch id, until every ``_CLEANUP_EVERY`` writes)."""
        self.appended: dict[TopicPartition, int] = {}
        """Offset rows appended per partition since its superseded rows were last deleted."""
        self.stage = ident(f"HEADWATER_STAGE_{context.task_id}")
        self.rows_written = 0

    # -- the contract ---------------------------------------------------------------------

    def _read_offsets(self) -> dict[TopicPartition, int]:
        """The stored next offsets of this connector (the offsets table is append-only:
        one row per partition per write; the largest wins)."""
        rows = self.client.execute(
            f"SELECT TOPIC, PARTITION, MAX(NEXT_OFFSET) FROM {self.offsets_table}"
            " WHERE CONNECTOR = %s GROUP BY TOPIC, PARTITION",
            (self.context.connector_name,),
        )
        self.client.commit()
        return {(topic, int(partition)): int(next_offset) for topic, partition, next_offset in rows}

    def open(self, partitions: t.Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        """Re-read the stored offsets (another task may have written these partitions since
        this one started) and drop the superseded offset rows of the partitions, which
        only this task writes now."""
        current = self._read_offsets()
        for tp in partitions:
            if tp in current:
                self.stored[tp] = current[tp]
                self.client.execute(
                    f"DELETE FROM {self.offsets_table}"
                    " WHERE CONNECTOR = %s AND TOPIC = %s AND PARTITION = %s AND NEXT_OFFSET < %s",
                    (self.context.connector_name, tp[0], tp[1], current[tp]),
                )
        self.client.commit()
        for tp in partitions:
            self.seen[tp] = self.stored.get(tp, 0)
        return {tp: self.stored.get(tp) for tp in partitions}

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        for record in records:
            tp = (record.topic, record.partition)
            if record.offset < self.seen.get(tp, self.stored.get(tp, 0)):
                continue  # stored or buffered already: a replay or a redelivery
            self.seen[tp] = record.offset + 1
            if self.config.snowflake_ingestion_mode == "cdc":
                if not self._is_change(record):
                    continue
            elif record.value is None and self.config.behavior_on_null_values == "ignore":
                continue  # its offset is stored with the partition's next write
            self.batcher.add(record, len(_json(record.value)) + 64)
        if self.batcher.due():
            self._write(self.batcher.drain())

    def flush(self) -> None:
        self._write(self.batcher.drain())

    def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        if self.batcher.due():
            self._write(self.batcher.drain())
        return {tp: self.stored[tp] for tp in offsets if tp in self.stored}

    def close(self, partitions: t.Sequence[TopicPartition], *, lost: bool) -> None:
        closing = set(partitions)
        if lost:
            self.batcher.drop(partitions)
        else:
            kept = self.batcher.drain()
            self._write({tp: records for tp, records in kept.items() if tp in closing})
            for tp, records in kept.items():
                if tp not in closing:
                    for record in records:
                        self.batcher.add(record)
        for tp in closing:
            self.seen.pop(tp, None)

    def stop(self) -> None:
        self.client.close()

    # -- checks ---------------------------------------------------------------------------

    def _is_change(self, record: SinkRecord) -> bool:
        """A cdc record needs a key object and a change event (or a tombstone); others are reported."""
        problem = None
        if not isinstance(record.key, dict) or not record.key:
            problem = "cdc mode needs a record key object holding the primary key"
        elif record.value is not None:
            value = record.value
            if not isinstance(value, dict) or value.get("op") not in ("c", "r", "u", "d"):
                problem = "value is not a change event (no 'op' of c, r, u or d)"
            elif value["op"] in _UPSERT_OPS and not isinstance(value.get("after"), dict):
                problem = f"op {value['op']!r} without an 'after' row"
        if problem is not None:
            self.context.report(record, RecordError(problem, record=record))
            return False
        return True

    # -- writing --------------------------------------------------------------------------

    def _write(self, batch: t.Mapping[TopicPartition, t.Sequence[SinkRecord]]) -> None:
        """Write ``batch``: its rows and the next offset of each of its partitions.

        ``raw``: every table's rows and all offsets in one transaction. ``cdc``: the load
        tables are filled and committed first (rows of an uncommitted batch in a load table
        are never read: each batch reads only its own id), then each table gets one
        transaction of its ``MERGE`` and its partitions' offsets. In fakesnow a ``MERGE``
        must be the first change of its transaction (see
        :mod:`headwater.conformance.snowflake`); Snowflake would take them all in one.

        On an error the records of every table not committed go back into the buffer, so
        a retry writes them again, once.
        """
        by_table: dict[str, dict[TopicPartition, t.Sequence[SinkRecord]]] = {}
        for tp, records in batch.items():
            if records:
                by_table.setdefault(self.config.table(tp[0]), {})[tp] = records
        if not by_table:
            return
        done: set[str] = set()
        reported: set[tuple[str, int, int]] = set()
        try:
            batch_id = uuid.uuid4().hex
            plans = [self._plan(table, part, batch_id, reported) for table, part in by_table.items()]
            # PUT outside the transaction: a file whose batch never commits is never read again.
            staged = {
                plan.load: self._stage(plan.load, plan.lines)
                for plan in plans
                if len(plan.lines) > self.config.snowflake_stage_threshold_records
            }
            try:
                for plan in plans:
                    self._fill_load(plan, staged.get(plan.load))
                if self.config.snowflake_ingestion_mode == "raw":
                    for plan in plans:
                        for statement in plan.apply:
                            self.client.execute(statement)
                    self._commit_offsets({tp: end for plan in plans for tp, end in plan.ends.items()})
                    done.update(plan.table for plan in plans)
                else:
                    self.client.commit()
                    for plan in plans:
                        for statement in plan.apply:
                            self.client.execute(statement)
                        self._commit_offsets(plan.ends)
                        done.add(plan.table)
            except BaseException:
                for plan in plans:
                    self.loads.pop(plan.load, None)  # clean the load table first on the retry
                with contextlib.suppress(Exception):  # the first error is the one to raise
                    self.client.rollback()
                raise
            self.rows_written += sum(len(plan.lines) for plan in plans)
        except BaseException:
            for table, part in by_table.items():
                if table not in done:
                    for records in part.values():
                        for record in records:
                            if (record.topic, record.partition, record.offset) not in reported:  # reported once
                                self.batcher.add(record, len(_json(record.value)) + 64)
            raise

    def _plan(
        self,
        table: str,
        batch: t.Mapping[TopicPartition, t.Sequence[SinkRecord]],
        batch_id: str,
        reported: set[tuple[str, int, int]],
    ) -> _Plan:
        """The load lines and apply statements of one table's part of a batch. Creates or
        alters the table first (DDL commits on its own); reports records that do not fit
        (adding their coordinates to ``reported``)."""
        name = ident(table)
        records = [record for records in batch.values() for record in records]
        if self.config.snowflake_ingestion_mode == "raw":
            self._prepare_raw(name)
            lines = [self._raw_line(record, batch_id) for record in records]
            apply = [
                f"INSERT INTO {name} (RECORD_CONTENT, RECORD_METADATA) SELECT V['c'], V['m'] FROM {self._load(name)}"
                f" WHERE V['b']::VARCHAR = '{batch_id}'"
            ]
        else:
            rows, key = self._cdc_rows(name, records, batch_id, reported)
            lines = [row.line for row in rows]
            apply = [self._merge(name, key, batch_id)] if rows else []
        ends = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        return _Plan(name, self._load(name), lines, apply, ends)

    def _fill_load(self, plan: _Plan, staged: str | None) -> None:
        """Put ``plan``'s lines into its load table (from the staged file when there is one),
        clearing the table of old batches every ``_CLEANUP_EVERY`` writes."""
        if not plan.lines:
            return
        writes = self.loads.get(plan.load, 0)
        if writes % _CLEANUP_EVERY == 0:
            self.client.execute(f"DELETE FROM {plan.load}")
        self.loads[plan.load] = writes + 1
        if staged is not None:
            self.client.execute(f"COPY INTO {plan.load} FROM @{self.stage}/{staged} FILE_FORMAT = (TYPE = JSON)")
        else:
            self._insert_lines(plan.load, plan.lines)

    def _commit_offsets(self, ends: t.Mapping[TopicPartition, int]) -> None:
        """Append the next offset of each partition and commit the open transaction (the
        rows written since the last commit with them); then report them in ``pre_commit``.
        Once a partition has ``_OFFSET_ROWS_KEPT`` rows, its older rows are deleted in the
        same transaction (``open`` does that too), so the table stays small."""
        connector = self.context.connector_name
        for tp in ends:
            self.appended[tp] = self.appended.get(tp, 0) + 1
        if any(self.appended[tp] >= _OFFSET_ROWS_KEPT for tp in ends):
            # the rows written so far are superseded by the ones inserted below, in this transaction
            match = " OR ".join(["(TOPIC = %s AND PARTITION = %s)"] * len(ends))
            self.client.execute(
                f"DELETE FROM {self.offsets_table} WHERE CONNECTOR = %s AND ({match})",
                [connector, *(item for tp in ends for item in tp)],
            )
            for tp in ends:
                self.appended[tp] = 0
        values = ", ".join(["(%s, %s, %s, %s)"] * len(ends))
        self.client.execute(
            f"INSERT INTO {self.offsets_table} (CONNECTOR, TOPIC, PARTITION, NEXT_OFFSET) VALUES {values}",
            [item for (topic, partition), end in ends.items() for item in (connector, topic, partition, end)],
        )
        self.client.commit()
        self.stored.update(ends)

    def _load(self, table: str) -> str:
        return ident(f"{table.strip(chr(34))}_HW_LOAD_{self.context.task_id}")

    def _insert_lines(self, load: str, lines: t.Sequence[dict[str, t.Any]]) -> None:
        for start in range(0, len(lines), 500):
            chunk = [_json(line) for line in lines[start : start + 500]]
            values = ", ".join(["(%s)"] * len(chunk))
            self.client.execute(f"INSERT INTO {load} (V) SELECT PARSE_JSON(column1) FROM VALUES {values}", chunk)

    def _stage(self, load: str, lines: t.Sequence[dict[str, t.Any]]) -> str:
        """PUT the lines as one gzip'd JSON-lines file named after the load table; return its name."""
        file_name = f"{load.strip(chr(34))}_{uuid.uuid4().hex}.json.gz"
        path = self.context.scratch_dir / file_name
        with gzip.open(path, "wt", compresslevel=1) as out:
            for line in lines:
                out.write(_json(line))
                out.write("\n")
        try:
            self.client.execute(f"PUT 'file://{path}' @{self.stage} AUTO_COMPRESS = FALSE OVERWRITE = TRUE")
        finally:
            path.unlink(missing_ok=True)
        return file_name

    # -- raw ------------------------------------------------------------------------------

    def _prepare_raw(self, name: str) -> None:
        if name in self.prepared:
            return
        self.client.execute(f"CREATE TABLE IF NOT EXISTS {name} (RECORD_CONTENT VARIANT, RECORD_METADATA VARIANT)")
        self._prepare_load(name)
        self.prepared.add(name)

    def _prepare_load(self, name: str) -> None:
        self.client.execute(f"CREATE TABLE IF NOT EXISTS {self._load(name)} (V VARIANT)")
        self.client.execute(f"CREATE STAGE IF NOT EXISTS {self.stage}")
        self.client.commit()  # DDL before the batch's transaction

    def _raw_line(self, record: SinkRecord, batch_id: str) -> dict[str, t.Any]:
        """The load line of one ``raw`` row: content and RECORD_METADATA (the keys the
        ``snowflake.metadata.*`` toggles keep)."""
        return {"b": batch_id, "c": self._raw_content(record), "m": self._metadata(record)}

    def _metadata(self, record: SinkRecord) -> dict[str, t.Any]:
        config = self.config
        metadata: dict[str, t.Any] = {}
        if not config.snowflake_metadata_all:
            return metadata
        if config.snowflake_metadata_topic:
            metadata["topic"] = record.topic
        if config.snowflake_metadata_offset_and_partition:
            metadata["partition"] = record.partition
            metadata["offset"] = record.offset
        if (
            record.timestamp_ms is not None
            and record.timestamp_type != "NoTimestampType"
            and config.snowflake_metadata_createtime
        ):
            # Snowflake's connector names the field by the record's timestamp type.
            metadata[record.timestamp_type] = record.timestamp_ms
        key = record.key
        if key is not None:
            metadata["key"] = (
                key.decode("utf-8", "replace")
                if isinstance(key, bytes)
                else (key if isinstance(key, str) else _json(key))
            )
        if record.headers:
            metadata["headers"] = {
                name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                for name, value in record.headers
            }
        return metadata

    @staticmethod
    def _raw_content(record: SinkRecord) -> t.Any:
        value = record.value
        # Schemaless values go as they are (orjson writes decimals as strings); with a schema,
        # logical types (dates, timestamps) are rendered first.
        if isinstance(value, bytes):
            content: t.Any = value.decode("utf-8", "replace")
        elif record.value_schema is not None:
            content = to_json(value, record.value_schema)
        else:
            content = value
        return content

    # -- cdc ------------------------------------------------------------------------------

    def _table_columns(self, name: str) -> dict[str, str]:
        if name not in self.columns:
            bare = name.strip('"') if name.startswith('"') else name.upper()
            found = self.client.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS"
                " WHERE TABLE_SCHEMA = CURRENT_SCHEMA() AND TABLE_NAME = %s",
                (bare,),
            )
            self.columns[name] = {column: _type_of(kind, p, s) for column, kind, p, s in found}
            self._prepare_load(name)
        return self.columns[name]

    def _cdc_rows(
        self, name: str, records: t.Sequence[SinkRecord], batch_id: str, reported: set[tuple[str, int, int]]
    ) -> tuple[list[_Row], list[str]]:
        """The load lines and the key columns; adds missing columns (creating the table on
        first use) and reports records whose values do not fit the table's columns.

        A new column's type comes from the record's schema (the ``after`` field's, else the
        key's) when it has one, else from the first non-null value: a column seen only as
        null (and without a schema) is not created yet, its rows are null there anyway.
        """
        columns = self._table_columns(name)
        planned = dict(columns)
        rows: list[_Row] = []
        key_columns: list[str] = []
        for k, record in enumerate(records):
            key = t.cast("dict[str, t.Any]", record.key)
            value = record.value
            after = value.get("after") if isinstance(value, dict) and value.get("op") in _UPSERT_OPS else None
            row = dict(after) if after is not None else {}
            for name_, part in key.items():
                row.setdefault(name_, part)
            schemas = self._field_schemas(record)
            bad = [column for column, item in row.items() if column in planned and not fits(item, planned[column])]
            if bad:
                column = bad[0]
                problem = f"column {column!r} of {name} is {planned[column]}; value {row[column]!r} does not fit"
                self.context.report(record, RecordError(problem, record=record))
                reported.add((record.topic, record.partition, record.offset))
                continue
            for column, item in row.items():
                if column not in planned and (item is not None or column in schemas or column in key):
                    planned[column] = column_type(item, schemas.get(column))
            if not key_columns:
                key_columns = list(key)
            line_row = {column: to_json(item, schemas.get(column)) for column, item in row.items()}
            rows.append(_Row(record, {"b": batch_id, "k": k, "d": after is None, "row": line_row}))
        self._evolve(name, columns, planned, key_columns)
        return rows, key_columns

    @staticmethod
    def _field_schemas(record: SinkRecord) -> dict[str, Schema]:
        """Column name -> schema, from the value's ``after`` row and the key (when they have schemas)."""
        schemas: dict[str, Schema] = {}
        for struct in (record.key_schema, _after_schema(record.value_schema)):
            if struct is not None and struct.type == Type.STRUCT:
                schemas.update((field.name, field.schema) for field in struct.fields)
        return schemas

    def _evolve(self, name: str, columns: dict[str, str], planned: dict[str, str], key: list[str]) -> None:
        added = {column: kind for column, kind in planned.items() if column not in columns}
        if not added:
            return
        if not columns:
            definitions = ", ".join(f"{quote(column)} {kind}" for column, kind in added.items())
            keys = ", ".join(quote(column) for column in key)
            self.client.execute(f"CREATE TABLE IF NOT EXISTS {name} ({definitions}, PRIMARY KEY ({keys}))")
        else:
            for column, kind in added.items():
                self.client.execute(f"ALTER TABLE {name} ADD COLUMN {quote(column)} {kind}")
        self.client.commit()  # DDL before the batch's transaction
        columns.update(added)

    def _merge(self, name: str, key: t.Sequence[str], batch_id: str) -> str:
        """One ``MERGE`` of this batch's rows in the load table: the last event per key wins
        (the highest line number), a delete deletes, an upsert updates or inserts the whole row."""
        columns = self.columns[name]
        load = self._load(name)

        def read(column: str) -> str:
            return read_expression(_path("row", column), columns[column])

        selected = ", ".join(f"{read(column)} AS {quote(column)}" for column in columns)
        partition = ", ".join(read(column) for column in key)
        match = " AND ".join(f"T.{quote(c)} = S.{quote(c)}" for c in key)
        names = ", ".join(quote(column) for column in columns)
        values = ", ".join(f"S.{quote(column)}" for column in columns)
        updates = ", ".join(f"T.{quote(c)} = S.{quote(c)}" for c in columns if c not in key)
        update = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
        return (
            f"MERGE INTO {name} T USING (SELECT {selected}, V['d']::BOOLEAN AS {_DELETE} FROM {load}"
            f" WHERE V['b']::VARCHAR = '{batch_id}'"
            f" QUALIFY ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY V['k']::NUMBER DESC) = 1) S ON {match}"
            f" WHEN MATCHED AND S.{_DELETE} THEN DELETE{update}"
            f" WHEN NOT MATCHED AND NOT S.{_DELETE} THEN INSERT ({names}) VALUES ({values})"
        )
