"""Sink partitions that move to another worker are flushed and committed first."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from headwater.conformance.kafka import create_topic
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.runtime.worker import Worker

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _produce(bootstrap: str, topic: str, start: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(start, start + count):
        producer.produce(topic, key=str(i).encode(), value=b'{"n": %d}' % i)
    assert producer.flush(30) == 0


def _sent(worker: Worker, name: str) -> float:
    """Records handed to the sink's put() so far."""
    return float(worker.metrics.sink_record_send.labels(connector=name, task="0")._value.get())


def _members_with_partitions(bootstrap: str, group: str) -> int:
    """Members of ``group`` that the broker has given partitions (a finished rebalance)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_consumer_groups([group])[group].result(10)
    return sum(1 for member in description.members if member.assignment.topic_partitions)


def _lines(folder: Path) -> list[bytes]:
    return [line for path in folder.glob("*.jsonl") for line in path.read_bytes().splitlines()]


def test_revoked_partitions_are_committed_so_the_new_owner_does_not_replay(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    topic = f"rebalance-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic, partitions=4)
    _produce(kafka_bootstrap_servers, topic, 0, 5_000)

    def connector(out: Path) -> dict[str, object]:
        config = {"connector.class": "file", "topics": topic, "file.dir": str(out), "file.include.metadata": "false"}
        settings = {"value.converter.schemas.enable": "false", "key.converter": "string"}
        return {"name": f"sink-{topic}", "config": {**config, **settings}}

    # No periodic commits: only the revocation can commit what the first worker wrote.
    first = in_process_worker(
        kafka_bootstrap_servers, tmp_path / "a", [connector(tmp_path / "out-a")], offset_flush_interval_ms=600_000
    )
    second = in_process_worker(
        kafka_bootstrap_servers, tmp_path / "b", [connector(tmp_path / "out-b")], offset_flush_interval_ms=600_000
    )
    first.start()
    try:
        name = f"sink-{topic}"
        wait_for(lambda: _sent(first, name) >= 5_000, timeout=90, what="the first 5,000 records", worker=first)
        second.start()
        try:
            # The join revokes the first worker's partitions: it must flush and commit them.
            wait_for(
                lambda: _members_with_partitions(kafka_bootstrap_servers, f"connect-{name}") == 2,
                timeout=90,
                what="the rebalance to give the second worker partitions",
            )
            wait_for(lambda: len(_lines(tmp_path / "out-a")) >= 5_000, timeout=90, what="flush on revocation")
            _produce(kafka_bootstrap_servers, topic, 5_000, 1_000)
            wait_for(lambda: _sent(first, name) + _sent(second, name) >= 6_000, timeout=120, what="all 6,000 records")
            assert second.connectors[name].tasks[0].state == "RUNNING"
        finally:
            assert second.stop(30)
    finally:
        assert first.stop(30)
    lines = _lines(tmp_path / "out-a") + _lines(tmp_path / "out-b")
    assert len(lines) == 6_000, "a replayed partition would write some records twice"
    assert len(set(lines)) == 6_000
    assert _lines(tmp_path / "out-b"), "the second worker should have taken over some partitions"
