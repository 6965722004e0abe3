"""Hybrid (two-cluster) deployment: one worker, an "on-premises" and a "cloud" Kafka.

The worker's own cluster (``bootstrap.servers``: configs, statuses, source offsets, the
task-slots group) is the on-premises broker. A source connector writes its records to
the cloud broker through ``producer.override.bootstrap.servers``, and a sink connector
reads them back from the cloud through ``consumer.override.bootstrap.servers``, with its
consumer group there. Nothing of either connector's data reaches the on-premises broker,
and none of the worker's own topics reach the cloud one.

The second broker is a real one started for this module (``$HEADWATER_SECOND_BOOTSTRAP_SERVERS``
names a running one instead; ``$HEADWATER_SECOND_KAFKA_PORT`` picks the port of the one
started here).
"""

from __future__ import annotations

import os
import typing as t
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from headwater.conformance.file_sink import tables_off_final_state
from headwater.conformance.kafka import consume_all
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.launch.broker import LocalKafka, find_free_port
from headwater.connectors.launch.worker import DistributedWorkerProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECOND_BOOTSTRAP_ENV = "HEADWATER_SECOND_BOOTSTRAP_SERVERS"
SECOND_PORT_ENV = "HEADWATER_SECOND_KAFKA_PORT"
JSON = {
    "key.converter": "json",
    "key.converter.schemas.enable": "false",
    "value.converter": "json",
    "value.converter.schemas.enable": "true",
}


@pytest.fixture(scope="module")
def cloud_bootstrap_servers(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    """A second real broker, separate from ``kafka_bootstrap_servers``, for this module."""
    external = os.environ.get(SECOND_BOOTSTRAP_ENV, "").strip()
    if external:
        yield external
        return
    port = int(os.environ.get(SECOND_PORT_ENV, "0")) or find_free_port()
    controller_port = port + 1 if os.environ.get(SECOND_PORT_ENV) else find_free_port()
    broker = LocalKafka(tmp_path_factory.mktemp("cloud-kafka"), port=port, controller_port=controller_port)
    address = broker.start()
    try:
        yield address
    finally:
        broker.stop()


def _topics(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def _committed(bootstrap: str, group: str, topics: t.Iterable[str]) -> int:
    """Sum of group ``group``'s committed offsets on ``topics`` (partition 0 each) in that cluster."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": "false"})
    try:
        offsets = consumer.committed([TopicPartition(topic, 0) for topic in topics], timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()


def test_one_worker_bridges_an_on_premises_and_a_cloud_cluster(
    tmp_path: Path, kafka_bootstrap_servers: str, cloud_bootstrap_servers: str
) -> None:
    on_premises, cloud = kafka_bootstrap_servers, cloud_bootstrap_servers
    assert on_premises != cloud
    group = f"hybrid-{uuid.uuid4().hex[:6]}"
    out = tmp_path / "out"
    datagen = {"topic.prefix": group, "count": "3000", "rate": "3000", "keys": "200", "seed": "3"}
    source = {
        "name": f"to-cloud-{group}",
        "config": {
            "connector.class": "datagen",
            "tasks.max": "3",
            **datagen,
            **JSON,
            "producer.override.bootstrap.servers": cloud,
        },
    }
    sink = {
        "name": f"from-cloud-{group}",
        "config": {
            "connector.class": "file",
            "topics.regex": f"{group}\\..*",
            "file.dir": str(out),
            **JSON,
            "consumer.override.bootstrap.servers": cloud,
        },
    }
    fast = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
    with DistributedWorkerProcess(tmp_path / "worker", on_premises, group, worker_overrides=fast) as worker:
        assert worker.post("/connectors", source)[0] == 201
        assert worker.post("/connectors", sink)[0] == 201
        config = DatagenConfig.model_validate(datagen)
        worker.wait_until(lambda: not tables_off_final_state(out, group, config), timeout=90, what="the final state")

        data_topics = {f"{group}.{table}" for table in config.table_list()}
        # The records went to the cloud only; the worker's own topics stayed on premises.
        assert data_topics <= _topics(cloud)
        assert not data_topics & _topics(on_premises)
        internal = {f"{group}-configs", f"{group}-status", f"{group}-offsets", f"{group}-task-slots"}
        assert internal <= _topics(on_premises)
        assert not internal & _topics(cloud)
        records = sum(len(consume_all(cloud, topic)) for topic in sorted(data_topics))
        assert records >= 3000  # the events, plus a tombstone after each delete

        # The source's offsets are in the on-premises offset topic, read back over REST.
        offsets = worker.get(f"/connectors/{source['name']}/offsets")["offsets"]
        assert sorted(entry["partition"]["table"] for entry in offsets) == sorted(config.table_list())
        # The sink's consumer group commits in the cloud, where it reads.
        sink_group = f"connect-{sink['name']}"
        worker.wait_until(
            lambda: _committed(cloud, sink_group, data_topics) == records, timeout=30, what="the sink's commits"
        )
        assert _committed(on_premises, sink_group, data_topics) == 0
        assert worker.stop() == 0
