"""Issue 13 items 5-9 on the real runtime and the real broker: bad files never stop good data.

Each test breaks a dataset the way the adversarial review did and checks what a user
relies on: every good record arrives once, the bad bytes are in the dead-letter topic with
the file and byte offset, and a restart loop duplicates nothing.
"""

from __future__ import annotations

import json
import os
import time
import typing as t
import uuid
from collections import Counter
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.copybook import RecordFormat, RecordFormatOptions, RecordSplitter, decode_records
from headwater.codecs.copybook.decoder import compile_plan
from headwater.codecs.copybook.parser import parse_copybook
from headwater.conformance.emulators.mainframe import ScenarioFiles, connector_config, generate
from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.worker import Worker

pytestmark = pytest.mark.kafka

CLASS = "headwater.connectors.mainframe:MainframeCopybookConnector"
SEED = 13
COUNT = 250
RECORD = 4 + 88  # RDW + a CUSTOMER record


def _blocks(data: bytes) -> list[int]:
    """The offsets of the BDWs of a VB file."""
    offsets, at = [], 0
    while at + 4 <= len(data):
        offsets.append(at)
        at += int.from_bytes(data[at : at + 2], "big")
    return offsets


def _connector(topic: str, config: dict[str, str], tolerance: str = "all") -> dict[str, object]:
    dlq = {"errors.deadletterqueue.topic.name": f"{topic}-dlq"} if tolerance == "all" else {}
    return {
        "name": f"src-{topic}",
        "config": {
            "connector.class": CLASS,
            "errors.tolerance": tolerance,
            **dlq,
            "poll.interval.ms": "100",
            "file.quiet.ms": "300",
            **config,
        },
    }


def _row(row: dict[str, t.Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _rows(files: ScenarioFiles, data: bytes) -> list[str]:
    """The rows of a VB dataset, decoded straight from its bytes."""
    plan = compile_plan(parse_copybook(files.copybook.read_text()))
    splitter = RecordSplitter.for_plan(plan, RecordFormatOptions(record_format=RecordFormat.VB))
    return [_row(row) for row in decode_records(plan, splitter.split([data]))]


def _ids(bootstrap: str, topic: str, expected: int) -> Counter[str]:
    """Each row that arrived in ``topic``, with how often."""
    converter = JsonConverter()
    messages = consume_all(bootstrap, topic, min_messages=expected, timeout=60)
    return Counter(_row(converter.from_bytes(topic, m.value())["after"]) for m in messages)


def _dead(bootstrap: str, topic: str, expected: int) -> list[tuple[dict[str, bytes], bytes]]:
    messages = consume_all(bootstrap, f"{topic}-dlq", min_messages=expected, timeout=60)
    return [(dict(m.headers() or []), m.value() or b"") for m in messages]


def _wait(worker: Worker, name: str, condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {worker.status(name)}"
        time.sleep(0.2)


def _running(worker: Worker, name: str) -> None:
    status = worker.status(name)
    assert all(task["state"] == "RUNNING" for task in status["tasks"]), status


def test_item5_bad_bdw_mid_file_is_dead_lettered_and_the_rest_of_the_file_read(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    topic = f"mf5-{uuid.uuid4().hex[:8]}"
    files = generate("customers-vb", SEED, tmp_path / "ds", count=COUNT)
    path = files.data[0]
    original = path.read_bytes()
    data = bytearray(original)
    fifth = _blocks(original)[4]
    data[fifth : fifth + 4] = b"\x7f\xff\x12\x34"  # block 5 (records 101-125) can no longer be found
    path.write_bytes(bytes(data))
    connector = parse_connector(_connector(topic, connector_config(files, topic)))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        ids = _ids(kafka_bootstrap_servers, topic, COUNT - 25)
        dead = _dead(kafka_bootstrap_servers, topic, 1)
        _running(worker, connector.framework.name)
    finally:
        assert worker.stop(30)
    rows = _rows(files, path.read_bytes()[:fifth] + original[fifth + 4 + 25 * RECORD :])
    assert ids == Counter(rows)  # every record but the 25 of the broken block, each once
    assert len(dead) == 1
    headers, raw = dead[0]
    assert raw == bytes(data[fifth : fifth + 4 + 25 * RECORD])  # the broken block, up to the next valid BDW
    assert headers["__connect.errors.record"].decode() == f"CUST.MASTER.VB: record 101 at byte offset {fifth}"
    assert b"BDW" in headers["__connect.errors.exception.message"]


def test_item5_restart_loop_under_tolerance_none_duplicates_nothing(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    """250 records before a broken RDW: the task fails again and again, the topic keeps 250 records."""
    topic = f"mf5n-{uuid.uuid4().hex[:8]}"
    files = generate("customers-vb", SEED, tmp_path / "ds", count=COUNT)
    path = files.data[0]
    rows = _rows(files, path.read_bytes())
    path.write_bytes(path.read_bytes() + b"\x00\x60\x00\x00" + b"\x00\x5c\x01\x01" + b"\x40" * 88)
    config = {**connector_config(files, topic), "task.restart.backoff.initial.ms": "50",
              "task.restart.backoff.max.ms": "100", "task.restart.max.attempts": "6"}  # fmt: skip
    connector = parse_connector(_connector(topic, config, tolerance="none"))
    name = connector.framework.name
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        _wait(worker, name, lambda: worker.connectors[name].tasks[0].restarts >= 6, "six restarts")
        _wait(worker, name, lambda: worker.status(name)["tasks"][0]["state"] == "FAILED", "FAILED")
        trace = worker.status(name)["tasks"][0]["trace"]
    finally:
        assert worker.stop(30)
    assert "CUST.MASTER.VB: record 251 at byte offset" in trace
    assert "RDW bytes 3-4 must be zero" in trace
    ids = _ids(kafka_bootstrap_servers, topic, COUNT)
    assert ids == Counter(rows)  # each exactly once, after seven runs


def test_item6_a_readme_beside_the_dataset_blocks_nothing(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"mf6-{uuid.uuid4().hex[:8]}"
    files = generate("customers-vb", SEED, tmp_path / "ds", count=COUNT)
    readme = b"CUSTMAST extracts, one per night. Questions: the data team.\n"
    rows = _rows(files, files.data[0].read_bytes())
    (path := files.data[0].parent / "README.txt").write_bytes(readme)
    config = {**connector_config(files, topic), "input.glob": "*"}
    connector = parse_connector(_connector(topic, config))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        ids = _ids(kafka_bootstrap_servers, topic, COUNT)
        dead = _dead(kafka_bootstrap_servers, topic, 1)
        _wait(worker, connector.framework.name, lambda: not path.exists(), "README.txt quarantined")
        _running(worker, connector.framework.name)
    finally:
        assert worker.stop(30)
    assert ids == Counter(rows)
    assert [(h["__connect.errors.record"], raw) for h, raw in dead] == [
        (b"README.txt: record 1 at byte offset 0", readme)
    ]
    assert (path.parent / "failed" / "README.txt").read_bytes() == readme


def test_item7_a_file_replaced_by_rename_while_read_loses_nothing(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"mf7-{uuid.uuid4().hex[:8]}"
    old = generate("customers-vb", SEED, tmp_path / "ds", count=COUNT)
    path = old.data[0]
    data = path.read_bytes()
    cut = _blocks(data)[6]  # the writer has written 150 records so far
    path.write_bytes(data[:cut])
    connector = parse_connector(_connector(topic, connector_config(old, topic)))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        assert len(_ids(kafka_bootstrap_servers, topic, 150)) == 150
        # A new extract (other customers) is renamed over the file while the writer of
        # the old one, which still holds it open, writes its last 100 records.
        new = generate("customers-vb", SEED + 1, tmp_path / "new", count=COUNT)
        rows = _rows(old, data) + _rows(new, new.data[0].read_bytes())
        with path.open("ab") as writer:
            os.replace(new.data[0], path)
            writer.write(data[cut:])
        ids = _ids(kafka_bootstrap_servers, topic, 2 * COUNT)
        _running(worker, connector.framework.name)
    finally:
        assert worker.stop(30)
    assert ids == Counter(rows)  # the old file's 250 records and the new file's 250, each once


def test_item8_a_truncated_last_record_is_dead_lettered_with_keep(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"mf8-{uuid.uuid4().hex[:8]}"
    files = generate("customers-vb", SEED, tmp_path / "ds", count=COUNT)
    path = files.data[0]
    data = path.read_bytes()
    rows = _rows(files, data)[:-1]
    path.write_bytes(data[:-40])  # the last record is cut
    connector = parse_connector(_connector(topic, {**connector_config(files, topic), "finished.file.action": "keep"}))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        ids = _ids(kafka_bootstrap_servers, topic, COUNT - 1)
        dead = _dead(kafka_bootstrap_servers, topic, 1)
        time.sleep(1)  # quiet again: it is reported once
        dead_later = _dead(kafka_bootstrap_servers, topic, 1)
        _running(worker, connector.framework.name)
    finally:
        assert worker.stop(30)
    assert ids == Counter(rows)
    assert len(dead) == len(dead_later) == 1
    headers, raw = dead[0]
    assert raw == data[len(data) - RECORD : -40]  # the cut record, RDW included
    assert (
        headers["__connect.errors.record"].decode()
        == f"CUST.MASTER.VB: record {COUNT} at byte offset {len(data) - RECORD}"
    )
    assert b"truncated" in headers["__connect.errors.exception.message"]
    assert path.exists()


def test_item9_file_start_offset_on_a_file_first_seen_inside_its_header(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    topic = f"mf9-{uuid.uuid4().hex[:8]}"
    files = generate("customers-vb", SEED, tmp_path / "ds", count=COUNT)
    path = files.data[0]
    rows = _rows(files, path.read_bytes())
    data = b"HDR1" * 25 + path.read_bytes()  # a 100-byte header before the first BDW
    path.write_bytes(data[:50])
    config = {**connector_config(files, topic), "file.start.offset": "100"}
    connector = parse_connector(_connector(topic, config))
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    worker.start()
    try:
        time.sleep(1)  # the task has seen the short file
        with path.open("ab") as writer:
            writer.write(data[50:])
        ids = _ids(kafka_bootstrap_servers, topic, COUNT)
        dead = consume_all(kafka_bootstrap_servers, f"{topic}-dlq", timeout=3)
        _running(worker, connector.framework.name)
    finally:
        assert worker.stop(30)
    assert ids == Counter(rows)
    assert dead == []
