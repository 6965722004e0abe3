"""Issue 13 leftover and issue 14: what the mainframe source shows in its task status.

A quarantined file is named in ``GET /connectors/{name}/status`` (relative name, byte
offset, reason; never an absolute path), and a file load reports its progress there.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from headwater.conformance.emulators.mainframe import connector_config, generate
from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.rest import RestServer

pytestmark = pytest.mark.kafka

CLASS = "headwater.connectors.mainframe:MainframeCopybookConnector"


def _status(rest: RestServer, name: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{rest.url}/connectors/{name}/status", timeout=5) as response:
        body = response.read()
    return json.loads(body) | {"_raw": body.decode()}


def test_a_quarantined_file_and_the_load_progress_are_in_the_rest_status(
    tmp_path: Path, kafka_bootstrap_servers: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="headwater.connectors.mainframe.task")
    topic = f"mfst-{uuid.uuid4().hex[:8]}"
    files = generate("customers-vb", 14, tmp_path / "ds", count=200)
    data = files.data[0]
    readme = b"CUSTMAST extracts, one per night. Questions: the data team.\n"
    (data.parent / "README.txt").write_bytes(readme)
    name = f"src-{topic}"
    connector = parse_connector(
        {
            "name": name,
            "config": {
                "connector.class": CLASS,
                **connector_config(files, topic),
                "input.glob": "*",
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": f"{topic}-dlq",
                "poll.interval.ms": "100",
                "file.quiet.ms": "300",
            },
        }
    )
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    rest = RestServer(worker, "127.0.0.1", 0)
    worker.start()
    rest.start()
    try:
        consume_all(kafka_bootstrap_servers, topic, min_messages=200, timeout=60)
        deadline = time.monotonic() + 60
        while "quarantined" not in (task := _status(rest, name)["tasks"][0]):  # type: ignore[index]
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
        status = _status(rest, name)
    finally:
        rest.stop()
        assert worker.stop(30)
    task = status["tasks"][0]  # type: ignore[index]
    assert task["state"] == "RUNNING"
    [entry] = task["quarantined"]
    assert entry["file"] == "README.txt" and entry["byte"] == 0 and entry["action"] == "moved"
    assert "RDW" in entry["reason"] or "BDW" in entry["reason"] or "descriptor" in entry["reason"], entry
    assert str(tmp_path) not in str(status["_raw"]), "no absolute path in the status"
    progress = task["progress"]
    assert progress["unit"] == "bytes"
    assert progress["done"] == progress["total"] == data.stat().st_size + len(readme)
    assert progress["eta_s"] == 0
    messages = [record.getMessage() for record in caplog.records]
    size = data.stat().st_size
    assert f"{name}: reading {data.name} ({size} bytes)" in messages
    assert f"{name}: finished reading {data.name}: 200 records, {size} bytes (kept; read on if it grows)" in messages
    assert any(m.startswith(f"{name}: README.txt is quarantined") for m in messages), messages
