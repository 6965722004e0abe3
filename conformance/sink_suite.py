"""The standard sink tests (see :mod:`headwater.conformance.standard`).

The Kafka tests run the real runtime (:func:`~headwater.conformance.runtime.in_process_worker`)
on the real broker and build the plugin's tasks through the worker's task factory,
wrapped in a probe (:class:`_Probe`) that records every call the runtime makes and, in
some tests, injects a failure: a retriable error, a crash after the write, a record the
target rejects late.
"""

from __future__ import annotations

import random
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.conformance.standard import SinkHarness, _normalise, _requires
from headwater.connectors.api import (
    Capability,
    SinkRecord,
    SinkTask,
    SinkTaskContext,
    TopicPartition,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.loading import parse_connector

__all__ = ["change_stream", "get_sink_test_class"]

Message: t.TypeAlias = tuple[t.Any, t.Any]


def change_stream(count: int = 400, keys: int = 40, seed: int = 3, *, start: int = 0) -> list[Message]:
    """A change stream of ``count`` events over ``keys`` keys: creates, updates, deletes
    (each followed by a tombstone), with ints, strings, booleans, exact decimals and nulls.

    Deterministic for a seed; ``start`` numbers the events (use it to continue a stream
    with fresh ``source.seq`` values).
    """
    rng = random.Random(seed)
    live: dict[int, dict[str, t.Any]] = {}
    messages: list[Message] = []
    for seq in range(start, start + count):
        key_id = rng.randrange(keys)
        key = {"id": key_id}
        source = {"generator": "sink-suite", "seq": seq}
        ts_ms = 1_700_000_000_000 + seq
        if key_id in live and rng.random() < 0.15:
            before = live.pop(key_id)
            messages.append((key, {"before": before, "after": None, "source": source, "op": "d", "ts_ms": ts_ms}))
            messages.append((key, None))
            continue
        row = {
            "id": key_id,
            "name": f"customer {key_id} v{seq}",
            "balance": Decimal(rng.randrange(-1_000_000, 1_000_000)).scaleb(-2),  # always two decimals
            "active": rng.random() < 0.8,
            "note": None if rng.random() < 0.5 else f"note {seq}",
        }
        op = "u" if key_id in live else "c"
        value = {"before": live.get(key_id), "after": row, "source": source, "op": op, "ts_ms": ts_ms}
        live[key_id] = row
        messages.append((key, value))
    return messages


def _as_sink_records(topic: str, messages: t.Sequence[Message], start: int = 0) -> list[SinkRecord]:
    """Records as the runtime hands them over: through the JSON converter and back."""
    converter = JsonConverter()
    return [
        SinkRecord(
            topic,
            0,
            start + i,
            converter.from_bytes(topic, converter.to_bytes(topic, key)),
            converter.from_bytes(topic, converter.to_bytes(topic, value)),
            (),
            1_700_000_000_000 + i,
        )
        for i, (key, value) in enumerate(messages)
    ]


@dataclass
class _Calls:
    """What the probes of one test saw, across task restarts (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tasks: int = 0
    opens: list[tuple[int, dict[TopicPartition, int | None]]] = field(default_factory=list)
    puts: list[tuple[int, float, list[tuple[int, int]]]] = field(default_factory=list)
    """(task number, time, [(partition, offset)]) of the records handed to the plugin."""
    closes: list[tuple[int, list[TopicPartition], bool]] = field(default_factory=list)
    commits: list[tuple[int, dict[TopicPartition, int], dict[TopicPartition, int]]] = field(default_factory=list)
    """(task number, offsets given to pre_commit, offsets it returned)."""
    events: dict[str, t.Any] = field(default_factory=dict)

    def put_offsets(self, partition: int, *, task: int | None = None) -> list[int]:
        with self.lock:
            return [o for n, _, records in self.puts if task in (None, n) for p, o in records if p == partition]

    def records_put(self) -> int:
        with self.lock:
            return sum(len(records) for _, _, records in self.puts)


class _Probe(SinkTask[t.Any]):
    """Wraps the plugin's task: forwards every call and records it in :class:`_Calls`.

    Tests subclass it to inject failures; the runtime builds it through its task factory.
    """

    def __init__(self, inner: SinkTask[t.Any], context: SinkTaskContext, calls: _Calls) -> None:
        super().__init__(inner.config, context)
        self.inner = inner
        self.calls = calls
        with calls.lock:
            calls.tasks += 1
            self.number = calls.tasks

    def open(self, partitions: t.Sequence[TopicPartition]) -> t.Mapping[TopicPartition, int | None] | None:
        starts = self.inner.open(partitions)
        with self.calls.lock:
            self.calls.opens.append((self.number, dict(starts or {})))
        return starts

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        self.forward(records)

    def forward(self, records: t.Sequence[SinkRecord]) -> None:
        with self.calls.lock:
            self.calls.puts.append((self.number, time.monotonic(), [(r.partition, r.offset) for r in records]))
        self.inner.put(records)

    def flush(self) -> None:
        self.inner.flush()

    def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> t.Mapping[TopicPartition, int]:
        safe = self.inner.pre_commit(offsets)
        with self.calls.lock:
            self.calls.commits.append((self.number, dict(offsets), dict(safe)))
        return safe

    def close(self, partitions: t.Sequence[TopicPartition], *, lost: bool) -> None:
        with self.calls.lock:
            self.calls.closes.append((self.number, list(partitions), lost))
        self.inner.close(partitions, lost=lost)

    def stop(self) -> None:
        self.inner.stop()


def _produce(
    bootstrap: str, topic: str, messages: t.Sequence[Message], *, headers: t.Sequence[tuple[str, bytes]] = ()
) -> list[tuple[int, int]]:
    """Produce ``messages`` as JSON (keyed, so one key stays in one partition); returns
    each one's (partition, offset)."""
    from confluent_kafka import Producer

    converter = JsonConverter()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    where: list[tuple[int, int] | None] = [None] * len(messages)

    def delivered(index: int) -> t.Callable[[t.Any, t.Any], None]:
        def callback(error: t.Any, message: t.Any) -> None:
            assert error is None, error
            where[index] = (message.partition(), message.offset())

        return callback

    for i, (key, value) in enumerate(messages):
        producer.produce(
            topic,
            key=converter.to_bytes(topic, key),
            value=converter.to_bytes(topic, value),
            headers=list(headers),
            on_delivery=delivered(i),
        )
    assert producer.flush(30) == 0
    assert all(w is not None for w in where)
    return [w for w in where if w is not None]


def _by_partition(positions: t.Sequence[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for partition, offset in positions:
        out.setdefault(partition, []).append(offset)
    return out


def _committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets of ``topic`` (partitions with none are left out)."""
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as KafkaPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        found = consumer.committed([KafkaPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def get_sink_test_class(harness: SinkHarness) -> type:
    """Build the standard sink test class for ``harness``."""
    plugin = harness.connector_class

    def build(config: PluginConfig, context: SinkTaskContext) -> SinkTask[t.Any]:
        if harness.make_task is not None:
            return harness.make_task(config, context)
        return plugin.task_class(config, context)

    def factory(probe: type[_Probe], calls: _Calls) -> t.Callable[[type[t.Any], PluginConfig, t.Any], t.Any]:
        def make(_task_class: type[t.Any], config: PluginConfig, context: t.Any) -> t.Any:
            return probe(build(config, context), context, calls)

        return make

    def connector(name: str, topic: str, tmp_path: Path, **framework: str) -> t.Any:
        return parse_connector(
            {
                "name": f"sink-{name}",
                "config": {
                    "connector.class": f"{plugin.__module__}:{plugin.__qualname__}",
                    "topics": topic,
                    "task.restart.backoff.initial.ms": "100",
                    **framework,
                    **harness.make_config(tmp_path, name),
                },
            }
        )

    def state_is(config: PluginConfig, topic: str, messages: t.Sequence[Message]) -> t.Callable[[], bool]:
        expected = _normalise(fold(messages))
        return lambda: _normalise(harness.read_state(config, topic)) == expected

    class SinkStandardTests:
        __test__ = True

        def _setup(self, tmp_path: Path) -> tuple[PluginConfig, str, t.Any, list[tuple[SinkRecord, BaseException]]]:
            name = f"conformance_{uuid.uuid4().hex[:8]}"
            config = plugin.config_class.model_validate(harness.make_config(tmp_path, name))
            reported: list[tuple[SinkRecord, BaseException]] = []
            task_config = plugin(config).task_configs(1)[0]
            task = build(task_config, SinkTaskContext("conformance", 0, report=lambda r, e: reported.append((r, e))))
            return config, name, task, reported

        def test_put_flush_writes_all(self, tmp_path: Path) -> None:
            config, topic, task, reported = self._setup(tmp_path)
            messages = change_stream()
            try:
                task.put(_as_sink_records(topic, messages))
                task.flush()
            finally:
                task.stop()
            assert not reported
            assert _normalise(harness.read_state(config, topic)) == _normalise(fold(messages))

        def test_flush_twice_writes_once(self, tmp_path: Path) -> None:
            config, topic, task, _ = self._setup(tmp_path)
            messages = change_stream(count=50)
            try:
                task.put(_as_sink_records(topic, messages))
                task.flush()
                state = harness.read_state(config, topic)
                writes = harness.count_writes(config, topic) if harness.count_writes else None
                task.flush()
            finally:
                task.stop()
            assert harness.read_state(config, topic) == state
            if harness.count_writes is not None:
                assert harness.count_writes(config, topic) == writes

        def test_empty_flush_is_a_noop(self, tmp_path: Path) -> None:
            config, topic, task, reported = self._setup(tmp_path)
            try:
                task.put([])
                task.flush()
            finally:
                task.stop()
            assert not reported
            assert harness.read_state(config, topic) == {}

        def test_replay_is_idempotent(self, tmp_path: Path) -> None:
            _requires(Capability.IDEMPOTENT_WRITES, plugin)
            config, topic, task, _ = self._setup(tmp_path)
            messages = change_stream()
            records = _as_sink_records(topic, messages)
            try:
                task.put(records)
                task.flush()
                task.put(records[len(records) // 3 :])
                task.flush()
            finally:
                task.stop()
            assert _normalise(harness.read_state(config, topic)) == _normalise(fold(messages))

        def test_quick_calls_return_promptly(self, tmp_path: Path) -> None:
            """A sink declaring ``QUICK_CALLS`` is called on the consumer's thread: a
            batch of ``max.poll.records`` (500) must go through ``put`` and ``flush`` in
            well under a second, far from ``max.poll.interval.ms``."""
            _requires(Capability.QUICK_CALLS, plugin)
            _config, topic, task, _ = self._setup(tmp_path)
            records = _as_sink_records(topic, change_stream(count=500, keys=500))
            try:
                task.put(records[:1])  # opening files or connections is not what is timed
                task.flush()
                started = time.monotonic()
                task.put(records)
                task.flush()
                took = time.monotonic() - started
            finally:
                task.stop()
            assert took < 1.0, f"put and flush of 500 records took {took:.2f} s"

        def test_tombstone_deletes(self, tmp_path: Path) -> None:
            _requires(Capability.DELETES, plugin)
            config, topic, task, _ = self._setup(tmp_path)
            key = {"id": 7}
            row = {"id": 7, "name": "to be deleted", "balance": Decimal("1.50"), "active": True, "note": None}
            create = {"before": None, "after": row, "source": {}, "op": "c", "ts_ms": 0}
            delete = {"before": row, "after": None, "source": {}, "op": "d", "ts_ms": 1}
            messages = [(key, create), (key, delete), (key, None)]
            try:
                task.put(_as_sink_records(topic, messages[:1]))
                task.flush()
                assert canonical_key(key) in harness.read_state(config, topic)
                task.put(_as_sink_records(topic, messages[1:], start=1))
                task.flush()
            finally:
                task.stop()
            assert canonical_key(key) not in harness.read_state(config, topic)

        def test_bad_record_is_reported_and_the_rest_lands(self, tmp_path: Path) -> None:
            if harness.bad_value is None:
                pytest.skip("harness gives no bad value")
            config, topic, task, reported = self._setup(tmp_path)
            messages = change_stream(count=40, keys=1000)
            half = len(messages) // 2
            before = _as_sink_records(topic, messages[:half])
            bad = SinkRecord(topic, 0, half, {"id": -1}, harness.bad_value, (), 0)
            after = _as_sink_records(topic, messages[half:], start=half + 1)
            try:
                task.put([*before, bad, *after])
                task.flush()
            finally:
                task.stop()
            assert [r.offset for r, _ in reported] == [bad.offset]
            assert _normalise(harness.read_state(config, topic)) == _normalise(fold(messages))

        @pytest.mark.kafka
        def test_state_and_dead_letters_through_kafka(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            from confluent_kafka import Producer

            from headwater.conformance.kafka import consume_all, create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            topic = name
            dlq = f"{name}-dlq"
            create_topic(kafka_bootstrap_servers, topic)
            messages = change_stream()
            converter = JsonConverter()
            producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
            bad_offset = len(messages) // 2
            for i, (key, value) in enumerate(messages):
                if i == bad_offset:
                    producer.produce(topic, value=b"{not json", key=converter.to_bytes(topic, {"id": -1}))
                producer.produce(topic, value=converter.to_bytes(topic, value), key=converter.to_bytes(topic, key))
            assert producer.flush(30) == 0
            sink = connector(
                name, topic, tmp_path, **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}
            )
            calls = _Calls()
            worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=factory(_Probe, calls))
            worker.start()
            try:
                wait_for(
                    state_is(sink.plugin_config, topic, messages), timeout=90, what="the folded state", worker=worker
                )
            finally:
                assert worker.stop(30)
            dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=1)
            assert len(dead) == 1
            headers = dict(dead[0].headers() or [])
            assert dead[0].value() == b"{not json"
            assert headers["__connect.errors.topic"] == topic.encode()
            assert headers["__connect.errors.offset"] == str(bad_offset).encode()
            assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
            assert b"RecordError" in headers["__connect.errors.exception.class.name"]

        @pytest.mark.kafka
        def test_three_partitions_keep_their_order_in_small_batches(
            self, tmp_path: Path, kafka_bootstrap_servers: str
        ) -> None:
            from headwater.conformance.kafka import create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            create_topic(kafka_bootstrap_servers, name, partitions=3)
            messages = change_stream(count=600, keys=60, seed=8)
            produced = _by_partition(_produce(kafka_bootstrap_servers, name, messages))
            assert sorted(produced) == [0, 1, 2], "the keys should spread over the three partitions"
            sink = connector(name, name, tmp_path, **{"consumer.override.max.poll.records": "50"})
            calls = _Calls()
            worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=factory(_Probe, calls))
            worker.start()
            try:
                wait_for(lambda: calls.records_put() >= len(messages), timeout=90, what="every record", worker=worker)
                wait_for(
                    state_is(sink.plugin_config, name, messages), timeout=90, what="the folded state", worker=worker
                )
            finally:
                assert worker.stop(30)
            assert max(len(records) for _, _, records in calls.puts) <= 50, "max.poll.records bounds a put()"
            for partition, offsets in produced.items():
                assert calls.put_offsets(partition) == offsets, f"partition {partition}: out of order, lost or twice"

        @pytest.mark.kafka
        @pytest.mark.slow
        def test_retry_after_pauses_only_the_failing_partition(
            self, tmp_path: Path, kafka_bootstrap_servers: str
        ) -> None:
            from headwater.conformance.kafka import create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            create_topic(kafka_bootstrap_servers, name, partitions=3)
            retry_after = 2.5

            class Throttled(_Probe):
                """The first put with records of partition 0 writes the others and asks
                for partition 0 again in 2.5 s."""

                def put(self, records: t.Sequence[SinkRecord]) -> None:
                    if "failed" in self.calls.events or not any(r.partition == 0 for r in records):
                        self.forward(records)
                        return
                    self.forward([r for r in records if r.partition != 0])
                    failed = [r.offset for r in records if r.partition == 0]
                    self.calls.events["failed"] = (time.monotonic(), failed)
                    msg = "simulated throttling of partition 0"
                    raise RetriableError(msg, retry_after_ms=int(retry_after * 1000), partitions={(name, 0)})

            first = change_stream(count=300, keys=60, seed=9)
            more = change_stream(count=300, keys=60, seed=10, start=300)
            produced = _by_partition(_produce(kafka_bootstrap_servers, name, first))
            sink = connector(name, name, tmp_path)
            calls = _Calls()
            worker = in_process_worker(
                kafka_bootstrap_servers, tmp_path, [sink], task_factory=factory(Throttled, calls)
            )
            worker.start()
            try:
                wait_for(lambda: "failed" in calls.events, timeout=60, what="the retriable error", worker=worker)
                for partition, offsets in _by_partition(_produce(kafka_bootstrap_servers, name, more)).items():
                    produced.setdefault(partition, []).extend(offsets)
                wait_for(
                    lambda: calls.records_put() >= len(first) + len(more),
                    timeout=90,
                    what="every record",
                    worker=worker,
                )
                wait_for(
                    state_is(sink.plugin_config, name, first + more), timeout=90, what="the folded state", worker=worker
                )
            finally:
                assert worker.stop(30)
            failed_at, failed_offsets = calls.events["failed"]
            with calls.lock:
                later = [(when, records) for _, when, records in calls.puts if when > failed_at]
            again = next(when for when, records in later if any(p == 0 for p, _ in records))
            assert again - failed_at >= retry_after - 0.05, "the retry came before retry_after_ms"
            first_again = next(records for when, records in later if when == again)
            assert [o for p, o in first_again if p == 0][: len(failed_offsets)] == failed_offsets
            meanwhile = [records for when, records in later if when < again]
            assert any(records for records in meanwhile), "partitions 1 and 2 should keep flowing during the retry"
            assert all(p != 0 for records in meanwhile for p, _ in records)
            for partition, offsets in produced.items():
                assert calls.put_offsets(partition) == offsets, f"partition {partition}: out of order, lost or twice"

        @pytest.mark.kafka
        @pytest.mark.slow
        def test_crash_between_write_and_commit_loses_nothing(
            self, tmp_path: Path, kafka_bootstrap_servers: str
        ) -> None:
            from headwater.conformance.kafka import create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            create_topic(kafka_bootstrap_servers, name, partitions=3)
            messages = change_stream(count=900, keys=90, seed=12)
            _produce(kafka_bootstrap_servers, name, messages)

            class CrashAfterWrite(_Probe):
                """Once a third of the records went in, the first pre_commit that made
                something durable crashes the task before the runtime can commit it."""

                def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> t.Mapping[TopicPartition, int]:
                    safe = super().pre_commit(offsets)
                    if "crashed" not in self.calls.events and safe and self.calls.records_put() >= len(messages) // 3:
                        self.calls.events["crashed"] = (self.number, dict(safe))
                        msg = "simulated crash after the write, before the offset commit"
                        raise FatalError(msg)
                    return safe

            sink = connector(name, name, tmp_path, **{"consumer.override.max.poll.records": "100"})
            calls = _Calls()
            worker = in_process_worker(
                kafka_bootstrap_servers, tmp_path, [sink], task_factory=factory(CrashAfterWrite, calls)
            )
            worker.start()
            try:
                done = state_is(sink.plugin_config, name, messages)
                deadline = time.monotonic() + 90
                while not ("crashed" in calls.events and calls.tasks >= 2 and done()):
                    assert time.monotonic() < deadline, "the sink did not recover from the crash in time"
                    time.sleep(0.2)
            finally:
                assert worker.stop(30)
            crashed_task, durable = calls.events["crashed"]
            assert calls.tasks > crashed_task, "the runtime should restart the crashed task"
            if Capability.OWNS_COMMIT_POINT not in plugin.capabilities:
                return
            # The target knew more than the group: the new task must start from there.
            with calls.lock:
                reopened = {tp: o for n, starts in calls.opens if n > crashed_task for tp, o in starts.items()}
            for (topic, partition), offset in durable.items():
                assert reopened.get((topic, partition)) is not None, "open must return the target's offsets"
                assert reopened[(topic, partition)] >= offset
                replayed = [o for o in calls.put_offsets(partition, task=crashed_task + 1) if o < offset]
                assert not replayed, f"records the target held were put again: partition {partition} {replayed[:5]}"
            if harness.count_writes is not None:
                assert harness.count_writes(sink.plugin_config, name) == len(messages), "a record was written twice"

        @pytest.mark.kafka
        @pytest.mark.slow
        def test_restart_starts_from_what_open_returns(self, tmp_path: Path, kafka_bootstrap_servers: str) -> None:
            _requires(Capability.OWNS_COMMIT_POINT, plugin)
            from headwater.conformance.kafka import create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            create_topic(kafka_bootstrap_servers, name, partitions=3)
            first = change_stream(count=300, keys=60, seed=13)
            more = change_stream(count=150, keys=60, seed=14, start=300)
            written = _by_partition(_produce(kafka_bootstrap_servers, name, first))

            class CommitsNothing(_Probe):
                """The sink writes, but the consumer group never learns about it."""

                def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> t.Mapping[TopicPartition, int]:
                    super().pre_commit(offsets)
                    return {}

            sink = connector(name, name, tmp_path)
            calls = _Calls()
            worker = in_process_worker(
                kafka_bootstrap_servers, tmp_path / "a", [sink], task_factory=factory(CommitsNothing, calls)
            )
            worker.start()
            try:
                wait_for(lambda: calls.records_put() >= len(first), timeout=90, what="every record", worker=worker)
                wait_for(state_is(sink.plugin_config, name, first), timeout=90, what="the first state", worker=worker)
            finally:
                assert worker.stop(30)
            assert _committed(kafka_bootstrap_servers, f"connect-sink-{name}", name, 3) == {}
            _produce(kafka_bootstrap_servers, name, more)
            again = _Calls()
            worker = in_process_worker(
                kafka_bootstrap_servers, tmp_path / "b", [sink], task_factory=factory(_Probe, again)
            )
            worker.start()
            try:
                wait_for(
                    state_is(sink.plugin_config, name, first + more), timeout=90, what="the final state", worker=worker
                )
            finally:
                assert worker.stop(30)
            starts = {tp: o for _, opened in again.opens for tp, o in opened.items()}
            for partition, offsets in written.items():
                assert starts.get((name, partition)) == offsets[-1] + 1, "open should return the target's offsets"
                replayed = [o for o in again.put_offsets(partition) if o <= offsets[-1]]
                assert not replayed, f"the runtime did not start from open's offsets: {replayed[:5]}"

        @pytest.mark.kafka
        @pytest.mark.slow
        def test_lost_partitions_are_closed_and_not_committed(
            self, tmp_path: Path, kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
        ) -> None:
            from headwater.conformance.kafka import create_topic
            from headwater.connectors.runtime import sink_runner

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            create_topic(kafka_bootstrap_servers, name, partitions=3)
            messages = change_stream(count=300, keys=60, seed=15)
            _produce(kafka_bootstrap_servers, name, messages)
            stall = threading.Event()
            make_consumer = sink_runner._make_consumer

            class Stalling:
                """The real consumer, whose poll loop stalls once past max.poll.interval.ms
                (as a process frozen by a long GC or a VM pause would)."""

                def __init__(self, config: dict[str, t.Any]) -> None:
                    self.consumer = make_consumer(config)
                    self.stalled = False

                def consume(self, *args: t.Any) -> t.Any:
                    if stall.is_set() and not self.stalled:
                        self.stalled = True
                        time.sleep(8)
                    return self.consumer.consume(*args)

                def __getattr__(self, attribute: str) -> t.Any:
                    return getattr(self.consumer, attribute)

            checked = threading.Event()

            class CommitsWhenAsked(_Probe):
                """After the loss, asks for a commit (periodic commits are off in this test).
                Opening the partitions again waits until the test has looked at the commits:
                what the next assignment commits is legitimate and must not count."""

                def open(self, partitions: t.Sequence[TopicPartition]) -> t.Mapping[TopicPartition, int | None] | None:
                    if any(lost for _, _, lost in self.calls.closes):
                        checked.wait(30)
                    return super().open(partitions)

                def put(self, records: t.Sequence[SinkRecord]) -> None:
                    self.forward(records)
                    if any(lost for _, _, lost in self.calls.closes):
                        self.context.request_commit()

            monkeypatch.setattr(sink_runner, "_make_consumer", Stalling)
            sink = connector(
                name,
                name,
                tmp_path,
                **{
                    "consumer.override.max.poll.interval.ms": "6000",
                    "consumer.override.session.timeout.ms": "6000",
                    "consumer.override.heartbeat.interval.ms": "1000",
                },
            )
            calls = _Calls()
            # No periodic commits: whatever is committed for the partitions, a rebalance did it.
            worker = in_process_worker(
                kafka_bootstrap_servers,
                tmp_path,
                [sink],
                task_factory=factory(CommitsWhenAsked, calls),
                offset_flush_interval_ms=600_000,
            )
            worker.start()
            try:
                wait_for(
                    lambda: calls.records_put() >= len(messages), timeout=60, what="every record put", worker=worker
                )
                stall.set()
                wait_for(lambda: any(lost for _, _, lost in calls.closes), timeout=40, what="close(lost=True)")
                try:
                    assert _committed(kafka_bootstrap_servers, f"connect-sink-{name}", name, 3) == {}, (
                        "nothing may be committed for lost partitions"
                    )
                finally:
                    checked.set()
                wait_for(lambda: len(calls.opens) >= 2, timeout=40, what="the partitions assigned again")
                wait_for(
                    state_is(sink.plugin_config, name, messages), timeout=60, what="the folded state", worker=worker
                )
            finally:
                assert worker.stop(30)
            lost = [partitions for _, partitions, was_lost in calls.closes if was_lost]
            assert sorted(lost[0]) == [(name, 0), (name, 1), (name, 2)]
            assert calls.closes[0][2], "the partitions were lost, not revoked: close(lost=True) comes first"

        @pytest.mark.kafka
        @pytest.mark.slow
        def test_late_report_reaches_dead_letters_with_the_original_bytes(
            self, tmp_path: Path, kafka_bootstrap_servers: str
        ) -> None:
            from confluent_kafka import Producer

            from headwater.conformance.kafka import consume_all, create_topic

            name = f"conformance_{uuid.uuid4().hex[:8]}"
            dlq = f"{name}-dlq"
            create_topic(kafka_bootstrap_servers, name, partitions=3)
            messages = change_stream(count=200, keys=40, seed=16)
            _produce(kafka_bootstrap_servers, name, messages[:100])
            producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
            where: list[int | None] = []
            converter = JsonConverter()
            late_key = converter.to_bytes(name, {"id": -1})
            late_value = converter.to_bytes(name, {"rejected": "late"})
            producer.produce(
                name,
                key=late_key,
                value=late_value,
                headers=[("origin", b"suite")],
                partition=0,
                on_delivery=lambda error, message: where.append(message.offset()),
            )
            assert producer.flush(30) == 0
            late = where[0]
            assert late is not None
            _produce(kafka_bootstrap_servers, name, messages[100:])

            class RejectsLate(_Probe):
                """The target takes the odd record, holds its commit point before it for
                three commits, then rejects it from a thread of its own."""

                def put(self, records: t.Sequence[SinkRecord]) -> None:
                    for record in records:
                        if (record.partition, record.offset) == (0, late):
                            self.calls.events["held"] = record
                    self.forward([r for r in records if (r.partition, r.offset) != (0, late)])

                def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> t.Mapping[TopicPartition, int]:
                    safe = dict(super().pre_commit(offsets))
                    held = self.calls.events.get("held")
                    if held is None or "reported" in self.calls.events:
                        return safe
                    holds = self.calls.events["holds"] = self.calls.events.get("holds", 0) + 1
                    if holds <= 3:
                        if (name, 0) in safe:
                            safe[(name, 0)] = min(safe[(name, 0)], late)
                        return safe
                    reporter = threading.Thread(
                        target=self.context.report, args=(held, RecordError("the target rejected it", record=held))
                    )
                    reporter.start()
                    reporter.join()
                    self.calls.events["reported"] = True
                    return safe

            sink = connector(
                name, name, tmp_path, **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}
            )
            calls = _Calls()
            worker = in_process_worker(
                kafka_bootstrap_servers, tmp_path, [sink], task_factory=factory(RejectsLate, calls)
            )
            worker.start()
            try:
                wait_for(lambda: "reported" in calls.events, timeout=60, what="the late report", worker=worker)
                wait_for(
                    state_is(sink.plugin_config, name, messages), timeout=60, what="the folded state", worker=worker
                )
            finally:
                assert worker.stop(30)
            with calls.lock:
                given = [offsets.get((name, 0), 0) for _, offsets, _ in calls.commits]
            assert max(given) > late + 1, "the runtime should have read past the held record before the report"
            dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=1)
            assert len(dead) == 1
            headers = dict(dead[0].headers() or [])
            assert (dead[0].key(), dead[0].value()) == (late_key, late_value)
            assert headers["origin"] == b"suite"
            assert headers["__connect.errors.offset"] == str(late).encode()
            assert headers["__connect.errors.stage"] == b"TASK_PUT"

    SinkStandardTests.__name__ = f"Test{plugin.__name__}Standard"
    SinkStandardTests.__qualname__ = SinkStandardTests.__name__
    return SinkStandardTests
