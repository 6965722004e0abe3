"""Exactly-once sources: records and offsets in one Kafka transaction, through a kill -9."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import to_messages
from headwater.conformance.kafka import consume_all
from headwater.connectors.datagen.client import TableGenerator
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.errors import ConfigError
from headwater.connectors.launch.worker import WorkerProcess
from headwater.connectors.loading import load_worker_file
from headwater.connectors.runtime.worker import Worker
from headwater.connectors.settings import WorkerConfig


def test_exactly_once_needs_an_offset_topic(tmp_path: Path) -> None:
    path = tmp_path / "worker.json"
    path.write_text(json.dumps({"exactly.once.source.support": "enabled"}))
    with pytest.raises(ConfigError) as caught:
        load_worker_file(path)
    assert [e.key for e in caught.value.errors] == ["exactly.once.source.support"]
    with pytest.raises(ConfigError):
        Worker(WorkerConfig(exactly_once_source_support="enabled"), [])


@pytest.mark.kafka
@pytest.mark.slow
def test_kill_9_leaves_every_record_exactly_once(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    prefix = f"eos-{uuid.uuid4().hex[:6]}"
    settings = {"topic.prefix": prefix, "count": "30000", "keys": "2000", "seed": "3", "batch.size": "500"}
    connector = {
        "name": f"src-{prefix}",
        "config": {"connector.class": "datagen", **settings},
    }
    overrides = {"offset.storage.topic": f"{prefix}-offsets", "exactly.once.source.support": "enabled"}
    worker = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [connector], worker_overrides=overrides)
    write_total = "kafka_connect_source_task_metrics_source_record_write_total"
    with worker:
        worker.wait_until(lambda: worker.metric(write_total, f"src-{prefix}") > 8_000, what="some transactions")
        worker.kill()
    restarted = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [connector], worker_overrides=overrides)
    config = DatagenConfig.model_validate(settings)
    expected: dict[str, list[tuple[object, object]]] = {}
    for table in config.table_list():
        generator = TableGenerator(table, seed=config.seed, keys=config.keys, name=prefix)
        expected[f"{prefix}.{table}"] = [
            message for _ in range(config.table_count(table)) for message in to_messages(generator.next_event())
        ]
    converter = JsonConverter()
    with restarted:
        for topic, messages in expected.items():
            committed = consume_all(kafka_bootstrap_servers, topic, timeout=180, min_messages=len(messages))
            got = [(converter.from_bytes(topic, m.key()), converter.from_bytes(topic, m.value())) for m in committed]
            # Exactly once and in order: no duplicate from the window the crash cut off.
            assert len(got) == len(messages), topic
            assert json.dumps(got, default=str) == json.dumps(messages, default=str), topic
        assert restarted.stop() == 0
