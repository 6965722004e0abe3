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
import json
import typing as t
import uuid
from collections import Counter
from pathlib import Path

import pytest

from headwater.codecs.converters import JsonConverter
from headwater.conformance.emulators.oracle import LogMinerEmulator
from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.launch.worker import WorkerProcess
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
    out: dict[str, list[str]] = {}
    for record in _polled(_keys(prefix)):
        ids = out.setdefault(record.topic, [])
        ids.append(_txid(record.value) if record.value is not None else ids[-1])
    return out


def _polled(keys: t.Mapping[str, str]) -> list[SourceRecord]:
    """The records of one uninterrupted in-process run of a task with ``keys``."""
    return _run(keys)[0]


def _run(keys: t.Mapping[str, str]) -> tuple[list[SourceRecord], dict[str, t.Any]]:
    """The records and the final offset of one uninterrupted in-process run."""
    config = OracleLogMinerConfig.model_validate(keys)
    assert config.emulator_scenario is not None
    emulator = LogMinerEmulator(config.emulator_scenario, config.emulator_seed)
    context = SourceTaskContext("expected", 0, ConnectorOffsets(MemoryOffsetStore(), "expected"))
    task = OracleLogMinerTask(config, context, client=emulator)
    out: list[SourceRecord] = []
    final: dict[str, t.Any] = {}
    idle = 0
    try:
        while idle < 2:
            for item in task.poll():
                final = dict(item.offset)
                if isinstance(item, SourceRecord):
                    out.append(item)
            caught_up = context.next_poll_delay_ms > 0
            context.next_poll_delay_ms = 0
            idle = idle + 1 if emulator.finished and caught_up else 0
    finally:
        task.stop()
    return out, final


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


# -- kill -9 of a worker process while it streams from the emulator ---------------------------

_WRITE_TOTAL = "kafka_connect_source_task_metrics_source_record_write_total"


def _as_text(key: t.Any, value: t.Any) -> str:
    return json.dumps([key, value], sort_keys=True, default=str)


def _settled(offset: t.Mapping[str, t.Any] | None) -> t.Callable[[t.Mapping[str, t.Any]], bool]:
    """Whether a streamed change's transaction is recorded as emitted by ``offset`` (its
    ``commit_scn``: per redo thread the last commit SCN emitted and the XIDs emitted at it)."""
    threads: dict[int, tuple[int, set[str]]] = {}
    for entry in str((offset or {}).get("commit_scn") or "").split(","):
        if entry:
            scn, thread, xids = entry.split(":")
            threads[int(thread)] = (int(scn), {x.lower() for x in xids.split("-") if x})

    def settled(source: t.Mapping[str, t.Any]) -> bool:
        if not source.get("txId"):
            return bool(offset and offset.get("snapshot_completed"))
        scn, xids = threads.get(int(source["redo_thread"]), (0, set()))
        commit = int(source["commit_scn"])
        return commit < scn or (commit == scn and source["txId"].lower() in xids)

    return settled


def _wait_caught_up(worker: WorkerProcess, prefix: str, final: t.Mapping[str, t.Any], at_crash: t.Any) -> None:
    """Wait (bounded) until the restarted worker stored the uninterrupted run's final offset.

    Fails at once when its task FAILED or the process died; on timeout the message has the
    offset at the crash, the last offset stored since and the worker's log tail, so that a
    stall says where it stalled (the consumers then read topics that are complete)."""
    seen: list[t.Any] = []

    def caught_up() -> bool:
        tasks = worker.status(prefix)["tasks"]
        failed = [task for task in tasks if task["state"] == "FAILED"]
        assert not failed, f"the restarted task failed: {failed}"
        offsets = [entry["offset"] for entry in worker.get(f"/connectors/{prefix}/offsets")["offsets"]]
        seen[:] = offsets
        return any(o.get("scn") == final["scn"] and o.get("commit_scn") == final["commit_scn"] for o in offsets)

    try:
        worker.wait_until(caught_up, timeout=240, what="the restarted worker to store the final offset")
    except TimeoutError as exc:
        msg = f"offset at the crash {at_crash}; last stored since the restart {seen}; expected final {final}"
        raise TimeoutError(f"{msg}\n{exc}") from exc


def _stored_offset(workdir: Path, prefix: str) -> dict[str, t.Any] | None:
    """The offset the killed worker had flushed to its file store, if any."""
    path = workdir / "offsets.json"
    if not path.exists():
        return None
    for entry in json.loads(path.read_text()):  # [{"key": [connector, partition], "offset": {...}}]
        if entry["key"] == [prefix, {"server": prefix}]:
            return t.cast(dict[str, t.Any], entry["offset"])
    return None


@pytest.mark.slow
@pytest.mark.parametrize("exactly_once", [False, True], ids=["at-least-once", "exactly-once"])
def test_kill_9_while_streaming_loses_nothing_and_repeats_no_transaction(
    tmp_path: Path, kafka_bootstrap_servers: str, exactly_once: bool
) -> None:
    """A worker process killed with SIGKILL mid-stream, then restarted on the same offsets.

    Exactly-once (``transaction.boundary=connector``): a read_committed consumer sees the
    uninterrupted run's records, each once and in order. At-least-once: every record
    arrives; a transaction the flushed offset marks as emitted is never written again, and
    one written after the last flush is at most written twice, whole and identical.
    """
    prefix = f"ora-crash-{uuid.uuid4().hex[:8]}"
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"base": "rollbacks", "transactions": 1500, "reveal_scns": 400}))
    keys = {**_keys(prefix), "emulator.scenario": str(scenario)}
    records, final = _run(keys)
    converter = JsonConverter()
    expected: dict[str, list[tuple[str, t.Mapping[str, t.Any] | None]]] = {}
    for record in records:
        pairs = expected.setdefault(record.topic, [])
        source = record.value["source"] if record.value is not None else pairs[-1][1]
        pairs.append((_as_text(record.key, record.value), source))
    total = sum(len(pairs) for pairs in expected.values())
    assert total > 2_000
    config = {"connector.class": "oracle-logminer", **keys}
    overrides: dict[str, str] = {}
    if exactly_once:
        config["transaction.boundary"] = "connector"
        overrides = {"offset.storage.topic": f"{prefix}-offsets", "exactly.once.source.support": "enabled"}
    connector = {"name": prefix, "config": config}
    workdir = tmp_path / "work"
    worker = WorkerProcess(workdir, kafka_bootstrap_servers, [connector], worker_overrides=overrides)
    with worker:
        worker.wait_until(lambda: worker.metric(_WRITE_TOTAL, prefix) > total * 0.3, what="a third of the stream")
        written = worker.metric(_WRITE_TOTAL, prefix)
        worker.kill()
    assert written < total, "the worker had written everything before the kill"
    at_crash = _stored_offset(workdir, prefix)
    restarted = WorkerProcess(workdir, kafka_bootstrap_servers, [connector], worker_overrides=overrides)
    with restarted:
        _wait_caught_up(restarted, prefix, final, at_crash)
        # The final offset is stored only once every record before it was acknowledged (and,
        # under exactly-once, committed): the topics are complete, read them to their end.
        for topic, pairs in expected.items():
            consumed = consume_all(kafka_bootstrap_servers, topic, timeout=60)
            got = [
                _as_text(converter.from_bytes(topic, m.key()), converter.from_bytes(topic, m.value())) for m in consumed
            ]
            want = [text for text, _ in pairs]
            if exactly_once:
                assert got == want, f"{topic}: read_committed must see every record once, in order"
                continue
            counts = Counter(got)
            lost = [text for text in want if counts[text] == 0]
            assert not lost, f"{topic}: {len(lost)} change(s) lost, e.g. {lost[0][:300]}"
            settled = _settled(at_crash)
            for text, source in pairs:
                if source is not None and settled(source):
                    assert counts[text] == want.count(text), (
                        f"{topic}: a transaction emitted before the crash came again"
                    )
                else:
                    assert counts[text] <= 2 * want.count(text), f"{topic}: written more than twice: {text[:300]}"
            assert set(counts) == set(want), f"{topic}: records that no uninterrupted run writes"
        assert restarted.stop() == 0
