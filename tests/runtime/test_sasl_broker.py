"""Worker-level SASL/PLAIN written the Java way (``sasl.jaas.config``) against a broker
whose only client listener for the worker requires it: every client the worker creates
(task producer, admin client of topic.creation, the Kafka offset store) logs in."""

from __future__ import annotations

import time
import typing as t
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from headwater.connectors.launch.broker import LocalKafka, find_free_port
from headwater.connectors.loading import load_worker_file, parse_connector
from headwater.connectors.runtime.worker import Worker

# A broker of its own (about 35 s with the worker run): out of CI's budget, in `make test-sweep`.
pytestmark = [pytest.mark.slow, pytest.mark.sweep]

JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="{password}";'


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[str]:
    port, sasl_port = find_free_port(), find_free_port()
    broker = LocalKafka(
        tmp_path_factory.mktemp("sasl-kafka"), port=port, sasl_port=sasl_port, sasl_users={"alice": "alice-secret"}
    )
    broker.start()
    yield f"127.0.0.1:{sasl_port}"
    broker.stop()


def test_worker_security_logs_every_client_in(sasl_broker: str, tmp_path: Path) -> None:
    worker_file = tmp_path / "worker.properties"
    worker_file.write_text(
        f"bootstrap.servers={sasl_broker}\n"
        "security.protocol=SASL_PLAINTEXT\n"
        "sasl.mechanism=PLAIN\n"
        f"sasl.jaas.config={JAAS.format(password='alice-secret')}\n"
        "offset.storage.topic=sasl-offsets\n"
        "offset.flush.interval.ms=200\n"
        "rest.port=0\n"
    )
    worker_config = load_worker_file(worker_file)
    prefix = f"sasl{uuid.uuid4().hex[:6]}"
    connector = parse_connector(
        {
            "name": prefix,
            "config": {
                "connector.class": "datagen",
                "topic.prefix": prefix,
                "count": "50",
                "tables": "customers",
                "topic.creation.default.replication.factor": "1",
                "topic.creation.default.partitions": "3",
            },
        },
        worker=worker_config,
    )
    worker = Worker(worker_config, [connector])
    worker.start()
    try:
        login = {"bootstrap.servers": sasl_broker, **worker_config.client_settings("consumer")}
        admin = AdminClient(login)
        deadline = time.monotonic() + 60
        while f"{prefix}.customers" not in admin.list_topics(timeout=10).topics:
            assert time.monotonic() < deadline, "topic not created over SASL"
            time.sleep(0.2)
        assert len(admin.list_topics(timeout=10).topics[f"{prefix}.customers"].partitions) == 3
        consumer = Consumer({**login, "group.id": f"probe-{prefix}", "auto.offset.reset": "earliest"})
        consumer.subscribe([f"{prefix}.customers"])
        seen = 0
        while seen < 50:
            assert time.monotonic() < deadline, f"{seen} of 50 records read over SASL"
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                seen += 1
        consumer.close()
        offsets = Consumer({**login, "group.id": f"offsets-{prefix}", "auto.offset.reset": "earliest"})
        offsets.subscribe(["sasl-offsets"])  # written by the worker's offset store, over SASL
        deadline = time.monotonic() + 30
        stored = None
        while stored is None:
            assert time.monotonic() < deadline, "no source offset stored over SASL"
            message = offsets.poll(1.0)
            if message is not None and message.error() is None and prefix.encode() in (message.key() or b""):
                stored = message
        offsets.close()
    finally:
        worker.stop()


def test_a_wrong_password_is_refused_by_the_broker(sasl_broker: str) -> None:
    admin = AdminClient(
        {
            "bootstrap.servers": sasl_broker,
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "alice",
            "sasl.password": "wrong",
        }
    )
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
