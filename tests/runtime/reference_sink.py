"""A reference sink that owns its commit point: records and offsets in one SQLite transaction.

It is what a warehouse or database sink should look like on contract v2:

- ``put`` buffers records in a :class:`~headwater.connectors.batching.Batcher` and skips
  any record below the partition's stored offset (a replay), so nothing is written twice;
- a due batch is written with the partitions' next offsets in one transaction;
- ``open`` returns the stored offsets, so a restarted or rebalanced task resumes from
  what the target holds, whatever the consumer group committed;
- ``pre_commit`` writes only a due batch and returns only durable offsets (it holds back
  what is still buffered);
- ``close(lost=False)`` writes the partitions' buffered records, ``close(lost=True)``
  drops them unwritten.

Registered through the conformance harness (``tests/runtime/test_reference_sink.py``),
not as an entry point.
"""

from __future__ import annotations

import json
import sqlite3
import typing as t
from pathlib import Path

from headwater.codecs.envelope import fold
from headwater.connectors.api import Capability, SinkConnector, SinkRecord, SinkTask, SinkTaskContext, TopicPartition
from headwater.connectors.batching import Batcher
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import RecordError

__all__ = ["ReferenceSinkConfig", "ReferenceSinkConnector", "ReferenceSinkTask", "count_writes", "read_state"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (topic TEXT, partition INTEGER, offset INTEGER, key TEXT, value TEXT);
CREATE TABLE IF NOT EXISTS offsets (topic TEXT, partition INTEGER, next INTEGER, PRIMARY KEY (topic, partition));
"""


class ReferenceSinkConfig(PluginConfig):
    """The reference sink's keys."""

    reference_db: str
    """The SQLite file that holds the records and the offsets."""
    reference_batch_records: int = 100
    """Records per write."""
    reference_batch_ms: int = 500
    """Longest a record waits in the buffer before a write."""


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(_SCHEMA)
    return db


class ReferenceSinkTask(SinkTask[ReferenceSinkConfig]):
    """See the module docstring."""

    def __init__(self, config: ReferenceSinkConfig, context: SinkTaskContext) -> None:
        super().__init__(config, context)
        self.db = _connect(config.reference_db)
        self.batcher = Batcher(max_records=config.reference_batch_records, max_age_ms=config.reference_batch_ms)
        self.stored: dict[TopicPartition, int] = {
            (topic, partition): next_offset
            for topic, partition, next_offset in self.db.execute("SELECT topic, partition, next FROM offsets")
        }

    def open(self, partitions: t.Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        return {tp: self.stored.get(tp) for tp in partitions}

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        for record in records:
            if record.offset < self.stored.get((record.topic, record.partition), 0):
                continue  # written before: a replay of the uncommitted window
            if record.value is not None and not isinstance(record.value, dict):
                self.context.report(record, RecordError("value is not a change event", record=record))
                continue
            self.batcher.add(record, len(json.dumps(record.value, default=str)))
        if self.batcher.due():
            self._write(self.batcher.drain())

    def _write(self, batch: t.Mapping[TopicPartition, t.Sequence[SinkRecord]]) -> None:
        """One transaction: the records and the next offset of each partition."""
        if not batch:
            return
        rows = [
            (r.topic, r.partition, r.offset, json.dumps(r.key, default=str), json.dumps(r.value, default=str))
            for records in batch.values()
            for r in records
        ]
        ends = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
            self.db.executemany(
                "INSERT INTO offsets VALUES (?, ?, ?)"
                " ON CONFLICT (topic, partition) DO UPDATE SET next = excluded.next",
                [(topic, partition, end) for (topic, partition), end in ends.items()],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.stored.update(ends)

    def flush(self) -> None:
        self._write(self.batcher.drain())

    def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        if self.batcher.due():
            self._write(self.batcher.drain())
        # Only what the target holds; records read past a gap (a reported record) count
        # once a later record of the partition is stored.
        return {tp: self.stored[tp] for tp in offsets if tp in self.stored}

    def close(self, partitions: t.Sequence[TopicPartition], *, lost: bool) -> None:
        if lost:
            self.batcher.drop(partitions)
            return
        kept = self.batcher.drain()
        self._write({tp: records for tp, records in kept.items() if tp in partitions})
        for tp, records in kept.items():
            if tp not in partitions:
                for record in records:
                    self.batcher.add(record)

    def stop(self) -> None:
        self.db.close()


class ReferenceSinkConnector(SinkConnector[ReferenceSinkConfig]):
    """The reference sink (tests only)."""

    name = "reference-sink"
    config_class = ReferenceSinkConfig
    task_class = ReferenceSinkTask
    capabilities = frozenset({Capability.OWNS_COMMIT_POINT, Capability.IDEMPOTENT_WRITES, Capability.DELETES})


class QuickReferenceSinkConnector(ReferenceSinkConnector):
    """The reference sink declaring that its hooks return promptly (a local SQLite file)."""

    capabilities = ReferenceSinkConnector.capabilities | {Capability.QUICK_CALLS}


def _rows(config: PluginConfig, topic: str) -> list[tuple[int, int, str, str]]:
    assert isinstance(config, ReferenceSinkConfig)
    if not Path(config.reference_db).exists():
        return []
    db = _connect(config.reference_db)
    try:
        return list(
            db.execute(
                "SELECT partition, offset, key, value FROM records WHERE topic = ? ORDER BY partition, offset", (topic,)
            )
        )
    finally:
        db.close()


def read_state(config: PluginConfig, topic: str) -> dict[str, t.Any]:
    """The target's rows for ``topic`` folded by key (last write per key wins)."""
    return fold((json.loads(key), json.loads(value)) for _, _, key, value in _rows(config, topic))


def count_writes(config: PluginConfig, topic: str) -> int:
    """Rows written for ``topic`` (a duplicate write would show as an extra row)."""
    return len(_rows(config, topic))
