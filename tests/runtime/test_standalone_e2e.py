"""The foundation's promises, end to end on a real broker with real worker processes.

A standalone worker moves 100,000 datagen events into the file sink; a ``kill -9``
halfway and a restart leave every key's final state in the output; the status endpoint
shows RUNNING; SIGTERM stops the worker cleanly with exit code 0.
"""

from __future__ import annotations

import json
import typing as t
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from headwater.conformance.file_sink import lines_landed, tables_off_final_state
from headwater.conformance.kafka import create_topic
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.launch.worker import WorkerProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

JSON = {
    "key.converter": "json",
    "key.converter.schemas.enable": "false",
    "value.converter": "json",
    "value.converter.schemas.enable": "true",
}


def _connectors(prefix: str, out: Path, count: int) -> tuple[dict[str, object], dict[str, object], DatagenConfig]:
    datagen = {"topic.prefix": prefix, "count": str(count), "keys": "3000", "seed": "11", "batch.size": "1000"}
    source = {"name": f"src-{prefix}", "config": {"connector.class": "datagen", **datagen, **JSON}}
    sink = {
        "name": f"sink-{prefix}",
        "config": {"connector.class": "file", "topics.regex": f"{prefix}\\..*", "file.dir": str(out), **JSON},
    }
    return source, sink, DatagenConfig.model_validate(datagen)


def test_100k_records_survive_kill_9_and_restart(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "out"
    source, sink, config = _connectors(prefix, out, 100_000)
    # A static member: if the kill lands while the sink group rebalances (topics appear
    # as the source runs), a dynamic member would hold the group until the rebalance
    # times out (max.poll.interval.ms); the restarted static member replaces it at once.
    static = {"worker.instance.id": f"w-{prefix}"}
    worker = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [source, sink], worker_overrides=static)
    with worker:
        worker.wait_until(lambda: worker.status(f"src-{prefix}")["tasks"][0]["state"] == "RUNNING", what="RUNNING")
        assert worker.status(f"sink-{prefix}")["connector"]["state"] == "RUNNING"
        worker.wait_until(lambda: lines_landed(out) >= 50_000, timeout=300, what="half the records")
        worker.kill()
    halfway = lines_landed(out)
    assert halfway < 114_000, "the crash should come before the end"

    restarted = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [source, sink], worker_overrides=static)
    with restarted:
        restarted.wait_until(
            lambda: (
                restarted.metric("kafka_connect_source_task_metrics_source_record_poll_total", f"src-{prefix}") > 0
                or restarted.status(f"src-{prefix}")["tasks"][0]["state"] == "RUNNING"
            ),
            what="restart",
        )

        # Everything the source emits must land; a generous bound, checked by state.
        restarted.wait_until(
            lambda: not tables_off_final_state(out, prefix, config), timeout=300, what="final state after restart"
        )
        assert restarted.status(f"sink-{prefix}")["tasks"][0]["state"] == "RUNNING"
        assert restarted.stop() == 0
    # Source offsets resumed mid-stream: the restart did not start over from zero.
    offsets = json.loads((tmp_path / "work" / "offsets.json").read_text())
    assert {entry["key"][1]["table"] for entry in offsets} == set(config.table_list())
    assert all(entry["offset"]["seq"] == config.table_count(entry["key"][1]["table"]) for entry in offsets)


def _members(bootstrap: str, group: str) -> list[t.Any]:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    (future,) = admin.describe_consumer_groups([group]).values()
    return list(future.result(timeout=30).members)


def _numbers(path: Path) -> set[int]:
    """The values' ``n`` of the complete lines written so far."""
    return {json.loads(line)["value"]["n"] for line in path.read_bytes().split(b"\n")[:-1]}


def test_a_restarted_static_member_takes_its_partitions_back(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"static-{uuid.uuid4().hex[:6]}"
    create_topic(kafka_bootstrap_servers, topic, partitions=3)
    producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})

    def produce(start: int) -> None:
        for i in range(start, start + 300):
            producer.produce(topic, key=str(i).encode(), value=b'{"n": %d}' % i)
        assert producer.flush(30) == 0

    out = tmp_path / "out"
    name = f"sink-{topic}"
    settings = {"key.converter": "string", "value.converter": "json", "value.converter.schemas.enable": "false"}
    sink = {"name": name, "config": {"connector.class": "file", "topics": topic, "file.dir": str(out), **settings}}
    static = {"worker.instance.id": "worker-1", "consumer.session.timeout.ms": "180000"}
    produce(0)
    with WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [sink], worker_overrides=static) as worker:
        worker.wait_until(lambda: lines_landed(out) >= 300, what="the first records")
        (member,) = _members(kafka_bootstrap_servers, f"connect-{name}")
        assert member.group_instance_id == f"worker-1-{name}-0"
        assert member.client_id == f"connector-consumer-{name}-0"
        worker.kill()

    produce(300)
    with WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [sink], worker_overrides=static) as restarted:
        # The dead member's session lasts three minutes; the restart does not wait it out.
        # Distinct values, not lines: records read after the last commit before the kill
        # are delivered again (at least once), and their repeats must not count.
        restarted.wait_until(
            lambda: len(_numbers(out / f"{topic}.jsonl")) >= 600, timeout=90, what="records produced after the crash"
        )
        (member,) = _members(kafka_bootstrap_servers, f"connect-{name}")
        assert member.group_instance_id == f"worker-1-{name}-0"
        assert len(member.assignment.topic_partitions) == 3
    assert _numbers(out / f"{topic}.jsonl") == set(range(600))


def test_sigterm_flushes_commits_and_exits_0(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    prefix = f"term-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "out"
    source, sink, config = _connectors(prefix, out, 3_000)
    worker = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [source, sink])
    with worker:
        worker.wait_until(lambda: lines_landed(out) > 0, what="first records")
        worker.wait_until(lambda: worker.status(f"sink-{prefix}")["tasks"][0]["state"] == "RUNNING", what="RUNNING")
        status = worker.get(f"/connectors/src-{prefix}/status")
        assert status["connector"]["state"] == "RUNNING"
        assert status["type"] == "source"
        worker.wait_until(lambda: lines_landed(out) >= 3_000 + 1, what="all records")  # plus tombstones
        assert worker.stop() == 0
    assert tables_off_final_state(out, prefix, config) == []
    assert "stopping gracefully" in worker.log_path.read_text()
