"""The ``oracle-logminer`` task against the LogMiner emulator, driven directly (no worker):
snapshot then streaming folds to the emulator's final state, restarts neither lose nor
repeat a transaction, big transactions spill, Oracle errors map to Headwater errors."""

from __future__ import annotations

import base64
import re
import time
import typing as t
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.emulators.oracle import LogMinerEmulator, final_state
from headwater.connectors.api import ErrantSourceRecord, OffsetMarker, SourceRecord, SourceTaskContext
from headwater.connectors.errors import FatalError, RetriableError
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask

Item = SourceRecord | ErrantSourceRecord | OffsetMarker


class _Offsets:
    def __init__(self, stored: t.Mapping[str, t.Any] | None = None) -> None:
        self.stored = stored

    def offset(self, partition: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any] | None:
        return self.stored


class _Transactions:
    def __init__(self) -> None:
        self.commits: list[SourceRecord | OffsetMarker | None] = []

    def commit_transaction(self, record: SourceRecord | OffsetMarker | None = None) -> None:
        self.commits.append(record)

    def abort_transaction(self, record: SourceRecord | None = None) -> None:
        raise AssertionError("the source never aborts")


def _config(scenario: str, seed: int, **extra: t.Any) -> OracleLogMinerConfig:
    keys = {"emulator.scenario": scenario, "emulator.seed": seed, "table.exclude.list": r"SHOP\.GEO", **extra}
    return OracleLogMinerConfig.model_validate(keys)


def _task(
    config: OracleLogMinerConfig,
    stored: t.Mapping[str, t.Any] | None = None,
    *,
    transactions: _Transactions | None = None,
    emulator: LogMinerEmulator | None = None,
) -> tuple[OracleLogMinerTask, LogMinerEmulator]:
    emulator = emulator or LogMinerEmulator(config.emulator_scenario or "", config.emulator_seed)
    context = SourceTaskContext("oracle-test", 0, _Offsets(stored), transactions=transactions)
    return OracleLogMinerTask(config, context, client=emulator), emulator


def _run(task: OracleLogMinerTask, emulator: LogMinerEmulator, *, max_polls: int = 10_000) -> list[Item]:
    """Poll until the emulator's history is all revealed and the task has caught up."""
    items: list[Item] = []
    idle = 0
    for _ in range(max_polls):
        batch = task.poll()
        items.extend(batch)
        caught_up = task.context.next_poll_delay_ms > 0  # type: ignore[attr-defined]
        task.context.next_poll_delay_ms = 0  # type: ignore[attr-defined]
        if emulator.finished and caught_up:
            idle += 1
            if idle >= 2:
                return items
    raise AssertionError("the task did not catch up")


def _expected(scenario: str, seed: int) -> dict[str, dict[str, t.Any]]:
    return {
        canonical_key(entry["key"]) + entry["table"]: entry["row"]
        for entry in final_state(scenario, seed)
        if entry["table"] != "SHOP.GEO"
    }


def _folded(items: t.Iterable[Item]) -> dict[str, dict[str, t.Any]]:
    by_table: dict[str, list[tuple[t.Any, t.Any]]] = {}
    for item in items:
        if isinstance(item, SourceRecord) and item.topic.startswith("oracle.SHOP."):
            table = "SHOP." + item.topic.removeprefix("oracle.SHOP.").replace("_", " ")
            by_table.setdefault(table, []).append((item.key, item.value))
    out = {}
    for table, messages in by_table.items():
        for key, row in fold(messages).items():
            out[key + table] = {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in row.items()}
    return out


def _events(items: t.Iterable[Item]) -> list[tuple[str, str, int]]:
    return [
        (i.value["source"]["txId"], i.value["source"]["scn"], i.value["source"]["ssn"])
        for i in items
        if isinstance(i, SourceRecord) and i.value is not None and i.value.get("op") in ("c", "u", "d")
    ]


@pytest.mark.parametrize(("scenario", "seed"), [("rollbacks", 1), ("long-transaction", 2), ("simple", 3)])
def test_snapshot_then_stream_folds_to_the_final_state(scenario: str, seed: int) -> None:
    task, emulator = _task(_config(scenario, seed))
    items = _run(task, emulator)
    assert not [i for i in items if isinstance(i, ErrantSourceRecord)]
    snapshot = [i for i in items if isinstance(i, SourceRecord) and i.value and i.value["op"] == "r"]
    snapshot_scn = int(snapshot[0].value["source"]["scn"])
    state = emulator.history.state_at(snapshot_scn)
    assert len(snapshot) == len(state["SHOP.CUSTOMERS"]) + len(state["SHOP.ORDER LINES"])
    assert snapshot[-1].value["source"]["snapshot"] == "last"
    assert _folded(items) == _expected(scenario, seed)
    events = _events(items)
    assert len(events) == len(set(events)), "no change is emitted twice"
    assert {i.topic for i in items if isinstance(i, SourceRecord)} == {
        "oracle.SHOP.CUSTOMERS",
        "oracle.SHOP.ORDER_LINES",
    }


def test_events_are_in_commit_order_with_debezium_source_fields() -> None:
    task, emulator = _task(_config("rollbacks", 4))
    items = _run(task, emulator)
    streamed = [i for i in items if isinstance(i, SourceRecord) and i.value and i.value["op"] in "cud"]
    commits = [int(i.value["source"]["commit_scn"]) for i in streamed]
    assert commits == sorted(commits)
    source = streamed[0].value["source"]
    assert set(source) >= {"txId", "scn", "commit_scn", "row_id", "schema", "table", "snapshot", "rs_id", "ssn"}
    assert isinstance(source["scn"], str)
    for item in items:
        assert isinstance(item.offset["scn"], str)
        assert isinstance(item.offset["commit_scn"], str)


def test_streamed_envelopes_keep_debezium_field_order_and_per_transaction_source_fields() -> None:
    """The streamed ``source`` block is assembled from per-table and per-transaction pieces:
    its fields stay in the snapshot block's order (JSON without schemas writes dict order),
    and every event of a transaction carries that transaction's txId, SCNs and commit time."""
    task, emulator = _task(_config("rollbacks", 4))
    items = _run(task, emulator)
    records = [i for i in items if isinstance(i, SourceRecord) and i.value is not None]
    snapshot = next(r for r in records if r.value["op"] == "r")
    streamed = [r for r in records if r.value["op"] in "cud"]
    order = ["version", "connector", "name", "ts_ms", "snapshot", "db", "schema", "table", "scn", "txId",
             "commit_scn", "start_scn", "row_id", "rs_id", "ssn", "redo_thread", "commit_ts_ms"]  # fmt: skip
    assert list(snapshot.value["source"]) == order
    by_tx: dict[str, tuple[t.Any, ...]] = {}
    for record in streamed:
        value, source = record.value, record.value["source"]
        assert list(value) == ["before", "after", "source", "op", "ts_ms"]
        assert list(source) == order
        assert source["snapshot"] == "false" and source["txId"] == source["txId"].lower()
        assert value["ts_ms"] == source["commit_ts_ms"]
        shared = (source["commit_scn"], source["start_scn"], source["commit_ts_ms"])
        assert by_tx.setdefault(source["txId"], shared) == shared
        image = value["after"] if value["op"] != "d" else value["before"]
        meta = task.tables[f"{source['schema']}.{source['table']}"]
        assert record.topic == task.topic(meta)
        assert list(image) == [c.name for c in meta.columns]
        assert record.key == {name: image[name] for name in meta.primary_key}
    assert len(by_tx) > 1


def test_rolled_back_work_never_appears() -> None:
    task, emulator = _task(_config("rollbacks", 5))
    items = _run(task, emulator)
    rolled_back = {e.xid.lower() for e in emulator.history.events if e.code == 36}
    assert rolled_back
    assert not {txid for txid, _, _ in _events(items)} & rolled_back


@pytest.mark.parametrize("cut", [0.2, 0.5, 0.8])
def test_restart_from_any_returned_offset_neither_loses_nor_repeats(cut: float) -> None:
    config = _config("long-transaction", 6, **{"max.batch.size": 7})
    task, _emulator = _task(config)
    first: list[Item] = []
    for _ in range(10_000):
        first.extend(task.poll())
        task.context.next_poll_delay_ms = 0  # type: ignore[attr-defined]
        if len(first) > 400 * cut + 50:
            break
    durable = first[-1].offset
    task.stop()
    second_task, second_emulator = _task(config, durable)
    second = _run(second_task, second_emulator)
    events_first, events_second = _events(first), _events(second)
    assert not set(events_first) & set(events_second), "a restart must not repeat a change"
    assert _folded([*first, *second]) == _expected("long-transaction", 6)


def test_restart_mid_transaction_writes_only_the_rest() -> None:
    config = _config("rollbacks", 7, **{"max.batch.size": 1})
    task, _emulator = _task(config)
    first: list[Item] = []
    for _ in range(10_000):
        first.extend(task.poll())
        task.context.next_poll_delay_ms = 0  # type: ignore[attr-defined]
        if "tx_id" in first[-1].offset and len(_events(first)) > 40:
            break
    assert "tx_id" in first[-1].offset
    second_task, second_emulator = _task(config, first[-1].offset)
    second = _run(second_task, second_emulator)
    assert not set(_events(first)) & set(_events(second))
    assert _folded([*first, *second]) == _expected("rollbacks", 7)


def test_exactly_once_commits_one_kafka_transaction_per_oracle_transaction() -> None:
    transactions = _Transactions()
    task, emulator = _task(_config("simple", 8), transactions=transactions)
    items = _run(task, emulator)
    streamed: list[tuple[SourceRecord, str]] = []  # every streamed record with its XID (tombstones too)
    for item in items:
        if isinstance(item, SourceRecord) and (item.value is None or item.value["op"] != "r"):
            txid = item.value["source"]["txId"] if item.value is not None else streamed[-1][1]
            streamed.append((item, txid))
    txids = [txid for _, txid in streamed]
    assert len(set(txids)) > 10
    commits = [
        r for r in transactions.commits if isinstance(r, SourceRecord) and (r.value is None or r.value["op"] != "r")
    ]
    assert len(commits) == len(set(txids)), "one Kafka transaction per Oracle transaction"
    positions = {id(record): index for index, (record, _) in enumerate(streamed)}
    for record in commits:
        index = positions[id(record)]
        assert index == len(streamed) - 1 or txids[index + 1] != txids[index], (
            "commit after a transaction's last record"
        )


def test_big_transactions_spill_to_the_scratch_folder(tmp_path: t.Any) -> None:
    config = _config("long-transaction", 9, **{"log.mining.buffer.spill.threshold": 3, "max.batch.size": 5})
    emulator = LogMinerEmulator("long-transaction", 9)
    context = SourceTaskContext("oracle-test", 0, _Offsets(), scratch_dir=tmp_path)
    task = OracleLogMinerTask(config, context, client=emulator)
    spilled = []
    original = task.context.scratch_dir
    items: list[Item] = []
    for _ in range(20_000):
        items.extend(task.poll())
        spilled.extend(original.glob("oracle-tx-*.jsonl"))
        task.context.next_poll_delay_ms = 0  # type: ignore[attr-defined]
        if emulator.finished and len(items) > 0 and isinstance(items[-1], OffsetMarker) and not task._work:
            break
        if emulator.finished and task.context.next_poll_delay_ms:  # type: ignore[attr-defined]
            break
    items.extend(_run(task, emulator))
    assert spilled, "transactions above the threshold spill to disk"
    assert not list(original.glob("oracle-tx-*.jsonl")), "spill files are removed at commit or rollback"
    assert _folded(items) == _expected("long-transaction", 9)


def test_missing_log_names_the_scn_and_the_remedy() -> None:
    config = _config("missing-log", 10, **{"snapshot.mode": "initial"})
    emulator = LogMinerEmulator("missing-log", 10)
    old = emulator.history.first_scn
    emulator.reveal_all()
    stored = {"scn": str(old), "commit_scn": "", "snapshot_completed": True}
    task, _ = _task(config, stored, emulator=emulator)
    with pytest.raises(FatalError, match=rf"ORA-01291.*SCN {old}.*snapshot.mode=when_needed"):
        task.poll()


def test_when_needed_takes_a_new_snapshot_when_logs_are_gone() -> None:
    config = _config("missing-log", 11, **{"snapshot.mode": "when_needed"})
    emulator = LogMinerEmulator("missing-log", 11)
    emulator.reveal_all()
    stored = {"scn": str(emulator.history.first_scn), "commit_scn": "", "snapshot_completed": True}
    task, _ = _task(config, stored, emulator=emulator)
    items = _run(task, emulator)
    assert any(isinstance(i, SourceRecord) and i.value and i.value["op"] == "r" for i in items)
    assert _folded(items) == _expected("missing-log", 11)


def test_killed_session_is_retriable_and_resumes_without_loss_or_repeat() -> None:
    task, emulator = _task(_config("rollbacks", 12))
    emulator.inject("fetch_contents", 28, after_rows=30, times=3)
    items: list[Item] = []
    errors: list[str] = []
    for _ in range(10_000):
        try:
            items.extend(task.poll())
        except RetriableError as exc:
            errors.append(str(exc))
            continue
        if emulator.finished and task.context.next_poll_delay_ms:  # type: ignore[attr-defined]
            break
        task.context.next_poll_delay_ms = 0  # type: ignore[attr-defined]
    assert errors
    assert all("ORA-00028" in error for error in errors)
    events = _events(items)
    assert len(events) == len(set(events))
    assert _folded(items) == _expected("rollbacks", 12)


def test_dictionary_mismatch_rows_become_errant_records_naming_the_change() -> None:
    config = OracleLogMinerConfig.model_validate({"emulator.scenario": "default", "emulator.seed": 2})
    task, emulator = _task(config)
    emulator.scenario = emulator.scenario.__class__(**{**emulator.scenario.__dict__, "reveal_scns": 600})
    items = _run(task, emulator)
    errant = [i for i in items if isinstance(i, ErrantSourceRecord)]
    assert errant
    assert "dictionary version mismatch" in str(errant[0].error)
    assert "SCN " in str(errant[0].error)
    assert "XID " in str(errant[0].error)


def test_no_data_streams_from_now_and_emits_open_transactions_whole() -> None:
    full_task, full_emulator = _task(_config("rollbacks", 21))
    by_tx: dict[str, list[t.Any]] = {}
    for item in _run(full_task, full_emulator):
        if isinstance(item, SourceRecord) and item.value is not None and item.value["op"] != "r":
            by_tx.setdefault(item.value["source"]["txId"], []).append((item.topic, item.key, item.value))
    task, emulator = _task(_config("rollbacks", 21, **{"snapshot.mode": "no_data"}))
    items = _run(task, emulator)
    started_at = int(items[0].offset["snapshot_scn"])
    got: dict[str, list[t.Any]] = {}
    for item in items:
        if isinstance(item, SourceRecord) and item.value is not None:
            assert item.value["op"] != "r", "no_data reads no table"
            got.setdefault(item.value["source"]["txId"], []).append((item.topic, item.key, item.value))
    assert got, "changes after the start are streamed"
    for txid, changes in got.items():
        assert changes == by_tx[txid], f"transaction {txid} is not emitted whole"
    commits = {txid: int(changes[0][2]["source"]["commit_scn"]) for txid, changes in by_tx.items()}
    starts = {txid: int(changes[0][2]["source"]["start_scn"]) for txid, changes in by_tx.items()}
    assert set(got) == {txid for txid, commit in commits.items() if commit > started_at}
    assert any(starts[txid] <= started_at for txid in got), "a transaction open at the start (test premise)"


def test_include_list_limits_the_tables() -> None:
    config = _config("simple", 13, **{"table.include.list": r"SHOP\.CUSTOMERS"})
    task, emulator = _task(config)
    items = _run(task, emulator)
    assert {i.topic for i in items if isinstance(i, SourceRecord)} == {"oracle.SHOP.CUSTOMERS"}


def test_two_redo_threads_keep_a_commit_scn_each_and_restart_cleanly(tmp_path: t.Any) -> None:
    scenario = tmp_path / "rac.json"
    scenario.write_text('{"base": "rollbacks", "threads": 2}')
    config = _config(str(scenario), 14, **{"max.batch.size": 9})
    emulator = LogMinerEmulator(str(scenario), 14)
    assert {e.thread for e in emulator.history.events} == {1, 2}
    task, _ = _task(config, emulator=emulator)
    first: list[Item] = []
    while len(_events(first)) < 150:
        first.extend(task.poll())
        task.context.next_poll_delay_ms = 0  # type: ignore[attr-defined]
    commit_scn = first[-1].offset["commit_scn"]
    assert [entry.split(":")[1] for entry in commit_scn.split(",")] == ["1", "2"]
    second_task, second_emulator = _task(config, first[-1].offset)
    second = _run(second_task, second_emulator)
    assert not set(_events(first)) & set(_events(second))
    expected = {
        canonical_key(e["key"]) + e["table"]: e["row"]
        for e in final_state(str(scenario), 14)
        if e["table"] != "SHOP.GEO"
    }
    assert _folded([*first, *second]) == expected


def test_transaction_metadata_topic_has_begin_and_end_with_counts() -> None:
    task, emulator = _task(_config("simple", 15, **{"provide.transaction.metadata": True}))
    items = _run(task, emulator)
    markers = [i for i in items if isinstance(i, SourceRecord) and i.topic == "oracle.transaction"]
    begins = [m.value for m in markers if m.value["status"] == "BEGIN"]
    ends = [m.value for m in markers if m.value["status"] == "END"]
    assert len(begins) > 10
    assert [b["id"] for b in begins] == [e["id"] for e in ends]
    data = [i.value for i in items if isinstance(i, SourceRecord) and i.value and i.value.get("op") in ("c", "u", "d")]
    for end in ends:
        events = [d for d in data if d["transaction"]["id"] == end["id"]]
        assert end["event_count"] == len(events)
        assert sum(c["event_count"] for c in end["data_collections"]) == len(events)
        assert [d["transaction"]["total_order"] for d in events] == list(range(1, len(events) + 1))


def test_heartbeats_go_to_the_heartbeat_topic_when_idle() -> None:
    task, emulator = _task(_config("simple", 16, **{"heartbeat.interval.ms": 1}))
    _run(task, emulator)
    time.sleep(0.01)
    idle = task.poll()
    heartbeats = [i for i in idle if isinstance(i, SourceRecord)]
    assert [h.topic for h in heartbeats] == ["__debezium-heartbeat.oracle"]
    assert heartbeats[0].key == {"serverName": "oracle"}


def test_unsupported_changes_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    config = OracleLogMinerConfig.model_validate({"emulator.scenario": "long-transaction", "emulator.seed": 17})
    task, emulator = _task(config)
    with caplog.at_level("WARNING"):
        items = _run(task, emulator)
    assert any("OPERATION_CODE 255" in message for message in caplog.messages)
    geo = [i for i in items if isinstance(i, SourceRecord) and i.topic == "oracle.SHOP.GEO"]
    assert geo, "the table is snapshotted"
    assert all(r.value["op"] == "r" and r.value["after"]["SHAPE"] is None for r in geo if r.value)


def _fold_keeping_unavailable(items: t.Iterable[Item], placeholder: str) -> dict[str, dict[str, t.Any]]:
    """Fold as a consumer of Debezium's LOB placeholder does: the placeholder keeps the value it had.

    A BLOB's placeholder is the placeholder's bytes under ``binary.handling.mode`` (base64 here)."""
    placeholders = {placeholder, base64.b64encode(placeholder.encode()).decode()}
    state: dict[str, dict[str, t.Any]] = {}
    for item in items:
        if not isinstance(item, SourceRecord) or not item.topic.startswith("oracle.SHOP."):
            continue
        table = "SHOP." + item.topic.removeprefix("oracle.SHOP.").replace("_", " ")
        key = canonical_key(item.key) + table
        if item.value is None or item.value["op"] == "d":
            state.pop(key, None)
            continue
        row = dict(item.value["after"])
        for name, value in row.items():
            if isinstance(value, str) and value in placeholders:
                row[name] = state.get(key, {}).get(name, value)
        state[key] = row
    return state


def test_lobs_are_assembled_from_locator_and_write_rows_when_enabled() -> None:
    config = _config("lobs", 18, **{"lob.enabled": True, "binary.handling.mode": "base64"})
    task, emulator = _task(config)
    items = _run(task, emulator)
    assert not [i for i in items if isinstance(i, ErrantSourceRecord)]
    documents = [i for i in items if isinstance(i, SourceRecord) and i.value and i.topic == "oracle.SHOP.DOCUMENTS"]
    streamed = [d for d in documents if d.value["op"] in ("c", "u")]
    assert any(len(d.value["after"]["BODY"] or "") > 1_000 for d in streamed), "values longer than one LOB_WRITE"
    placeholder = config.unavailable_value_placeholder
    assert _fold_keeping_unavailable(items, placeholder) == _expected("lobs", 18)


def test_lobs_are_the_placeholder_when_not_enabled() -> None:
    config = _config("lobs", 19)
    task, emulator = _task(config)
    items = _run(task, emulator)
    streamed = [
        i.value for i in items if isinstance(i, SourceRecord) and i.value and i.topic == "oracle.SHOP.DOCUMENTS"
    ]
    changes = [v for v in streamed if v["op"] in ("c", "u")]
    assert changes
    assert all(v["after"]["BODY"] == config.unavailable_value_placeholder for v in changes)
    # A BLOB holds the placeholder's bytes (binary.handling.mode=bytes), as its BYTES schema says.
    assert all(v["after"]["PICTURE"] == config.unavailable_value_placeholder.encode() for v in changes)
    assert all(v["after"]["TITLE"] != config.unavailable_value_placeholder for v in changes)


def test_an_update_naming_a_dropped_column_gives_images_of_the_current_columns_only() -> None:
    """Redo written before a DROP COLUMN may still name the column: the images hold the
    table version's columns, in its order, and nothing else."""
    import dataclasses

    from headwater.codecs.oracle.redo import RedoChange
    from headwater.connectors.oracle.buffer import BufferedChange, CommittedTransaction

    task, _ = _task(_config("rollbacks", 4))
    task._load_tables()
    meta = task.tables["SHOP.CUSTOMERS"]
    current = dataclasses.replace(meta, columns=tuple(c for c in meta.columns if c.name != "NOTE"))
    task._remember(current)  # as after ALTER TABLE ... DROP COLUMN NOTE
    names = [c.name for c in current.columns]
    old = {c.name: None for c in meta.columns} | {"ID": "7", "NAME": "Ann", "NOTE": "gone"}
    parsed = RedoChange("UPDATE", "SHOP", "CUSTOMERS", {"NAME": "Bo", "NOTE": "still gone"}, old)
    change = BufferedChange(10, 3, "SHOP", "CUSTOMERS", "AAA", "", " 0x1 ", 0, 1, 1_000)
    done = CommittedTransaction("0A00", 9, 11, 1, 2_000, [change])
    [record] = task._records_from(parsed, task._plans["SHOP.CUSTOMERS"], change, done, {"scn": "9"})
    assert isinstance(record, SourceRecord)
    before, after = record.value["before"], record.value["after"]
    assert list(before) == names and list(after) == names
    assert (before["ID"], before["NAME"], after["ID"], after["NAME"]) == (7, "Ann", 7, "Bo")
    assert record.key == {"ID": 7}
    assert record.value["source"]["txId"] == "0a00" and record.value["ts_ms"] == 2_000


@pytest.mark.parametrize(
    ("scenario", "extra"),
    [
        ("default", {}),
        ("default", {"decimal.handling.mode": "string", "binary.handling.mode": "hex"}),
        ("lobs", {"lob.enabled": "true", "decimal.handling.mode": "double"}),
        ("rollbacks", {"binary.handling.mode": "bytes"}),
        ("users", {}),  # VariableScaleDecimal keys, each value new
        ("default", {"max.batch.size": "7", "tombstones.on.delete": "false"}),  # polls end inside a run of records
    ],
)
@pytest.mark.parametrize("cache_size", [100_000, 7])
def test_the_compiled_conversion_loop_gives_the_python_loops_events(
    scenario: str, extra: dict[str, str], cache_size: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the compiled reader, each clause is converted by ``_credo.convert_row`` through
    ``_credo.Column`` converters; without it, by the Python closures. Every record (topic,
    key, value with its decimals' digits, offset) is the same, also when the value caches
    are emptied every few values."""
    from headwater.codecs.oracle import redo
    from headwater.connectors.oracle import task as task_module

    if not redo.NATIVE_AVAILABLE:
        pytest.skip("the _credo extension is not built")
    monkeypatch.setattr(task_module, "_VALUE_CACHE_SIZE", cache_size)
    if scenario == "users":  # the benchmark's load, smaller
        scenario = str(tmp_path / "users.json")
        Path(scenario).write_text('{"base": "users", "transactions": 3, "ops_per_transaction": 300}')
    runs = []
    for native, in_runs in ((True, True), (True, False), (False, False)):
        monkeypatch.setattr(redo, "NATIVE_ENABLED", native)
        task, emulator = _task(_config(scenario, 5, **extra))
        assert (task._native is not None) is native
        if not in_runs:  # each change through _change_records, not runs of them through _credo.records
            task._record_setup = None
        runs.append([repr(item) for item in _run(task, emulator)])
    assert len(runs[0]) > 100
    assert runs[0] == runs[1] == runs[2]


def test_the_users_scenario_is_the_reference_benchmarks_table_and_load(tmp_path: Path) -> None:
    """``users`` (the bench's second load) streams TESTDB.USERS inserts as Redpanda Connect's
    ``users.sql`` generates them, each event the emulator's final row, in large transactions."""
    path = tmp_path / "users.json"
    path.write_text('{"base": "users", "transactions": 3, "ops_per_transaction": 400}')
    emulator = LogMinerEmulator(str(path), 2)
    start = {"scn": str(emulator.history.first_scn - 1), "commit_scn": "", "snapshot_completed": True}
    task, _ = _task(_config(str(path), 2), start, emulator=emulator)  # stream it all (it starts empty)
    items = _run(task, emulator)
    events = [i for i in items if isinstance(i, SourceRecord) and i.value is not None]
    assert {i.topic for i in events} == {"oracle.TESTDB.USERS"}
    assert {i.value["op"] for i in events} == {"c"}
    assert len({i.value["source"]["txId"] for i in events}) == 3
    expected = final_state(str(path), 2)
    assert [i.value["after"] for i in events] == [entry["row"] for entry in expected]
    assert [i.key for i in events] == [entry["key"] for entry in expected]
    first = events[0].value["after"]
    assert (first["NAME"], first["EMAIL"], first["IS_ACTIVE"], first["BALANCE"]) == (
        "user-1",
        "user1@example.com",
        0,
        Decimal("1.01"),
    )
    assert first["ID"] == {"scale": 0, "value": b"\x01"}  # NUMBER without precision: VariableScaleDecimal
    assert events[0].value_schema is not None
    after = events[0].value_schema.field("after").schema
    assert after.field("ID").schema.name == "io.debezium.data.VariableScaleDecimal"
    path.write_text('{"base": "users", "tables": "orders"}')
    with pytest.raises(ValueError, match="unknown Oracle emulator table set 'orders'"):
        LogMinerEmulator(str(path), 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not a readable JSON scenario file"),
        ("[1]", "a scenario file is a JSON object"),
        ('{"base": "nope"}', "base must be a built-in scenario"),
        ('{"colour": 1}', r"unknown scenario fields \['colour'\]"),
        ('{"transactions": "5"}', "scenario field transactions must be int, not str"),
        ('{"ddl": 1}', "scenario field ddl must be bool, not int"),
        ('{"insert_ratio": 2}', "scenario field insert_ratio must be between 0 and 1"),
        ('{"transactions": -1}', "scenario field transactions must not be negative"),
    ],
)
def test_a_bad_scenario_file_is_refused_naming_the_file_and_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as refused:
        LogMinerEmulator(str(path), 1)
    assert str(path) in str(refused.value)


def _mutations(sql: str) -> t.Iterator[tuple[str, str]]:
    """Forms of one statement that the compiled event builder must leave to the Python path
    or build exactly as it does: columns out of order or missing, an unknown column, a bad
    literal, a shape only the general reader reads."""
    yield "as mined", sql
    head, sep, tail = sql.partition(") values (")
    if sep:  # an insert: its first two columns and values swapped, its last one dropped
        names, values = head.split("(", 1)[1].split(","), tail.rstrip(";").rstrip(")").split(",")
        if len(names) == len(values) > 2:
            prefix = head.split("(", 1)[0]
            swapped = [names[1], names[0], *names[2:]], [values[1], values[0], *values[2:]]
            yield "reordered", f"{prefix}({','.join(swapped[0])}) values ({','.join(swapped[1])});"
            yield "a column short", f"{prefix}({','.join(names[:-1])}) values ({','.join(values[:-1])});"
            unknown = [*names, '"NOPE"'], [*values, "1"]
            yield "unknown column", f"{prefix}({','.join(unknown[0])}) values ({','.join(unknown[1])});"
    if " where " in sql:
        cut = sql.rsplit(" and ", 1)[0] + ";" if " and " in sql else sql
        yield "where clause short", cut
    yield "bad number", re.sub(r"= (\d+)\b", "= '12x'", sql, count=1)
    yield "bad date", sql.replace("TO_DATE('", "TO_DATE('9", 1)
    yield "upper-case keywords", sql.replace("insert into", "INSERT INTO").replace("delete from", "DELETE FROM")


@pytest.mark.parametrize(("scenario", "extra"), [("default", {}), ("default", {"tombstones.on.delete": "false"})])
def test_the_compiled_change_event_is_the_python_paths(scenario: str, extra: dict[str, str]) -> None:
    """``_credo.event`` builds a plain change (every column, in order, each value readable)
    in one call; for anything else it must give way. Each statement of the history and its
    mutations (reordered, short and unknown columns, unreadable literals, shapes only the
    general reader reads) gives the same records, errant records included, with the
    compiled builder as without it; and every statement as mined takes the compiled path.
    ``_credo.records`` (a run of changes) gives the same records or hands the change back."""
    from headwater.codecs.oracle import redo
    from headwater.conformance.emulators.oracle import redo_statements
    from headwater.connectors.oracle.buffer import BufferedChange, CommittedTransaction

    if not redo.NATIVE_AVAILABLE or not redo.NATIVE_ENABLED:
        pytest.skip("the _credo extension is not built")
    task, _ = _task(_config(scenario, 5, **extra))
    task._load_tables()
    built = declined = 0
    compiled = task._native.event
    for count, (meta, row, sql) in enumerate(redo_statements(scenario, 5)):
        if count == 300:
            break
        plan = task._plans.get(meta.qualified)
        if plan is None or plan.native is None:
            continue
        for form, statement in _mutations(sql):
            change = BufferedChange(
                row.scn, row.operation_code, meta.owner, meta.name, row.row_id or "", statement,
                row.rs_id, row.ssn, row.thread, 1_700_000_000_000 + row.scn,
            )  # fmt: skip
            done = CommittedTransaction(row.xid, row.scn - 3, row.scn + 5, 1, 1_700_000_000_123, [change])
            offset = {"scn": str(row.scn)}
            fast = task._change_records(change, done, offset)
            native, plan.native = plan.native, None
            try:
                slow = task._change_records(change, done, offset)
            finally:
                plan.native = native
            assert [repr(item) for item in fast] == [repr(item) for item in slow], (form, statement)
            in_tx = {"scn": str(row.scn), "tx_id": row.xid}
            made, left = task._native.records(task._parser, [change], 4, task._tx_source, in_tx, task._record_setup)
            if left:
                assert made == [(4, change)]
            else:
                expected = task._change_records(change, done, {**in_tx, "tx_seq": "4"})
                assert [repr(item) for item in made] == [repr(item) for item in expected], (form, statement)
                assert all(type(item) is SourceRecord for item in made)
            event = compiled(task._parser, statement, native, change, task._tx_source)
            if event is None:
                assert form != "as mined", statement
                declined += 1
            else:
                assert isinstance(slow[0], SourceRecord)
                assert event == (slow[0].key, slow[0].value)
                built += 1
    assert built > 200
    assert declined > 200
