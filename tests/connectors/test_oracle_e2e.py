"""End to end: the LogMiner emulator through the ``oracle-logminer`` task into the real broker;
folding each topic read back from Kafka reproduces the emulator's final state."""

from __future__ import annotations

import typing as t
import uuid

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.emulators.oracle import LogMinerEmulator, final_state
from headwater.conformance.kafka import consume_all
from headwater.conformance.oracle_pump import pump
from headwater.connectors.api import SourceTaskContext
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask


class _NoOffsets:
    def offset(self, partition: t.Mapping[str, t.Any]) -> None:
        return None


@pytest.mark.kafka
def test_emulator_to_kafka_folds_to_the_final_state(kafka_bootstrap_servers: str) -> None:
    prefix = f"oracle-e2e-{uuid.uuid4().hex[:8]}"
    config = OracleLogMinerConfig.model_validate(
        {
            "emulator.scenario": "rollbacks", "emulator.seed": 31, "topic.prefix": prefix,
            "table.exclude.list": r"SHOP\.GEO", "binary.handling.mode": "base64",
        }
    )  # fmt: skip
    emulator = LogMinerEmulator("rollbacks", 31)
    task = OracleLogMinerTask(config, SourceTaskContext("e2e", 0, _NoOffsets()), client=emulator)
    counts = pump(task, lambda: emulator.finished, kafka_bootstrap_servers)
    converter = JsonConverter(schemas_enable=False)
    expected: dict[str, dict[str, t.Any]] = {}
    for entry in final_state("rollbacks", 31):
        topic = f"{prefix}.{entry['table'].replace(' ', '_')}"
        key = converter.from_bytes(topic, converter.to_bytes(topic, entry["key"]))  # as Kafka carries it
        expected.setdefault(topic, {})[canonical_key(key)] = entry["row"]
    assert set(counts) == set(expected)
    for topic, rows in expected.items():
        messages = consume_all(kafka_bootstrap_servers, topic, min_messages=counts[topic])
        assert len(messages) == counts[topic]
        folded = fold((converter.from_bytes(topic, m.key()), converter.from_bytes(topic, m.value())) for m in messages)
        assert folded == {k: converter.from_bytes(topic, converter.to_bytes(topic, v)) for k, v in rows.items()}
