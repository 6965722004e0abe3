"""``mainframe-copybook`` in the real runtime on a real broker: bad records reach the dead-letter topic."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.emulators.mainframe import connector_config, final_state, generate
from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets

pytestmark = pytest.mark.kafka

CLASS = "headwater.connectors.mainframe:MainframeCopybookConnector"


def test_bad_records_go_to_the_dead_letter_topic(tmp_path: Path, kafka_bootstrap_servers: str) -> None:

    topic = f"mf-{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}-dlq"
    files = generate("customers-vb", 4, tmp_path / "customers", count=500, bad_records=3)
    connector = parse_connector(
        {
            "name": f"src-{topic}",
            "config": {
                "connector.class": CLASS,
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                **connector_config(files, topic),
                "poll.interval.ms": "100",
            },
        }
    )
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            status = worker.status(connector.framework.name)
            assert all(task["state"] != "FAILED" for task in status["tasks"]), status
            stored = ConnectorOffsets(worker.offset_store, connector.framework.name).all()
            if stored and any(offset.get("record") == 500 for _partition, offset in stored):
                break
            assert time.monotonic() < deadline, "the file was not read in time"
            time.sleep(0.3)
    finally:
        assert worker.stop(30)
    dead = consume_all(kafka_bootstrap_servers, dlq, min_messages=3)
    assert len(dead) == 3
    data = files.data[0].read_bytes()
    for message in dead:
        headers = dict(message.headers() or [])
        assert headers["__connect.errors.stage"] == b"TASK_POLL"
        assert b"DecodeError" in headers["__connect.errors.exception.class.name"]
        text = headers["__connect.errors.exception.message"].decode()
        assert "CUST.MASTER.VB" in text
        assert "BALANCE" in text
        assert "record" in text
        raw = message.value()
        assert raw is not None
        assert len(raw) == 88  # the whole record, without its RDW
        assert raw in data
        assert raw[59] == 0xAA  # the corrupted packed byte
    converter = JsonConverter()
    messages = consume_all(kafka_bootstrap_servers, topic, min_messages=497)
    folded = fold((converter.from_bytes(topic, m.key()), converter.from_bytes(topic, m.value())) for m in messages)
    expected = {canonical_key(e["key"]): e["row"] for e in final_state("customers-vb", 4, count=500, bad_records=3)}
    assert {k: dict(v) for k, v in folded.items()} == expected
