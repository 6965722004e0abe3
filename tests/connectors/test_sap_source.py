"""The ``sap-rfc-table`` source against the RFC emulator: the scenarios of issue 9."""

from __future__ import annotations

import collections
import datetime as dt
import json
import sys
import typing as t
from pathlib import Path

import pytest

from headwater.codecs.envelope import canonical_key
from headwater.conformance.emulators.sap import DEFAULT_PASSWORD, DEFAULT_USER, SapSystem, final_state, pyrfc
from headwater.conformance.standard import _fold_records, drain
from headwater.connectors.api import ErrantSourceRecord, SourceRecord, SourceTaskContext
from headwater.connectors.errors import ConfigError, FatalError, RecordError, RetriableError
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore, offset_key
from headwater.connectors.sap import SapRfcTableConnector, SapRfcTableTask
from headwater.connectors.sap.reader import Column, decode, where_lines

VBAK_TIMESTAMP = {
    "table.VBAK.mode": "timestamp",
    "table.VBAK.changed.date.field": "AEDAT",
    "table.VBAK.changed.time.field": "ZZAEZET",
    "table.VBAK.created.date.field": "ERDAT",
    "table.VBAK.created.time.field": "ERZET",
}


def _task(raw: dict[str, str], store: MemoryOffsetStore | None = None) -> SapRfcTableTask:
    config = SapRfcTableConnector.config_class.model_validate({"poll.interval.ms": "0", **raw})
    task_config = SapRfcTableConnector(config).task_configs(1)[0]
    offsets = ConnectorOffsets(store or MemoryOffsetStore(), "sap-test")
    return SapRfcTableTask(task_config, SourceTaskContext("sap-test", 0, offsets))


def _run(raw: dict[str, str], store: MemoryOffsetStore | None = None) -> tuple[list[t.Any], SapRfcTableTask]:
    task = _task(raw, store)
    try:
        return drain(task, timeout=60), task
    finally:
        task.stop()


def _normal(rows: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {key: json.loads(json.dumps(row, default=str, sort_keys=True)) for key, row in rows.items()}


def _expected(table: str, seed: int = 1, **kwargs: t.Any) -> dict[str, t.Any]:
    return _normal({canonical_key(e["key"]): e["row"] for e in final_state("erp", seed, tables=[table], **kwargs)})


def _records(records: t.Iterable[t.Any]) -> list[SourceRecord]:
    return [r for r in records if isinstance(r, SourceRecord)]


def test_large_shuffled_table_arrives_exactly_once_with_bounded_pages() -> None:
    records, task = _run({"tables": "MARA", "emulator.scenario": "large", "emulator.count": "3000", "page.size": "100"})
    keys = [r.key["MATNR"] for r in _records(records)]
    assert len(keys) == 3000 and len(set(keys)) == 3000, "every row exactly once"
    assert keys == sorted(keys), "ranges are emitted in key order"
    assert all(r.value["op"] == "r" for r in _records(records))
    system = task.emulated_system
    assert system.counters.rows_returned >= 3000
    assert records[-1].offset["done"] is True, "the last record ends the snapshot"
    assert not any(r.offset["done"] for r in records[:-1])


def test_snapshot_resumes_after_the_last_committed_key() -> None:
    raw = {
        "tables": "MARA",
        "emulator.scenario": "large",
        "emulator.count": "500",
        "page.size": "40",
        "batch.size": "50",
    }
    store = MemoryOffsetStore()
    first = _task(raw, store)
    seen = _records(first.poll())
    first.stop()
    assert 0 < len(seen) < 500
    store.put_many({offset_key("sap-test", seen[-1].partition): seen[-1].offset})
    rest, _ = _run(raw, store)
    keys = [r.key["MATNR"] for r in seen] + [r.key["MATNR"] for r in _records(rest)]
    assert sorted(keys) == keys and len(set(keys)) == 500


def test_a_row_wider_than_512_characters_is_read_in_projections() -> None:
    records, _ = _run({"tables": "ZWIDE", "emulator.scenario": "erp", "emulator.history": "committed"})
    folded = _fold_records(records)["sap.ZWIDE"]
    assert _normal(folded) == _expected("ZWIDE")
    assert any(len(row["NOTE1"]) > 200 and len(row["NOTE2"]) > 200 for row in folded.values())


def test_fields_that_cannot_fit_or_raw_fields_are_refused_clearly() -> None:
    task = _task({"tables": "ZWIDE", "emulator.scenario": "erp", "table.ZWIDE.fields": "TITLE,ZZGUID"})
    with pytest.raises(FatalError, match="RAW fields \\(ZZGUID\\)"):
        task.poll()
    task.stop()


def test_deletes_arrive_through_change_documents() -> None:
    records, task = _run({"tables": "KNA1,VBAK", "mode": "change-documents", "emulator.scenario": "erp"})
    assert task.emulated_system.finished
    deletes = [r for r in _records(records) if r.value is not None and r.value["op"] == "d"]
    assert deletes, "the erp history deletes customers and sales orders"
    for record in deletes:
        before = record.value["before"]
        assert {k: v for k, v in before.items() if v is not None} == record.key, "a delete's before holds the key"
        assert record.value["source"]["changenr"]
        index = records.index(record)
        assert records[index + 1].value is None and records[index + 1].key == record.key, "a tombstone follows"
    folded = _fold_records(records)
    assert _normal(folded["sap.KNA1"]) == _expected("KNA1")
    assert _normal(folded["sap.VBAK"]) == _expected("VBAK")
    numbers = [r.value["source"]["changenr"] for r in _records(records) if r.value is not None]
    assert len(numbers) == len(set(numbers)), "each change document is handled once (dedup on CHANGENR)"


def _versions(records: list[t.Any]) -> collections.Counter[tuple[str, str, str]]:
    return collections.Counter(
        (r.key["VBELN"], r.value["after"]["AEDAT"] or "", r.value["after"]["ZZAEZET"] or "")
        for r in _records(records)
        if r.value is not None
    )


def test_timestamp_overlap_catches_late_commits_without_duplicates() -> None:
    steps = SapSystem("erp", 1).steps
    late = [
        c
        for number, step in enumerate(steps[2:], start=2)
        for c in step
        if c.table == "VBAK" and c.udate + c.utime < steps[number - 1][-1].udate + steps[number - 1][-1].utime
    ]
    assert late, "seed 1 has a sales order change committed after a later one was visible"
    raw = {"tables": "VBAK", "emulator.scenario": "erp", **VBAK_TIMESTAMP}
    records, task = _run(raw)
    versions = _versions(records)
    assert max(versions.values()) == 1, "a row version stamped inside the overlap window is emitted once"
    live = _expected("VBAK")
    folded = _normal(_fold_records(records)["sap.VBAK"])
    assert {k: v for k, v in folded.items() if k in live} == live
    # The overlap re-read rows already emitted; they were dropped, not emitted again.
    assert len(_records(records)) < task.emulated_system.counters.rows_returned


def test_communication_error_mid_page_then_retry_loses_and_duplicates_nothing() -> None:
    raw = {
        "tables": "MARA,KNA1",
        "table.KNA1.mode": "change-documents",
        "emulator.scenario": "erp",
        "emulator.history": "committed",
        "page.size": "15",
    }
    clean, _ = _run(raw)
    task = _task({**raw, "emulator.fail.calls": "2,5,9,14"})
    records: list[t.Any] = []
    failures = 0
    idle = 0
    try:
        while idle < 5:
            try:
                batch = task.poll()
            except RetriableError:
                failures += 1
                continue  # the runtime backs off and polls again
            records.extend(batch)
            idle = 0 if batch else idle + 1
    finally:
        task.stop()
    assert failures == 4

    def stream(items: list[t.Any]) -> dict[str, list[tuple[t.Any, ...]]]:
        out: dict[str, list[tuple[t.Any, ...]]] = {}
        for r in _records(items):
            value = r.value and (r.value["op"], canonical_key(r.value["after"]), r.value["source"]["changenr"])
            out.setdefault(r.topic, []).append((canonical_key(r.key), value))
        return out

    assert stream(records) == stream(clean)


def test_authorization_error_names_table_and_authorization_objects() -> None:
    task = _task({"tables": "MARA", "emulator.scenario": "erp", "emulator.denied.tables": "MARA"})
    with pytest.raises(FatalError, match=r"not authorized to read table MARA.*S_TABU_DIS") as caught:
        task.poll()
    task.stop()
    assert getattr(caught.value.__cause__, "key", None) == "NOT_AUTHORIZED"


def test_logon_failure_names_the_keys_to_check() -> None:
    task = _task({"tables": "MARA", "emulator.scenario": "erp", "sap.user": DEFAULT_USER, "sap.passwd": "wrong"})
    with pytest.raises(FatalError, match=r"logon failed.*sap\.passwd"):
        task.poll()
    task.stop()


def test_real_adapter_runs_unchanged_against_a_pyrfc_module_on_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyrfc.py").write_text(
        "from headwater.conformance.emulators.sap.pyrfc import *  # noqa: F403\n"
        "from headwater.conformance.emulators.sap.pyrfc import __all__  # noqa: F401\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pyrfc", raising=False)
    pyrfc.register("sap-prod.example.com", SapSystem("erp", 1, history="committed"))
    try:
        records, _ = _run(
            {
                "tables": "KNA1",
                "sap.ashost": "sap-prod.example.com",
                "sap.sysnr": "00",
                "sap.client": "100",
                "sap.user": DEFAULT_USER,
                "sap.passwd": DEFAULT_PASSWORD,
            }
        )
    finally:
        pyrfc.unregister("sap-prod.example.com")
    assert type(sys.modules["pyrfc"].Connection).__name__ == "type"
    assert sys.modules["pyrfc"].__file__ == str(tmp_path / "pyrfc.py")
    assert _normal(_fold_records(records)["sap.KNA1"]) == _expected("KNA1")
    record = _records(records)[0]
    assert record.value["source"]["sysid"] == "EMU" and record.value["source"]["client"] == "100"
    assert record.partition == {"client": "100", "table": "KNA1"}


def test_records_carry_schemas_from_the_dictionary() -> None:
    from headwater.codecs.converters import JsonConverter

    records, _ = _run({"tables": "VBAK", "emulator.scenario": "erp", "emulator.history": "committed"})
    record = _records(records)[0]
    assert record.key_schema is not None and record.value_schema is not None
    after = {f.name: f.schema for f in record.value_schema.field("after").schema.fields}
    assert after["NETWR"].name == "org.apache.kafka.connect.data.Decimal" and after["NETWR"].parameters["scale"] == "2"
    assert after["ERDAT"].name == "org.apache.kafka.connect.data.Date"
    assert after["ERZET"].name == "org.apache.kafka.connect.data.Time"
    assert [f.name for f in record.key_schema.fields] == ["MANDT", "VBELN"]
    converter = JsonConverter()
    for r in _records(records):
        data = converter.from_connect_data(r.topic, r.value_schema, r.value)
        assert converter.to_connect_data(r.topic, data).value["after"] == r.value["after"]


def test_values_are_decoded_by_the_dictionary() -> None:
    records, _ = _run({"tables": "VBAK", "emulator.scenario": "erp", "emulator.history": "committed"})
    rows = [r.value["after"] for r in _records(records)]
    negative = next(row for row in rows if row["NETWR"] < 0)
    assert str(negative["NETWR"]).startswith("-") and negative["NETWR"].as_tuple().exponent == -2
    assert all(isinstance(row["ZZITEMS"], int) and len(row["ZZPRIO"]) == 2 for row in rows)
    assert any(row["AEDAT"] is None for row in rows), "an empty date is null"
    assert all(isinstance(row["ERDAT"], dt.date) and isinstance(row["ERZET"], dt.time) for row in rows)
    bad = Column("NETWR", "CURR", "P", 5, 2, key=False, text="")
    assert isinstance(_run_decode(bad, "*6.00"), Exception)
    assert decode(Column("T", "TIMS", "T", 6, 0, False, ""), "235959") == dt.time(23, 59, 59)
    assert isinstance(_run_decode(Column("D", "DATS", "D", 8, 0, False, ""), "20250231"), RecordError)


def _run_decode(column: Column, text: str) -> t.Any:
    try:
        return decode(column, text)
    except Exception as exc:
        return exc


def test_where_lines_split_between_tokens() -> None:
    condition = " AND ".join(f"MATNR <> '{n:018d}'" for n in range(8)) + " AND MAKTX = 'A B  C'"
    lines = [row["TEXT"] for row in where_lines(condition)]
    assert all(len(line) <= 72 for line in lines) and len(lines) > 1
    assert " ".join(lines) == condition, "a literal keeps its blanks; lines break only between tokens"


def test_a_packed_overflow_becomes_an_errant_record_naming_the_key() -> None:
    from decimal import Decimal

    system = SapSystem("erp", 1, history="committed")
    mara = system.tables["MARA"]
    victim = sorted(mara.rows)[3]
    mara.rows[victim]["BRGEW"] = Decimal("9999999999999.999")  # wider than LENG 13 once rendered
    pyrfc.register("sap-overflow", system)
    try:
        records, _ = _run(
            {"tables": "MARA", "sap.ashost": "sap-overflow", "sap.user": DEFAULT_USER, "sap.passwd": DEFAULT_PASSWORD}
        )
    finally:
        pyrfc.unregister("sap-overflow")
    errant = [r for r in records if isinstance(r, ErrantSourceRecord)]
    assert len(errant) == 1 and len(_records(records)) == 79
    assert victim[1] in str(errant[0].error) and "BRGEW" in str(errant[0].error)
    assert errant[0].raw, "the raw row goes to the dead-letter topic"


def test_config_errors_name_the_keys() -> None:
    from headwater.connectors.loading import parse_connector

    def refused(**keys: str) -> str:
        with pytest.raises(ConfigError) as caught:
            parse_connector({"name": "bad", "config": {"connector.class": "sap-rfc-table", **keys}})
        return str(caught.value)

    assert "page.size" in refused(tables="VBAK", **{"page.size": "1", "emulator.scenario": "erp"})
    assert "table.VBAK.changed.date.field" in refused(tables="VBAK", mode="timestamp", **{"emulator.scenario": "erp"})
    assert "sap.ashost" in refused(tables="VBAK")
    assert "table.ZZZ.object.class" in refused(tables="ZZZ", mode="change-documents", **{"emulator.scenario": "erp"})


class _Series:
    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def set(self, value: float) -> None:
        self.value = value


class _Metrics:
    def __init__(self) -> None:
        self.series: dict[str, _Series] = {}

    def counter(self, name: str, doc: str) -> _Series:
        return self.series.setdefault(name, _Series())

    def gauge(self, name: str, doc: str) -> _Series:
        return self.series.setdefault(name, _Series())


def test_snapshot_progress_is_reported_as_metrics() -> None:
    metrics = _Metrics()
    config = SapRfcTableConnector.config_class.model_validate(
        {"tables": "MARA", "emulator.scenario": "large", "emulator.count": "1200", "page.size": "200"}
    )
    offsets = ConnectorOffsets(MemoryOffsetStore(), "sap-test")
    task = SapRfcTableTask(config, SourceTaskContext("sap-test", 0, offsets, metrics=metrics))
    try:
        drain(task, timeout=60)
    finally:
        task.stop()
    assert metrics.series["snapshot_rows_estimated"].value == 1200, "estimated from EM_GET_NUMBER_OF_ENTRIES"
    assert metrics.series["snapshot_rows_read"].value == 1200
    assert metrics.series["snapshot_rows_per_second"].value > 0


def test_final_state_command_prints_the_emulated_tables() -> None:
    from click.testing import CliRunner

    from headwater.connectors.commands.emulator import emulator

    result = CliRunner().invoke(emulator, ["final-state", "sap", "--scenario", "erp", "--seed", "1", "--table", "kna1"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == len(_expected("KNA1")) and {line["table"] for line in lines} == {"KNA1"}
    assert lines[0]["key"] == {"MANDT": "100", "KUNNR": lines[0]["row"]["KUNNR"]}


def test_a_restart_from_any_change_document_offset_skips_only_handled_documents() -> None:
    # A cycle reads CDHDR key range by key range while SAP commits: a document committed
    # after its range was read (with a number below documents read later) comes only in
    # the next cycle. An offset stored in between must not let a restart skip it.
    raw = {"tables": "KNA1,VBAK", "mode": "change-documents", "emulator.scenario": "erp", "emulator.seed": "21"}
    records, task = _run({**raw, "emulator.count": "120", "page.size": "25"})
    assert task.emulated_system.finished
    documents = {
        row["CHANGENR"]: (row["OBJECTCLAS"].strip(), row["UDATE"] + row["UTIME"])
        for row in task.emulated_system.tables["CDHDR"].rows.values()
    }
    classes = {"KNA1": "DEBI", "VBAK": "VERKBELEG"}
    first: dict[str, int] = {}
    for index, record in enumerate(records):
        if isinstance(record, SourceRecord) and record.value is not None:
            first.setdefault(record.value["source"]["changenr"], index)
    for index, record in enumerate(records):
        offset = record.offset
        resume = (offset["watermark"], offset["changenr"])
        skipped = [
            number
            for number, (objectclas, stamp) in documents.items()
            if objectclas == classes[str(record.partition["table"])]
            and (stamp, number) <= resume
            and number <= offset["changenr.max"]
        ]
        lost = sorted(n for n in skipped if first.get(n, -1) > index)
        assert not lost, f"a restart from {offset} would skip documents not emitted yet: {lost}"
    assert len(first) > 300


def test_a_restart_during_the_first_cycles_misses_no_document(tmp_path: Path) -> None:
    """Offsets stored in the first two cycles have an empty ``changenr.max``: they vouch
    for no document. A restart from one (on the same system, which went on committing)
    must re-read, not skip, the documents the first cycle's key ranges had passed."""
    raw = {
        "tables": "VBAK",
        "mode": "change-documents",
        "emulator.scenario": "erp",
        "emulator.seed": "2",
        "emulator.count": "60",
        "emulator.state.file": str(tmp_path / "sap.json"),
        "page.size": "25",
        "topic.prefix": "sap",
    }
    store = MemoryOffsetStore()
    records, _ = _run(raw, store)
    early = [i for i, r in enumerate(records) if r.offset.get("changenr.max") == ""]
    cut = early[-1] + 1
    assert records[early[-1]].offset["watermark"] > "2026", "the first cycles covered part of the history"
    acked = records[:cut]
    last = {json.dumps(r.partition, sort_keys=True): (r.partition, r.offset) for r in acked}
    store.put_many({offset_key("sap-test", p): o for p, o in last.values()})
    again, _ = _run(raw, store)
    state = _fold_records(acked + again)
    assert _normal(state["sap.VBAK"]) == _expected("VBAK", seed=2, count=60), "VBAK lost a change"
