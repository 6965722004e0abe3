"""Where the runtime keeps source offsets (plugins never do).

Keys have Kafka Connect's form, the JSON array ``["<connector>", {<partition>}]``; values
are the offset objects. Two stores:

- :class:`FileOffsetStore` for standalone workers: one JSON file, replaced atomically
  (write a temp file, fsync, rename), so a ``kill -9`` leaves the old or the new file,
  never half of one.
- :class:`KafkaOffsetStore`: a compacted topic (``offset.storage.topic``), read to its
  end at start-up (and again by :meth:`KafkaOffsetStore.refresh`); writes are
  acknowledged by all in-sync replicas before ``put_many`` returns.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import typing as t
from pathlib import Path

import orjson

from headwater.connectors.api import SourceOffset, SourcePartition
from headwater.connectors.errors import FatalError, RetriableError
from headwater.connectors.runtime.logs import CLIENT_LOG
from headwater.connectors.runtime.topics import ensure_topic

__all__ = ["ConnectorOffsets", "FileOffsetStore", "KafkaOffsetStore", "MemoryOffsetStore", "OffsetStore", "offset_key"]


def offset_key(connector: str, partition: SourcePartition) -> bytes:
    """The store key of one source partition: ``["<connector>", {<partition>}]`` as JSON."""
    return orjson.dumps([connector, dict(partition)], option=orjson.OPT_SORT_KEYS)


class OffsetStore(t.Protocol):
    """Durable map from offset key to offset."""

    def get(self, key: bytes) -> SourceOffset | None:
        """The stored offset, or None."""
        ...

    def put_many(self, entries: t.Mapping[bytes, SourceOffset | None]) -> None:
        """Store all ``entries`` durably before returning; a ``None`` offset deletes."""
        ...

    def items(self) -> list[tuple[bytes, SourceOffset]]:
        """Everything stored (for the REST offsets view and tests)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class MemoryOffsetStore:
    """Offsets in a dict: for unit tests and the conformance suite's in-process runs."""

    def __init__(self) -> None:
        self._data: dict[bytes, SourceOffset] = {}
        self._lock = threading.Lock()

    def get(self, key: bytes) -> SourceOffset | None:
        with self._lock:
            return self._data.get(key)

    def put_many(self, entries: t.Mapping[bytes, SourceOffset | None]) -> None:
        with self._lock:
            for key, offset in entries.items():
                if offset is None:
                    self._data.pop(key, None)
                else:
                    self._data[key] = dict(offset)

    def items(self) -> list[tuple[bytes, SourceOffset]]:
        with self._lock:
            return list(self._data.items())

    def close(self) -> None:
        return None


class FileOffsetStore(MemoryOffsetStore):
    """Offsets in one JSON file, rewritten atomically on every ``put_many``."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        if self.path.exists():
            try:
                document = orjson.loads(self.path.read_bytes())
            except orjson.JSONDecodeError as exc:
                msg = f"offset file {self.path} is not valid JSON: {exc}"
                raise FatalError(msg) from exc
            self._data = {
                orjson.dumps(entry["key"], option=orjson.OPT_SORT_KEYS): entry["offset"] for entry in document
            }

    def put_many(self, entries: t.Mapping[bytes, SourceOffset | None]) -> None:
        super().put_many(entries)
        with self._lock:
            document = [{"key": orjson.loads(key), "offset": offset} for key, offset in self._data.items()]
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, self.path)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise


class KafkaOffsetStore(MemoryOffsetStore):
    """Offsets in a compacted Kafka topic, as Kafka Connect's distributed workers keep them."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        client_config: t.Mapping[str, str] | None = None,
        partitions: int = 25,
        replication_factor: int = -1,
    ) -> None:
        super().__init__()
        from confluent_kafka import Producer

        self.topic = topic
        self._common: dict[str, t.Any] = {"bootstrap.servers": bootstrap_servers, **(client_config or {})}
        # Per key, how often this process wrote it: refresh() must not undo a local write
        # that raced with its read.
        self._writes: dict[bytes, int] = {}
        # 25 partitions by default, as Kafka Connect's offset.storage.partitions.
        ensure_topic(
            self._common,
            topic,
            purpose="offset topic",
            partitions=partitions,
            replication_factor=replication_factor,
            config={"cleanup.policy": "compact"},
        )
        self._data = self._read_all()
        self._producer = Producer({**self._common, "acks": "all", "enable.idempotence": "true", "logger": CLIENT_LOG})

    def refresh(self) -> None:
        """Read the topic to its end again, taking in what other workers stored.

        A distributed worker calls this before it starts source tasks that may have run on
        another worker until a moment ago, so they resume from that worker's last durable
        offsets. Keys this process wrote while the read ran keep their local value.

        Raises:
            RetriableError: the topic could not be read to its end within 60 s.
        """
        with self._lock:
            before = dict(self._writes)
        data = self._read_all()
        with self._lock:
            for key in set(self._data) | set(data):
                if self._writes.get(key, 0) != before.get(key, 0):
                    continue
                if key in data:
                    self._data[key] = data[key]
                else:
                    self._data.pop(key, None)

    def _read_all(self) -> dict[bytes, SourceOffset]:
        """Every committed offset in the topic, read with a short-lived consumer."""
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                **self._common,
                "group.id": f"headwater-offsets-{os.getpid()}",
                "enable.auto.commit": "false",
                # Offsets written in aborted source transactions must not count.
                "isolation.level": "read_committed",
                "enable.partition.eof": "true",
                "logger": CLIENT_LOG,
            }
        )
        data: dict[bytes, SourceOffset] = {}
        try:
            self._read_to_end(consumer, self.topic, data)
        finally:
            consumer.close()
        return data

    def _read_to_end(self, consumer: t.Any, topic: str, data: dict[bytes, SourceOffset]) -> None:
        """Load every committed offset into ``data``: read each partition up to the end it
        had when the read began (its last stable offset, under read_committed).

        A partition is done at its EOF event, or at the first record at or past that end
        minus one (the last offset below the end may be a commit marker, which is never
        delivered). Waiting for EOF alone never ends while a running task keeps writing to
        the partition: each fetch then brings new records, and librdkafka reports EOF only
        for a fetch that finds nothing new.
        """
        from confluent_kafka import KafkaError, TopicPartition

        metadata = consumer.list_topics(topic, timeout=30)
        assignment = []
        ends: dict[int, int] = {}
        for partition in metadata.topics[topic].partitions:
            low, high = _watermarks(consumer, TopicPartition(topic, partition))
            if high > low:
                assignment.append(TopicPartition(topic, partition, low))
                ends[partition] = high
        # With read_committed the end is the last stable offset, which commit markers and
        # aborted records make unreachable by counting; the EOF event marks it instead. A
        # running source keeps writing, so EOF may never come: a partition whose position
        # passed the end seen at the start (commit markers included) is done too.
        unfinished = set(ends)
        consumer.assign(assignment)
        deadline = time.monotonic() + 60
        while unfinished:
            message = consumer.poll(1.0)
            if time.monotonic() > deadline:
                msg = f"timed out reading offset topic {topic} (partitions {sorted(unfinished)} unfinished)"
                raise RetriableError(msg)
            if message is None or message.error() is None:
                positions = consumer.position([TopicPartition(topic, partition) for partition in sorted(unfinished)])
                unfinished -= {tp.partition for tp in positions if tp.offset >= ends[tp.partition]}
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    unfinished.discard(message.partition())
                continue
            if message.offset() >= ends[message.partition()] - 1:
                unfinished.discard(message.partition())
            raw_key, value = message.key(), message.value()
            if raw_key is None:
                continue
            key = orjson.dumps(orjson.loads(raw_key), option=orjson.OPT_SORT_KEYS)
            if value is None:
                data.pop(key, None)
            else:
                data[key] = orjson.loads(value)

    def offset_messages(self, entries: t.Mapping[bytes, SourceOffset | None]) -> list[tuple[bytes, bytes | None]]:
        """The (key, value) messages that store ``entries``, for a caller's own transaction."""
        return [(key, None if offset is None else orjson.dumps(offset)) for key, offset in entries.items()]

    def remember(self, entries: t.Mapping[bytes, SourceOffset | None]) -> None:
        """Record ``entries`` that the caller has already committed to the topic."""
        self._count_writes(entries)
        MemoryOffsetStore.put_many(self, entries)

    def _count_writes(self, entries: t.Mapping[bytes, SourceOffset | None]) -> None:
        with self._lock:
            for key in entries:
                self._writes[key] = self._writes.get(key, 0) + 1

    def put_many(self, entries: t.Mapping[bytes, SourceOffset | None]) -> None:
        failures: list[str] = []

        def on_delivery(error: t.Any, _message: t.Any) -> None:
            if error is not None:
                failures.append(str(error))

        for key, offset in entries.items():
            value = None if offset is None else orjson.dumps(offset)
            self._producer.produce(self.topic, value=value, key=key, on_delivery=on_delivery)
        remaining = self._producer.flush(60)
        if remaining or failures:
            msg = f"offsets not stored in {self.topic}: {failures or f'{remaining} unacknowledged'}"
            raise RetriableError(msg)
        self._count_writes(entries)
        super().put_many(entries)

    def close(self) -> None:
        self._producer.flush(10)


def _watermarks(consumer: t.Any, partition: t.Any, timeout: float = 30.0) -> tuple[int, int]:
    """The partition's low and high watermarks, waiting out leader elections.

    A topic that was just created reports leaders in its metadata a moment before those
    brokers answer as leaders, so NOT_LEADER_FOR_PARTITION is retried here.
    """
    from confluent_kafka import KafkaError, KafkaException

    transient = {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
    }
    deadline = time.monotonic() + timeout
    while True:
        try:
            low, high = consumer.get_watermark_offsets(partition, timeout=10)
            return int(low), int(high)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            code = error.code() if isinstance(error, KafkaError) else None
            if code not in transient or time.monotonic() > deadline:
                msg = f"cannot read offsets of {partition.topic}[{partition.partition}]: {exc}"
                raise RetriableError(msg) from exc
            time.sleep(0.2)


class ConnectorOffsets:
    """One connector's view of a store: what a source task reads its resume state from."""

    def __init__(self, store: OffsetStore, connector: str) -> None:
        self.store = store
        self.connector = connector

    def offset(self, partition: SourcePartition) -> SourceOffset | None:
        """The last durable offset of ``partition``."""
        return self.store.get(offset_key(self.connector, partition))

    def all(self) -> list[tuple[SourcePartition, SourceOffset]]:
        """Every stored (partition, offset) of this connector."""
        out = []
        for key, offset in self.store.items():
            connector, partition = orjson.loads(key)
            if connector == self.connector:
                out.append((partition, offset))
        return out
