"""The loops that drive one source task or one sink task.

Commit order is what makes a ``kill -9`` harmless:

- source: ``poll`` -> convert -> produce (idempotent, ``acks=all``) -> ``flush`` until
  every record is acknowledged -> dead-letter writes acknowledged -> offsets stored ->
  the task's ``commit`` hook;
- sink: consume -> convert -> ``put`` -> ``pre_commit`` (which flushes) -> dead-letter
  writes acknowledged -> consumer offsets committed.

A crash anywhere replays the uncommitted window; nothing is skipped.

Both runners obey a ``paused`` event (Kafka Connect's PAUSED target state): a paused
source stops calling ``poll`` after flushing and storing the offsets of what it already
produced; a paused sink commits what it flushed and pauses its consumer on every assigned
partition, staying in its group. Clearing the event resumes where they were.

With ``exactly.once.source.support=enabled`` a source task's producer is transactional:
each poll's records and the offset records that skip them are written in one Kafka
transaction, so consumers reading committed data (librdkafka's default) see each record
exactly once, whatever moment a crash hits.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import typing as t

import orjson

from headwater.codecs.converters import Converter, to_json_bytes
from headwater.connectors.api import (
    ErrantSourceRecord,
    SinkRecord,
    SinkTaskContext,
    SourceOffset,
    SourcePartition,
    SourceRecord,
    SourceTaskContext,
)
from headwater.connectors.config import ConnectorConfig, PluginConfig
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.runtime.dlq import ErrorHandler, Stage
from headwater.connectors.runtime.metrics import TaskMetrics
from headwater.connectors.runtime.offsets import ConnectorOffsets, KafkaOffsetStore, OffsetStore, offset_key
from headwater.connectors.runtime.retry import RetryPolicy, retry_call

__all__ = ["SinkTaskRunner", "SourceTaskRunner", "StateListener", "TaskEnvironment"]

log = logging.getLogger(__name__)
_client_log = logging.getLogger("librdkafka")
IDLE_WAIT_S = 0.05
PAUSED_WAIT_S = 0.1

StateListener: t.TypeAlias = t.Callable[[str], None]
"""Called from the task's thread with ``"RUNNING"`` or ``"PAUSED"`` each time the task
actually turns so (once at start, then on every pause or resume it has carried out)."""


class TaskEnvironment(t.NamedTuple):
    """Everything a runner needs that does not change between restarts of a task."""

    framework: ConnectorConfig
    plugin_class: type[t.Any]
    task_config: PluginConfig
    task_id: int
    producer_config: dict[str, str]
    consumer_config: dict[str, str]
    key_converter: Converter
    value_converter: Converter
    offset_store: OffsetStore
    metrics: TaskMetrics
    flush_interval_s: float
    transactional_id: str | None = None
    """Set for exactly-once sources: records and offsets go in one transaction per poll."""

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.framework.errors_retry_timeout, self.framework.errors_retry_delay_max_ms)

    def error_handler(self) -> ErrorHandler:
        return ErrorHandler(
            self.framework,
            task_id=self.task_id,
            plugin_class=f"{self.plugin_class.__module__}.{self.plugin_class.__qualname__}",
            producer_config=self.producer_config,
            metrics=self.metrics,
        )


class SourceTaskRunner:
    """Runs one source task until ``stop`` is set; raises if the task fails."""

    def __init__(self, env: TaskEnvironment) -> None:
        self.env = env
        self.name = env.framework.name
        self._pending: dict[bytes, tuple[SourcePartition, SourceOffset]] = {}
        self._partition_keys: dict[tuple[tuple[str, t.Any], ...], bytes] = {}
        self._delivery_errors: list[str] = []
        self._unacked = 0

    def run(self, stop: threading.Event, on_state: StateListener, paused: threading.Event | None = None) -> None:
        """Build the task from stored offsets and loop; on ``stop``, commit and return.

        While ``paused`` is set the task is not polled; what it produced before is
        flushed and its offsets stored as the pause begins, and the task stays open.
        """
        from confluent_kafka import Producer

        env = self.env
        task = env.plugin_class.task_class(
            env.task_config,
            SourceTaskContext(self.name, env.task_id, ConnectorOffsets(env.offset_store, self.name)),
        )
        exactly_once = env.transactional_id is not None
        client_config = {**env.producer_config, "logger": _client_log}
        if exactly_once:
            client_config["transactional.id"] = env.transactional_id
        producer = Producer(client_config)
        if exactly_once:
            # Fences any earlier producer with this id (a zombie of this task) and aborts
            # whatever transaction it left open.
            producer.init_transactions(60)
            producer.begin_transaction()
        errors = env.error_handler()
        paused = paused if paused is not None else threading.Event()
        reported = "PAUSED" if paused.is_set() else "RUNNING"
        on_state(reported)
        failed = True
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                if paused.is_set():
                    if reported != "PAUSED":
                        if not exactly_once:  # exactly-once batches are committed as they are polled
                            self._commit(producer, errors, task)
                            last_commit = time.monotonic()
                        reported = "PAUSED"
                        on_state(reported)
                    producer.poll(0)
                    stop.wait(PAUSED_WAIT_S)
                    continue
                if reported != "RUNNING":
                    reported = "RUNNING"
                    on_state(reported)
                started = time.monotonic()
                records = retry_call(
                    task.poll,
                    env.retry_policy,
                    what=f"{self.name}-{env.task_id} poll",
                    stop=stop,
                    on_retry=lambda _exc: env.metrics.total_retries.inc(),
                )
                if records:
                    env.metrics.poll_batch_time.observe((time.monotonic() - started) * 1000)
                    env.metrics.source_record_poll.inc(len(records))
                    self._send(producer, errors, records)
                    producer.poll(0)
                    if exactly_once:
                        self._commit_transaction(producer, errors, task)
                else:
                    producer.poll(0)
                    stop.wait(IDLE_WAIT_S)
                if not exactly_once and time.monotonic() - last_commit >= env.flush_interval_s:
                    self._commit(producer, errors, task)
                    last_commit = time.monotonic()
            if exactly_once:
                producer.abort_transaction(30)  # the open transaction is empty: all batches were committed
            else:
                self._commit(producer, errors, task)
            failed = False
        finally:
            try:
                task.close()
            finally:
                errors.close()
                if failed and exactly_once:
                    _abort_quietly(producer)
                producer.flush(5)

    def _partition_key(self, partition: SourcePartition) -> bytes:
        # Partitions are small maps of scalars, so their items make a cheap cache key;
        # this spares a JSON dump per record.
        items = tuple(partition.items())
        key = self._partition_keys.get(items)
        if key is None:
            if len(self._partition_keys) > 10_000:
                self._partition_keys.clear()
            key = self._partition_keys[items] = offset_key(self.name, partition)
        return key

    def _send(
        self, producer: t.Any, errors: ErrorHandler, records: t.Sequence[SourceRecord | ErrantSourceRecord]
    ) -> None:
        key_to_bytes = self.env.key_converter.to_bytes
        value_to_bytes = self.env.value_converter.to_bytes
        produce = functools.partial(producer.produce, on_delivery=self._on_delivery)
        pending = self._pending
        sent = 0
        for record in records:
            partition_key = self._partition_key(record.partition)
            if isinstance(record, ErrantSourceRecord):
                where = record.error.location or orjson.dumps(dict(record.partition)).decode()
                errors.handle(record.error, stage=Stage.TASK_POLL, where=where, value=record.raw or None)
                pending[partition_key] = (record.partition, record.offset)
                continue
            topic = record.topic
            try:
                key = key_to_bytes(topic, record.key)
            except RecordError as exc:
                self._record_failed(errors, exc, Stage.KEY_CONVERTER, record)
                pending[partition_key] = (record.partition, record.offset)
                continue
            try:
                value = value_to_bytes(topic, record.value)
            except RecordError as exc:
                self._record_failed(errors, exc, Stage.VALUE_CONVERTER, record)
                pending[partition_key] = (record.partition, record.offset)
                continue
            if record.headers or record.timestamp_ms is not None or record.kafka_partition is not None:
                self._produce_with_options(producer, record, key, value)
            else:
                try:
                    produce(topic, value, key)
                except BufferError:
                    # librdkafka's queue is full: serve delivery reports until it drains.
                    self._produce_with_options(producer, record, key, value)
            pending[partition_key] = (record.partition, record.offset)
            sent += 1
        self._unacked += sent

    def _produce_with_options(
        self, producer: t.Any, record: SourceRecord, key: bytes | None, value: bytes | None
    ) -> None:
        kwargs: dict[str, t.Any] = {}
        if record.headers:
            kwargs["headers"] = list(record.headers)
        if record.timestamp_ms is not None:
            kwargs["timestamp"] = record.timestamp_ms
        if record.kafka_partition is not None:
            kwargs["partition"] = record.kafka_partition
        while True:
            try:
                producer.produce(record.topic, value, key, on_delivery=self._on_delivery, **kwargs)
                return
            except BufferError:
                producer.poll(0.1)

    def _commit_transaction(self, producer: t.Any, errors: ErrorHandler, task: t.Any) -> None:
        """Commit this poll's records and their offsets atomically, then open the next transaction.

        The offsets go to the offset topic through the same transactional producer, so a
        consumer reading committed data sees the records exactly when the offsets that
        skip them are stored; a crash before the commit leaves neither.
        """
        from confluent_kafka import KafkaException

        env = self.env
        store = t.cast(KafkaOffsetStore, env.offset_store)
        started = time.monotonic()
        entries = {key: offset for key, (_p, offset) in self._pending.items()}
        for key, value in store.offset_messages(entries):
            producer.produce(store.topic, value, key)
        errors.flush()  # dead letters are written outside the transaction, before it commits
        try:
            producer.commit_transaction(60)
        except KafkaException as exc:
            env.metrics.offset_commit_failure.inc()
            msg = f"transaction of {self.name}-{env.task_id} not committed ({exc}); restarting from committed offsets"
            raise FatalError(msg) from exc
        store.remember(entries)
        env.metrics.source_record_write.inc(self._unacked)
        env.metrics.offset_commit_success.inc()
        env.metrics.offset_commit_time.observe((time.monotonic() - started) * 1000)
        self._unacked = 0
        pending, self._pending = self._pending, {}
        producer.begin_transaction()
        task.commit(list(pending.values()))

    def _record_failed(self, errors: ErrorHandler, exc: RecordError, stage: Stage, record: SourceRecord) -> None:
        partition = orjson.dumps(dict(record.partition)).decode()
        where = f"record at {partition} offset {orjson.dumps(dict(record.offset)).decode()}"
        try:
            raw = to_json_bytes({"key": record.key, "value": record.value})
        except TypeError:
            raw = repr((record.key, record.value)).encode()
        errors.handle(exc, stage=stage, where=where, topic=record.topic, value=raw)

    def _on_delivery(self, error: t.Any, _message: t.Any) -> None:
        if error is not None:
            self._delivery_errors.append(str(error))

    def _commit(self, producer: t.Any, errors: ErrorHandler, task: t.Any) -> None:
        """Store offsets for everything acknowledged; never for anything that is not."""
        env = self.env
        started = time.monotonic()
        remaining = producer.flush(60)
        if remaining:
            env.metrics.offset_commit_failure.inc()
            msg = f"{remaining} records not acknowledged by Kafka within 60 s; offsets not stored"
            raise RetriableError(msg)
        if self._delivery_errors:
            env.metrics.offset_commit_failure.inc()
            msg = f"Kafka rejected records: {self._delivery_errors[:3]}; offsets not stored"
            raise FatalError(msg)
        env.metrics.source_record_write.inc(self._unacked)
        self._unacked = 0
        errors.flush()
        if not self._pending:
            return
        pending = self._pending
        retry_call(
            lambda: env.offset_store.put_many({key: offset for key, (_p, offset) in pending.items()}),
            env.retry_policy,
            what=f"{self.name}-{env.task_id} offset commit",
        )
        self._pending = {}
        env.metrics.offset_commit_success.inc()
        env.metrics.offset_commit_time.observe((time.monotonic() - started) * 1000)
        task.commit([(partition, offset) for partition, offset in pending.values()])


def _abort_quietly(producer: t.Any) -> None:
    """Abort a failed task's open transaction; its records were never visible."""
    from confluent_kafka import KafkaException

    try:
        producer.abort_transaction(10)
    except KafkaException as exc:
        log.warning("could not abort the transaction of a failed task: %s", exc)


class SinkTaskRunner:
    """Runs one sink task in consumer group ``connect-<name>`` until ``stop`` is set."""

    def __init__(self, env: TaskEnvironment, max_poll_records: int = 2000) -> None:
        self.env = env
        self.name = env.framework.name
        self.max_poll_records = max_poll_records
        self._next: dict[tuple[str, int], int] = {}
        self._committed: dict[tuple[str, int], int] = {}
        self._batches: list[t.Sequence[t.Any]] = []
        self._index: dict[tuple[str, int, int], t.Any] | None = None
        self._task: t.Any = None
        self._consumer: t.Any = None
        self._errors: ErrorHandler | None = None

    def _topics(self) -> list[str]:
        framework = self.env.framework
        if framework.topics_regex:
            pattern = framework.topics_regex
            return [pattern if pattern.startswith("^") else f"^{pattern}"]
        return [topic.strip() for topic in (framework.topics or "").split(",") if topic.strip()]

    def run(self, stop: threading.Event, on_state: StateListener, paused: threading.Event | None = None) -> None:
        """Build the task, consume, put, and commit after each flush; on ``stop``, commit and return.

        While ``paused`` is set the consumer is paused on every assigned partition
        (including partitions assigned during the pause) and the task gets no records;
        it stays in the group and what it flushed is committed as the pause begins.
        """
        from confluent_kafka import Consumer

        env = self.env
        self._errors = env.error_handler()
        self._task = env.plugin_class.task_class(
            env.task_config, SinkTaskContext(self.name, env.task_id, report=self._report)
        )
        self._consumer = Consumer({**env.consumer_config, "logger": _client_log})
        self._consumer.subscribe(self._topics(), on_revoke=self._on_revoke, on_lost=self._on_lost)
        paused = paused if paused is not None else threading.Event()
        reported = "PAUSED" if paused.is_set() else "RUNNING"
        on_state(reported)
        last_commit = time.monotonic()
        try:
            while not stop.is_set():
                if paused.is_set() != (reported == "PAUSED"):
                    if paused.is_set():
                        self._consumer.pause(self._consumer.assignment())
                        self._commit()
                        last_commit = time.monotonic()
                        reported = "PAUSED"
                    else:
                        self._resume_after_retry()
                        reported = "RUNNING"
                    on_state(reported)
                messages = self._consumer.consume(self.max_poll_records, 0.2)
                if reported == "PAUSED":
                    self._hold(messages)
                elif messages:
                    self._deliver(messages, stop)
                if time.monotonic() - last_commit >= env.flush_interval_s:
                    self._commit()
                    last_commit = time.monotonic()
            self._commit()
        finally:
            try:
                self._task.close()
            finally:
                self._errors.close()
                # close() leaves the group; after a failure nothing more was committed,
                # so the next owner of the partitions replays the uncommitted window.
                self._consumer.close()

    def _deliver(self, messages: t.Sequence[t.Any], stop: threading.Event) -> None:
        from confluent_kafka import KafkaError

        env = self.env
        assert self._errors is not None
        key_converter = env.key_converter
        value_converter = env.value_converter
        records: list[SinkRecord] = []
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    msg = f"consumer failed: {error}"
                    raise FatalError(msg)
                log.warning("consumer error on %s: %s", self.name, error)
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            last[(topic, partition)] = offset + 1
            stage = Stage.KEY_CONVERTER
            try:
                key = key_converter.from_bytes(topic, message.key())
                stage = Stage.VALUE_CONVERTER
                value = value_converter.from_bytes(topic, message.value())
            except RecordError as exc:
                self._errors.handle(
                    exc,
                    stage=stage,
                    where=f"{topic}-{partition}@{offset}",
                    topic=topic,
                    partition=partition,
                    offset=offset,
                    key=message.key(),
                    value=message.value(),
                    headers=message.headers() or (),
                )
                continue
            headers = message.headers()
            records.append(
                SinkRecord(
                    topic, partition, offset, key, value, tuple(headers) if headers else (), message.timestamp()[1]
                )
            )
        # Kept until the next commit so that a record reported later (from a buffering
        # sink's flush) can still go to the dead-letter topic with its original bytes.
        self._batches.append(messages)
        self._index = None
        env.metrics.sink_record_read.inc(len(messages))
        if records:
            started = time.monotonic()
            retry_call(
                lambda: self._task.put(records),
                env.retry_policy,
                what=f"{self.name}-{env.task_id} put",
                stop=stop,
                on_retry=self._pause_for_retry,
                wait=lambda seconds: self._wait_paused(seconds, stop),
            )
            self._resume_after_retry()
            env.metrics.put_batch_time.observe((time.monotonic() - started) * 1000)
            env.metrics.sink_record_send.inc(len(records))
        self._next.update(last)

    def _hold(self, messages: t.Sequence[t.Any]) -> None:
        """While paused: pause partitions assigned since, and rewind any that still
        delivered ``messages`` (fetched before their pause) so they are read after resume."""
        from confluent_kafka import TopicPartition

        first: dict[tuple[str, int], int] = {}
        for message in messages:
            if message.error() is None:
                tp = (message.topic(), message.partition())
                first[tp] = min(first.get(tp, message.offset()), message.offset())
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.pause(assignment)
        for (topic, partition), offset in first.items():
            self._consumer.seek(TopicPartition(topic, partition, offset))

    def _pause_for_retry(self, _exc: RetriableError) -> None:
        self.env.metrics.total_retries.inc()
        self._consumer.pause(self._consumer.assignment())

    def _resume_after_retry(self) -> None:
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.resume(assignment)

    def _wait_paused(self, seconds: float, stop: threading.Event) -> bool:
        # Keep polling while paused so the group does not evict us during a long retry.
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if stop.is_set():
                return True
            self._consumer.poll(min(0.2, max(0.0, deadline - time.monotonic())))
        return stop.is_set()

    def _original(self, record: SinkRecord) -> t.Any:
        """The consumed message behind ``record`` (indexed lazily: reports are rare)."""
        if self._index is None:
            self._index = {
                (m.topic(), m.partition(), m.offset()): m for batch in self._batches for m in batch if m.error() is None
            }
        return self._index.get((record.topic, record.partition, record.offset))

    def _report(self, record: SinkRecord, error: BaseException) -> None:
        assert self._errors is not None
        message = self._original(record)
        self._errors.handle(
            error,
            stage=Stage.TASK_PUT,
            where=f"{record.topic}-{record.partition}@{record.offset}",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=message.key() if message is not None else None,
            value=message.value() if message is not None else None,
            headers=(message.headers() or ()) if message is not None else (),
        )

    def _commit(self, partitions: t.Collection[tuple[str, int]] | None = None) -> None:
        from confluent_kafka import TopicPartition

        env = self.env
        assert self._errors is not None
        current = {tp: offset for tp, offset in self._next.items() if partitions is None or tp in partitions}
        started = time.monotonic()
        safe = self._task.pre_commit(current)
        self._errors.flush()
        changed = {tp: offset for tp, offset in safe.items() if self._committed.get(tp) != offset}
        if not changed:
            env.metrics.offset_commit_skip.inc()
            if partitions is None:
                self._forget_batches()
            return
        try:
            self._consumer.commit(
                offsets=[TopicPartition(topic, partition, offset) for (topic, partition), offset in changed.items()],
                asynchronous=False,
            )
        except Exception as exc:
            env.metrics.offset_commit_failure.inc()
            msg = f"consumer offset commit failed: {exc}"
            raise RetriableError(msg) from exc
        self._committed.update(changed)
        if partitions is None:
            self._forget_batches()
        env.metrics.offset_commit_completion.inc()
        env.metrics.offset_commit_success.inc()
        env.metrics.offset_commit_time.observe((time.monotonic() - started) * 1000)

    def _forget_batches(self) -> None:
        self._batches = []
        self._index = None

    def _on_revoke(self, _consumer: t.Any, partitions: list[t.Any]) -> None:
        """Flush and commit what was read from partitions that are moving away."""
        revoked = {(p.topic, p.partition) for p in partitions}
        if self._task is not None and revoked:
            self._commit(revoked)
        for tp in revoked:
            self._next.pop(tp, None)
            self._committed.pop(tp, None)

    def _on_lost(self, _consumer: t.Any, partitions: list[t.Any]) -> None:
        """Partitions lost without a clean hand-over: drop their state, commit nothing."""
        for p in partitions:
            self._next.pop((p.topic, p.partition), None)
            self._committed.pop((p.topic, p.partition), None)
