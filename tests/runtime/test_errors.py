"""Retries, dead letters, failing tasks and automatic restarts, on the real broker."""

from __future__ import annotations

import time
import typing as t
import uuid
from pathlib import Path

import pytest

from headwater.codecs.schema import INT64, STRING, struct
from headwater.conformance.kafka import consume_all, create_topic
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.api import (
    ErrantSourceRecord,
    SinkConnector,
    SinkRecord,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
)
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import FatalError, RecordError, RetriableError
from headwater.connectors.runtime.worker import Worker

pytestmark = pytest.mark.kafka

# Fault scripts, keyed by connector name: how many times each hook should fail.
FAULTS: dict[str, dict[str, int]] = {}
WRITTEN: dict[str, list[SinkRecord]] = {}


class ScriptedConfig(PluginConfig):
    """Emits ``count`` records to ``topic``, ``per.poll`` a poll; ``bad.every`` makes every
    Nth one errant; ``unwritable.every`` makes every Nth value one the converter refuses;
    ``schemas`` gives the records key and value schemas."""

    topic: str
    count: int = 10
    per_poll: int = 5
    bad_every: int = 0
    unwritable_every: int = 0
    schemas: bool = False


_KEY = struct({"n": INT64}, name="scripted.Key")
_VALUE = struct({"n": INT64, "payload": STRING}, name="scripted.Value")


class ScriptedTask(SourceTask[ScriptedConfig]):
    def __init__(self, config: ScriptedConfig, context: t.Any) -> None:
        super().__init__(config, context)
        stored = context.offsets.offset({"stream": "s"})
        self.next = int(stored["n"]) if stored else 0
        faults = FAULTS.setdefault(context.connector_name, {})
        if faults.get("init_fatal", 0) > 0:
            faults["init_fatal"] -= 1
            raise FatalError("scripted start-up failure")

    def poll(self) -> list[SourceRecord | ErrantSourceRecord]:
        faults = FAULTS[self.context.connector_name]
        if faults.get("poll_retriable", 0) != 0:
            faults["poll_retriable"] -= 1
            raise RetriableError("scripted transient failure")
        out: list[SourceRecord | ErrantSourceRecord] = []
        config = self.config
        while self.next < config.count and len(out) < config.per_poll:
            n = self.next
            self.next += 1
            offset = {"n": self.next}
            if config.bad_every and n % config.bad_every == config.bad_every - 1:
                error = RecordError("bad packed nibble", location=f"input.dat record {n} byte {n * 10}")
                out.append(ErrantSourceRecord(STREAM, offset, error, raw=f"RAW-{n}".encode()))
                continue
            unwritable = config.unwritable_every and n % config.unwritable_every == config.unwritable_every - 1
            # Not JSON at all without a schema; not the schema's string with one.
            payload: t.Any = (object() if not config.schemas else 7) if unwritable else "x"
            schemas = {"key_schema": _KEY, "value_schema": _VALUE} if config.schemas else {}
            out.append(SourceRecord(STREAM, offset, config.topic, {"n": n}, {"n": n, "payload": payload}, **schemas))
        return out


STREAM = {"stream": "s"}  # one partition object for all records, as a plugin keeps it


class ScriptedSource(SourceConnector[ScriptedConfig]):
    name = "scripted-source"
    config_class = ScriptedConfig
    task_class = ScriptedTask

    def task_configs(self, max_tasks: int) -> list[ScriptedConfig]:
        return [self.config]


class RecordingConfig(PluginConfig):
    """Records what it is given; rejects values with ``"bad": true``."""


class RecordingTask(SinkTask[RecordingConfig]):
    def put(self, records: t.Sequence[SinkRecord]) -> None:
        faults = FAULTS.setdefault(self.context.connector_name, {})
        if faults.get("put_retriable", 0) > 0:
            faults["put_retriable"] -= 1
            raise RetriableError("target busy")
        for record in records:
            if isinstance(record.value, dict) and record.value.get("bad"):
                self.context.report(record, RecordError("target rejected the document", record=record))
                continue
            WRITTEN.setdefault(self.context.connector_name, []).append(record)

    def flush(self) -> None:
        return None


class RecordingSink(SinkConnector[RecordingConfig]):
    name = "recording-sink"
    config_class = RecordingConfig
    task_class = RecordingTask


def _worker(bootstrap: str, tmp_path: Path, *connectors: dict[str, t.Any]) -> Worker:
    return in_process_worker(bootstrap, tmp_path, connectors)


def _wait(condition: t.Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    # No worker passed: these tests wait for FAILED states on purpose.
    wait_for(condition, timeout=timeout, what=what)


def _source(name: str, topic: str, **extra: str) -> dict[str, t.Any]:
    return {"name": name, "config": {"connector.class": f"{__name__}:ScriptedSource", "topic": topic, **extra}}


def _task_state(worker: Worker, name: str) -> str:
    return str(worker.status(name)["tasks"][0]["state"])


def test_retriable_poll_errors_are_retried(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"retry-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {"poll_retriable": 3}
    worker = _worker(
        kafka_bootstrap_servers, tmp_path, _source(name, name, count="20", **{"errors.retry.delay.max.ms": "50"})
    )
    worker.start()
    try:
        messages = consume_all(kafka_bootstrap_servers, name, min_messages=20)
    finally:
        assert worker.stop(20)
    assert len(messages) == 20
    assert worker.metrics.total_retries.labels(connector=name, task="0")._value.get() == 3


def test_retries_end_after_the_timeout_and_the_task_fails(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"giveup-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {"poll_retriable": -1}  # forever
    settings = {
        "errors.retry.timeout": "300",
        "errors.retry.delay.max.ms": "50",
        "task.restart.max.attempts": "1",
        "task.restart.backoff.initial.ms": "100",
    }
    worker = _worker(kafka_bootstrap_servers, tmp_path, _source(name, name, **settings))
    worker.start()
    try:
        _wait(
            lambda: worker.connectors[name].tasks[0].restarts == 1 and _task_state(worker, name) == "FAILED",
            what="FAILED after one restart",
        )
        time.sleep(0.5)
        status = worker.status(name)
        assert status["tasks"][0]["state"] == "FAILED"
        assert "errors.retry.timeout=300" in status["tasks"][0]["trace"]
        assert worker.connectors[name].tasks[0].restarts == 1  # bounded: no second restart
        # A manual restart (REST POST .../tasks/0/restart) gives it another go.
        FAULTS[name]["poll_retriable"] = 0
        worker.restart(name, task_id=0)
        _wait(lambda: _task_state(worker, name) == "RUNNING", what="RUNNING after manual restart")
    finally:
        assert worker.stop(20)


@pytest.mark.parametrize("schemas", [False, True])
def test_records_the_converter_refuses_go_to_the_dead_letter_topic_and_the_rest_in_order(
    kafka_bootstrap_servers: str, tmp_path: Path, schemas: bool
) -> None:
    """Polls of 50 plain records go to the converters a run at a time (``from_connect_batch``);
    a run holding a value the converter refuses goes record by record, so that exactly the
    bad records reach the dead-letter topic (stage VALUE_CONVERTER, naming the record) and
    every other one is produced, in order, with the bytes the converter gives it alone; the
    offsets move past all of them. With schemas the compiled JSON writer writes the runs
    once warmed up (after 64 records of a schema)."""
    name = f"convdlq-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {}
    dlq = f"{name}-dlq"
    settings = {
        "count": "400",
        "per.poll": "50",
        "unwritable.every": "37",
        "schemas": str(schemas).lower(),
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "key.converter": "json",
        "key.converter.schemas.enable": "false",
    }
    bad = [n for n in range(400) if n % 37 == 36]
    worker = _worker(kafka_bootstrap_servers, tmp_path, _source(name, name, **settings))
    worker.start()
    try:
        good = consume_all(kafka_bootstrap_servers, name, min_messages=400 - len(bad))
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=len(bad))
        _wait(lambda: _stored_n(worker) == 400, what="offset 400")
    finally:
        assert worker.stop(20)
    assert [m.value() for m in good] == [b'{"n":%d,"payload":"x"}' % n for n in range(400) if n not in bad]
    assert [m.key() for m in good] == [b'{"n":%d}' % n for n in range(400) if n not in bad]
    assert len(dead) == len(bad)
    for message, n in zip(dead, bad, strict=True):
        headers = dict(message.headers() or [])
        assert headers["__connect.errors.stage"] == b"VALUE_CONVERTER"
        assert b"cannot convert the value to JSON" in headers["__connect.errors.exception.message"]
        raw = message.value()  # the record itself: JSON, or its repr where JSON cannot hold it
        if schemas:
            assert raw == b'{"key":{"n":%d},"value":{"n":%d,"payload":7}}' % (n, n)
        else:
            assert b"{'n': %d, 'payload': <object" % n in raw


def _stored_n(worker: Worker) -> int:
    return max((int(offset["n"]) for _, offset in worker.offset_store.items()), default=0)


def test_records_kafka_rejects_fail_the_task_and_store_no_offset(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    """A record the broker refuses after accepting the produce call (larger than the topic's
    max.message.bytes) reaches the runner through the producer's delivery report: the task
    fails naming it, and no offset is stored for it or after it."""
    name = f"rejected-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, name, config={"max.message.bytes": "200"})
    FAULTS[name] = {}
    worker = _worker(kafka_bootstrap_servers, tmp_path, _source(name, name, **{"task.restart.max.attempts": "0"}))
    worker.start()
    try:
        _wait(lambda: _task_state(worker, name) == "FAILED", what="FAILED on the rejected records")
        trace = worker.status(name)["tasks"][0]["trace"]
        assert "Kafka rejected records" in trace and "offsets not stored" in trace
        assert worker.offset_store.items() == []
    finally:
        assert worker.stop(20)


def test_failed_task_restarts_on_its_own(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"restart-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {"init_fatal": 2}
    worker = _worker(
        kafka_bootstrap_servers, tmp_path, _source(name, name, count="15", **{"task.restart.backoff.initial.ms": "100"})
    )
    worker.start()
    try:
        messages = consume_all(kafka_bootstrap_servers, name, min_messages=15)
        assert _task_state(worker, name) == "RUNNING"
        assert worker.connectors[name].tasks[0].restarts == 2
    finally:
        assert worker.stop(20)
    assert sorted(m.offset() for m in messages) == list(range(15))


def test_errant_source_records_go_to_the_dead_letter_topic(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"dlq-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {}
    dlq = f"{name}-dlq"
    worker = _worker(
        kafka_bootstrap_servers,
        tmp_path,
        _source(
            name,
            name,
            count="30",
            **{"bad.every": "10", "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq},
        ),
    )
    worker.start()
    try:
        good = consume_all(kafka_bootstrap_servers, name, min_messages=27)
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=3)
    finally:
        assert worker.stop(20)
    assert len(good) == 27
    assert [m.value() for m in dead] == [b"RAW-9", b"RAW-19", b"RAW-29"]
    headers = dict(dead[0].headers() or [])
    assert headers["__connect.errors.stage"] == b"TASK_POLL"
    assert headers["__connect.errors.connector.name"] == name.encode()
    assert headers["__connect.errors.exception.message"] == b"input.dat record 9 byte 90: bad packed nibble"
    assert b"RecordError" in headers["__connect.errors.exception.class.name"]
    assert b"RecordError: input.dat record 9" in headers["__connect.errors.exception.stacktrace"]
    # Offsets moved past the bad records: nothing is left to replay.
    assert worker.offset_store.items()


def test_errant_record_fails_the_task_under_tolerance_none(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"strict-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {}
    worker = _worker(
        kafka_bootstrap_servers,
        tmp_path,
        _source(name, name, count="30", **{"bad.every": "10", "task.restart.max.attempts": "0"}),
    )
    worker.start()
    try:
        _wait(lambda: _task_state(worker, name) == "FAILED", what="FAILED")
        trace = worker.status(name)["tasks"][0]["trace"]
    finally:
        assert worker.stop(20)
    assert "input.dat record 9 byte 90" in trace
    assert "errors.tolerance=all" in trace
    # The 9 good records before it were delivered, but the bad one's offset was not stored.
    stored = [offset for _key, offset in worker.offset_store.items()]
    assert all(int(t.cast(int, o["n"])) <= 9 for o in stored)


def _produce_json(bootstrap: str, topic: str, values: list[bytes]) -> None:
    from confluent_kafka import Producer

    create_topic(bootstrap, topic)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce(topic, key=str(i).encode(), value=value)
    assert producer.flush(30) == 0


def _sink(name: str, topic: str, **extra: str) -> dict[str, t.Any]:
    return {
        "name": name,
        "config": {
            "connector.class": f"{__name__}:RecordingSink",
            "topics": topic,
            "key.converter": "string",
            "value.converter": "json",
            "value.converter.schemas.enable": "false",
            **extra,
        },
    }


def test_sink_retriable_put_redelivers_the_same_batch(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"sinkretry-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {"put_retriable": 2}
    _produce_json(kafka_bootstrap_servers, name, [b'{"n": %d}' % i for i in range(50)])
    worker = _worker(kafka_bootstrap_servers, tmp_path, _sink(name, name, **{"errors.retry.delay.max.ms": "50"}))
    worker.start()
    try:
        _wait(lambda: len(WRITTEN.get(name, [])) >= 50, what="50 records")
    finally:
        assert worker.stop(20)
    assert [r.value["n"] for r in WRITTEN[name]] == list(range(50))


def test_sink_reported_record_goes_to_dlq_and_the_rest_lands(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"sinkdlq-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {}
    values = [b'{"n": %d}' % i for i in range(20)]
    values[7] = b'{"n": 7, "bad": true}'
    values[12] = b"not json at all"
    _produce_json(kafka_bootstrap_servers, name, values)
    worker = _worker(
        kafka_bootstrap_servers,
        tmp_path,
        _sink(name, name, **{"errors.tolerance": "all", "errors.deadletterqueue.topic.name": f"{name}-dlq"}),
    )
    worker.start()
    try:
        _wait(lambda: len(WRITTEN.get(name, [])) >= 18, what="18 records")
        dead = consume_all(kafka_bootstrap_servers, f"{name}-dlq", min_messages=2)
    finally:
        assert worker.stop(20)
    assert [r.offset for r in WRITTEN[name]] == [i for i in range(20) if i not in (7, 12)]
    by_offset = {dict(m.headers() or [])["__connect.errors.offset"]: m for m in dead}
    assert by_offset[b"7"].value() == values[7]
    assert dict(by_offset[b"7"].headers() or [])["__connect.errors.stage"] == b"TASK_PUT"
    assert by_offset[b"12"].value() == values[12]
    assert dict(by_offset[b"12"].headers() or [])["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert by_offset[b"7"].key() == b"7"


def test_sink_reported_record_fails_the_task_under_tolerance_none(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"sinkstrict-{uuid.uuid4().hex[:6]}"
    FAULTS[name] = {}
    _produce_json(kafka_bootstrap_servers, name, [b'{"n": 0}', b'{"n": 1, "bad": true}'])
    worker = _worker(kafka_bootstrap_servers, tmp_path, _sink(name, name, **{"task.restart.max.attempts": "0"}))
    worker.start()
    try:
        _wait(lambda: _task_state(worker, name) == "FAILED", what="FAILED")
        trace = worker.status(name)["tasks"][0]["trace"]
    finally:
        assert worker.stop(20)
    assert f"{name}-0@1" in trace
    assert "target rejected the document" in trace
