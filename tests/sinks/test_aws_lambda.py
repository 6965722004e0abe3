"""The ``aws-lambda`` sink against a local Lambda endpoint whose handler runs inside AWS's
own runtime client (``awslambdaric``), and a real broker for the runtime tests."""

from __future__ import annotations

import base64
import fcntl
import json
import typing as t
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.codecs.envelope import fold
from headwater.conformance.lambda_endpoint import LambdaEndpoint
from headwater.conformance.standard import SinkHarness, get_sink_test_class
from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.connectors.config import PluginConfig
from headwater.sinks.aws_lambda import LambdaSinkConnector, LambdaSinkTask
from headwater.sinks.aws_lambda.config import LambdaSinkConfig

pytest.importorskip("awslambdaric")

HANDLERS = Path(__file__).parent / "lambda_handlers"


class _Shared:
    endpoint: LambdaEndpoint | None = None
    store: Path | None = None


def endpoint(tmp_root: Path | None = None) -> tuple[LambdaEndpoint, Path]:
    """The module's endpoint with the ``recorder`` function, started on first use."""
    if _Shared.endpoint is None:
        store = Path(tmp_root or Path("/tmp")) / f"lambda-store-{uuid.uuid4().hex[:8]}"
        store.mkdir(parents=True)
        ep = LambdaEndpoint(0)  # ports the OS picks: two runs at once never collide
        ep.add_function(
            "recorder",
            HANDLERS,
            "recorder.handle",
            runtime_port=0,
            concurrency=3,
            timeout_s=20,
            env={"HEADWATER_LAMBDA_STORE": str(store)},
        )
        _Shared.endpoint, _Shared.store = ep, store
    assert _Shared.store is not None
    return _Shared.endpoint, _Shared.store


@pytest.fixture(scope="module", autouse=True)
def _lambda_endpoint(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[None]:
    endpoint(tmp_path_factory.mktemp("lambda"))
    yield
    if _Shared.endpoint is not None:
        _Shared.endpoint.close()
        _Shared.endpoint = None


def sink_config(**overrides: str) -> dict[str, str]:
    ep, _ = endpoint()
    return {
        "aws.lambda.function.name": "recorder",
        "aws.lambda.endpoint.url": ep.url,
        "aws.access.key.id": "test",
        "aws.secret.access.key": "test",
        "aws.lambda.batch.size": "40",
        "aws.lambda.max.concurrency": "3",
        "aws.lambda.retry.backoff.ms": "50",
        **overrides,
    }


def stored_lines(topic: str) -> list[dict[str, t.Any]]:
    _, store = endpoint()
    path = store / f"{topic}.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        # The handler appends under an exclusive lock: a shared one never sees half a line.
        fcntl.flock(handle, fcntl.LOCK_SH)
        text = handle.read()
    return [json.loads(line, parse_float=Decimal) for line in text.splitlines()]


def stored_events(topic: str) -> list[dict[str, t.Any]]:
    _, store = endpoint()
    path = store / f"{topic}.events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _state(_config: PluginConfig, topic: str) -> dict[str, t.Any]:
    return fold((line["key"], line["value"]) for line in stored_lines(topic))


TestLambdaSink = get_sink_test_class(
    SinkHarness(
        connector_class=LambdaSinkConnector,
        make_config=lambda _tmp, _name: sink_config(),
        read_state=_state,
        count_writes=lambda _config, topic: len(stored_lines(topic)),
        # JSON cannot hold a complex number: the one value no payload can carry.
        bad_value={"op": "c", "after": {"id": -1, "value": complex(1, 2)}},
    )
)


def _task(
    reported: list[tuple[SinkRecord, BaseException]] | None = None, **overrides: str
) -> tuple[LambdaSinkTask, LambdaSinkConfig]:
    config = LambdaSinkConfig.model_validate(sink_config(**overrides))
    sink = reported if reported is not None else []
    context = SinkTaskContext("lambda-test", 0, report=lambda r, e: sink.append((r, e)))
    return LambdaSinkTask(config, context), config


def _records(topic: str, count: int, partition: int = 0, start: int = 0) -> list[SinkRecord]:
    return [
        SinkRecord(topic, partition, start + i, {"id": i}, {"id": i, "n": start + i}, (), 1_700_000_000_000 + i)
        for i in range(count)
    ]


def test_esm_event_shape_is_exactly_the_mappings() -> None:
    topic = f"esm_{uuid.uuid4().hex[:8]}"
    task, _ = _task(**{"aws.lambda.bootstrap.servers": "b-1:9092,b-2:9092"})
    record = SinkRecord(topic, 2, 15, b'{"id":1}', b'{"hello":"world"}', (("trace", b"ab"),), 1545084650987)
    tombstone = SinkRecord(topic, 2, 16, b'{"id":1}', None, (), 1545084650988, timestamp_type="LogAppendTime")
    try:
        task.put([record, tombstone])
        task.flush()
    finally:
        task.stop()
    [event] = stored_events(topic)
    assert event == {
        "eventSource": "SelfManagedKafka",
        "bootstrapServers": "b-1:9092,b-2:9092",
        "records": {
            f"{topic}-2": [
                {
                    "topic": topic,
                    "partition": 2,
                    "offset": 15,
                    "timestamp": 1545084650987,
                    "timestampType": "CREATE_TIME",
                    "key": base64.b64encode(b'{"id":1}').decode(),
                    "value": base64.b64encode(b'{"hello":"world"}').decode(),
                    "headers": [{"trace": [97, 98]}],
                },
                {
                    "topic": topic,
                    "partition": 2,
                    "offset": 16,
                    "timestamp": 1545084650988,
                    "timestampType": "LOG_APPEND_TIME",
                    "key": base64.b64encode(b'{"id":1}').decode(),
                    "headers": [],
                },
            ]
        },
    }


def test_batches_are_cut_by_serialized_bytes() -> None:
    topic = f"bytes_{uuid.uuid4().hex[:8]}"
    limit = 2000
    task, _ = _task(**{"aws.lambda.batch.size": "1000", "aws.lambda.batch.max.bytes": str(limit)})
    records = _records(topic, 120)
    ep, _ = endpoint()
    before = len(ep.invocations("recorder"))
    try:
        task.put(records)
        task.flush()
    finally:
        task.stop()
    sizes = [len(i.payload) for i in ep.invocations("recorder")[before:] if topic.encode() in i.payload]
    assert len(sizes) > 1, "120 records of ~150 bytes cannot fit one 2000-byte payload"
    assert max(sizes) <= limit
    assert min(sizes[:-1]) > limit - 250, "a batch was cut well before the byte limit"
    assert [line["meta"]["offset"] for line in stored_lines(topic)] == list(range(120))


def test_a_record_over_the_byte_limit_is_reported_not_invoked() -> None:
    topic = f"big_{uuid.uuid4().hex[:8]}"
    reported: list[tuple[SinkRecord, BaseException]] = []
    task, _ = _task(reported, **{"aws.lambda.batch.max.bytes": "1000"})
    big = SinkRecord(topic, 0, 1, {"id": 1}, {"blob": "x" * 2000}, (), 0)
    try:
        task.put([*_records(topic, 1), big, *_records(topic, 1, start=2)])
        task.flush()
    finally:
        task.stop()
    assert [r.offset for r, _ in reported] == [1]
    assert "over the 1000-byte limit" in str(reported[0][1])
    assert [line["meta"]["offset"] for line in stored_lines(topic)] == [0, 2]


def test_a_function_error_is_never_success_and_bisection_isolates_the_poison() -> None:
    topic = f"poison_{uuid.uuid4().hex[:8]}"
    reported: list[tuple[SinkRecord, BaseException]] = []
    task, _ = _task(reported, **{"aws.lambda.batch.size": "64"})
    records = _records(topic, 64)
    records[37] = SinkRecord(topic, 0, 37, {"id": 37}, {"id": 37, "poison": True}, (), 0)
    try:
        task.put(records)
        task.flush()
        committable = task.pre_commit({(topic, 0): 64})
    finally:
        task.stop()
    assert [r.offset for r, _ in reported] == [37]
    error = str(reported[0][1])
    assert "Unhandled" in error and "poison record at" in error and "ValueError" in error
    offsets = [line["meta"]["offset"] for line in stored_lines(topic)]
    assert offsets == [o for o in range(64) if o != 37], "every other record once, in order"
    assert committable == {(topic, 0): 64}


def test_a_function_error_with_behavior_ignore_skips_the_record() -> None:
    topic = f"ignore_{uuid.uuid4().hex[:8]}"
    reported: list[tuple[SinkRecord, BaseException]] = []
    task, _ = _task(reported, **{"behavior.on.error": "ignore"})
    records = _records(topic, 4)
    records[1] = SinkRecord(topic, 0, 1, {"id": 1}, {"poison": True}, (), 0)
    try:
        task.put(records)
        task.flush()
    finally:
        task.stop()
    assert not reported
    assert [line["meta"]["offset"] for line in stored_lines(topic)] == [0, 2, 3]


def test_throttling_holds_only_the_throttled_partition() -> None:
    topic = f"throttle_{uuid.uuid4().hex[:8]}"
    ep, _ = endpoint()
    marker = f'"{topic}-0"'.encode()
    ep.throttle("recorder", 3, retry_after_seconds=0.6, match=lambda body: marker in body)
    task, _ = _task(**{"aws.lambda.batch.size": "10"})
    records = [r for p in range(3) for r in _records(topic, 30, partition=p)]
    try:
        task.put(records)
        # While partition 0 waits out its throttles, nothing of it is committable.
        committable = task.pre_commit({(topic, 0): 30})
        task.flush()
    finally:
        task.stop()
    assert committable == {}, "nothing of partition 0 was delivered yet"
    lines = stored_lines(topic)
    by_partition = {p: [line["meta"] for line in lines if line["meta"]["partition"] == p] for p in range(3)}
    for p in range(3):
        assert [m["offset"] for m in by_partition[p]] == list(range(30)), f"partition {p}: lost, twice or reordered"
    first_of_0 = by_partition[0][0]["at"]
    last_of_others = max(m["at"] for p in (1, 2) for m in by_partition[p])
    assert last_of_others < first_of_0, "partitions 1 and 2 should be done while partition 0 is throttled"


def test_an_unknown_function_fails_the_task_naming_it() -> None:
    task, _ = _task(**{"aws.lambda.function.name": "no-such-function"})
    try:
        task.put(_records("unknown", 1))
        with pytest.raises(Exception, match="no-such-function"):
            task.flush()
    finally:
        task.stop()


def test_async_invocations_are_accepted_and_run() -> None:
    topic = f"async_{uuid.uuid4().hex[:8]}"
    task, _ = _task(**{"aws.lambda.invocation.type": "async"})
    try:
        task.put(_records(topic, 10))
        task.flush()
    finally:
        task.stop()
    from headwater.conformance.runtime import wait_for

    wait_for(lambda: len(stored_lines(topic)) == 10, timeout=10, what="the async invocations to run")


def test_credentials_are_secret_and_come_in_pairs() -> None:
    config = LambdaSinkConfig.model_validate(sink_config(**{"aws.secret.access.key": "s3cr3t"}))
    assert "s3cr3t" not in repr(config)
    with pytest.raises(ValueError, match=r"aws\.access\.key\.id and aws\.secret\.access\.key"):
        LambdaSinkConfig.model_validate({"aws.lambda.function.name": "f", "aws.access.key.id": "only-one"})


@pytest.mark.kafka
def test_through_the_runtime_poison_to_dlq_throttle_storm_and_response_topic(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    """Three partitions through the real worker: a throttle storm on partition 0 loses
    nothing, a poison record in partition 1 lands in the dead-letter topic with the
    function's error (never counted as delivered), every result reaches the response
    topic keyed by its input offsets, the broker's LogAppendTime reaches the handler as
    ``LOG_APPEND_TIME``, and the group commits everything."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka import TopicPartition as KafkaPartition

    from headwater.conformance.kafka import consume_all, create_topic
    from headwater.conformance.runtime import in_process_worker, wait_for

    topic = f"lambda_rt_{uuid.uuid4().hex[:8]}"
    dlq, responses = f"{topic}-dlq", f"{topic}-responses"
    create_topic(kafka_bootstrap_servers, topic, partitions=3, config={"message.timestamp.type": "LogAppendTime"})
    ep, _ = endpoint()
    marker = f'"{topic}-0"'.encode()
    ep.throttle("recorder", 8, retry_after_seconds=0.2, match=lambda body: marker in body)
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    per_partition = 60
    for p in range(3):
        for i in range(per_partition):
            value: dict[str, t.Any] = {"id": i, "p": p}
            if p == 1 and i == 41:
                value["poison"] = True
            producer.produce(topic, key=json.dumps({"id": i}).encode(), value=json.dumps(value).encode(), partition=p)
    assert producer.flush(30) == 0
    worker = in_process_worker(
        kafka_bootstrap_servers,
        tmp_path,
        [
            {
                "name": "lambda-rt",
                "config": {
                    "connector.class": "aws-lambda",
                    "topics": topic,
                    "errors.tolerance": "all",
                    "errors.deadletterqueue.topic.name": dlq,
                    "key.converter.schemas.enable": "false",
                    "value.converter.schemas.enable": "false",
                    **sink_config(**{"aws.lambda.batch.size": "16", "aws.lambda.response.topic": responses}),
                },
            }
        ],
    )
    worker.start()
    try:
        wait_for(
            lambda: len(stored_lines(topic)) >= 3 * per_partition - 1, timeout=60, what="every record", worker=worker
        )
        consumer = Consumer({"bootstrap.servers": kafka_bootstrap_servers, "group.id": "connect-lambda-rt"})

        def committed() -> list[int]:
            found = consumer.committed([KafkaPartition(topic, p) for p in range(3)], timeout=10)
            return [tp.offset for tp in found]

        try:
            wait_for(lambda: committed() == [per_partition] * 3, timeout=30, what="the commit", worker=worker)
        finally:
            consumer.close()
    finally:
        assert worker.stop(30)
    lines = stored_lines(topic)
    for p in range(3):
        offsets = [line["meta"]["offset"] for line in lines if line["meta"]["partition"] == p]
        expected = [o for o in range(per_partition) if (p, o) != (1, 41)]
        assert offsets == expected, f"partition {p}: lost, twice or reordered"
    assert ep.functions["recorder"].injected[-1].times == 0, "the throttle storm was not used up"
    delivered = [r for event in stored_events(topic) for rs in event["records"].values() for r in rs]
    assert delivered and {r["timestampType"] for r in delivered} == {"LOG_APPEND_TIME"}, "the topic's timestamp type"
    dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=1)
    assert len(dead) == 1
    headers = dict(dead[0].headers() or [])
    assert json.loads(dead[0].value()) == {"id": 41, "p": 1, "poison": True}
    assert headers["__connect.errors.partition"] == b"1"
    assert headers["__connect.errors.offset"] == b"41"
    assert b"poison record at" in headers["__connect.errors.exception.message"]
    results = consume_all(kafka_bootstrap_servers, responses, min_messages=1)
    covered = {
        (key["partition"], o)
        for key in (json.loads(m.key()) for m in results)
        for o in range(key["first_offset"], key["last_offset"] + 1)
    }
    assert covered == {(p, o) for p in range(3) for o in range(per_partition) if (p, o) != (1, 41)}
    assert all(json.loads(m.value())["processed"] >= 1 for m in results)


def test_service_errors_are_retried_with_backoff_and_nothing_is_lost() -> None:
    topic = f"fivexx_{uuid.uuid4().hex[:8]}"
    ep, _ = endpoint()
    marker = f'"{topic}-0"'.encode()
    ep.fail("recorder", 2, status=500, error_type="ServiceException", match=lambda body: marker in body)
    ep.fail("recorder", 1, status=502, error_type="ResourceNotReadyException", match=lambda body: marker in body)
    task, _ = _task(**{"aws.lambda.batch.size": "10"})
    try:
        task.put(_records(topic, 25))
        task.flush()
    finally:
        task.stop()
    assert [line["meta"]["offset"] for line in stored_lines(topic)] == list(range(25))


def test_service_errors_beyond_the_retries_fail_the_task_not_the_records() -> None:
    topic = f"fivexx_{uuid.uuid4().hex[:8]}"
    ep, _ = endpoint()
    marker = f'"{topic}-0"'.encode()
    ep.fail("recorder", 3, status=500, match=lambda body: marker in body)
    reported: list[tuple[SinkRecord, BaseException]] = []
    task, _ = _task(reported, **{"aws.lambda.retries.max": "2"})
    try:
        task.put(_records(topic, 5))
        with pytest.raises(Exception, match="ServiceException"):
            task.flush()
    finally:
        task.stop()
    assert not reported, "a service failure is not the record's fault"
    assert stored_lines(topic) == []


def slow_function() -> str:
    """A second function on the module's endpoint: the recorder, 30 ms per invocation."""
    ep, store = endpoint()
    if "slow-recorder" not in ep.functions:
        ep.add_function(
            "slow-recorder",
            HANDLERS,
            "recorder.handle",
            runtime_port=0,
            concurrency=3,
            env={"HEADWATER_LAMBDA_STORE": str(store), "HEADWATER_LAMBDA_DELAY_S": "0.03"},
        )
    return "slow-recorder"


@pytest.mark.kafka
@pytest.mark.slow
def test_kill_9_mid_stream_then_restart_loses_nothing(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    """A worker process killed with SIGKILL while invocations run, then started again:
    every record of the topic reaches the handler at least once with its bytes intact, and
    the handler's store, folded by key (last offset wins), equals the folded topic.

    Robust under load: the second half of the stream is produced only after the kill (the
    worker cannot finish before it), the expected state is read back from the topic (not
    assumed from the produce order), and the handler's store is read under its lock.
    """
    import os
    import signal
    import subprocess
    import sys
    import time

    from confluent_kafka import Producer

    from headwater.conformance.kafka import consume_all, create_topic

    topic = f"lambda_crash_{uuid.uuid4().hex[:8]}"
    create_topic(kafka_bootstrap_servers, topic, partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers, "enable.idempotence": True})

    def produce(numbers: range) -> None:
        for i in numbers:
            key, value = {"id": i % 200}, {"id": i % 200, "version": i}
            producer.produce(topic, key=json.dumps(key).encode(), value=json.dumps(value).encode())
        assert producer.flush(30) == 0

    produce(range(900))
    (tmp_path / "worker.json").write_text(
        json.dumps(
            {
                "bootstrap.servers": kafka_bootstrap_servers,
                "offset.storage.file.filename": str(tmp_path / "offsets.json"),
                "offset.flush.interval.ms": "300",
                "rest.port": "0",
            }
        )
    )
    config = {
        "connector.class": "aws-lambda",
        "topics": topic,
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        # The killed member leaves the group only when its session times out.
        "consumer.override.session.timeout.ms": "6000",
        **sink_config(**{"aws.lambda.function.name": slow_function(), "aws.lambda.batch.size": "10"}),
    }
    (tmp_path / "sink.json").write_text(json.dumps({"name": f"lambda-crash-{topic}", "config": config}))
    command = [
        str(Path(sys.executable).parent / "headwater"),
        "standalone",
        str(tmp_path / "worker.json"),
        str(tmp_path / "sink.json"),
    ]
    log = (tmp_path / "worker.log").open("ab")

    def seen() -> list[dict[str, t.Any]]:
        return stored_lines(topic)

    def wait(condition: t.Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, (
                f"timed out waiting for {what}; worker log:\n"
                + (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
            )
            time.sleep(0.05)

    first = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        wait(lambda: len(seen()) >= 300, 60, "a third of the first records")
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    at_kill = len(seen())
    produce(range(900, 1500))
    stream = consume_all(kafka_bootstrap_servers, topic, min_messages=1500)
    assert len(stream) == 1500
    topic_values = {(m.partition(), m.offset()): json.loads(m.value()) for m in stream}
    second = subprocess.Popen(command, stdout=log, stderr=log)
    try:

        def complete() -> bool:
            return {(line["meta"]["partition"], line["meta"]["offset"]) for line in seen()} >= set(topic_values)

        wait(complete, 90, "every record after the restart")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    lines = seen()
    for line in lines:
        where = (line["meta"]["partition"], line["meta"]["offset"])
        assert line["value"] == topic_values[where], f"the handler got other bytes than the topic holds at {where}"

    def folded(entries: t.Iterable[tuple[tuple[int, int], dict[str, int]]]) -> dict[int, dict[str, int]]:
        latest: dict[int, tuple[tuple[int, int], dict[str, int]]] = {}
        for where, value in entries:
            if value["id"] not in latest or latest[value["id"]][0] < where:
                latest[value["id"]] = (where, value)
        return {key: value for key, (_, value) in latest.items()}

    store = folded(((line["meta"]["partition"], line["meta"]["offset"]), line["value"]) for line in lines)
    assert store == folded(topic_values.items())
    print(f"kill -9 after {at_kill} records; {len(lines) - 1500} delivered twice")


class _PauseRecorder(SinkTaskContext):
    def __init__(self) -> None:
        super().__init__("lambda-test", 0)
        self.calls: list[tuple[str, list[tuple[str, int]]]] = []

    def pause(self, partitions: t.Iterable[tuple[str, int]]) -> None:
        self.calls.append(("pause", sorted(partitions)))

    def resume(self, partitions: t.Iterable[tuple[str, int]]) -> None:
        self.calls.append(("resume", sorted(partitions)))


def test_a_throttled_partitions_backlog_pauses_only_it_until_it_drains() -> None:
    topic = f"backlog_{uuid.uuid4().hex[:8]}"
    ep, _ = endpoint()
    marker = f'"{topic}-0"'.encode()
    ep.throttle("recorder", 1, retry_after_seconds=0.5, match=lambda body: marker in body)
    config = LambdaSinkConfig.model_validate(sink_config(**{"aws.lambda.batch.size": "100"}))
    context = _PauseRecorder()
    task = LambdaSinkTask(config, context)
    try:
        task.put(_records(topic, 1200, partition=0) + _records(topic, 50, partition=1))
        assert context.calls == [("pause", [(topic, 0)])], "over the high-water mark: pause partition 0 only"
        task.flush()
    finally:
        task.stop()
    assert context.calls == [("pause", [(topic, 0)]), ("resume", [(topic, 0)])]
    assert len(stored_lines(topic)) == 1250


@pytest.mark.parametrize("payload_format", ["records", "single"])
def test_records_and_single_formats_carry_the_decoded_values(payload_format: str) -> None:
    topic = f"fmt_{uuid.uuid4().hex[:8]}"
    ep, _ = endpoint()
    before = len(ep.invocations("recorder"))
    task, _ = _task(**{"aws.lambda.payload.format": payload_format, "aws.lambda.batch.size": "4"})
    records = _records(topic, 10)
    try:
        task.put(records)
        task.flush()
    finally:
        task.stop()
    payloads = [json.loads(i.payload) for i in ep.invocations("recorder")[before:] if i.error is None]
    expected = [r.value for r in records]
    if payload_format == "records":
        assert payloads == [expected[0:4], expected[4:8], expected[8:10]]
    else:
        assert payloads == expected, "one invocation per record, its value as the payload"


class _EmitRecorder(SinkTaskContext):
    def __init__(self) -> None:
        super().__init__("lambda-test", 0)
        self.emitted: list[tuple[str, t.Any, t.Any]] = []

    def emit(self, topic: str, key: t.Any, value: t.Any, headers: t.Any = ()) -> None:
        self.emitted.append((topic, key, value))


def answerer_function() -> str:
    """A function on the module's endpoint that answers one JSON element per record."""
    ep, _ = endpoint()
    if "answerer" not in ep.functions:
        ep.add_function("answerer", HANDLERS, "answerer.handle", runtime_port=0, concurrency=1)
    return "answerer"


def test_a_result_array_matching_the_batch_gives_one_response_record_per_input_record() -> None:
    """As Confluent's sink: a function answering a list (one element per record) has each
    element written to the response topic, keyed by its own input offset; an answer of
    another length stays one response for the batch, keyed by the batch's offsets."""
    topic = f"resp_{uuid.uuid4().hex[:8]}"
    config = LambdaSinkConfig.model_validate(
        sink_config(
            **{
                "aws.lambda.function.name": answerer_function(),
                "aws.lambda.response.topic": "results",
                "aws.lambda.batch.size": "4",
            }
        )
    )
    context = _EmitRecorder()
    task = LambdaSinkTask(config, context)
    records = _records(topic, 6, start=10)
    short = SinkRecord(topic, 0, 16, {"id": 6}, {"id": 6, "n": 16, "short": True}, (), 1_700_000_000_016)
    try:
        task.put([*records, short])
        task.flush()
    finally:
        task.stop()

    def key(first: int, last: int) -> dict[str, t.Any]:
        return {"topic": topic, "partition": 0, "first_offset": first, "last_offset": last}

    assert context.emitted == [
        *[("results", key(o, o), {"offset": o, "doubled": 2 * o}) for o in range(10, 14)],
        ("results", key(14, 16), [{"offset": 14, "doubled": 28}, {"offset": 15, "doubled": 30}]),
    ]


def test_the_connector_checks_the_function_with_a_dryrun_at_start() -> None:
    """Confluent's sink validates access with InvocationType=DryRun: the function does not
    run; a missing function or permission is one config error naming the function and
    AWS's error code; an unreachable endpoint names the endpoint setting."""
    from headwater.connectors.errors import ConfigError

    ep, _ = endpoint()
    ran = len(ep.invocations("recorder"))
    LambdaSinkConnector(LambdaSinkConfig.model_validate(sink_config())).start()
    assert len(ep.invocations("recorder")) == ran, "a DryRun never runs the function"
    missing = LambdaSinkConnector(LambdaSinkConfig.model_validate(sink_config(**{"aws.lambda.function.name": "nope"})))
    with pytest.raises(ConfigError, match=r"nope.*ResourceNotFoundException") as caught:
        missing.start()
    assert [e.key for e in caught.value.errors] == ["aws.lambda.function.name"]
    ep.deny("recorder")
    try:
        with pytest.raises(ConfigError, match=r"recorder.*AccessDeniedException.*lambda:InvokeFunction"):
            LambdaSinkConnector(LambdaSinkConfig.model_validate(sink_config())).start()
    finally:
        ep.deny("recorder", denied=False)
    from headwater.connectors.launch.worker import free_port

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    nowhere = sink_config(**{"aws.lambda.endpoint.url": closed, "aws.lambda.retry.backoff.ms": "1"})
    with pytest.raises(ConfigError, match="cannot reach Lambda to check function recorder") as caught:
        LambdaSinkConnector(LambdaSinkConfig.model_validate(nowhere)).start()
    assert [e.key for e in caught.value.errors] == ["aws.lambda.endpoint.url"]
