"""The loop that drives one source task.

``poll`` -> transforms -> convert -> produce (idempotent, ``acks=all``) -> ``flush`` until every record
is acknowledged -> dead-letter writes acknowledged -> offsets stored -> the task's
``commit`` hook. A crash anywhere replays the uncommitted window; nothing is skipped.
An :class:`~headwater.connectors.api.OffsetMarker` among the polled records is stored like
the offset of a record, with no Kafka record.

The runner obeys a ``paused`` event (Kafka Connect's PAUSED target state): a paused
source stops calling ``poll`` after flushing and storing the offsets of what it already
produced. Clearing the event resumes where it was. Between polls it waits as long as
the task asked (``context.next_poll_in``), or briefly after an empty poll, serving stop,
pause and offset commits meanwhile; a poll that raises ``RetriableError`` is retried
after a backoff of at least the error's ``retry_after_ms``.

With ``exactly.once.source.support=enabled`` a source task's producer is transactional:
records and the offset records that skip them are written in one Kafka transaction, so
consumers reading committed data (librdkafka's default) see each record exactly once,
whatever moment a crash hits. Where a transaction ends is the connector's
``transaction.boundary`` (KIP-618): after every non-empty ``poll()`` (``poll``), every
``transaction.boundary.interval.ms`` (``interval``), or where the task marks it through
``context.transactions`` (``connector``).
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

import orjson

from headwater.codecs.converters import to_json_bytes
from headwater.connectors.api import (
    ErrantSourceRecord,
    OffsetMarker,
    SourceOffset,
    SourcePartition,
    SourceRecord,
    SourceTaskContext,
)
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.runtime.dlq import ErrorHandler, Stage
from headwater.connectors.runtime.logs import BatchTally
from headwater.connectors.runtime.offsets import ConnectorOffsets, KafkaOffsetStore, offset_key
from headwater.connectors.runtime.retry import retry_call
from headwater.connectors.runtime.tasks import StateListener, TaskEnvironment
from headwater.connectors.transforms import TransformChain, TransformError

__all__ = ["SourceTaskRunner"]

log = logging.getLogger(__name__)

_MIN_RUN = 8
"""Fewest plain records in a row that ``_send`` converts a run at a time."""
IDLE_WAIT_S = 0.05
"""The wait after an empty poll when the task asked for none (no busy loop)."""
PAUSED_WAIT_S = 0.1
"""How often a wait looks at the pause event."""

Polled: t.TypeAlias = SourceRecord | ErrantSourceRecord | OffsetMarker


class _Marks:
    """The :class:`~headwater.connectors.api.TransactionContext` of a task under
    ``transaction.boundary=connector``: collects the marks of one ``poll()``."""

    def __init__(self) -> None:
        self.after: dict[int, tuple[str, Polled]] = {}
        self.batch: str | None = None

    def commit_transaction(self, record: SourceRecord | OffsetMarker | None = None) -> None:
        self._mark("commit", record)

    def abort_transaction(self, record: SourceRecord | OffsetMarker | None = None) -> None:
        self._mark("abort", record)

    def _mark(self, action: str, record: Polled | None) -> None:
        if record is None:
            self.batch = action
        else:
            self.after[id(record)] = (action, record)

    def take(self) -> tuple[dict[int, tuple[str, Polled]], str | None]:
        """The marks of the poll that just returned; clears them for the next one."""
        after, batch = self.after, self.batch
        self.after, self.batch = {}, None
        return after, batch


class SourceTaskRunner:
    """Runs one source task until ``stop`` is set; raises if the task fails."""

    def __init__(self, env: TaskEnvironment) -> None:
        self.env = env
        self.name = env.framework.name
        self._pending: dict[bytes, tuple[SourcePartition, SourceOffset]] = {}
        self._partition_keys: dict[tuple[tuple[str, t.Any], ...], bytes] = {}
        self._delivery_errors: list[str] = []
        self._unacked = 0
        self._exactly_once = env.transactional_id is not None
        self._boundary = env.framework.transaction_boundary if self._exactly_once else "poll"
        interval_ms = env.framework.transaction_boundary_interval_ms
        self._interval_s = (
            interval_ms / 1000 if self._boundary == "interval" and interval_ms is not None else env.flush_interval_s
        )
        """Offsets are stored (or an ``interval`` transaction committed) this often."""
        self._last_commit = time.monotonic()

    def run(self, stop: threading.Event, on_state: StateListener, paused: threading.Event | None = None) -> None:
        """Build the task from stored offsets and loop; on ``stop``, commit and return.

        While ``paused`` is set the task is not polled; what it produced before is
        flushed and its offsets stored as the pause begins (an unmarked transaction of
        ``transaction.boundary=connector`` stays open), and the task stays open.
        """
        from confluent_kafka import Producer

        env = self.env
        exactly_once = self._exactly_once
        marks = _Marks() if self._boundary == "connector" else None
        context = SourceTaskContext(
            self.name,
            env.task_id,
            ConnectorOffsets(env.offset_store, self.name),
            scratch_dir=env.scratch_dir,
            metrics=env.plugin_metrics,
            transactions=marks,
            status=env.report,
        )
        task = env.make_task(context)
        # The delivery callback is the producer's default (with delivery.report.only.error,
        # only failures reach it): passed per produce() call it cost about 1.8 us a record.
        client_config = {**env.producer_config, **env.client_hooks(), "on_delivery": self._on_delivery}
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
        self._last_commit = time.monotonic()
        tally = BatchTally(log, f"{self.name}-{env.task_id} polled")
        try:
            while not stop.is_set():
                if paused.is_set():
                    if reported != "PAUSED":
                        if not exactly_once:
                            self._commit(producer, errors, task)
                        elif self._boundary != "connector" and self._has_content():
                            self._commit_transaction(producer, errors, task)
                        reported = "PAUSED"
                        on_state(reported)
                    producer.poll(0)
                    stop.wait(PAUSED_WAIT_S)
                    continue
                if reported != "RUNNING":
                    reported = "RUNNING"
                    on_state(reported)
                context.next_poll_delay_ms = 0
                started = time.monotonic()
                records = retry_call(
                    task.poll,
                    env.retry_policy,
                    what=f"{self.name}-{env.task_id} poll",
                    stop=stop,
                    on_retry=lambda _exc: env.metrics.total_retries.inc(),
                )
                tally.add(len(records) if records else 0)
                if records:
                    env.metrics.poll_batch_time.observe((time.monotonic() - started) * 1000)
                    env.metrics.source_record_poll.inc(len(records))
                if marks is not None:
                    self._dispatch_marked(producer, errors, task, records, marks)
                elif records:
                    self._send(producer, errors, records)
                env.metrics.active = self._unacked
                producer.poll(0)
                if records and exactly_once and self._boundary == "poll":
                    self._commit_transaction(producer, errors, task)
                self._commit_if_due(producer, errors, task)
                delay_ms = context.next_poll_delay_ms
                delay = delay_ms / 1000 if delay_ms > 0 else (0.0 if records else IDLE_WAIT_S)
                if delay > 0:
                    self._wait(delay, stop, paused, producer, errors, task)
            if exactly_once:
                if self._boundary != "connector" and self._has_content():
                    self._commit_transaction(producer, errors, task)
                # Empty, or a transaction the task never marked: aborted, polled again after a restart.
                producer.abort_transaction(30)
            else:
                self._commit(producer, errors, task)
            failed = False
        finally:
            try:
                task.stop()
            finally:
                context.close()
                errors.close()
                if failed and exactly_once:
                    _abort_quietly(producer)
                producer.flush(5)

    def _has_content(self) -> bool:
        """Whether the open transaction holds records or offsets."""
        return bool(self._pending) or self._unacked > 0

    def _commit_if_due(self, producer: t.Any, errors: ErrorHandler, task: t.Any) -> float | None:
        """Store offsets (or commit an ``interval`` transaction) if the interval has passed.

        Returns the seconds until the next one is due, or None when commits follow
        ``poll()`` or the task's marks instead of the clock.
        """
        if self._exactly_once and self._boundary != "interval":
            return None
        elapsed = time.monotonic() - self._last_commit
        if elapsed < self._interval_s:
            return self._interval_s - elapsed
        if self._exactly_once:
            if self._has_content():
                self._commit_transaction(producer, errors, task)
        else:
            self._commit(producer, errors, task)
        self._last_commit = time.monotonic()
        return self._interval_s

    def _wait(
        self,
        seconds: float,
        stop: threading.Event,
        paused: threading.Event,
        producer: t.Any,
        errors: ErrorHandler,
        task: t.Any,
    ) -> None:
        """Wait ``seconds`` before the next poll; returns early on stop or pause, and
        stores offsets (or commits an interval transaction) when one falls due meanwhile."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and not paused.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            due = self._commit_if_due(producer, errors, task)
            producer.poll(0)
            stop.wait(max(0.0, min(remaining, PAUSED_WAIT_S, due if due is not None else remaining)))

    def _dispatch_marked(
        self, producer: t.Any, errors: ErrorHandler, task: t.Any, records: t.Sequence[Polled], marks: _Marks
    ) -> None:
        """Send a poll's records, committing or aborting the transaction where the task marked it."""
        after, batch = marks.take()
        start = 0
        if after:
            for index, record in enumerate(records):
                mark = after.pop(id(record), None)
                if mark is None or mark[1] is not record:
                    continue
                self._send(producer, errors, records[start : index + 1])
                start = index + 1
                self._end_transaction(mark[0], producer, errors, task)
            if after:
                _action, stray = next(iter(after.values()))
                msg = (
                    f"task {self.name}-{self.env.task_id} marked a transaction end after a record its poll() did "
                    f"not return ({type(stray).__name__} of partition {dict(stray.partition)})"
                )
                raise FatalError(msg)
        if start < len(records):
            self._send(producer, errors, records[start:])
        if batch is not None:
            self._end_transaction(batch, producer, errors, task)

    def _end_transaction(self, action: str, producer: t.Any, errors: ErrorHandler, task: t.Any) -> None:
        if action == "commit":
            if self._has_content():
                self._commit_transaction(producer, errors, task)
        else:
            self._abort_transaction(producer)

    def _abort_transaction(self, producer: t.Any) -> None:
        """Abort the open transaction at the task's request: its records are never
        visible to read_committed consumers and its offsets are not stored."""
        from confluent_kafka import KafkaException

        try:
            producer.abort_transaction(60)
        except KafkaException as exc:
            msg = (
                f"transaction of {self.name}-{self.env.task_id} not aborted ({exc}); restarting from committed offsets"
            )
            raise FatalError(msg) from exc
        self._pending = {}
        self._unacked = 0
        self._delivery_errors.clear()
        producer.begin_transaction()

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

    def _send(self, producer: t.Any, errors: ErrorHandler, records: t.Sequence[Polled]) -> None:
        """Convert and produce ``records`` in order (markers and errant records store their
        offsets). A run of at least ``_MIN_RUN`` plain records (one topic, one partition
        object, the same schema objects, no headers, timestamp or Kafka partition, no
        transforms) is converted by each converter's ``from_connect_batch`` in one call;
        the rest, record by record (``_send_each``)."""
        count = len(records)
        if self.env.transforms or count < _MIN_RUN:
            self._send_each(producer, errors, records)
            return
        start = index = 0  # records[start:index] wait for _send_each
        while index < count:
            first = records[index]
            end = index  # records[index:end]: a run like first (none if first is no SourceRecord)
            if type(first) is SourceRecord:
                topic, partition = first.topic, first.partition
                key_schema, value_schema = first.key_schema, first.value_schema
                while end < count:
                    record = records[end]
                    if (
                        type(record) is not SourceRecord
                        or record.partition is not partition
                        or record.topic != topic
                        or record.key_schema is not key_schema
                        or record.value_schema is not value_schema
                        or record.headers
                        or record.timestamp_ms is not None
                        or record.kafka_partition is not None
                    ):
                        break
                    end += 1
            if end - index >= _MIN_RUN:
                if start < index:
                    self._send_each(producer, errors, records[start:index])
                self._send_run(producer, errors, t.cast(t.Sequence[SourceRecord], records[index:end]))
                start = end
            index = max(end, index + 1)
        if start < count:
            self._send_each(producer, errors, records[start:])

    def _send_run(self, producer: t.Any, errors: ErrorHandler, run: t.Sequence[SourceRecord]) -> None:
        """One run of plain records (see ``_send``): converted a run at a time, produced in
        order; if a converter refuses any of them, the run goes record by record, so that
        each bad record is named and handled and the others go on."""
        first, last = run[0], run[-1]
        topic = first.topic
        env = self.env
        try:
            keys = env.key_converter.from_connect_batch(topic, first.key_schema, [record.key for record in run])
            values = env.value_converter.from_connect_batch(topic, first.value_schema, [record.value for record in run])
        except RecordError:
            self._send_each(producer, errors, run)
            return
        if len(keys) != len(run) or len(values) != len(run):
            msg = f"a converter gave {len(keys)} keys and {len(values)} values for {len(run)} records"
            raise FatalError(msg)
        creator, tracker = env.topic_creator, env.topics
        if creator is not None and topic not in creator.seen:
            creator.ensure(topic)
        if tracker is not None and topic not in tracker.seen:
            tracker.add(topic)
        produce = producer.produce
        for record, key, value in zip(run, keys, values, strict=True):
            try:
                produce(topic, value, key)
            except BufferError:
                # librdkafka's queue is full: serve delivery reports until it drains.
                self._produce_with_options(producer, record, key, value)
        self._pending[self._partition_key(first.partition)] = (last.partition, last.offset)
        self._unacked += len(run)

    def _send_each(self, producer: t.Any, errors: ErrorHandler, records: t.Sequence[Polled]) -> None:
        """``_send`` record by record: transforms, each converter call, each error handled."""
        key_to_bytes = self.env.key_converter.from_connect_data
        value_to_bytes = self.env.value_converter.from_connect_data
        produce = producer.produce
        pending = self._pending
        transforms = self.env.transforms or None
        creator = self.env.topic_creator
        tracker = self.env.topics
        seen = tracker.seen if tracker is not None else None
        sent = 0
        # Most records of a batch share one partition object; within a batch (no task code
        # runs here) the same object means the same key.
        last_partition: t.Any = None
        partition_key = b""
        for record in records:
            if record.partition is not last_partition:
                last_partition = record.partition
                partition_key = self._partition_key(last_partition)
            if isinstance(record, OffsetMarker):
                pending[partition_key] = (record.partition, record.offset)
                continue
            if isinstance(record, ErrantSourceRecord):
                where = record.error.location or orjson.dumps(dict(record.partition)).decode()
                errors.handle(record.error, stage=Stage.TASK_POLL, where=where, value=record.raw or None)
                pending[partition_key] = (record.partition, record.offset)
                continue
            if transforms is not None:
                transformed = self._transform(errors, record, transforms)
                if transformed is None:  # dropped by a transform, or sent to the dead-letter topic
                    pending[partition_key] = (record.partition, record.offset)
                    continue
                record = transformed
            topic = record.topic
            if creator is not None and topic not in creator.seen:
                creator.ensure(topic)
            if seen is not None and topic not in seen:
                assert tracker is not None
                tracker.add(topic)
            try:
                key = key_to_bytes(topic, record.key_schema, record.key)
            except RecordError as exc:
                self._record_failed(errors, exc, Stage.KEY_CONVERTER, record)
                pending[partition_key] = (record.partition, record.offset)
                continue
            try:
                value = value_to_bytes(topic, record.value_schema, record.value)
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
                producer.produce(record.topic, value, key, **kwargs)
                return
            except BufferError:
                producer.poll(0.1)

    def _commit_transaction(self, producer: t.Any, errors: ErrorHandler, task: t.Any) -> None:
        """Commit the open transaction's records and their offsets atomically, then open the next one.

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
        elapsed_ms = (time.monotonic() - started) * 1000
        env.metrics.offset_commit_time.observe(elapsed_ms)
        log.debug("committed a transaction of %d records and %d offsets in %.1f ms",
                  self._unacked, len(entries), elapsed_ms)  # fmt: skip
        if env.report is not None:
            env.report.clear_warning()
        self._unacked = 0
        env.metrics.active = 0
        self._last_commit = time.monotonic()
        pending, self._pending = self._pending, {}
        producer.begin_transaction()
        task.commit(list(pending.values()))

    def _transform(self, errors: ErrorHandler, record: SourceRecord, transforms: TransformChain) -> SourceRecord | None:
        """The record after the connector's transforms; None if they dropped it or it failed
        (then it went to ``errors``, stage TRANSFORMATION, or the task fails)."""
        try:
            return transforms.apply(record)
        except TransformError as exc:
            self._record_failed(errors, exc, Stage.TRANSFORMATION, record, class_name=exc.class_name)
            return None

    def _record_failed(
        self, errors: ErrorHandler, exc: RecordError, stage: Stage, record: SourceRecord, class_name: str | None = None
    ) -> None:
        partition = orjson.dumps(dict(record.partition)).decode()
        where = f"record at {partition} offset {orjson.dumps(dict(record.offset)).decode()}"
        try:
            raw = to_json_bytes({"key": record.key, "value": record.value})
        except TypeError:
            raw = repr((record.key, record.value)).encode()
        errors.handle(exc, stage=stage, where=where, topic=record.topic, value=raw, class_name=class_name)

    def _on_delivery(self, error: t.Any, _message: t.Any) -> None:
        if error is not None:
            self._delivery_errors.append(str(error))

    def _commit(self, producer: t.Any, errors: ErrorHandler, task: t.Any) -> None:
        """Store offsets for everything acknowledged; never for anything that is not."""
        env = self.env
        started = time.monotonic()
        remaining = producer.flush(env.flush_timeout_s)
        if remaining:
            env.metrics.offset_commit_failure.inc()
            msg = (
                f"{remaining} records not acknowledged by Kafka within {env.flush_timeout_s:g} s "
                "(offset.flush.timeout.ms); offsets not stored"
            )
            raise RetriableError(msg)
        if self._delivery_errors:
            env.metrics.offset_commit_failure.inc()
            msg = f"Kafka rejected records: {self._delivery_errors[:3]}; offsets not stored"
            raise FatalError(msg)
        env.metrics.source_record_write.inc(self._unacked)
        if self._unacked and env.report is not None:
            env.report.clear_warning()  # Kafka acknowledged records: it is reachable again
        self._unacked = 0
        env.metrics.active = 0
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
        elapsed_ms = (time.monotonic() - started) * 1000
        env.metrics.offset_commit_time.observe(elapsed_ms)
        log.debug("stored the offsets of %d source partition(s) in %.1f ms", len(pending), elapsed_ms)
        task.commit([(partition, offset) for partition, offset in pending.values()])


def _abort_quietly(producer: t.Any) -> None:
    """Abort a failed task's open transaction; its records were never visible."""
    from confluent_kafka import KafkaException

    try:
        producer.abort_transaction(10)
    except KafkaException as exc:
        log.warning("could not abort the transaction of a failed task: %s", exc)
