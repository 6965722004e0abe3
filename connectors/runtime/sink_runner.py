"""The loop that drives one sink task in consumer group ``connect-<name>``.

consume -> convert -> transforms -> ``put`` -> ``pre_commit`` -> emitted and dead-letter
records acknowledged -> consumer offsets committed. A crash anywhere replays the
uncommitted window; nothing is skipped. Two threads per task:

- the *consumer thread* (the one the worker starts) owns the consumer: it polls without
  pause, runs the rebalance callbacks, pauses and resumes partitions, converts records,
  and commits offsets;
- the *task thread* (a single-thread executor) makes every call into the plugin:
  construction, ``open``, ``put``, ``pre_commit`` (which flushes), ``close`` and ``stop``,
  never two at once, as :class:`~headwater.connectors.api.SinkTask` promises.

So a ``put()`` that takes longer than ``max.poll.interval.ms`` does not get the task
evicted: the consumer thread keeps calling ``consume()`` meanwhile. A sink that declares
``Capability.QUICK_CALLS`` (its hooks do local work and return promptly) has no task
thread: the consumer thread makes those calls itself, as Kafka Connect's does, which
spares handing every batch to another thread and core.

Commit order: ``put`` -> ``pre_commit`` -> emitted records acknowledged -> dead-letter
writes acknowledged -> consumer offsets committed, exactly as ``pre_commit`` returned
them. A crash anywhere replays the uncommitted window; nothing is skipped.

Memory: the runtime fills a put buffer of ``max.poll.records`` records
(``consumer.override.max.poll.records``, default 500) while the task works on the
previous batch. Once it is full, it polls at most one record every half second (to stay
in the group), and at twice ``max.poll.records`` it pauses every partition (records that
still arrive are rewound with a seek, not kept). Each record's original key, value and
headers are kept until its offset is committed (so a record reported late still reaches
the dead-letter topic as it was read); past ``uncommitted.max.bytes`` of them the
runtime fetches as if the put buffer were full and asks for a commit every second until
``pre_commit`` lets some go. A sink that holds its commit point back must therefore
commit before it has buffered that much. librdkafka's own fetch queue
(``queued.max.messages.kbytes``) comes on top.

Pausing: a partition is paused in the consumer while any of these holds: the connector's
target state is PAUSED, the plugin paused it (``context.pause``), it waits for the retry
of a batch that raised :class:`RetriableError`, or the buffers are full. Each reason is
kept on its own, so ending one (a retry succeeds) never resumes a partition that another
(the plugin's pause) still holds. Records a paused partition still delivers (fetched
before the pause) are rewound with a seek and read again after the resume.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import operator
import queue
import random
import threading
import time
import typing as t
from dataclasses import dataclass, field

from headwater.codecs.schema import Schema
from headwater.connectors.api import Capability, Headers, SinkRecord, SinkTaskContext, TimestampType, TopicPartition
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.runtime import logs
from headwater.connectors.runtime.dlq import ErrorHandler, Stage
from headwater.connectors.runtime.subscription import TopicSubscription
from headwater.connectors.runtime.tasks import StateListener, TaskEnvironment
from headwater.connectors.transforms import TransformChain, TransformError

__all__ = ["DEFAULT_MAX_POLL_RECORDS", "RetainedRecords", "SinkTaskRunner", "partition_runs"]


_TIMESTAMP_NOT_AVAILABLE = 0
_CREATE_TIME = 1
_TIMESTAMP_TYPES: dict[int, TimestampType] = {1: "CreateTime", 2: "LogAppendTime"}
"""confluent-kafka's timestamp types (``Message.timestamp()[0]``: its ``TIMESTAMP_NOT_AVAILABLE``,
``TIMESTAMP_CREATE_TIME`` and ``TIMESTAMP_LOG_APPEND_TIME`` are 0, 1 and 2) by Kafka's names."""
log = logging.getLogger(__name__)

DEFAULT_MAX_POLL_RECORDS = 500
"""Kafka Connect's (the Java consumer's) ``max.poll.records`` default."""

_IDLE_POLL_S = 0.1
_BUSY_POLL_S = 0.02
_FULL_WAIT_S = 0.5
_LAG_EVERY_S = 5.0
"""How often the per-partition lag is read from the consumer's cached high watermarks."""


def _make_consumer(config: dict[str, t.Any]) -> t.Any:
    """The consumer a runner uses (a seam for tests that need to stall it)."""
    from confluent_kafka import Consumer

    return Consumer(config)


Original = tuple[bytes | None, bytes | None, Headers]


def partition_runs(messages: t.Sequence[t.Any]) -> list[tuple[TopicPartition, t.Sequence[t.Any]]]:
    """``messages`` (confluent-kafka ``Message``s) cut into runs of consecutive messages of
    one partition, in their order: what one ``consume()`` returns is mostly one run."""
    count = len(messages)
    if not count:
        return []
    topics = [message.topic() for message in messages]
    partitions = [message.partition() for message in messages]
    topic, partition = topics[0], partitions[0]
    if partitions.count(partition) == count and topics.count(topic) == count:
        return [((topic, partition), messages)]
    runs: list[tuple[TopicPartition, t.Sequence[t.Any]]] = []
    start = 0
    for index in range(1, count + 1):
        if index == count or partitions[index] != partition or topics[index] != topic:
            runs.append(((topic, partition), messages[start:index]))
            if index < count:
                start, topic, partition = index, topics[index], partitions[index]
    return runs


def _size(message: t.Any) -> int:
    key, headers = message.key(), message.headers()
    size = len(message) + (len(key) if key else 0)  # len(): the value's length
    if headers:
        size += sum(len(name) + len(data or b"") for name, data in headers)
    return size


class _Retained:
    """One partition's messages by offset, in the order they were read, with their byte total."""

    __slots__ = ("bytes", "in_order", "last", "records")

    def __init__(self) -> None:
        self.records: dict[int, t.Any] = {}
        self.bytes = 0
        self.last = -1
        self.in_order = True  # offsets were added ascending (a rewind can break it)


class RetainedRecords:
    """The consumed message (its original key, value and headers) of each record read and
    not yet committed.

    Thread-safe: the consumer thread adds and releases, ``get()`` reads from any thread.
    Costs per record about a dict entry, filled a run of one partition at a time: a run
    that continues its partition (the usual case) is added without a Python step per
    record, and a commit that covers everything read forgets a partition at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_partition: dict[TopicPartition, _Retained] = {}
        self.bytes = 0
        self.count = 0

    def add_messages(self, messages: t.Sequence[t.Any]) -> None:
        """Keep consumed messages (confluent-kafka ``Message``s, any partitions)."""
        self.add_runs(partition_runs(messages))

    def add_runs(self, runs: t.Iterable[tuple[TopicPartition, t.Sequence[t.Any]]]) -> None:
        """Keep runs of one partition's messages (see :func:`partition_runs`); one lock for
        them all, as the consumer thread reads hundreds at a time. A message read again
        (after a rewind) replaces the earlier read of its offset."""
        with self._lock:
            for tp, run in runs:
                retained = self._by_partition.get(tp)
                if retained is None:
                    retained = self._by_partition[tp] = _Retained()
                offsets = [message.offset() for message in run]
                if offsets[0] > retained.last and all(map(operator.lt, offsets, offsets[1:])):
                    retained.records.update(zip(offsets, run, strict=True))
                    if any(message.headers() for message in run):
                        size = sum(_size(message) for message in run)
                    else:  # len(): the value's length
                        size = sum(map(len, run)) + sum(map(len, filter(None, [m.key() for m in run])))
                    retained.last = offsets[-1]
                    retained.bytes += size
                    self.bytes += size
                    self.count += len(run)
                else:
                    for offset, message in zip(offsets, run, strict=True):
                        self._add(retained, offset, message)

    def _add(self, retained: _Retained, offset: int, message: t.Any) -> None:
        records = retained.records
        size = _size(message)
        old = records.get(offset)
        if old is not None:
            size -= _size(old)
            self.count -= 1
        elif offset < retained.last:
            retained.in_order = False
        else:
            retained.last = offset
        records[offset] = message
        retained.bytes += size
        self.bytes += size
        self.count += 1

    def get(self, tp: TopicPartition, offset: int) -> Original | None:
        """The original key, value and headers of the record at ``offset`` of ``tp``."""
        with self._lock:
            retained = self._by_partition.get(tp)
            message = None if retained is None else retained.records.get(offset)
        return None if message is None else _original(message)

    def find(self, partition: int, offset: int) -> Original | None:
        """The record at ``partition``/``offset`` of whichever topic holds one, if exactly one
        does: a transform may have renamed the topic of the record a sink reports."""
        with self._lock:
            found = [
                retained.records[offset]
                for (_topic, p), retained in self._by_partition.items()
                if p == partition and offset in retained.records
            ]
        return _original(found[0]) if len(found) == 1 else None

    def release(self, tp: TopicPartition, below: int) -> None:
        """Forget the records of ``tp`` before offset ``below`` (they are committed)."""
        with self._lock:
            retained = self._by_partition.get(tp)
            if retained is None or not retained.records:
                return
            records = retained.records
            if retained.in_order and retained.last < below:
                self.bytes -= retained.bytes
                self.count -= len(records)
                del self._by_partition[tp]
                return
            for offset in [offset for offset in records if offset < below]:
                size = _size(records.pop(offset))
                retained.bytes -= size
                self.bytes -= size
                self.count -= 1
            if not records:
                del self._by_partition[tp]

    def drop(self, tp: TopicPartition) -> None:
        """Forget every record of ``tp`` (the partition is no longer ours)."""
        with self._lock:
            retained = self._by_partition.pop(tp, None)
            if retained is not None:
                self.bytes -= retained.bytes
                self.count -= len(retained.records)


def _original(message: t.Any) -> Original:
    headers = message.headers()
    return message.key(), message.value(), tuple(headers) if headers else ()


@dataclass
class _Retry:
    """Records of a batch that raised :class:`RetriableError`, waiting to be put again."""

    partitions: frozenset[TopicPartition]
    records: list[SinkRecord]
    next_offsets: dict[TopicPartition, int]
    first_failure: float
    not_before: float
    attempts: int = 1


@dataclass
class _Job:
    """The one call running on the task thread."""

    kind: t.Literal["put", "commit"]
    future: concurrent.futures.Future[t.Any]
    started: float
    records: list[SinkRecord] = field(default_factory=list)
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    retry: _Retry | None = None
    on_committed: t.Callable[[], None] | None = None


class _TaskThread:
    """The one thread that calls into the plugin, one call at a time, in submission order.

    A daemon thread (unlike a ``ThreadPoolExecutor``'s), so that a ``put`` stuck for good
    in a task the worker gave up on does not keep the process from exiting.
    """

    def __init__(self, name: str, context: tuple[str, int] | None = None) -> None:
        self._context = context
        self._calls: queue.SimpleQueue[tuple[concurrent.futures.Future[t.Any], t.Callable[[], t.Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        if self._context is not None:
            logs.bind(*self._context)
        while (call := self._calls.get()) is not None:
            future, function = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as exc:
                    future.set_exception(exc)

    def submit(self, function: t.Callable[..., t.Any], *args: t.Any) -> concurrent.futures.Future[t.Any]:
        future: concurrent.futures.Future[t.Any] = concurrent.futures.Future()
        self._calls.put((future, lambda: function(*args)))
        return future

    def shutdown(self) -> None:
        """End the thread after the calls already submitted."""
        self._calls.put(None)


class _InlineCalls:
    """:class:`_TaskThread`'s interface for a sink that declares ``Capability.QUICK_CALLS``:
    each call runs at once on the calling thread (the consumer's), and its future is done
    when ``submit`` returns."""

    def submit(self, function: t.Callable[..., t.Any], *args: t.Any) -> concurrent.futures.Future[t.Any]:
        future: concurrent.futures.Future[t.Any] = concurrent.futures.Future()
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # delivered through the future, as from the task thread
            future.set_exception(exc)
        return future

    def shutdown(self) -> None:
        """Nothing to end."""


class _Emitter:
    """``context.emit``: converts and produces with an idempotent producer (built on first use)."""

    def __init__(self, env: TaskEnvironment) -> None:
        self._env = env
        self._lock = threading.Lock()
        self._producer: t.Any = None
        self._failures: list[str] = []

    def emit(self, topic: str, key: t.Any, value: t.Any, headers: Headers) -> None:
        from confluent_kafka import Producer

        with self._lock:
            if self._producer is None:
                self._producer = Producer({**self._env.producer_config, **self._env.client_hooks()})
            try:
                key_bytes = self._env.key_converter.to_bytes(topic, key)
                value_bytes = self._env.value_converter.to_bytes(topic, value)
            except RecordError as exc:
                msg = f"emit() to {topic}: the record cannot be converted: {exc}"
                raise RecordError(msg) from exc
            while True:
                try:
                    self._producer.produce(
                        topic, key=key_bytes, value=value_bytes, headers=list(headers), on_delivery=self._on_delivery
                    )
                    break
                except BufferError:
                    self._producer.poll(0.1)
            self._producer.poll(0)

    def _on_delivery(self, error: t.Any, _message: t.Any) -> None:
        if error is not None:
            self._failures.append(str(error))

    def flush(self) -> None:
        """Wait until every emitted record is acknowledged.

        Raises:
            FatalError: if one was not; the input offsets must not be committed then.
        """
        with self._lock:
            producer = self._producer
        if producer is None:
            return
        remaining = producer.flush(60)
        if remaining or self._failures:
            failures, self._failures = self._failures, []
            msg = f"Kafka did not take {remaining or len(failures)} emitted records: {failures[:3]}"
            raise FatalError(msg)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)


class _RuntimeSinkContext(SinkTaskContext):
    """The task context wired to a runner (see the thread rules of :class:`SinkTaskContext`)."""

    def __init__(self, runner: SinkTaskRunner) -> None:
        env = runner.env
        super().__init__(
            runner.name,
            env.task_id,
            report=runner.report,
            scratch_dir=env.scratch_dir,
            metrics=env.plugin_metrics,
            status=env.report,
        )
        self._runner = runner

    def assignment(self) -> frozenset[TopicPartition]:
        return self._runner.assignment()

    def pause(self, partitions: t.Iterable[TopicPartition]) -> None:
        self._runner.plugin_pause(partitions)

    def resume(self, partitions: t.Iterable[TopicPartition]) -> None:
        self._runner.plugin_resume(partitions)

    def request_commit(self) -> None:
        self._runner.commit_requested.set()

    def emit(self, topic: str, key: t.Any, value: t.Any, headers: Headers = ()) -> None:
        self._runner.emitter.emit(topic, key, value, headers)


class SinkTaskRunner:
    """Runs one sink task in consumer group ``connect-<name>`` until ``stop`` is set."""

    def __init__(self, env: TaskEnvironment, max_poll_records: int | None = None) -> None:
        self.env = env
        self.name = env.framework.name
        consumer_config = dict(env.consumer_config)
        configured = consumer_config.pop("max.poll.records", None)
        self.max_poll_records = max_poll_records or int(configured or DEFAULT_MAX_POLL_RECORDS)
        self._consumer_config = consumer_config
        self.batch_wait_s = env.framework.batch_max_wait_ms / 1000
        self.retained_limit = env.framework.uncommitted_max_bytes
        self.retained = RetainedRecords()
        self.emitter = _Emitter(env)
        self.commit_requested = threading.Event()
        self._subscription = self._subscription_of()
        self._lock = threading.Lock()
        self._assigned: set[TopicPartition] = set()
        self._plugin_paused: set[TopicPartition] = set()
        self._paused_now: set[TopicPartition] = set()
        self._held_now: set[TopicPartition] = set()
        self._target_paused = False
        self._pending: list[t.Any] = []
        self._pending_since: float | None = None
        self._next: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._retries: list[_Retry] = []
        self._job: _Job | None = None
        self._failure: BaseException | None = None
        self._closed = False
        self._task: t.Any = None
        self._context: SinkTaskContext | None = None
        self._consumer: t.Any = None
        self._errors: ErrorHandler | None = None
        self._executor: _TaskThread | _InlineCalls | None = None
        self._read_next: dict[TopicPartition, int] = {}
        """The offset after the last record read of each partition (for the lag)."""
        self._lag_at = 0.0
        self._tally = logs.BatchTally(log, f"{self.name}-{env.task_id} read")

    # -- what the task context calls (any thread) ------------------------------------

    def assignment(self) -> frozenset[TopicPartition]:
        with self._lock:
            return frozenset(self._assigned)

    def plugin_pause(self, partitions: t.Iterable[TopicPartition]) -> None:
        with self._lock:
            self._plugin_paused.update((topic, int(partition)) for topic, partition in partitions)

    def plugin_resume(self, partitions: t.Iterable[TopicPartition]) -> None:
        with self._lock:
            self._plugin_paused.difference_update((topic, int(partition)) for topic, partition in partitions)

    def report(self, record: SinkRecord, error: BaseException) -> None:
        """``context.report``: safe from any thread; the original bytes come from :attr:`retained`."""
        assert self._errors is not None
        original = self.retained.get((record.topic, record.partition), record.offset)
        if original is None and self.env.transforms:
            original = self.retained.find(record.partition, record.offset)
        if original is None:
            log.warning(
                "%s reported %s-%d@%d after its offset was committed: its original bytes are gone",
                self.name,
                record.topic,
                record.partition,
                record.offset,
            )
        key, value, headers = original if original is not None else (None, None, ())
        try:
            with self._lock:
                self._errors.handle(
                    error,
                    stage=Stage.TASK_PUT,
                    where=f"{record.topic}-{record.partition}@{record.offset}",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=key,
                    value=value,
                    headers=headers,
                )
        except BaseException as exc:
            # errors.tolerance=none: the task fails even if a plugin thread swallows this.
            with self._lock:
                self._failure = self._failure or exc
            raise

    # -- the consumer thread -----------------------------------------------------------

    def _subscription_of(self) -> TopicSubscription:
        framework = self.env.framework
        topics = [topic.strip() for topic in (framework.topics or "").split(",") if topic.strip()]
        return TopicSubscription(topics, framework.topics_regex)

    def run(self, stop: threading.Event, on_state: StateListener, paused: threading.Event | None = None) -> None:
        """Build the task, consume, put, and commit; on ``stop``, commit, close and return.

        While ``paused`` is set the consumer is paused on every assigned partition
        (including partitions assigned during the pause) and the task gets no records;
        it stays in the group, and what it flushed is committed as the pause begins.
        """
        env = self.env
        paused = paused if paused is not None else threading.Event()
        self._errors = env.error_handler()
        if Capability.QUICK_CALLS in getattr(env.plugin_class, "capabilities", frozenset()):
            self._executor = _InlineCalls()
        else:
            self._executor = _TaskThread(f"{self.name}-{env.task_id}-task", (self.name, env.task_id))
        try:
            context = self._context = _RuntimeSinkContext(self)
            self._task = self._call(lambda: env.make_task(context))
            self._consumer = _make_consumer({**self._consumer_config, **env.client_hooks()})
            self._subscription.start(
                self._consumer, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
            self._loop(stop, on_state, paused)
            self._finish_job()
            self._raise_failure()
            self._commit_now(None)
            self._close_all()
        finally:
            self._shutdown()

    def _loop(self, stop: threading.Event, on_state: StateListener, paused: threading.Event) -> None:
        reported = "PAUSED" if paused.is_set() else "RUNNING"
        self._target_paused = paused.is_set()
        on_state(reported)
        last_commit = time.monotonic()
        paused_since = time.monotonic() if self._target_paused else 0.0
        while not stop.is_set():
            self._raise_failure()
            if paused.is_set() and not self._target_paused:
                self._target_paused, paused_since = True, time.monotonic()
            elif not paused.is_set() and self._target_paused:
                self._target_paused = False
                for retry in self._retries:  # time paused does not count against errors.retry.timeout
                    retry.first_failure += time.monotonic() - paused_since
                if reported == "PAUSED":
                    reported = "RUNNING"
                    on_state(reported)
            self._subscription.refresh(self._consumer)
            self._apply_pauses()
            if self._full():
                # The put buffer is full: wait for the running put rather than fetch,
                # but still poll (a record at most) so the group keeps the task.
                if self._job is not None:
                    concurrent.futures.wait([self._job.future], timeout=_FULL_WAIT_S)
                self._take(self._consumer.consume(1, 0 if self._job is not None else _IDLE_POLL_S))
            else:
                self._take(self._consumer.consume(self.max_poll_records - len(self._pending), self._poll_timeout()))
            self._poll_job()
            if self._job is not None:
                continue
            self._apply_pauses()  # the put that just ended may have paused partitions
            now = time.monotonic()
            if self._target_paused:
                if reported != "PAUSED":

                    def turned_paused() -> None:
                        nonlocal reported
                        if self._target_paused:
                            reported = "PAUSED"
                            on_state(reported)

                    self._start_commit(on_committed=turned_paused)
                    last_commit = now
                continue
            if (
                now - last_commit >= self.env.flush_interval_s
                or self.commit_requested.is_set()
                # At the memory bound ask once a second, and put what is buffered between.
                or (self.retained.bytes >= self.retained_limit and now - last_commit >= 1.0)
            ):
                self.commit_requested.clear()
                self._start_commit()
                last_commit = now
            elif (due := self._due_retry(now)) is not None:
                self._start_put(due.records, due.next_offsets, due)
            elif self._pending and (
                len(self._pending) >= self.max_poll_records
                or self._pending_since is None
                or now - self._pending_since >= self.batch_wait_s
            ):
                self._start_batch()

    def _full(self) -> bool:
        return len(self._pending) >= self.max_poll_records or self.retained.bytes >= self.retained_limit

    def _poll_timeout(self) -> float:
        if self._job is not None:
            return _BUSY_POLL_S
        if self._pending and self._pending_since is not None:
            left = self.batch_wait_s - (time.monotonic() - self._pending_since)
            return min(_IDLE_POLL_S, max(0.0, left))
        if self._retries:
            return min(_IDLE_POLL_S, max(0.0, min(r.not_before for r in self._retries) - time.monotonic()))
        return _IDLE_POLL_S

    def _raise_failure(self) -> None:
        with self._lock:
            failure = self._failure
        if failure is not None:
            raise failure

    def _call(self, function: t.Callable[[], t.Any]) -> t.Any:
        """Run ``function`` on the task thread and wait for it (construction, open, close)."""
        assert self._executor is not None
        return self._executor.submit(function).result()

    # -- pausing ------------------------------------------------------------------------

    def _held(self) -> set[TopicPartition]:
        """Partitions held for a reason of their own: target state, plugin, retry."""
        if self._target_paused:
            return set(self._assigned)
        if not self._plugin_paused and not self._retries:  # the usual case, checked every loop
            return set()
        with self._lock:
            held = set(self._plugin_paused)
        for retry in self._retries:
            held |= retry.partitions
        return held & self._assigned

    def _apply_pauses(self) -> None:
        """Pause and resume in the consumer what changed since the last call.

        Records of newly held partitions leave the put buffer (they are rewound); a full
        buffer pauses every partition but keeps what it holds.
        """
        from confluent_kafka import TopicPartition as KafkaPartition

        held = self._held()
        self._rewind_pending(held - self._held_now)
        self._held_now = held
        # Past twice the batch size (a put that runs for minutes, or records held back up
        # to uncommitted.max.bytes) stop fetching: what still arrives is rewound.
        overfull = len(self._pending) >= 2 * self.max_poll_records
        desired = set(self._assigned) if overfull else held
        newly = desired - self._paused_now
        if newly:
            self._consumer.pause([KafkaPartition(topic, partition) for topic, partition in sorted(newly)])
        ended = (self._paused_now - desired) & self._assigned
        if ended:
            self._consumer.resume([KafkaPartition(topic, partition) for topic, partition in sorted(ended)])
        self._paused_now = desired

    def _rewind(self, first: t.Mapping[TopicPartition, int]) -> None:
        """Seek each partition back to ``first[tp]`` so those records are fetched again."""
        from confluent_kafka import KafkaException
        from confluent_kafka import TopicPartition as KafkaPartition

        for (topic, partition), offset in first.items():
            try:
                self._consumer.seek(KafkaPartition(topic, partition, offset))
            except KafkaException as exc:
                msg = f"could not rewind {topic}-{partition} to {offset} for a paused partition: {exc}"
                raise FatalError(msg) from exc

    def _rewind_pending(self, partitions: t.Collection[TopicPartition]) -> None:
        """Take the records of ``partitions`` out of the put buffer and seek back to them."""
        if not self._pending or not partitions:
            return
        first: dict[TopicPartition, int] = {}
        kept = []
        for message in self._pending:
            tp = (message.topic(), message.partition())
            if tp in partitions:
                first.setdefault(tp, message.offset())
            else:
                kept.append(message)
        self._pending = kept
        if not kept:
            self._pending_since = None
        self._rewind(first)

    # -- reading ------------------------------------------------------------------------

    def _take(self, messages: t.Sequence[t.Any]) -> None:
        from confluent_kafka import KafkaError

        good = [message for message in messages if message.error() is None]
        if len(good) < len(messages):
            for message in messages:
                error = message.error()
                if error is None or error.code() == KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    msg = f"consumer failed: {error}"
                    raise FatalError(msg)
                log.warning("consumer error on %s: %s", self.name, error)
        rewind: dict[TopicPartition, int] = {}
        paused, assigned, read_next = self._paused_now, self._assigned, self._read_next
        taken: list[tuple[TopicPartition, t.Sequence[t.Any]]] = []
        read = len(good)
        for tp, run in partition_runs(good):
            read_next[tp] = run[-1].offset() + 1
            if tp in paused or tp not in assigned:
                if tp in assigned and tp not in rewind:
                    rewind[tp] = run[0].offset()
                continue
            taken.append((tp, run))
        metrics = self.env.metrics
        if taken:
            self.retained.add_runs(taken)
            for _tp, run in taken:
                self._pending.extend(run)
        if read:
            metrics.sink_record_read.inc(read)
            self._tally.add(read)
            if self.env.report is not None:
                self.env.report.clear_warning()  # records arrive: Kafka is reachable
        metrics.active = self.retained.count
        if self._pending and self._pending_since is None:
            self._pending_since = time.monotonic()
        self._rewind(rewind)
        now = time.monotonic()
        if now - self._lag_at >= _LAG_EVERY_S or (self._read_next.keys() - metrics.lags.keys()):
            self._lag_at = now
            self._measure_lag()

    def _measure_lag(self) -> None:
        """``sink-record-lag``: each assigned partition's cached high watermark minus the
        offset after the last record read (librdkafka updates the watermark with every fetch)."""
        from confluent_kafka import TopicPartition as KafkaPartition

        metrics = self.env.metrics
        for topic, partition in list(self._assigned):
            try:
                _low, high = self._consumer.get_watermark_offsets(KafkaPartition(topic, partition), cached=True)
                position = self._read_next.get((topic, partition))
                if position is None:  # nothing read from it yet: where the consumer fetches from
                    position = self._consumer.position([KafkaPartition(topic, partition)])[0].offset
            except Exception:  # not fetched yet: no watermark known
                continue
            if high is None or high < 0 or position is None or position < 0:
                continue
            metrics.set_lag(topic, partition, high - position)

    def _convert(self, messages: t.Sequence[t.Any]) -> tuple[list[SinkRecord], dict[TopicPartition, int]]:
        """The batch's records for ``put`` (converted, transformed) and the offset after
        each partition's last record (whatever became of that record: put, dropped by a
        transform, dead-lettered).

        Each run of one partition's records is converted in one call per side
        (:meth:`~headwater.codecs.converters.Converter.to_connect_batch`); a run with a
        record that a converter cannot read is converted again record by record, so that
        record goes to the dead-letter topic (or fails the task) and the others go on.
        """
        env = self.env
        key_batch, value_batch = env.key_converter.to_connect_batch, env.value_converter.to_connect_batch
        records: list[SinkRecord] = []
        next_offsets: dict[TopicPartition, int] = {}
        for (topic, partition), run in partition_runs(messages):
            next_offsets[(topic, partition)] = run[-1].offset() + 1  # a later run of it is later
            try:
                key_schemas, keys = key_batch(topic, [message.key() for message in run])
                value_schemas, values = value_batch(topic, [message.value() for message in run])
            except RecordError:
                run, key_schemas, keys, value_schemas, values = self._convert_each(topic, run)
            self._build(topic, partition, run, keys, values, key_schemas, value_schemas, records)
        return records, next_offsets

    def _convert_each(
        self, topic: str, messages: t.Sequence[t.Any]
    ) -> tuple[list[t.Any], list[Schema | None], list[t.Any], list[Schema | None], list[t.Any]]:
        """Convert record by record; each that a converter cannot read is handed to the
        error handler (dead-letter topic, or the task fails) and left out. Returns the
        messages kept with their key schemas, keys, value schemas and values."""
        assert self._errors is not None
        key_data = self.env.key_converter.to_connect_data
        value_data = self.env.value_converter.to_connect_data
        kept: list[t.Any] = []
        key_schemas: list[Schema | None] = []
        keys: list[t.Any] = []
        value_schemas: list[Schema | None] = []
        values: list[t.Any] = []
        for message in messages:
            stage = Stage.KEY_CONVERTER
            try:
                key = key_data(topic, message.key())
                stage = Stage.VALUE_CONVERTER
                value = value_data(topic, message.value())
            except RecordError as exc:
                partition, offset = message.partition(), message.offset()
                with self._lock:
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
            kept.append(message)
            key_schemas.append(key.schema)
            keys.append(key.value)
            value_schemas.append(value.schema)
            values.append(value.value)
        return kept, key_schemas, keys, value_schemas, values

    def _build(
        self,
        topic: str,
        partition: int,
        messages: t.Sequence[t.Any],
        keys: t.Sequence[t.Any],
        values: t.Sequence[t.Any],
        key_schemas: t.Sequence[Schema | None],
        value_schemas: t.Sequence[Schema | None],
        records: list[SinkRecord],
    ) -> None:
        """Append the converted records of one partition run (after the connector's
        transforms) to ``records``.

        Column by column (one comprehension per coordinate, records built by ``map``),
        not a loop step per record: this is the sink's hottest path after the converter."""
        offsets = [message.offset() for message in messages]
        headers: t.Iterable[Headers] = [message.headers() for message in messages]
        headers = [tuple(h) if h else () for h in headers] if any(headers) else itertools.repeat(())
        stamps = [message.timestamp() for message in messages]
        kinds = [kind for kind, _stamp in stamps]
        times: list[int | None] = [stamp for _kind, stamp in stamps]
        names: t.Iterable[TimestampType]
        if kinds.count(_CREATE_TIME) == len(kinds):
            names = itertools.repeat("CreateTime")
        else:
            names = [_TIMESTAMP_TYPES.get(kind, "NoTimestampType") for kind in kinds]
            times = [None if kind == _TIMESTAMP_NOT_AVAILABLE else stamp for kind, stamp in stamps]
        built = map(
            SinkRecord,
            itertools.repeat(topic),
            itertools.repeat(partition),
            offsets,
            keys,
            values,
            headers,
            times,
            key_schemas,
            value_schemas,
            names,
        )
        transforms = self.env.transforms or None
        if transforms is None:
            records.extend(built)
            return
        for message, record in zip(messages, built, strict=False):  # ``built`` is as long as ``messages``
            transformed = self._transform(record, message, transforms)
            if transformed is not None:
                records.append(transformed)

    # -- the task thread's jobs ---------------------------------------------------------

    def _start_batch(self) -> None:
        batch, self._pending = self._pending[: self.max_poll_records], self._pending[self.max_poll_records :]
        self._pending_since = time.monotonic() if self._pending else None
        records, next_offsets = self._convert(batch)
        if records:
            self._start_put(records, next_offsets, None)
        else:
            self._next.update(next_offsets)

    def _start_put(
        self, records: list[SinkRecord], next_offsets: dict[TopicPartition, int], retry: _Retry | None
    ) -> None:
        assert self._executor is not None
        task = self._task
        future = self._executor.submit(task.put, records)
        self._job = _Job("put", future, time.monotonic(), records, next_offsets, retry)

    def _start_commit(
        self, partitions: t.Collection[TopicPartition] | None = None, on_committed: t.Callable[[], None] | None = None
    ) -> None:
        assert self._executor is not None
        current = {tp: offset for tp, offset in self._next.items() if partitions is None or tp in partitions}
        future = self._executor.submit(self._task.pre_commit, current)
        self._job = _Job("commit", future, time.monotonic(), on_committed=on_committed)

    def _poll_job(self) -> None:
        if self._job is not None and self._job.future.done():
            self._finish_job()

    def _finish_job(self) -> None:
        """Wait for the running job (if any) and act on its outcome."""
        job, self._job = self._job, None
        if job is None:
            return
        try:
            result = job.future.result()
        except RetriableError as exc:
            if job.kind == "commit":
                msg = f"pre_commit raised a retriable error, which it must handle itself: {exc}"
                raise FatalError(msg) from exc
            self._retry_later(job, exc)
            return
        if job.kind == "put":
            self._put_done(job)
        else:
            self._commit_done(job.started, result)
            if job.on_committed is not None:
                job.on_committed()

    def _put_done(self, job: _Job) -> None:
        metrics = self.env.metrics
        if job.retry is not None:
            self._retries.remove(job.retry)
        self._next.update({tp: offset for tp, offset in job.next_offsets.items() if tp in self._assigned})
        metrics.put_batch_time.observe((time.monotonic() - job.started) * 1000)
        metrics.sink_record_send.inc(len(job.records))

    def _retry_later(self, job: _Job, exc: RetriableError) -> None:
        """Pause the failing partitions and put their records again after a backoff.

        The partitions named in ``exc`` (or else all of the batch's) are the failing ones;
        the batch's records of other partitions count as written.
        """
        framework = self.env.framework
        now = time.monotonic()
        batch_partitions = frozenset(job.next_offsets)
        failing = (exc.partitions & batch_partitions) if exc.partitions else batch_partitions
        failing = (failing or batch_partitions) & self._assigned
        done = {tp: offset for tp, offset in job.next_offsets.items() if tp not in failing and tp in self._assigned}
        self._next.update(done)
        if job.retry is not None:
            self._retries.remove(job.retry)
        if not failing:
            return
        retry = _Retry(
            failing,
            [record for record in job.records if (record.topic, record.partition) in failing],
            {tp: offset for tp, offset in job.next_offsets.items() if tp in failing},
            first_failure=job.retry.first_failure if job.retry is not None else now,
            not_before=now,
            attempts=job.retry.attempts + 1 if job.retry is not None else 1,
        )
        elapsed_ms = (now - retry.first_failure) * 1000
        backoff_ms = min(100 * 2 ** (retry.attempts - 1), framework.errors_retry_delay_max_ms) * (
            0.5 + random.random() / 2
        )
        wait_ms = max(backoff_ms, exc.retry_after_ms or 0)
        timeout = framework.errors_retry_timeout
        if timeout >= 0 and (elapsed_ms >= timeout or (exc.retry_after_ms or 0) > timeout - elapsed_ms):
            msg = (
                f"{self.name}-{self.env.task_id} put kept failing for {elapsed_ms:.0f} ms "
                f"(errors.retry.timeout={timeout}): {exc}"
            )
            raise FatalError(msg) from exc
        if timeout >= 0:
            wait_ms = min(wait_ms, max(exc.retry_after_ms or 0, timeout - elapsed_ms))
        retry.not_before = now + wait_ms / 1000
        self._retries.append(retry)
        self._rewind_pending(failing)
        self.env.metrics.total_retries.inc()
        log.warning(
            "%s-%d put failed on %s (%s); retrying in %.2f s",
            self.name,
            self.env.task_id,
            ", ".join(f"{topic}-{partition}" for topic, partition in sorted(failing)),
            exc,
            wait_ms / 1000,
        )

    def _transform(self, record: SinkRecord, message: t.Any, transforms: TransformChain) -> SinkRecord | None:
        """The record after the connector's transforms; None if they dropped it or it failed
        (then its original bytes went to the dead-letter topic, stage TRANSFORMATION, or the
        task fails)."""
        assert self._errors is not None
        try:
            return transforms.apply(record)
        except TransformError as exc:
            with self._lock:
                self._errors.handle(
                    exc,
                    stage=Stage.TRANSFORMATION,
                    where=f"{record.topic}-{record.partition}@{record.offset}",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=message.key(),
                    value=message.value(),
                    headers=message.headers() or (),
                    class_name=exc.class_name,
                )
            return None

    def _due_retry(self, now: float) -> _Retry | None:
        with self._lock:
            plugin_paused = set(self._plugin_paused)
        due = [retry for retry in self._retries if retry.not_before <= now and not retry.partitions & plugin_paused]
        return min(due, key=lambda retry: retry.not_before) if due else None

    # -- committing ---------------------------------------------------------------------

    def _commit_now(self, partitions: t.Collection[TopicPartition] | None) -> None:
        """Run ``pre_commit`` and commit what it returns, waiting for both (callbacks, stop)."""
        self._finish_job()
        self._start_commit(partitions)
        self._finish_job()

    def _commit_done(self, started: float, safe: t.Mapping[TopicPartition, int] | None) -> None:
        """``pre_commit`` returned ``safe``: acknowledge emitted and dead-letter records, then commit it."""
        from confluent_kafka import TopicPartition as KafkaPartition

        assert self._errors is not None
        metrics = self.env.metrics
        self.emitter.flush()
        self._errors.flush()
        changed: dict[TopicPartition, int] = {}
        for (topic, partition), offset in (safe or {}).items():
            tp = (topic, int(partition))
            if tp not in self._assigned:
                continue
            if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
                msg = f"pre_commit returned {offset!r} for {topic}-{partition}: offsets are whole numbers >= 0"
                raise FatalError(msg)
            if self._committed.get(tp) != offset:
                changed[tp] = offset
        if not changed:
            metrics.offset_commit_skip.inc()
            return
        try:
            self._consumer.commit(
                offsets=[KafkaPartition(topic, partition, offset) for (topic, partition), offset in changed.items()],
                asynchronous=False,
            )
        except Exception as exc:
            metrics.offset_commit_failure.inc()
            log.warning(
                "%s-%d: consumer offset commit failed (retried at the next one): %s", self.name, self.env.task_id, exc
            )
            return
        self._committed.update(changed)
        for tp, offset in changed.items():
            self.retained.release(tp, offset)
        metrics.active = self.retained.count
        metrics.offset_commit_completion.inc()
        metrics.offset_commit_success.inc()
        elapsed_ms = (time.monotonic() - started) * 1000
        metrics.offset_commit_time.observe(elapsed_ms)
        if self.env.report is not None:
            self.env.report.clear_warning()
        log.debug("committed the offsets of %d partition(s) in %.1f ms", len(changed), elapsed_ms)

    # -- rebalances (callbacks run on the consumer thread, inside consume()) -----------

    def _on_assign(self, consumer: t.Any, partitions: list[t.Any]) -> None:
        """Ask ``open`` where to start, and assign from there (None: the committed offset)."""
        from confluent_kafka import TopicPartition as KafkaPartition

        try:
            tps = [(p.topic, p.partition) for p in partitions]
            tracker = self.env.topics
            for topic in sorted({topic for topic, _partition in tps}):
                if tracker is not None and topic not in tracker.seen:
                    tracker.add(topic)
            self._finish_job()
            starts = self._call(lambda: self._task.open(tps)) or {}
            assign = []
            for topic, partition in tps:
                offset = starts.get((topic, partition))
                if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool) or offset < 0):
                    msg = f"open returned {offset!r} for {topic}-{partition}: offsets are whole numbers >= 0"
                    raise FatalError(msg)
                assign.append(
                    KafkaPartition(topic, partition) if offset is None else KafkaPartition(topic, partition, offset)
                )
            unknown = set(starts) - set(tps)
            if unknown:
                log.warning("%s: open returned offsets for partitions not assigned: %s", self.name, sorted(unknown))
            with self._lock:
                self._assigned.update(tps)
            log.info("%s-%d: partitions assigned: %s", self.name, self.env.task_id, _partitions(tps))
            if "cooperative" in str(self._consumer_config.get("partition.assignment.strategy", "")):
                consumer.incremental_assign(assign)
            else:
                consumer.assign(assign)
            # Start them fetching whatever librdkafka remembers; _apply_pauses re-pauses
            # those still held (a plugin's pause, the PAUSED target state).
            consumer.resume(assign)
            self._paused_now -= set(tps)
            self._held_now -= set(tps)
        except BaseException as exc:
            self._fail(exc)

    def _on_revoke(self, _consumer: t.Any, partitions: list[t.Any]) -> None:
        """Commit what ``pre_commit`` allows for partitions moving away, then ``close`` them."""
        revoked = {(p.topic, p.partition) for p in partitions} & self._assigned
        if revoked:
            log.info("%s-%d: partitions revoked: %s", self.name, self.env.task_id, _partitions(revoked))
        try:
            if revoked and not self._closed and self._failure is None:
                self._commit_now(revoked)
                self._call(lambda: self._task.close(sorted(revoked), lost=False))
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._forget(revoked)

    def _on_lost(self, _consumer: t.Any, partitions: list[t.Any]) -> None:
        """Partitions taken away without a hand-over: ``close(lost=True)``, commit nothing for them."""
        lost = {(p.topic, p.partition) for p in partitions} & self._assigned
        if lost:
            log.warning("%s-%d: partitions lost (session expired): %s", self.name, self.env.task_id, _partitions(lost))
        with self._lock:
            self._assigned -= lost  # a commit that completes now must leave them alone
        try:
            if lost and not self._closed and self._failure is None:
                self._finish_job()
                self._call(lambda: self._task.close(sorted(lost), lost=True))
        except BaseException as exc:
            self._fail(exc)
        finally:
            self._forget(lost)

    def _fail(self, exc: BaseException) -> None:
        log.error("%s-%d failed in a rebalance callback: %s", self.name, self.env.task_id, exc)
        with self._lock:
            self._failure = self._failure or exc

    def _forget(self, partitions: t.Collection[TopicPartition]) -> None:
        with self._lock:
            self._assigned -= set(partitions)
            self._plugin_paused -= set(partitions)
        self._pending = [m for m in self._pending if (m.topic(), m.partition()) not in partitions]
        if not self._pending:
            self._pending_since = None
        self._retries = [r for r in self._retries if not (r.partitions & set(partitions))]
        self.env.metrics.forget_lag(partitions)
        for tp in partitions:
            self._read_next.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
            self._paused_now.discard(tp)
            self._held_now.discard(tp)
            self.retained.drop(tp)

    # -- the end ------------------------------------------------------------------------

    def _close_all(self) -> None:
        """On stop, after the final commit: ``close`` every partition (the consumer leaves next)."""
        assigned = sorted(self._assigned)
        self._closed = True
        if assigned:
            self._call(lambda: self._task.close(assigned, lost=False))

    def _shutdown(self) -> None:
        """``stop`` the task, then close the clients. After a failure nothing more is
        committed (the rebalance callbacks of the consumer's close see ``_closed``), so
        the next owner of the partitions replays the uncommitted window."""
        self._closed = True
        try:
            if self._task is not None and self._executor is not None:
                self._call(self._task.stop)
        finally:
            if self._context is not None:
                self._context.close()
            try:
                if self._errors is not None:
                    self._errors.close()
                self.emitter.close()
            finally:
                if self._consumer is not None:
                    self._consumer.close()
                if self._executor is not None:
                    self._executor.shutdown()


def _partitions(tps: t.Iterable[TopicPartition]) -> str:
    """``topic-0, topic-1`` (sorted) for log lines."""
    return ", ".join(f"{topic}-{partition}" for topic, partition in sorted(tps)) or "none"
