"""Source runner settings the conformance suite does not cover: KIP-618's ``interval``
boundary, markers inside an exactly-once transaction, and refusing ``connector``
boundaries for a plugin that cannot mark them."""

from __future__ import annotations

import time
import typing as t
import uuid
from pathlib import Path

import pytest
from reference_source import ReferenceSource

from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.errors import ConfigError
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import ConnectorOffsets

REFERENCE = f"{ReferenceSource.__module__}:{ReferenceSource.__qualname__}"


def test_connector_boundaries_need_a_plugin_that_marks_them() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connector({"name": "d", "config": {"connector.class": "datagen", "transaction.boundary": "connector"}})
    assert [error.key for error in caught.value.errors] == ["transaction.boundary"]
    assert "datagen cannot define transaction boundaries" in str(caught.value)
    connector = parse_connector(
        {"name": "r", "config": {"connector.class": REFERENCE, "topic": "t", "transaction.boundary": "connector"}}
    )
    assert connector.framework.transaction_boundary == "connector"
    with pytest.raises(ConfigError) as caught:
        parse_connector(
            {"name": "r", "config": {"connector.class": REFERENCE, "topic": "t", "transaction.boundary": "x"}}
        )
    assert [error.key for error in caught.value.errors] == ["transaction.boundary"]


@pytest.mark.kafka
def test_interval_boundary_commits_by_the_clock_and_markers_go_in_the_transaction(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    """transaction.boundary=interval: nothing is visible before the interval ends (a
    stop commits the open transaction), and the end markers' offsets are stored with it."""
    topic = f"interval-{uuid.uuid4().hex[:8]}"
    name = f"src-{topic}"
    connector = {
        "name": name,
        "config": {
            "connector.class": REFERENCE,
            "topic": topic,
            "count": "12",
            "partitions": "1",
            "rollback.every": "0",
            "transaction.boundary": "interval",
            "transaction.boundary.interval.ms": "600000",
        },
    }
    worker = in_process_worker(
        kafka_bootstrap_servers,
        tmp_path,
        [connector],
        exactly_once_source_support="enabled",
        offset_storage_topic=f"{topic}-offsets",
        transactional_id_prefix=topic,
    )
    worker.start()
    try:
        polled = worker.metrics.source_record_poll.labels(connector=name, task="0")
        wait_for(lambda: polled._value.get() >= 13, timeout=30, what="every record polled", worker=worker)
        time.sleep(1.0)
        assert consume_all(kafka_bootstrap_servers, f"{topic}.p0", timeout=10) == [], (
            "records became visible before the transaction interval ended"
        )
    finally:
        assert worker.stop(30)
    visible = consume_all(kafka_bootstrap_servers, f"{topic}.p0", min_messages=1)
    assert len(visible) >= 12  # every event, and a tombstone after each delete
    reread = in_process_worker(
        kafka_bootstrap_servers, tmp_path, [], offset_storage_topic=f"{topic}-offsets", transactional_id_prefix=topic
    )
    try:
        stored = ConnectorOffsets(reread.offset_store, name).offset({"partition": "p0"})
    finally:
        reread.stop(5)
    assert stored == {"seq": 12, "end": True}, "the end marker's offset was not stored in the transaction"


def test_alter_offsets_gets_source_and_sink_shapes() -> None:
    """KIP-875: sources get hashable partition mappings, sinks (topic, partition) -> int; None resets."""
    from headwater.connectors.runtime import offset_admin

    seen: list[dict[object, object]] = []

    class Recording(ReferenceSource):
        def alter_offsets(self, offsets: t.Mapping[t.Any, t.Any]) -> None:
            seen.append(dict(offsets))

    config = ReferenceSource.config_class.model_validate({"topic": "t"})
    changes = [({"partition": "p0"}, {"seq": 3}), ({"partition": "p1"}, None)]
    offset_admin.ask_connector(Recording, config, changes, sink=False)
    assert [(dict(partition), offset) for partition, offset in seen[-1].items()] == changes
    sink_changes = [
        ({"kafka_topic": "orders", "kafka_partition": 2}, {"kafka_offset": 40}),
        ({"kafka_topic": "orders", "kafka_partition": 3}, None),
    ]
    offset_admin.ask_connector(Recording, config, sink_changes, sink=True)
    assert seen[-1] == {("orders", 2): 40, ("orders", 3): None}
    with pytest.raises(ConfigError, match=r"offsets\[p0\]\.seq"):
        offset_admin.ask_connector(ReferenceSource, config, [({"partition": "p0"}, {"seq": -1})], sink=False)


def test_stored_task_configs_keep_provider_references(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task keeping the connector's ${env:} value is stored with the reference, not the resolved secret."""
    from headwater.connectors.runtime.distributed import task_properties

    monkeypatch.setenv("REFERENCE_TOPIC", "orders")
    connector = parse_connector(
        {"name": "r", "config": {"connector.class": REFERENCE, "topic": "${env:REFERENCE_TOPIC}", "count": "5"}}
    )
    plugin = connector.plugin_class(connector.plugin_config)
    plugin.start()
    try:
        task_config = plugin.task_configs(2)[1]
    finally:
        plugin.stop()
    stored = task_properties(connector, task_config)
    assert stored["topic"] == "${env:REFERENCE_TOPIC}"
    assert stored["task.partitions"] == "p1"
    assert stored["count"] == 5
