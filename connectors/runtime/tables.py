"""A compacted single-partition topic mirrored into a dict: the distributed worker's shared state.

Every worker of a cluster tails the same topics (connector configs, statuses), so every
worker holds the same tables, in the same order of changes. Writes go to Kafka first and
come back through the tail, so a write is visible locally exactly when it is in the log:
:meth:`TopicTable.put` returns only once its own write has been read back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import typing as t

import orjson

from headwater.connectors.errors import RetriableError
from headwater.connectors.runtime.logs import CLIENT_LOG
from headwater.connectors.runtime.topics import ensure_topic

__all__ = ["TableListener", "TopicTable"]

log = logging.getLogger(__name__)

TableListener: t.TypeAlias = t.Callable[[str, dict[str, t.Any] | None], None]
"""Called with a key and its new value (None: deleted) from the table's reader thread."""


class TopicTable:
    """Tails compacted topic ``topic`` (one partition) into a dict of JSON objects.

    Keys are strings, values JSON objects, a tombstone deletes. :meth:`start` creates the
    topic if needed and returns once everything in it was read; a daemon thread then keeps
    reading until :meth:`close`.
    """

    def __init__(
        self, client_config: t.Mapping[str, t.Any], topic: str, *, purpose: str, replication_factor: int = -1
    ) -> None:
        """Prepare the table; nothing is read before :meth:`start`.

        Args:
            client_config: librdkafka settings shared by the reader and the writer
                (``bootstrap.servers``, security).
            topic: the compacted topic.
            purpose: what the topic is for, named in errors ("config topic").
            replication_factor: used if the topic is created (-1: the broker's default).
        """
        self.replication_factor = replication_factor
        self.topic = topic
        self.purpose = purpose
        self._client_config = dict(client_config)
        self._data: dict[str, dict[str, t.Any]] = {}
        self._position = 0
        """The next offset to read: everything before it is in ``_data``."""
        self._changed = threading.Condition()
        self._listeners: list[TableListener] = []
        self._closing = threading.Event()
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._consumer: t.Any = None
        self._producer: t.Any = None

    def add_listener(self, listener: TableListener) -> None:
        """Call ``listener`` on every change read after :meth:`start` (not for the initial contents)."""
        self._listeners.append(listener)

    def start(self, timeout: float = 60.0) -> None:
        """Create the topic unless it exists, read it to its end, then tail it in the background.

        Raises:
            RetriableError: the topic could not be created or read to its end in ``timeout`` s.
        """
        from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

        ensure_topic(
            self._client_config,
            self.topic,
            purpose=self.purpose,
            partitions=1,
            replication_factor=self.replication_factor,
            config={"cleanup.policy": "compact"},
        )
        self._consumer = Consumer(
            {
                **self._client_config,
                "group.id": f"headwater-table-{os.getpid()}",
                "enable.auto.commit": "false",
                "enable.partition.eof": "true",
                "logger": CLIENT_LOG,
            }
        )
        new_topic_errors = {
            KafkaError.NOT_LEADER_FOR_PARTITION,
            KafkaError.LEADER_NOT_AVAILABLE,
            KafkaError.UNKNOWN_TOPIC_OR_PART,
        }
        deadline = time.monotonic() + timeout
        while True:
            try:
                low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, 0), timeout=timeout)
                break
            except KafkaException as exc:
                # A topic created a moment ago may have no leader known to every broker
                # yet (NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PART): retry until the deadline.
                if not (exc.args[0].retriable() or exc.args[0].code() in new_topic_errors):
                    msg = f"cannot read the end of {self.purpose} {self.topic}: {exc}"
                    raise RetriableError(msg) from exc
                if time.monotonic() > deadline:
                    msg = f"cannot read the end of {self.purpose} {self.topic}: {exc}"
                    raise RetriableError(msg) from exc
                time.sleep(0.2)
        self._position = low
        self._consumer.assign([TopicPartition(self.topic, 0, low)])
        self._producer = Producer(
            {**self._client_config, "acks": "all", "enable.idempotence": "true", "logger": CLIENT_LOG}
        )
        self._thread = threading.Thread(target=self._tail, name=f"table-{self.topic}", daemon=True)
        self._thread.start()
        self._wait_for_position(high, timeout)

    def _tail(self) -> None:
        from confluent_kafka import KafkaError

        try:
            while not self._closing.is_set():
                message = self._consumer.poll(0.2)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        with self._changed:
                            self._position = max(self._position, message.offset())
                            self._changed.notify_all()
                    elif error.fatal():
                        msg = f"{self.purpose} {self.topic} cannot be read: {error}"
                        raise RetriableError(msg)
                    else:
                        log.warning("reading %s %s: %s", self.purpose, self.topic, error)
                    continue
                self._apply(message)
        except BaseException as exc:
            with self._changed:
                self._failure = exc
                self._changed.notify_all()
            if not self._closing.is_set():
                log.exception("stopped reading %s %s", self.purpose, self.topic)

    def _apply(self, message: t.Any) -> None:
        raw_key, raw_value = message.key(), message.value()
        key = raw_key.decode() if raw_key is not None else None
        value = orjson.loads(raw_value) if raw_value is not None else None
        with self._changed:
            if key is not None:
                if value is None:
                    self._data.pop(key, None)
                else:
                    self._data[key] = value
            self._position = message.offset() + 1
            self._changed.notify_all()
        if key is None:
            return
        for listener in self._listeners:
            try:
                listener(key, value)
            except Exception:
                log.exception("listener of %s %s failed on %s", self.purpose, self.topic, key)

    def _wait_for_position(self, position: int, timeout: float) -> None:
        """Block until everything before offset ``position`` has been read."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._position < position:
                if self._failure is not None:
                    msg = f"{self.purpose} {self.topic} is no longer read: {self._failure}"
                    raise RetriableError(msg) from self._failure
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    msg = f"{self.purpose} {self.topic} not read up to offset {position} within {timeout:.0f} s"
                    raise RetriableError(msg)
                self._changed.wait(min(remaining, 0.5))

    def get(self, key: str) -> dict[str, t.Any] | None:
        """The current value of ``key``, or None."""
        with self._changed:
            return self._data.get(key)

    def items(self, prefix: str = "") -> dict[str, dict[str, t.Any]]:
        """A snapshot of the entries whose key starts with ``prefix``."""
        with self._changed:
            return {key: value for key, value in self._data.items() if key.startswith(prefix)}

    def put(self, key: str, value: t.Mapping[str, t.Any] | None, timeout: float = 30.0) -> None:
        """Write ``value`` (None: a tombstone) and return once it is acknowledged by all
        in-sync replicas and read back into this table.

        Raises:
            RetriableError: not acknowledged, or not read back, within ``timeout`` s.
        """
        if self._producer is None:
            msg = f"{self.purpose} {self.topic} is not started"
            raise RetriableError(msg)
        outcome: list[tuple[t.Any, int]] = []

        def on_delivery(error: t.Any, message: t.Any) -> None:
            outcome.append((error, message.offset() if error is None else -1))

        data = None if value is None else orjson.dumps(dict(value))
        self._producer.produce(self.topic, value=data, key=key.encode(), on_delivery=on_delivery)
        self._producer.flush(timeout)
        if not outcome or outcome[0][0] is not None:
            reason = outcome[0][0] if outcome else "not acknowledged"
            msg = f"cannot write {key} to {self.purpose} {self.topic}: {reason}"
            raise RetriableError(msg)
        self._wait_for_position(outcome[0][1] + 1, timeout)

    def close(self) -> None:
        """Stop reading and release the clients."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._consumer is not None:
            self._consumer.close()
        if self._producer is not None:
            self._producer.flush(5)
