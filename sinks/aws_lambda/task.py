"""The ``aws-lambda`` sink task: per-partition batches invoked from the task's own threads.

Threads: ``put``/``flush``/``pre_commit``/``close``/``stop`` run on the runtime's task
thread; invocations run on a pool of ``aws.lambda.max.concurrency`` threads, at most one
batch of each partition at a time, so each partition's records reach the function in
offset order. ``put`` only encodes and queues; the workers call ``context.report`` (a
record the function keeps failing on), ``context.emit`` (results to the response topic)
and ``context.request_commit`` (a paused partition drained, so that ``pre_commit``
resumes it soon). ``pre_commit`` returns, per partition,
the offset of the first record not yet delivered, so a crash re-delivers (at least once)
and never skips a record.

Failures, per invocation:
- 429 TooManyRequests: the same batch again after ``retryAfterSeconds``; meanwhile the
  partition's queue fills and the partition is paused, while other partitions go on.
- 5xx, timeouts, lost connections: the same batch again with exponential backoff, up to
  ``aws.lambda.retries.max``; then the task fails (and restarts from committed offsets).
- a function error (HTTP 200 with ``X-Amz-Function-Error``) or 413: the batch is split in
  half, recursively, in order; a single record that still fails is handled by
  ``behavior.on.error`` with the function's error object in the message.
- any other refusal (unknown function, no permission): the task fails.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import orjson

from headwater.connectors.api import SinkRecord, SinkTask, SinkTaskContext, TopicPartition
from headwater.connectors.errors import FatalError, RecordError
from headwater.sinks.aws_lambda.client import (
    Boto3LambdaClient,
    InvokeRejected,
    LambdaClient,
    PayloadTooLarge,
    Throttled,
    TransientInvokeError,
)
from headwater.sinks.aws_lambda.config import LambdaSinkConfig
from headwater.sinks.aws_lambda.payload import PayloadFormat

__all__ = ["LambdaSinkTask"]

log = logging.getLogger(__name__)

_MAX_BACKOFF_S = 10.0


@dataclass(frozen=True, slots=True)
class _Item:
    record: SinkRecord
    fragment: bytes


@dataclass
class _Partition:
    tp: TopicPartition
    pending: collections.deque[_Item] = field(default_factory=collections.deque)
    busy: bool = False
    inflight_from: int | None = None
    """Offset of the first record of the in-flight work not yet delivered."""
    closed: bool = False
    paused: bool = False
    start: int | None = None
    """Offset of the first record this task got for the partition: nothing below is ours to commit."""

    def first_open(self) -> int | None:
        if self.busy and self.inflight_from is not None:
            return self.inflight_from
        return self.pending[0].record.offset if self.pending else None


class _Stopping(Exception):
    pass


class LambdaSinkTask(SinkTask[LambdaSinkConfig]):
    """See the module docstring. ``client`` replaces the boto3 client (tests)."""

    def __init__(self, config: LambdaSinkConfig, context: SinkTaskContext, client: LambdaClient | None = None) -> None:
        super().__init__(config, context)
        self.client: LambdaClient = client if client is not None else Boto3LambdaClient(config)
        self.format = PayloadFormat(config)
        self.max_records = self.format.max_records or config.aws_lambda_batch_size
        self.max_bytes = config.max_bytes
        self.asynchronous = config.aws_lambda_invocation_type == "async"
        self._parts: dict[TopicPartition, _Partition] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._failure: BaseException | None = None
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(config.aws_lambda_max_concurrency, thread_name_prefix="aws-lambda")
        # A partition's queue beyond this many records pauses the partition until it drains to half.
        self._high_water = max(4 * self.max_records, 1000)
        metrics = context.metrics
        self._invocations = metrics.counter("lambda_invocations", "Invoke API calls that reached the function")
        self._records = metrics.counter("lambda_records_delivered", "Records the function accepted")
        self._throttles = metrics.counter("lambda_throttles", "429 answers")
        self._function_errors = metrics.counter("lambda_function_errors", "Invocations answered with a function error")

    # task thread

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        """Encode and queue ``records``; start a batch on every idle partition.

        Works in chunks, so the first invocations start while later records are encoded.
        """
        self._raise_failure()
        chunk = max(self.max_records, 500)
        for start in range(0, len(records), chunk):
            self._enqueue(records[start : start + chunk])
        self._resume_drained()

    def _enqueue(self, records: t.Sequence[SinkRecord]) -> None:
        items: dict[TopicPartition, list[_Item]] = {}
        for record in records:
            tp = (record.topic, record.partition)
            try:
                fragment = self.format.fragment(record)
            except (TypeError, ValueError) as exc:
                self.context.report(record, RecordError(f"cannot write as JSON: {exc}", record=record))
                continue
            size = self.format.size(tp, len(fragment), 1)
            if size > self.max_bytes:
                msg = f"record is {size} bytes as a payload, over the {self.max_bytes}-byte limit of one invocation"
                self.context.report(record, RecordError(msg, record=record))
                continue
            items.setdefault(tp, []).append(_Item(record, fragment))
        to_pause: list[TopicPartition] = []
        with self._lock:
            for tp, queued in items.items():
                part = self._parts.get(tp)
                if part is None or part.closed:
                    part = self._parts[tp] = _Partition(tp, start=queued[0].record.offset)
                part.pending.extend(queued)
                if len(part.pending) > self._high_water and not part.paused:
                    part.paused = True
                    to_pause.append(tp)
                self._dispatch(part)
        if to_pause:
            self.context.pause(to_pause)

    def flush(self) -> None:
        """Deliver everything queued; returns when every partition is idle.

        Raises:
            the failure of a worker (an invocation the function refused, retries exhausted).
        """
        with self._changed:
            for part in self._parts.values():
                self._dispatch(part)
            while self._failure is None and any(p.busy or p.pending for p in self._parts.values()):
                self._changed.wait(0.5)
        self._raise_failure()
        self._resume_drained()

    def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> t.Mapping[TopicPartition, int]:
        """``offsets`` held back to the first record not yet delivered, per partition; a
        partition with nothing delivered since this task got it is left out."""
        self._raise_failure()
        self._resume_drained()
        safe: dict[TopicPartition, int] = {}
        with self._lock:
            for tp, offset in offsets.items():
                part = self._parts.get(tp)
                first = part.first_open() if part is not None else None
                committable = offset if first is None else min(offset, first)
                if part is not None and part.start is not None and committable <= part.start:
                    continue
                safe[tp] = committable
        return safe

    def close(self, partitions: t.Sequence[TopicPartition], *, lost: bool) -> None:
        """Drop the queued records of ``partitions``; after a revocation (not ``lost``) wait
        for their in-flight batch, so the next owner does not invoke alongside it."""
        with self._changed:
            closing = [self._parts.pop(tp) for tp in partitions if tp in self._parts]
            for part in closing:
                part.closed = True
                part.pending.clear()
            if lost:
                return
            deadline = time.monotonic() + 30
            while any(p.busy for p in closing) and self._failure is None and time.monotonic() < deadline:
                self._changed.wait(0.5)

    def stop(self) -> None:
        """Stop the workers (an in-flight invocation finishes; its retries do not) and close the client."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _resume_drained(self) -> None:
        with self._lock:
            drained = [p.tp for p in self._parts.values() if p.paused and len(p.pending) <= self._high_water // 2]
            for tp in drained:
                self._parts[tp].paused = False
        if drained:
            self.context.resume(drained)

    # any thread, under the lock

    def _dispatch(self, part: _Partition) -> None:
        """Start ``part``'s next batch if it has none in flight (caller holds the lock)."""
        if part.busy or part.closed or not part.pending or self._failure is not None or self._stopping.is_set():
            return
        batch: list[_Item] = []
        fragment_bytes = 0
        while part.pending and len(batch) < self.max_records:
            item = part.pending[0]
            grown = fragment_bytes + len(item.fragment)
            if batch and self.format.size(part.tp, grown, len(batch) + 1) > self.max_bytes:
                break
            batch.append(part.pending.popleft())
            fragment_bytes = grown
        part.busy = True
        part.inflight_from = batch[0].record.offset
        self._pool.submit(self._deliver, part, batch)

    # worker threads

    def _deliver(self, part: _Partition, batch: list[_Item]) -> None:
        """Invoke with ``batch``, bisecting on function errors, then start the partition's next batch."""
        try:
            todo: collections.deque[list[_Item]] = collections.deque([batch])
            while todo:
                current = todo.popleft()
                if part.closed:
                    return
                failure = self._invoke(part, current)
                if failure is not None and len(current) > 1:
                    half = len(current) // 2
                    todo.appendleft(current[half:])
                    todo.appendleft(current[:half])
                    continue
                if failure is not None:
                    self._give_up(current[0].record, failure)
                else:
                    self._records.inc(len(current))
                with self._lock:
                    part.inflight_from = todo[0][0].record.offset if todo else None
            if part.paused and len(part.pending) <= self._high_water // 2:
                # Resuming happens on the task thread: have it come soon.
                self.context.request_commit()
        except _Stopping:
            return
        except BaseException as exc:
            with self._lock:
                self._failure = exc
        finally:
            with self._changed:
                if self._failure is None:
                    part.busy = False
                    part.inflight_from = None
                    self._dispatch(part)
                self._changed.notify_all()

    def _invoke(self, part: _Partition, batch: list[_Item]) -> str | None:
        """One batch until Lambda accepts it; returns the function's error (or the 413) if it failed.

        Gives up (without delivering) when the task stops or the partition is closed.
        """
        tp = part.tp
        payload = self.format.join(tp, [item.fragment for item in batch])
        backoff = self.config.aws_lambda_retry_backoff_ms / 1000
        retries = 0
        while True:
            if self._stopping.is_set() or part.closed:
                raise _Stopping
            try:
                result = self.client.invoke(payload, asynchronous=self.asynchronous)
            except Throttled as exc:
                self._throttles.inc()
                log.info("%s-%s throttled, retrying in %.1f s", tp[0], tp[1], exc.retry_after_s)
                self._stopping.wait(exc.retry_after_s)
                continue
            except PayloadTooLarge as exc:
                return str(exc)
            except TransientInvokeError as exc:
                retries += 1
                if retries > self.config.aws_lambda_retries_max:
                    msg = f"{tp[0]}-{tp[1]} offsets {batch[0].record.offset}..{batch[-1].record.offset}: {exc}"
                    raise FatalError(msg) from exc
                log.warning("%s (retry %d in %.1f s)", exc, retries, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            except InvokeRejected as exc:
                raise FatalError(str(exc)) from exc
            self._invocations.inc()
            if result.function_error:
                self._function_errors.inc()
                return f"function error ({result.function_error}): {result.payload.decode(errors='replace')}"
            if self.config.aws_lambda_response_topic and not self.asynchronous:
                self._emit_result(tp, batch, result.payload)
            return None

    def _emit_result(self, tp: TopicPartition, batch: list[_Item], payload: bytes) -> None:
        """Write a sync invocation's result to the response topic, keyed by input offsets.

        A JSON array with one element per record of the batch (what Confluent's Lambda
        sink expects of a function that answers per record) gives one response record per
        input record, keyed by its own offset; any other answer gives one response record
        for the batch, keyed by its first and last offsets. Keys always have ``topic``,
        ``partition``, ``first_offset`` and ``last_offset``.
        """
        try:
            value: t.Any = orjson.loads(payload) if payload else None
        except orjson.JSONDecodeError:
            value = payload.decode(errors="replace")
        topic = self.config.aws_lambda_response_topic
        assert topic is not None
        if self.format.kind != "single" and isinstance(value, list) and len(value) == len(batch):
            for item, result in zip(batch, value, strict=True):
                offset = item.record.offset
                key = {"topic": tp[0], "partition": tp[1], "first_offset": offset, "last_offset": offset}
                self.context.emit(topic, key, result)
            return
        key = {
            "topic": tp[0],
            "partition": tp[1],
            "first_offset": batch[0].record.offset,
            "last_offset": batch[-1].record.offset,
        }
        self.context.emit(topic, key, value)

    def _give_up(self, record: SinkRecord, error: str) -> None:
        """The function keeps failing on ``record`` alone: ``behavior.on.error`` decides."""
        where = f"{record.topic}-{record.partition}@{record.offset}"
        behavior = self.config.behavior_on_error
        if behavior == "fail":
            self.context.report(record, RecordError(f"{where}: {error}", record=record))
        elif behavior == "log":
            log.error("skipping %s: %s", where, error)
