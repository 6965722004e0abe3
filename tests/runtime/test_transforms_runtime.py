"""Transforms in the running pipeline, on the real broker: source and sink paths, DLQ, failures."""

from __future__ import annotations

import typing as t
import uuid
from pathlib import Path

import orjson
import pytest

from headwater.conformance.kafka import consume_all, create_topic
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.api import SinkConnector, SinkRecord, SinkTask, SourceConnector, SourceRecord, SourceTask
from headwater.connectors.config import PluginConfig
from headwater.connectors.errors import ConfigError, RecordError
from headwater.connectors.loading import parse_connector

pytestmark = pytest.mark.kafka

WRITTEN: dict[str, list[SinkRecord]] = {}


class CodesConfig(PluginConfig):
    """Emits ``count`` records ``{"n": i, "code": "<i>"}``; every 10th code is not a number."""

    topic: str
    count: int = 30


class CodesTask(SourceTask[CodesConfig]):
    def __init__(self, config: CodesConfig, context: t.Any) -> None:
        super().__init__(config, context)
        stored = context.offsets.offset({"stream": "codes"})
        self.next = int(stored["n"]) if stored else 0

    def poll(self) -> list[SourceRecord]:
        out = []
        while self.next < self.config.count and len(out) < 7:
            n = self.next
            self.next += 1
            code = "oops" if n % 10 == 9 else str(n)
            out.append(SourceRecord({"stream": "codes"}, {"n": self.next}, self.config.topic, {"n": n},
                                    {"n": n, "code": code}))  # fmt: skip
        return out


class CodesSource(SourceConnector[CodesConfig]):
    name = "codes-source"
    config_class = CodesConfig
    task_class = CodesTask

    def task_configs(self, max_tasks: int) -> list[CodesConfig]:
        return [self.config]


class KeepConfig(PluginConfig):
    """Keeps what it is given, per connector."""


class KeepTask(SinkTask[KeepConfig]):
    def put(self, records: t.Sequence[SinkRecord]) -> None:
        for record in records:
            if isinstance(record.value, dict) and record.value.get("bad"):
                self.context.report(record, RecordError("target refused it", record=record))
            else:
                WRITTEN.setdefault(self.context.connector_name, []).append(record)

    def flush(self) -> None:
        return None


class KeepSink(SinkConnector[KeepConfig]):
    name = "keep-sink"
    config_class = KeepConfig
    task_class = KeepTask


CAST_AND_ROUTE = {
    "transforms": "cast,route",
    "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
    "transforms.cast.spec": "code:int32",
    "transforms.route.type": "RegexRouter",
    "transforms.route.regex": "(.*)-raw",
    "transforms.route.replacement": "$1-clean",
    "value.converter.schemas.enable": "false",
}


def _source(name: str, **extra: str) -> dict[str, t.Any]:
    config = {"connector.class": f"{__name__}:CodesSource", "topic": f"{name}-raw", **CAST_AND_ROUTE, **extra}
    return {"name": name, "config": config}


def test_source_transforms_run_before_the_converter_and_failures_go_to_the_dlq(
    kafka_bootstrap_servers: str, tmp_path: Path
) -> None:
    name = f"smt-{uuid.uuid4().hex[:6]}"
    dlq = f"{name}-dlq"
    tolerate = {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq}
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [_source(name, **tolerate)])
    worker.start()
    try:
        good = consume_all(kafka_bootstrap_servers, f"{name}-clean", min_messages=27)
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=3)
    finally:
        assert worker.stop(20)
    values = [orjson.loads(m.value()) for m in good]
    assert values == [{"n": n, "code": n} for n in range(30) if n % 10 != 9]  # cast to a number, routed
    assert [orjson.loads(m.value())["value"] for m in dead] == [{"n": n, "code": "oops"} for n in (9, 19, 29)]
    headers = dict(dead[0].headers() or [])
    assert headers["__connect.errors.stage"] == b"TRANSFORMATION"
    assert headers["__connect.errors.class.name"] == b"org.apache.kafka.connect.transforms.Cast$Value"
    assert b"transform 'cast'" in headers["__connect.errors.exception.message"]
    assert b"cannot cast 'oops' to int32" in headers["__connect.errors.exception.message"]
    assert headers["__connect.errors.topic"] == f"{name}-raw".encode()


def test_a_failing_transform_fails_the_task_under_tolerance_none(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"smtstrict-{uuid.uuid4().hex[:6]}"
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [_source(name, **{"task.restart.max.attempts": "0"})])
    worker.start()
    try:
        wait_for(lambda: worker.status(name)["tasks"][0]["state"] == "FAILED", what="FAILED")
        trace = worker.status(name)["tasks"][0]["trace"]
    finally:
        assert worker.stop(20)
    assert 'record at {"stream":"codes"} offset {"n":10}' in trace  # the 10th record, n=9
    assert "TRANSFORMATION" in trace and "cannot cast 'oops' to int32" in trace


def test_sink_transforms_run_after_the_converter_and_before_put(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    from confluent_kafka import Producer

    name = f"smtsink-{uuid.uuid4().hex[:6]}"
    topic, dlq = f"{name}-in", f"{name}-dlq"
    create_topic(kafka_bootstrap_servers, topic)
    events = [
        {"op": "c", "before": None, "after": {"id": 1, "v": "a"}, "source": {"table": "t"}, "ts_ms": 1},
        {"op": "d", "before": {"id": 1, "v": "a"}, "after": None, "source": {"table": "t"}, "ts_ms": 2},
        None,
        {"op": "c", "before": None, "after": {"id": 2, "v": 5}, "source": {"table": "t"}, "ts_ms": 3},
        {"op": "c", "before": None, "after": {"id": 3, "v": 6, "bad": True}, "source": {"table": "t"}, "ts_ms": 4},
    ]
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    for i, event in enumerate(events):
        producer.produce(topic, key=str(i).encode(), value=None if event is None else orjson.dumps(event))
    assert producer.flush(30) == 0
    config = {
        "connector.class": f"{__name__}:KeepSink",
        "topics": topic,
        "key.converter": "string",
        "value.converter": "json",
        "value.converter.schemas.enable": "false",
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "transforms": "unwrap,cast,route",
        "transforms.route.type": "RegexRouter",
        "transforms.route.regex": "(.*)-in",
        "transforms.route.replacement": "$1-flat",
        "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
        "transforms.unwrap.add.fields": "op,table",
        "transforms.cast.type": "Cast$Value",
        "transforms.cast.spec": "v:int32",
    }
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [{"name": name, "config": config}])
    worker.start()
    try:
        wait_for(lambda: len(WRITTEN.get(name, [])) >= 2, what="two records put", worker=worker)
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=2)
    finally:
        assert worker.stop(20)
    # the create of id 1 fails the cast ("a"), the delete becomes a tombstone, the source tombstone is dropped
    routed = f"{name}-flat"
    flat = {"id": 2, "v": 5, "__op": "c", "__table": "t"}
    assert [(r.topic, r.key, r.value) for r in WRITTEN[name]] == [(routed, "1", None), (routed, "3", flat)]
    assert [m.value() for m in dead] == [orjson.dumps(events[0]), orjson.dumps(events[4])]  # the original bytes
    headers = dict(dead[0].headers() or [])
    assert headers["__connect.errors.stage"] == b"TRANSFORMATION"
    assert headers["__connect.errors.class.name"] == b"org.apache.kafka.connect.transforms.Cast$Value"
    assert headers["__connect.errors.offset"] == b"0"
    # a record the sink refused after a transform renamed its topic reaches the DLQ with its original bytes
    put_headers = dict(dead[1].headers() or [])
    assert put_headers["__connect.errors.stage"] == b"TASK_PUT"
    assert put_headers["__connect.errors.offset"] == b"4"


def test_connector_files_with_transforms_are_validated_per_key() -> None:
    document = {
        "name": "x",
        "config": {
            "connector.class": "datagen",
            "transforms": "route",
            "transforms.route.type": "RegexRouter",
            "transforms.route.regex": "datagen\\.(.*)",
        },
    }
    with pytest.raises(ConfigError) as info:
        parse_connector(document)
    assert [(e.key, e.message) for e in info.value.errors] == [("transforms.route.replacement", "missing (required)")]
    document["config"]["transforms.route.replacement"] = "flat.$1"
    connector = parse_connector(document)
    assert connector.transforms is not None and len(connector.transforms) == 1
    assert "transforms" in connector.raw  # shown as written
