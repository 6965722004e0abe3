"""The LogMiner emulator: deterministic history, Oracle's row formats and errors, flashback,
log switches and aging, and a fold of its change stream that reproduces its final state."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import typing as t
from collections import Counter

import orjson
import pytest

from headwater.codecs.oracle.convert import convert_value
from headwater.codecs.oracle.redo import parse_redo
from headwater.codecs.oracle.render import debezium_value
from headwater.conformance.emulators.oracle import (
    DatabaseError,
    LogMinerEmulator,
    Scenario,
    final_state,
    redo_statements,
)
from headwater.connectors.oracle.buffer import TransactionBuffer
from headwater.connectors.oracle.client import LogMinerRow, OracleClient, oracle_error_code


def _mine_all(emulator: LogMinerEmulator) -> list[LogMinerRow]:
    emulator.reveal_all()
    start = emulator.history.first_scn - 1
    emulator.start_logminer(start, emulator.visible_scn)
    rows = list(emulator.fetch_contents(start, emulator.visible_scn))
    emulator.end_logminer()
    return rows


def test_the_emulator_is_an_oracle_client() -> None:
    client: OracleClient = LogMinerEmulator("simple", 1)
    assert client.current_scn() > 0


def test_history_is_a_pure_function_of_scenario_and_seed() -> None:
    first = _mine_all(LogMinerEmulator("default", 5))
    again = _mine_all(LogMinerEmulator("default", 5))
    other = _mine_all(LogMinerEmulator("default", 6))
    assert first == again
    assert first != other


def test_rows_have_oracle_formats() -> None:
    rows = _mine_all(LogMinerEmulator("default", 2))
    codes = Counter((r.operation, r.operation_code) for r in rows)
    assert set(codes) == {
        ("START", 6), ("COMMIT", 7), ("ROLLBACK", 36), ("INSERT", 1), ("DELETE", 2), ("UPDATE", 3),
        ("DDL", 5), ("UNSUPPORTED", 255),
    }  # fmt: skip
    for row in rows:
        assert re.fullmatch(r"[0-9A-F]{16}", row.xid)
        assert re.fullmatch(r" 0x[0-9a-f]{6}\.[0-9a-f]{8}\.[0-9a-f]{4} ", row.rs_id)
        assert row.sql_redo is not None
        assert len(row.sql_redo.encode()) <= 4000
        if row.operation_code in (1, 2, 3, 255):
            assert re.fullmatch(r"[A-Za-z0-9+/]{18}", row.row_id or "")
        if row.operation_code == 255:
            assert (row.sql_redo, row.info, row.status) == ("Unsupported", "Object or Data type Unsupported", 2)
    assert [r.scn for r in rows] == sorted(r.scn for r in rows)
    assert any(r.csf for r in rows), "long values span several SQL_REDO rows"
    ddl = [r.sql_redo for r in rows if r.operation_code == 5]
    assert ddl == [
        'ALTER TABLE "SHOP"."CUSTOMERS" ADD ("LOYALTY" VARCHAR2(20));',
        'ALTER TABLE "SHOP"."CUSTOMERS" DROP COLUMN "LOYALTY";',
    ]


def test_csf_rows_join_into_statements_the_parser_reads() -> None:
    long_ones = [sql for _, _, sql in redo_statements("default", 2) if len(sql.encode()) > 4000]
    assert long_ones
    for sql in long_ones:
        assert parse_redo(sql).operation in ("INSERT", "UPDATE", "DELETE")


def test_rollback_rows_undo_an_earlier_change_of_the_same_transaction() -> None:
    rows = _mine_all(LogMinerEmulator("rollbacks", 4))
    seen: dict[str, list[str]] = {}
    undo = 0
    for row in rows:
        if row.operation_code in (1, 2, 3) and not row.csf:
            if row.rollback:
                undo += 1
                assert row.row_id in seen.get(row.xid, []), "an undo row names a row the transaction changed"
            else:
                seen.setdefault(row.xid, []).append(row.row_id or "")
    assert undo > 20
    assert any(r.operation_code == 36 for r in rows)


def test_dictionary_mismatch_form_after_ddl() -> None:
    rows = _mine_all(LogMinerEmulator("default", 2))
    mismatched = [r for r in rows if r.seg_owner == "UNKNOWN"]
    assert mismatched
    row = mismatched[0]
    assert row.table_name == "OBJ# 74858"
    assert (row.status, row.info) == (2, "Dictionary Version Mismatch")
    change = parse_redo("".join(r.sql_redo or "" for r in rows if r.scn == row.scn))
    assert change.table == "OBJ# 74858"
    assert all(re.fullmatch(r"COL \d+", name) for name in {*change.new, *change.old})
    assert all(v is None or v.startswith("HEXTORAW('") for v in {*change.new.values(), *change.old.values()})


def test_missing_log_raises_ora_01291_like_python_oracledb() -> None:
    emulator = LogMinerEmulator("missing-log", 1)
    start = emulator.history.first_scn
    emulator.start_logminer(start, start + 100)  # still available
    emulator.reveal_all()
    assert emulator.log_sequence(emulator.visible_scn) > emulator.scenario.retained_logs
    with pytest.raises(DatabaseError) as caught:
        emulator.start_logminer(start, start + 100)
    error = caught.value.args[0]
    assert (error.code, error.full_code, error.message) == (1291, "ORA-01291", "missing logfile")
    assert oracle_error_code(caught.value) == 1291
    emulator.start_logminer(emulator.oldest_available_scn(), emulator.visible_scn)


def test_flashback_reads_as_of_scn_and_snapshot_too_old() -> None:
    emulator = LogMinerEmulator(Scenario(transactions=50, undo_scns=50, ddl=False, unsupported=False), 3)
    scn = emulator.history.snapshot_scn
    rows = list(emulator.flashback_select("SHOP", "CUSTOMERS", scn))
    assert len(rows) == emulator.scenario.initial_rows
    assert list(rows[0]) == [c.name for c in emulator.table_metadata("SHOP", "CUSTOMERS").columns]
    emulator.reveal_all()
    with pytest.raises(DatabaseError) as caught:
        list(emulator.flashback_select("SHOP", "CUSTOMERS", scn))
    assert caught.value.args[0].full_code == "ORA-01555"
    with pytest.raises(DatabaseError) as future:
        list(emulator.flashback_select("SHOP", "CUSTOMERS", emulator.visible_scn + 10))
    assert future.value.args[0].code == 8181


def test_injected_faults_archived_log_and_killed_session() -> None:
    emulator = LogMinerEmulator("simple", 1)
    emulator.reveal_all()
    start = emulator.history.first_scn
    emulator.inject("start_logminer", 310)
    with pytest.raises(DatabaseError) as caught:
        emulator.start_logminer(start, emulator.visible_scn)
    assert caught.value.args[0].full_code == "ORA-00310"
    emulator.start_logminer(start, emulator.visible_scn)
    emulator.inject("fetch_contents", 28, after_rows=5)
    fetched = []
    with pytest.raises(DatabaseError) as killed:
        fetched.extend(emulator.fetch_contents(start, emulator.visible_scn))
    assert len(fetched) == 5
    assert killed.value.args[0].message == "your session has been killed"
    assert len(list(emulator.fetch_contents(start, emulator.visible_scn))) > 5


def test_log_switches_show_in_sequence_numbers() -> None:
    rows = _mine_all(LogMinerEmulator(Scenario(transactions=100, log_scns=100, ddl=False), 2))
    sequences = [r.sequence for r in rows]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) > 5


def _fold(scenario: str, seed: int) -> list[dict[str, t.Any]]:
    """A minimal consumer: snapshot AS OF SCN, then mine window by window as the database
    moves on, buffering per transaction, and fold committed changes by key."""
    emulator = LogMinerEmulator(scenario, seed)
    snapshot_scn = emulator.history.snapshot_scn
    tables = {f"{o}.{n}": emulator.table_metadata(o, n) for o, n in emulator.list_tables()}
    state: dict[str, dict[tuple[t.Any, ...], dict[str, t.Any]]] = {}
    for name, meta in tables.items():
        state[name] = {}
        for row in emulator.flashback_select(meta.owner, meta.name, snapshot_scn):
            typed = {c.name: debezium_value(c, row[c.name]) for c in meta.columns}
            state[name][tuple(typed[k] for k in meta.primary_key)] = typed
    buffer = TransactionBuffer()
    mined = snapshot_scn
    while True:
        top = emulator.current_scn()
        emulator.start_logminer(mined, top)
        for row in emulator.fetch_contents(mined, top):
            done = buffer.feed(row)
            if done is None:
                continue
            for change in done.changes:
                meta = tables[f"{change.owner}.{change.table}"]
                parsed = parse_redo(change.sql)
                columns = {c.name: c for c in meta.columns}
                old = {k: convert_value(columns[k], v) for k, v in parsed.old.items()}
                new = {**old, **{k: convert_value(columns[k], v) for k, v in parsed.new.items()}}
                image = old if parsed.operation == "DELETE" else new
                key = tuple(image[k] for k in meta.primary_key)
                if parsed.operation == "DELETE":
                    del state[meta.qualified][key]
                else:
                    state[meta.qualified][key] = new
        emulator.end_logminer()
        mined = top
        if emulator.finished:
            break

    def jsonable(value: t.Any) -> t.Any:
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value

    out = []
    for name in sorted(state):
        meta = tables[name]
        for key in sorted(state[name]):
            row = {c.name: jsonable(state[name][key].get(c.name)) for c in meta.columns}
            out.append({"table": name, "key": {k: row[k] for k in meta.primary_key}, "row": row})
    return out


@pytest.mark.parametrize(("scenario", "seed"), [("simple", 1), ("rollbacks", 2), ("long-transaction", 3)])
def test_folding_the_mined_stream_reproduces_the_final_state(scenario: str, seed: int) -> None:
    expected = final_state(scenario, seed)
    assert len(expected) > 20
    folded = _fold(scenario, seed)
    if scenario == "long-transaction":
        folded = [row for row in folded if row["table"] != "SHOP.GEO"]
    assert folded == expected


def test_final_state_cli_prints_the_same_rows() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "headwater.connectors.cli", "emulator", "final-state", "oracle", "--scenario",
         "simple", "--seed", "4"],
        capture_output=True, check=True,
    )  # fmt: skip
    printed = [orjson.loads(line) for line in proc.stdout.splitlines()]
    expected = final_state("simple", 4)
    assert len(printed) == len(expected)
    # decimals print as JSON numbers with their full scale
    assert printed == orjson.loads(orjson.dumps(expected, default=lambda d: orjson.Fragment(str(d))))
    assert any(isinstance(p["key"]["ORDER_ID"], int) for p in printed if p["table"] == "SHOP.ORDER LINES")
