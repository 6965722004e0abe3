"""The sink runner's promises beyond the standard suite: a slow put keeps the task in its
group, a plugin's pause outlasts the runtime's own pauses, emit() reaches Kafka, and the
batch settings are checked."""

from __future__ import annotations

import json
import threading
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from reference_sink import ReferenceSinkConnector, ReferenceSinkTask, read_state

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import fold
from headwater.conformance.kafka import consume_all, create_topic
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.conformance.sink_suite import _committed, change_stream
from headwater.conformance.standard import _normalise
from headwater.connectors.api import SinkRecord, SinkTaskContext, TopicPartition
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError, RecordError, RetriableError
from headwater.connectors.loading import parse_connector
from headwater.connectors.settings import ConnectorConfig, WorkerConfig

Hook: t.TypeAlias = t.Callable[["Recording", t.Sequence[SinkRecord]], t.Sequence[SinkRecord]]
CommitHook: t.TypeAlias = t.Callable[["Recording"], None]


class Recording(ReferenceSinkTask):
    """The reference sink, recording the runtime's calls; ``before_put`` may act first."""

    def __init__(
        self,
        config: t.Any,
        context: SinkTaskContext,
        log: dict[str, t.Any],
        before_put: Hook | None = None,
        before_commit: CommitHook | None = None,
    ) -> None:
        super().__init__(config, context)
        self.log = log
        self.before_put = before_put
        self.before_commit = before_commit
        log.setdefault("puts", [])
        log.setdefault("opens", []).append(None)
        log.setdefault("closes", [])

    def open(self, partitions: t.Sequence[TopicPartition]) -> dict[TopicPartition, int | None]:
        self.log["opens"].append(sorted(partitions))
        return super().open(partitions)

    def put(self, records: t.Sequence[SinkRecord]) -> None:
        if self.before_put is not None:
            records = self.before_put(self, records)
        self.log["puts"].append((time.monotonic(), [(r.partition, r.offset) for r in records]))
        super().put(records)

    def pre_commit(self, offsets: t.Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        if self.before_commit is not None:
            self.before_commit(self)
        return super().pre_commit(offsets)

    def close(self, partitions: t.Sequence[TopicPartition], *, lost: bool) -> None:
        self.log["closes"].append((sorted(partitions), lost))
        super().close(partitions, lost=lost)


def _factory(log: dict[str, t.Any], before_put: Hook | None = None, before_commit: CommitHook | None = None) -> t.Any:
    return lambda _cls, config, context: Recording(config, context, log, before_put, before_commit)


def _produce(
    bootstrap: str, topic: str, messages: t.Sequence[tuple[t.Any, t.Any]], partition: int | None = None
) -> None:
    from confluent_kafka import Producer

    converter = JsonConverter()
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in messages:
        extra = {} if partition is None else {"partition": partition}
        producer.produce(topic, key=converter.to_bytes(topic, key), value=converter.to_bytes(topic, value), **extra)
    assert producer.flush(30) == 0


def _sink(tmp_path: Path, topic: str, **framework: str) -> t.Any:
    return parse_connector(
        {
            "name": f"sink-{topic}",
            "config": {
                "connector.class": "reference_sink:ReferenceSinkConnector",
                "topics": topic,
                "reference.db": str(tmp_path / "target.sqlite"),
                **framework,
            },
        }
    )


def _put_offsets(log: dict[str, t.Any], partition: int) -> list[int]:
    return [o for _, records in list(log.get("puts", [])) for p, o in records if p == partition]


def _state_is(config: PluginConfig, topic: str, messages: t.Sequence[tuple[t.Any, t.Any]]) -> t.Callable[[], bool]:
    expected = _normalise(fold(messages))
    return lambda: _normalise(read_state(config, topic)) == expected


@pytest.mark.kafka
@pytest.mark.slow
def test_a_put_longer_than_max_poll_interval_keeps_the_task_in_its_group(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    topic = f"slowput-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic, partitions=2)
    messages = change_stream(count=200, keys=40, seed=21)
    _produce(kafka_bootstrap_servers, topic, messages)
    log: dict[str, t.Any] = {}

    def slow_first(task: Recording, records: t.Sequence[SinkRecord]) -> t.Sequence[SinkRecord]:
        if not log.get("slept"):
            log["slept"] = True
            time.sleep(9)  # longer than max.poll.interval.ms below
        return records

    sink = _sink(
        tmp_path,
        topic,
        **{
            "consumer.override.max.poll.interval.ms": "6000",
            "consumer.override.session.timeout.ms": "6000",
            "consumer.override.heartbeat.interval.ms": "1000",
            "consumer.override.max.poll.records": "50",
        },
    )
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=_factory(log, slow_first))
    worker.start()
    try:
        wait_for(lambda: log.get("slept", False), timeout=30, what="the slow put", worker=worker)
        wait_for(_state_is(sink.plugin_config, topic, messages), timeout=60, what="the folded state", worker=worker)
        wait_for(lambda: sum(len(r) for _, r in log["puts"]) >= len(messages), timeout=30, what="every record")
    finally:
        assert worker.stop(30)
    assert [o for o in log["opens"] if o is not None] == [[(topic, 0), (topic, 1)]], "a rebalance happened"
    assert all(lost is False for _, lost in log["closes"]) and len(log["closes"]) == 1, "closed only at stop"
    for partition in (0, 1):
        offsets = _put_offsets(log, partition)
        assert offsets == sorted(set(offsets)), f"partition {partition} was replayed"


@pytest.mark.kafka
@pytest.mark.slow
def test_a_plugin_pause_outlasts_retries_and_the_paused_state(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"pluginpause-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic, partitions=2)
    messages = change_stream(count=100, keys=20, seed=22)
    _produce(kafka_bootstrap_servers, topic, messages[:50], partition=0)
    log: dict[str, t.Any] = {}

    def pause_then_fail(task: Recording, records: t.Sequence[SinkRecord]) -> t.Sequence[SinkRecord]:
        if "paused" not in log:
            log["paused"] = True
            log["assignment"] = task.context.assignment()
            task.context.pause([(topic, 1)])
            log["context"] = task.context
        if not log.get("failed"):
            log["failed"] = True
            msg = "partition 0 is throttled"
            raise RetriableError(msg, retry_after_ms=300, partitions={(topic, 0)})
        return records

    def resume_when_told(task: Recording) -> None:
        if log.get("resume_now") and "resumed" not in log:
            log["resumed"] = time.monotonic()
            task.context.resume([(topic, 1)])

    sink = _sink(tmp_path, topic)
    worker = in_process_worker(
        kafka_bootstrap_servers, tmp_path, [sink], task_factory=_factory(log, pause_then_fail, resume_when_told)
    )
    name = sink.framework.name
    worker.start()
    try:
        wait_for(lambda: len(_put_offsets(log, 0)) >= 50, timeout=30, what="partition 0 after its retry", worker=worker)
        _produce(kafka_bootstrap_servers, topic, messages[50:], partition=1)
        worker.pause(name)
        wait_for(lambda: worker.status(name)["tasks"][0]["state"] == "PAUSED", what="PAUSED", worker=worker)
        worker.resume(name)
        time.sleep(1.5)
        assert not _put_offsets(log, 1), "partition 1 came back before the plugin resumed it"
        log["resume_now"] = True
        wait_for(_state_is(sink.plugin_config, topic, messages), timeout=30, what="the folded state", worker=worker)
    finally:
        assert worker.stop(30)
    assert log["assignment"] == frozenset({(topic, 0), (topic, 1)})
    assert min(when for when, records in log["puts"] if any(p == 1 for p, _ in records)) > log["resumed"]


@pytest.mark.kafka
def test_emit_from_a_plugin_thread_reaches_kafka_converted(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"emit-{uuid.uuid4().hex[:6]}"
    responses = f"{topic}-responses"
    create_topic(kafka_bootstrap_servers, topic)
    create_topic(kafka_bootstrap_servers, responses)
    messages = change_stream(count=60, keys=60, seed=23)
    _produce(kafka_bootstrap_servers, topic, messages)
    log: dict[str, t.Any] = {}

    def respond(task: Recording, records: t.Sequence[SinkRecord]) -> t.Sequence[SinkRecord]:
        def send() -> None:
            for record in records:
                task.context.emit(responses, {"offset": record.offset}, {"written": True}, (("trace", b"x"),))

        worker_thread = threading.Thread(target=send)
        worker_thread.start()
        worker_thread.join()
        return records

    sink = _sink(tmp_path, topic)
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=_factory(log, respond))
    worker.start()
    try:
        wait_for(_state_is(sink.plugin_config, topic, messages), timeout=30, what="the folded state", worker=worker)
    finally:
        assert worker.stop(30)
    converter = JsonConverter()
    got = consume_all(kafka_bootstrap_servers, responses, min_messages=len(messages))
    offsets = sorted(converter.from_bytes(responses, m.key())["offset"] for m in got)
    assert offsets == list(range(len(messages)))
    assert converter.from_bytes(responses, got[0].value()) == {"written": True}
    assert dict(got[0].headers() or [])["trace"] == b"x"


def test_max_poll_records_must_be_a_positive_count() -> None:
    with pytest.raises(ConfigError) as error:
        parse_connector(
            {
                "name": "s",
                "config": {
                    "connector.class": "reference_sink:ReferenceSinkConnector",
                    "topics": "t",
                    "reference.db": "x",
                    "consumer.override.max.poll.records": "lots",
                },
            }
        )
    assert "consumer.override" in str(error.value) and "max.poll.records" in str(error.value)
    assert [e.key for e in WorkerConfig(**{"consumer.*": {"max.poll.records": "0"}}).consistency_errors()] == [
        "consumer.max.poll.records"
    ]
    assert ConnectorConfig(name="s", connector_class="x", **{"batch.max.wait.ms": 250}).batch_max_wait_ms == 250


def test_the_reference_connector_is_a_sink() -> None:
    assert ReferenceSinkConnector.task_class is ReferenceSinkTask


def _message(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, headers: t.Any = None
) -> t.Any:
    from confluent_kafka import Message

    return Message(topic=topic, partition=partition, offset=offset, key=key, value=value, headers=headers)


def test_retained_records_count_their_bytes_and_go_once_committed() -> None:
    from headwater.connectors.runtime.sink_runner import RetainedRecords

    retained = RetainedRecords()
    retained.add_messages(
        [
            _message("t", 0, 5, b"k", b"value", [("h", b"12")]),
            _message("t", 0, 6, None, b"v"),
            _message("t", 1, 5, b"kk", None),
        ]
    )
    assert retained.bytes == (1 + 5 + 1 + 2) + 1 + 2 and retained.count == 3
    retained.add_messages([_message("t", 0, 6, None, b"v")])  # read again after a rewind: counted once
    assert retained.bytes == 12 and retained.count == 3
    assert retained.get(("t", 0), 5) == (b"k", b"value", (("h", b"12"),))
    retained.release(("t", 0), 6)
    assert retained.get(("t", 0), 5) is None and retained.get(("t", 0), 6) == (None, b"v", ())
    retained.drop(("t", 1))
    assert retained.bytes == 1 and retained.count == 1 and retained.get(("t", 1), 5) is None


def test_retained_records_released_after_a_rewind_to_earlier_offsets() -> None:
    """A seek back re-reads lower offsets after higher ones: a commit still frees exactly
    the records below it, and the byte count stays true."""
    from headwater.connectors.runtime.sink_runner import RetainedRecords

    retained = RetainedRecords()
    retained.add_messages([_message("t", 0, offset, None, b"x" * offset) for offset in (10, 11, 12)])
    retained.add_messages([_message("t", 0, offset, None, b"x" * offset) for offset in (3, 4)])  # after a rewind
    retained.release(("t", 0), 11)
    assert [o for o in (3, 4, 10, 11, 12) if retained.get(("t", 0), o) is not None] == [11, 12]
    assert retained.bytes == 11 + 12
    retained.release(("t", 0), 13)
    assert retained.bytes == 0 and retained.get(("t", 0), 12) is None
    retained.add_messages([_message("t", 0, 13, b"k", b"v")])
    assert retained.bytes == 2 and retained.get(("t", 0), 13) == (b"k", b"v", ())


def test_retained_records_take_interleaved_partitions_and_overlapping_rereads() -> None:
    """Runs of several partitions in one batch, and a re-read that overlaps what is kept,
    count each record once with its latest bytes."""
    from headwater.connectors.runtime.sink_runner import RetainedRecords, partition_runs

    batch = [
        _message("a", 0, 0, b"k", b"1"),
        _message("a", 0, 1, b"k", b"22"),
        _message("a", 1, 0, None, b"333"),
        _message("b", 0, 0, b"kk", None, [("h", None)]),
        _message("a", 0, 2, b"k", b"4444"),
    ]
    assert [(tp, [m.offset() for m in run]) for tp, run in partition_runs(batch)] == [
        (("a", 0), [0, 1]),
        (("a", 1), [0]),
        (("b", 0), [0]),
        (("a", 0), [2]),
    ]
    retained = RetainedRecords()
    retained.add_messages(batch)
    assert retained.count == 5 and retained.bytes == (2 + 3 + 5) + 3 + (2 + 1)
    retained.add_messages([_message("a", 0, 1, b"k", b"x"), _message("a", 0, 2, b"k", b"y")])
    assert retained.count == 5 and retained.bytes == (2 + 2 + 2) + 3 + 3
    assert retained.get(("a", 0), 2) == (b"k", b"y", ())
    assert retained.find(0, 0) is None  # held by two topics: ambiguous
    assert retained.find(1, 0) == (None, b"333", ())
    retained.release(("a", 0), 3)
    assert retained.count == 2 and retained.bytes == 3 + 3


@pytest.mark.kafka
def test_a_report_from_a_plugin_thread_under_tolerance_none_fails_the_task(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    topic = f"threadreport-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic)
    _produce(kafka_bootstrap_servers, topic, change_stream(count=20, keys=20, seed=24))
    log: dict[str, t.Any] = {}

    def report_offset_3(task: Recording, records: t.Sequence[SinkRecord]) -> t.Sequence[SinkRecord]:
        bad = [r for r in records if r.offset == 3]

        def report() -> None:
            try:
                task.context.report(bad[0], RecordError("the target refused it"))
            except Exception as exc:
                log["raised"] = exc

        if bad:
            reporter = threading.Thread(target=report)
            reporter.start()
            reporter.join()
        return [r for r in records if r.offset != 3]

    sink = _sink(tmp_path, topic, **{"task.restart.max.attempts": "0"})
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=_factory(log, report_offset_3))
    name = sink.framework.name
    worker.start()
    try:
        wait_for(lambda: worker.status(name)["tasks"][0]["state"] == "FAILED", timeout=30, what="FAILED")
        trace = worker.status(name)["tasks"][0]["trace"]
    finally:
        assert worker.stop(30)
    assert f"{topic}-0@3" in trace and "errors.tolerance=all" in trace
    assert "raised" in log, "the reporting thread gets the error too"
    committed = _committed_offset(kafka_bootstrap_servers, f"connect-{name}", topic)
    assert committed is None or committed <= 3, "nothing past the refused record may be committed"


def _committed_offset(bootstrap: str, group: str, topic: str) -> int | None:
    from confluent_kafka import Consumer
    from confluent_kafka import TopicPartition as KafkaPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        (found,) = consumer.committed([KafkaPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()
    return found.offset if found.offset >= 0 else None


@pytest.mark.kafka
def test_batch_max_wait_ms_fills_a_put_from_records_that_trickle_in(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    topic = f"batchwait-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic)
    messages = change_stream(count=30, keys=30, seed=25)
    log: dict[str, t.Any] = {}
    sink = _sink(tmp_path, topic, **{"batch.max.wait.ms": "2000", "consumer.override.max.poll.records": "1000"})
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=_factory(log))
    worker.start()
    try:
        wait_for(lambda: len(log.get("opens", [])) >= 2, timeout=30, what="the assignment", worker=worker)
        for burst in range(3):
            _produce(kafka_bootstrap_servers, topic, messages[burst * 10 : burst * 10 + 10])
            time.sleep(0.3)
        wait_for(lambda: len(_put_offsets(log, 0)) >= 30, timeout=30, what="every record", worker=worker)
    finally:
        assert worker.stop(30)
    assert [len(records) for _, records in log["puts"]] == [30], "one put once the wait was over"


@pytest.mark.kafka
@pytest.mark.parametrize("retry_after_ms", [None, 60_000])
def test_put_retries_end_at_errors_retry_timeout(
    tmp_path: Path, kafka_bootstrap_servers: str, retry_after_ms: int | None
) -> None:
    topic = f"retrytimeout-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic)
    _produce(kafka_bootstrap_servers, topic, change_stream(count=5, keys=5, seed=26))
    log: dict[str, t.Any] = {}

    def always_throttled(task: Recording, records: t.Sequence[SinkRecord]) -> t.Sequence[SinkRecord]:
        log["attempts"] = log.get("attempts", 0) + 1
        msg = "throttled"
        raise RetriableError(msg, retry_after_ms=retry_after_ms)

    sink = _sink(
        tmp_path,
        topic,
        **{"errors.retry.timeout": "800", "errors.retry.delay.max.ms": "50", "task.restart.max.attempts": "0"},
    )
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=_factory(log, always_throttled))
    name = sink.framework.name
    started = time.monotonic()
    worker.start()
    try:
        wait_for(lambda: worker.status(name)["tasks"][0]["state"] == "FAILED", timeout=20, what="FAILED")
        trace = worker.status(name)["tasks"][0]["trace"]
    finally:
        assert worker.stop(30)
    assert "errors.retry.timeout=800" in trace
    if retry_after_ms is None:
        assert log["attempts"] > 3, "the put should have been retried with backoff until the timeout"
    else:
        assert log["attempts"] == 1, "a retry-after beyond the timeout fails at once"
    assert time.monotonic() - started < 15


@pytest.mark.kafka
def test_a_batch_with_unreadable_records_puts_the_rest_in_order_and_dead_letters_those(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    """Batches are converted a topic run at a time; one unreadable value or key in a run
    must not cost the run's other records, their order, or their values."""
    from confluent_kafka import Producer

    run = uuid.uuid4().hex[:6]
    topics, dlq = [f"runs-a-{run}", f"runs-b-{run}"], f"runs-dlq-{run}"
    for topic in topics:
        create_topic(kafka_bootstrap_servers, topic)
    bad = {(topics[0], 7): "value", (topics[1], 3): "key", (topics[1], 11): "value", (topics[1], 14): "value"}
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    for i in range(15):
        for topic in topics:
            broken = bad.get((topic, i))
            key = b"\xff\xfe" if broken == "key" else f"k{i}".encode()
            value = b"{not json" if broken == "value" else f'{{"i": {i}, "n": 12345678901234567890123}}'.encode()
            producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0
    out = tmp_path / "out"
    sink = parse_connector(
        {
            "name": f"sink-runs-{run}",
            "config": {
                "connector.class": "file",
                "topics": ",".join(topics),
                "file.dir": str(out),
                "key.converter": "string",
                "value.converter": "json",
                "value.converter.schemas.enable": "false",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.topic.replication.factor": "1",
                "errors.deadletterqueue.context.headers.enable": "true",
            },
        }
    )

    def lines() -> list[tuple[str, int, t.Any, t.Any]]:
        found = []
        for path in sorted(out.glob("*.jsonl")):
            for line in path.read_text().splitlines():
                document = json.loads(line)
                found.append((document["topic"], document["offset"], document["key"], document["value"]))
        return found

    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink])
    worker.start()
    try:
        wait_for(lambda: len(lines()) >= 26, timeout=60, what="the good records", worker=worker)
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=4)
    finally:
        assert worker.stop(30)
    seen = lines()
    for topic in topics:
        expected = [
            (topic, i, f"k{i}", {"i": i, "n": 12345678901234567890123}) for i in range(15) if (topic, i) not in bad
        ]
        assert [item for item in seen if item[0] == topic] == expected
        # Committed past every record, the unreadable last one of a batch included (it is
        # not read and dead-lettered again after a restart).
        assert _committed(kafka_bootstrap_servers, f"connect-sink-runs-{run}", topic, 1) == {0: 15}
    stages = {
        (dict(m.headers())["__connect.errors.topic"].decode(), int(dict(m.headers())["__connect.errors.offset"])): dict(
            m.headers()
        )["__connect.errors.stage"]
        for m in dead
    }
    assert stages == {
        (topics[0], 7): b"VALUE_CONVERTER",
        (topics[1], 3): b"KEY_CONVERTER",
        (topics[1], 11): b"VALUE_CONVERTER",
        (topics[1], 14): b"VALUE_CONVERTER",
    }


@pytest.mark.kafka
@pytest.mark.parametrize("quick", [False, True])
def test_hooks_run_on_one_thread_the_consumers_only_for_quick_calls(
    tmp_path: Path, kafka_bootstrap_servers: str, quick: bool
) -> None:
    """Every hook runs on one thread; a sink declaring ``QUICK_CALLS`` gets the consumer's
    own thread (no hand-off per batch), any other a task thread of its own."""
    topic = f"hookthreads-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic)
    messages = change_stream(count=60, keys=60, seed=26)
    _produce(kafka_bootstrap_servers, topic, messages)
    threads: dict[str, set[str]] = {}

    def note(hook: str) -> None:
        threads.setdefault(hook, set()).add(threading.current_thread().name)

    def before_put(_task: Recording, records: t.Sequence[SinkRecord]) -> t.Sequence[SinkRecord]:
        note("put")
        return records

    log: dict[str, t.Any] = {}
    connector = "reference_sink:QuickReferenceSinkConnector" if quick else "reference_sink:ReferenceSinkConnector"
    sink = parse_connector(
        {
            "name": f"sink-{topic}",
            "config": {
                "connector.class": connector,
                "topics": topic,
                "reference.db": str(tmp_path / "target.sqlite"),
            },
        }
    )
    factory = _factory(log, before_put, before_commit=lambda _task: note("pre_commit"))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [sink], task_factory=factory)
    worker.start()
    try:
        wait_for(_state_is(sink.plugin_config, topic, messages), timeout=60, what="every record", worker=worker)
    finally:
        assert worker.stop(30)
    assert set(threads) == {"put", "pre_commit"}
    names = threads["put"] | threads["pre_commit"]
    assert len(names) == 1, names
    assert names.pop().endswith("-task") is not quick
