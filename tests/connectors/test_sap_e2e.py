"""``sap-rfc-table`` in the real runtime on a real broker: change documents from the emulator to Kafka.

The worker is stopped (or killed) halfway and a new one resumes from the stored offsets;
folding the topics still gives the emulator's final state. The emulated SAP system keeps
its history in a state file the test owns (``emulator.state.file``), so the restarted
worker meets the same system, later, as it would meet a real one.

The tests wait for the folded topics themselves to reach the final state: a watermark at
the last change's stamp does not mean every change is handled, since a change document
committed while a cycle paged past its key range is only read by the next cycle.
"""

from __future__ import annotations

import json
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.emulators.sap import SapSystem, final_state
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.conformance.standard import _normalise
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets

pytestmark = pytest.mark.kafka

SEED = 21
STEPS = 200
TABLES = ("KNA1", "VBAK")


def _config(prefix: str, state_file: Path) -> dict[str, str]:
    return {
        "connector.class": "sap-rfc-table",
        "tables": ",".join(TABLES),
        "mode": "change-documents",
        "topic.prefix": prefix,
        "emulator.scenario": "erp",
        "emulator.seed": str(SEED),
        "emulator.count": str(STEPS),
        "emulator.state.file": str(state_file),
        "page.size": "25",
        "poll.interval.ms": "50",
    }


def _goal() -> dict[str, str]:
    """The stamp of each table's last change."""
    steps = SapSystem("erp", SEED, count=STEPS).steps
    return {table: max(c.udate + c.utime for step in steps for c in step if c.table == table) for table in TABLES}


def _wait_for_final_state(bootstrap: str, prefix: str, timeout: float) -> None:
    """Fold both topics as they grow (one consumer from the beginning) until they equal
    the emulator's final state; on timeout, fail naming the keys that differ."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    converter = JsonConverter()
    expected = {
        table: _normalise(
            {canonical_key(e["key"]): e["row"] for e in final_state("erp", SEED, count=STEPS, tables=[table])}
        )
        for table in TABLES
    }
    messages: dict[str, list[tuple[t.Any, t.Any]]] = {table: [] for table in TABLES}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{prefix}", "enable.auto.commit": False})
    try:
        topics = consumer.list_topics(timeout=10).topics
        consumer.assign(
            [
                TopicPartition(f"{prefix}.{table}", partition, OFFSET_BEGINNING)
                for table in TABLES
                for partition in topics[f"{prefix}.{table}"].partitions
            ]
        )
        deadline = time.monotonic() + timeout
        while True:
            for message in consumer.consume(1000, timeout=0.5):
                assert message.error() is None, message.error()
                topic = message.topic()
                messages[topic.rsplit(".", 1)[1]].append(
                    (converter.from_bytes(topic, message.key()), converter.from_bytes(topic, message.value()))
                )
            wrong: dict[str, list[str]] = {}
            for table in TABLES:
                folded, goal = _normalise(fold(messages[table])), expected[table]
                keys = sorted(k for k in folded.keys() | goal.keys() if folded.get(k) != goal.get(k))
                if keys:
                    wrong[table] = keys[:3]
            if not wrong:
                return
            assert time.monotonic() < deadline, f"the folded topics never reached the final state: {wrong}"
    finally:
        consumer.close()


@pytest.mark.slow
def test_change_documents_to_kafka_across_a_worker_restart(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    prefix = f"sap-{uuid.uuid4().hex[:8]}"
    connector = parse_connector({"name": f"src-{prefix}", "config": _config(prefix, tmp_path / "sap-system.json")})
    name = connector.framework.name
    goal = _goal()

    def watermarks(worker: object) -> dict[str, str]:
        stored = ConnectorOffsets(worker.offset_store, name).all()  # type: ignore[attr-defined]
        return {str(p["table"]): str(o.get("watermark", "")) for p, o in stored}

    first = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    first.start()
    try:
        wait_for(lambda: len(watermarks(first)) == 2, timeout=60, what="first offsets", worker=first)
    finally:
        assert first.stop(30)
    halfway = watermarks(first)
    assert any(halfway[t] < goal[t] for t in goal), "the first worker must stop before the end of the history"
    second = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector])
    second.start()
    try:
        _wait_for_final_state(kafka_bootstrap_servers, prefix, 90)
    finally:
        assert second.stop(30)


@pytest.mark.slow
def test_kill_9_and_restart_still_folds_to_the_final_state(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    from headwater.connectors.launch.worker import WorkerProcess

    prefix = f"sapk-{uuid.uuid4().hex[:8]}"
    connector = {"name": prefix, "config": _config(prefix, tmp_path / "sap-system.json")}
    goal = _goal()
    offsets_file = tmp_path / "work" / "offsets.json"

    def watermarks() -> dict[str, str]:
        if not offsets_file.exists():
            return {}
        stored = json.loads(offsets_file.read_text())
        return {e["key"][1]["table"]: e["offset"].get("watermark", "") for e in stored if e["key"][0] == prefix}

    worker = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [connector])
    with worker:
        worker.wait_until(lambda: len(watermarks()) == 2, timeout=60, what="first offsets")
        worker.kill()
    halfway = watermarks()
    assert any(halfway[t] < goal[t] for t in goal), "the worker must die before the end of the history"
    restarted = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [connector])
    with restarted:
        _wait_for_final_state(kafka_bootstrap_servers, prefix, 90)
        assert restarted.stop() == 0
