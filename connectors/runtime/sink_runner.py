"""The loop that drives one sink task in consumer group ``connect-<name>``.

consume -> convert -> ``put`` -> ``pre_commit`` (which flushes) -> dead-letter writes
acknowledged -> consumer offsets committed. A crash anywhere replays the uncommitted
window; nothing is skipped.

A paused sink (Kafka Connect's PAUSED target state) commits what it flushed and pauses its
consumer on every assigned partition, staying in its group. Clearing the event resumes
where it was.
"""

from __future__ import annotations

import logging
import threading
import time
import typing as t

from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.runtime.dlq import ErrorHandler, Stage
from headwater.connectors.runtime.retry import retry_call
from headwater.connectors.runtime.tasks import CLIENT_LOG, StateListener, TaskEnvironment

__all__ = ["SinkTaskRunner"]

log = logging.getLogger(__name__)


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
            env.task_config,
            SinkTaskContext(
                self.name, env.task_id, report=self._report, scratch_dir=env.scratch_dir, metrics=env.plugin_metrics
            ),
        )
        self._consumer = Consumer({**env.consumer_config, "logger": CLIENT_LOG})
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
                self._task.stop()
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
                key = key_converter.to_connect_data(topic, message.key())
                stage = Stage.VALUE_CONVERTER
                value = value_converter.to_connect_data(topic, message.value())
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
                    topic,
                    partition,
                    offset,
                    key.value,
                    value.value,
                    tuple(headers) if headers else (),
                    message.timestamp()[1],
                    key_schema=key.schema,
                    value_schema=value.schema,
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
