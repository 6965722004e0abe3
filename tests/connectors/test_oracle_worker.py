"""``oracle-logminer`` through the real worker and broker: one Kafka transaction per Oracle
transaction under ``exactly.once.source.support=enabled`` + ``transaction.boundary=connector``.

A read_committed consumer cannot see transaction boundaries directly, but the broker can:
each commit writes a control record into every partition the transaction touched, which
takes an offset. So in one partition the records of one Kafka transaction have
consecutive offsets and two transactions are separated by an offset gap. The test checks
that every Oracle transaction (``source.txId``) is one gap-free run, that every two runs
are separated by a commit marker, and that no transaction is missing or written twice.
"""

from __future__ import annotations

import itertools
import typing as t
import uuid
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.conformance.emulators.oracle import LogMinerEmulator
from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.loading import parse_connector
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore

pytestmark = pytest.mark.kafka

SCENARIO, SEED = "rollbacks", 41


def _keys(prefix: str) -> dict[str, str]:
    return {
        "emulator.scenario": SCENARIO,
        "emulator.seed": str(SEED),
        "topic.prefix": prefix,
        "table.exclude.list": r"SHOP\.GEO",
        "log.mining.sleep.time.ms": "50",
        "max.batch.size": "200",
    }


def _expected(prefix: str) -> dict[str, list[str]]:
    """Per topic, the transaction id of every record of one uninterrupted in-process run
    (``snapshot:<table>`` for a snapshot read, tombstones with their delete's)."""
    config = OracleLogMinerConfig.model_validate(_keys(prefix))
    emulator = LogMinerEmulator(SCENARIO, SEED)
    context = SourceTaskContext("expected", 0, ConnectorOffsets(MemoryOffsetStore(), "expected"))
    task = OracleLogMinerTask(config, context, client=emulator)
    out: dict[str, list[str]] = {}
    idle = 0
    try:
        while idle < 2:
            for item in task.poll():
                if isinstance(item, SourceRecord):
                    ids = out.setdefault(item.topic, [])
                    ids.append(_txid(item.value) if item.value is not None else ids[-1])
            caught_up = context.next_poll_delay_ms > 0
            context.next_poll_delay_ms = 0
            idle = idle + 1 if emulator.finished and caught_up else 0
    finally:
        task.stop()
    return out


def _txid(value: t.Mapping[str, t.Any]) -> str:
    source = value["source"]
    return t.cast(str, source["txId"]) if source["txId"] else f"snapshot:{source['table']}"


def _runs(messages: list[t.Any], topic: str) -> list[tuple[str, list[int]]]:
    """Consecutive messages of one transaction id, with their offsets."""
    converter = JsonConverter()
    labelled: list[tuple[str, int]] = []
    for message in messages:
        value = converter.from_bytes(topic, message.value())
        labelled.append((_txid(value) if value is not None else labelled[-1][0], message.offset()))
    return [(txid, [offset for _, offset in group]) for txid, group in itertools.groupby(labelled, lambda p: p[0])]


def test_each_oracle_transaction_is_one_kafka_transaction(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    prefix = f"ora-eos-{uuid.uuid4().hex[:8]}"
    expected = _expected(prefix)
    assert sum(len(ids) for ids in expected.values()) > 100
    connector = parse_connector(
        {
            "name": prefix,
            "config": {
                "connector.class": "oracle-logminer",
                "transaction.boundary": "connector",
                **_keys(prefix),
            },
        }
    )
    worker = in_process_worker(
        kafka_bootstrap_servers,
        tmp_path,
        [connector],
        exactly_once_source_support="enabled",
        offset_storage_topic=f"{prefix}-offsets",
        transactional_id_prefix=prefix,
    )
    worker.start()
    try:
        got: dict[str, list[t.Any]] = {}
        for topic, ids in expected.items():

            def arrived(topic: str = topic, count: int = len(ids)) -> bool:
                got[topic] = consume_all(kafka_bootstrap_servers, topic, idle=0.2)
                return len(got[topic]) >= count

            wait_for(arrived, timeout=90, what=f"{len(ids)} records on {topic}", worker=worker)
    finally:
        assert worker.stop(30)
    for topic, ids in expected.items():
        messages = got[topic]
        assert {m.partition() for m in messages} == {0}
        runs = _runs(messages, topic)
        txids = [txid for txid, _ in runs]
        assert len(txids) == len(set(txids)), f"{topic}: an Oracle transaction split or written twice"
        assert txids == [txid for txid, _ in itertools.groupby(ids)], f"{topic}: transactions lost or reordered"
        for txid, offsets in runs:
            assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), (
                f"{topic}: Oracle transaction {txid} is not one Kafka transaction (a commit marker inside it)"
            )
        for (first, before), (second, after) in itertools.pairwise(runs):
            if not (first.startswith("snapshot:") and second.startswith("snapshot:")):
                assert after[0] > before[-1] + 1, (
                    f"{topic}: Oracle transactions {first} and {second} share one Kafka transaction"
                )
