"""The ``mongodb`` sink in the real runtime, through a real Kafka broker, into SecantusDB:
dead letters, a ``kill -9`` of the worker, and the server going away for a while."""

from __future__ import annotations

import json
import time
import typing as t
import uuid
from pathlib import Path

import pymongo
import pytest
from confluent_kafka import Producer

from headwater.codecs.envelope import canonical_key
from headwater.conformance.kafka import consume_all, create_topic
from headwater.conformance.mongodb import SecantusServer, read_state
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.datagen.client import final_state
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.launch.worker import WorkerProcess
from headwater.connectors.loading import parse_connector

CONNECTOR_CLASS = "headwater.sinks.mongodb:MongoSinkConnector"
pytestmark = pytest.mark.kafka


def normalise(state: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {key: json.loads(json.dumps(row, default=str, sort_keys=True)) for key, row in state.items()}


def test_bad_record_and_duplicate_key_reach_the_dead_letter_topic(
    tmp_path: Path, kafka_bootstrap_servers: str, mongodb_uri: str
) -> None:
    name = f"mdlq_{uuid.uuid4().hex[:8]}"
    topic, dlq, database = name, f"{name}-dlq", f"db_{name}"
    create_topic(kafka_bootstrap_servers, topic)
    client: t.Any = pymongo.MongoClient(mongodb_uri)
    client[database]["users"].create_index("email", unique=True)
    values: list[bytes] = [json.dumps({"_id": i, "email": f"u{i}@example.com"}).encode() for i in range(50)]
    values[20] = b'"not a document"'  # valid JSON, but no document
    values[30] = json.dumps({"_id": 30, "email": "u3@example.com"}).encode()  # duplicate email
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    for i, value in enumerate(values):
        producer.produce(topic, key=str(i).encode(), value=value)
    assert producer.flush(30) == 0
    connector = parse_connector(
        {
            "name": name,
            "config": {
                "connector.class": CONNECTOR_CLASS,
                "topics": topic,
                "key.converter": "string",
                "value.converter": "json",
                "value.converter.schemas.enable": "false",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.topic.replication.factor": "1",
                "connection.uri": mongodb_uri,
                "database": database,
                "collection": "users",
                "writemodel.strategy": "insert-one",
                "document.id.strategy": "provided-in-value",
            },
        }
    )
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while client[database]["users"].count_documents({}) < 48:
            assert time.monotonic() < deadline, "the good records did not land"
            time.sleep(0.2)
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=2)
        status = worker.status(name)
    finally:
        assert worker.stop(30)
    assert all(task["state"] == "RUNNING" for task in status["tasks"]), status
    ids = sorted(document["_id"] for document in client[database]["users"].find())
    assert ids == [i for i in range(50) if i not in (20, 30)]
    client.close()
    assert len(dead) == 2
    by_offset = {int(dict(m.headers())["__connect.errors.offset"]): m for m in dead}
    assert sorted(by_offset) == [20, 30]
    for offset, message in by_offset.items():
        headers = dict(message.headers())
        assert message.value() == values[offset], "the original bytes go to the dead-letter topic"
        assert headers["__connect.errors.topic"] == topic.encode()
        assert headers["__connect.errors.stage"] == b"TASK_PUT"
        assert headers["__connect.errors.connector.name"] == name.encode()
        assert b"RecordError" in headers["__connect.errors.exception.class.name"]
    assert b"not a document" in dict(by_offset[20].headers())["__connect.errors.exception.message"]
    assert b"E11000" in dict(by_offset[30].headers())["__connect.errors.exception.message"]


def test_dollar_field_and_oversized_decimal_are_dead_lettered_and_the_rest_written(
    tmp_path: Path, kafka_bootstrap_servers: str, mongodb_uri: str
) -> None:
    """Issue 13 items 12b and 13: neither fails the task under errors.tolerance=all.

    The 40-digit decimal is read exactly by the converter (issue 15); MongoDB's Decimal128
    holds 34 digits, so the sink refuses that one record."""
    name = f"mdol_{uuid.uuid4().hex[:8]}"
    topic, dlq, database = name, f"{name}-dlq", f"db_{name}"
    create_topic(kafka_bootstrap_servers, topic)
    schema = {"type": "struct", "optional": False, "fields": [{"field": "_id", "type": "int64"},
              {"field": "n", "type": "int64"}]}  # fmt: skip
    values = [json.dumps({"schema": schema, "payload": {"_id": i, "n": i}}).encode() for i in range(50)]
    dollar = {"type": "struct", "fields": [{"field": "$bad", "type": "int64"}, {"field": "_id", "type": "int64"}]}
    values[10] = json.dumps({"schema": dollar, "payload": {"$bad": 1, "_id": 10}}).encode()
    decimal_schema = {"type": "struct", "fields": [{"field": "_id", "type": "int64"},
                      {"field": "amount", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
                       "parameters": {"scale": "2"}}]}  # fmt: skip
    values[25] = (
        b'{"schema":' + json.dumps(decimal_schema).encode()
        + b',"payload":{"_id":25,"amount":1234567890123456789012345678901234567890.12}}'
    )  # fmt: skip
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
    for i, value in enumerate(values):
        producer.produce(topic, key=str(i).encode(), value=value)
    assert producer.flush(30) == 0
    connector = parse_connector(
        {
            "name": name,
            "config": {
                "connector.class": CONNECTOR_CLASS,
                "topics": topic,
                "key.converter": "string",
                "value.converter": "json",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.topic.replication.factor": "1",
                "connection.uri": mongodb_uri,
                "database": database,
                "collection": "docs",
                "document.id.strategy": "provided-in-value",
            },
        }
    )
    client: t.Any = pymongo.MongoClient(mongodb_uri)
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while client[database]["docs"].count_documents({}) < 48:
            assert time.monotonic() < deadline, f"the good records did not land: {worker.status(name)}"
            time.sleep(0.2)
        dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=2)
        status = worker.status(name)
    finally:
        assert worker.stop(30)
    assert all(task["state"] == "RUNNING" for task in status["tasks"]), status
    ids = sorted(document["_id"] for document in client[database]["docs"].find())
    client.close()
    assert ids == [i for i in range(50) if i not in (10, 25)]
    by_offset = {int(dict(m.headers())["__connect.errors.offset"]): dict(m.headers()) for m in dead}
    assert sorted(by_offset) == [10, 25]
    assert by_offset[10]["__connect.errors.stage"] == b"TASK_PUT"
    assert b"$" in by_offset[10]["__connect.errors.exception.message"]
    assert by_offset[25]["__connect.errors.stage"] == b"TASK_PUT"
    assert b"cannot encode the document" in by_offset[25]["__connect.errors.exception.message"]


def _pipeline(prefix: str, uri: str, database: str, *, count: int, rate: int) -> list[dict[str, t.Any]]:
    """A datagen source and a mongodb sink (CDC handler) as connector documents."""
    return [
        {
            "name": f"{prefix}-source",
            "config": {
                "connector.class": "datagen",
                "topic.prefix": prefix,
                "seed": "17",
                "count": str(count),
                "keys": "300",
                "rate": str(rate),
                "batch.size": "500",
            },
        },
        {
            "name": f"{prefix}-sink",
            "config": {
                "connector.class": CONNECTOR_CLASS,
                "topics.regex": f"{prefix}\\..*",
                "connection.uri": uri,
                "database": database,
                "collection": "${topic}",
                "change.data.capture.handler": "headwater",
                # Scalar _ids: SecantusDB scans the whole collection for an _id that is a
                # document (real MongoDB uses the _id index), which makes big runs crawl.
                "change.data.capture.handler.id": "key-field",
                "errors.retry.timeout": "-1",
                "errors.retry.delay.max.ms": "1000",
            },
        },
    ]


def _expected(prefix: str, count: int) -> dict[str, dict[str, t.Any]]:
    """The folded stream per collection, keyed like the sink's scalar ``_id`` (key-field mode)."""
    config = DatagenConfig.model_validate({"topic.prefix": prefix, "seed": 17, "count": count, "keys": 300})
    expected = {}
    for table in config.table_list():
        rows = final_state(table, seed=17, keys=300, count=config.table_count(table))
        expected[f"{prefix}.{table}"] = {
            canonical_key(next(iter(json.loads(key).values()))): row for key, row in rows.items()
        }
    return expected


def _caught_up(uri: str, database: str, expected: t.Mapping[str, t.Mapping[str, t.Any]]) -> bool:
    return all(
        normalise(read_state(uri, database, collection)) == normalise(rows) for collection, rows in expected.items()
    )


@pytest.mark.slow
def test_kill_9_mid_stream_then_restart_equals_the_folded_stream(
    tmp_path: Path, kafka_bootstrap_servers: str, mongodb_uri: str
) -> None:
    prefix = f"mcrash{uuid.uuid4().hex[:8]}"
    database = f"db_{prefix}"
    count = 20_000
    expected = _expected(prefix, count)
    worker = WorkerProcess(
        tmp_path,
        kafka_bootstrap_servers,
        _pipeline(prefix, mongodb_uri, database, count=count, rate=4000),
        # Static membership: the restart need not wait out a rebalance the kill may interrupt.
        worker_overrides={"worker.instance.id": prefix},
    )
    worker.start()
    try:
        sink = f"{prefix}-sink"
        worker.wait_until(
            lambda: worker.metric("kafka_connect_sink_task_metrics_sink_record_read_total", sink) > 3000,
            what="the sink to be mid-stream",
        )
        worker.kill()
        partial = sum(len(read_state(mongodb_uri, database, collection)) for collection in expected)
        assert partial > 0, "the kill must come after some writes"
        worker.start()
        worker.wait_until(
            lambda: _caught_up(mongodb_uri, database, expected),
            timeout=180,
            what="the collections to equal the folded stream",
        )
        assert all(task["state"] == "RUNNING" for task in worker.status(sink)["tasks"])
    finally:
        worker.stop()
    assert _caught_up(mongodb_uri, database, expected)


@pytest.mark.slow
def test_server_goes_away_then_comes_back_without_loss(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    server = SecantusServer(storage_path=tmp_path / "mongo-data", log_path=tmp_path / "secantus.log")
    server.start()
    # Short server selection, so each put attempt gives up quickly and the runtime backs off.
    uri = server.uri + "&serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
    prefix = f"maway{uuid.uuid4().hex[:8]}"
    database = f"db_{prefix}"
    count = 12_000
    expected = _expected(prefix, count)
    worker = WorkerProcess(
        tmp_path / "worker", kafka_bootstrap_servers, _pipeline(prefix, uri, database, count=count, rate=2000)
    )
    worker.start()
    sink = f"{prefix}-sink"
    try:
        worker.wait_until(
            lambda: worker.metric("kafka_connect_sink_task_metrics_sink_record_read_total", sink) > 2000,
            what="the sink to be mid-stream",
        )
        server.stop()
        time.sleep(4)
        down_status = worker.status(sink)
        retries = worker.metric("kafka_connect_task_error_metrics_total_retries_total", sink)
        server.start()
        worker.wait_until(
            lambda: _caught_up(uri, database, expected), timeout=180, what="the collections to equal the folded stream"
        )
        status = worker.status(sink)
    finally:
        worker.stop()
        server.stop()
    assert all(task["state"] in ("RUNNING", "RESTARTING", "UNASSIGNED") for task in down_status["tasks"]), down_status
    assert all(task["state"] == "RUNNING" for task in status["tasks"]), status
    assert retries > 0, "the sink retried while the server was away"
