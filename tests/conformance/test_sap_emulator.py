"""The SAP RFC emulator behaves as pyrfc and RFC_READ_TABLE do (shapes, errors, rendering)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.conformance.emulators.sap import (
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Faults,
    Field,
    SapSystem,
    StateFileError,
    final_state,
    pyrfc,
    render,
)
from headwater.conformance.emulators.sap.tables import define_tables
from headwater.conformance.emulators.sap.where import OptionNotValid, parse_where


@pytest.fixture
def connect() -> Iterator[t.Callable[..., pyrfc.Connection]]:
    hosts: list[str] = []

    def make(system: SapSystem | None = None, **params: str) -> pyrfc.Connection:
        host = f"emu-test-{len(hosts)}"
        hosts.append(host)
        pyrfc.register(host, system or SapSystem("erp", 5, history="committed"))
        logon = {"ashost": host, "sysnr": "00", "client": "100", "user": DEFAULT_USER, "passwd": DEFAULT_PASSWORD}
        return pyrfc.Connection(**(logon | params))

    yield make
    for host in hosts:
        pyrfc.unregister(host)


def _fields(result: dict[str, t.Any]) -> dict[str, tuple[int, int]]:
    return {f["FIELDNAME"]: (int(f["OFFSET"]), int(f["LENGTH"])) for f in result["FIELDS"]}


def test_read_table_shape_and_fixed_width(connect: t.Callable[..., pyrfc.Connection]) -> None:
    conn = connect()
    result = conn.call(
        "RFC_READ_TABLE",
        QUERY_TABLE="VBAK",
        DELIMITER="|",
        FIELDS=[{"FIELDNAME": "VBELN"}, {"FIELDNAME": "NETWR"}, {"FIELDNAME": "AEDAT"}],
        OPTIONS=[{"TEXT": "NETWR < 0"}],
    )
    assert set(result) == {"DATA", "FIELDS", "OPTIONS"}
    assert result["FIELDS"][1] == {
        "FIELDNAME": "NETWR",
        "OFFSET": "000011",
        "LENGTH": "000015",
        "TYPE": "P",
        "FIELDTEXT": "Net Value of the Sales Order in Document Currency",
    }
    assert result["DATA"], "the erp scenario has credit memos with negative values"
    for line in result["DATA"]:
        wa = line["WA"]
        assert wa[10] == "|" and wa[26] == "|"
        assert wa[11:26].endswith("-"), "packed negatives carry a trailing minus"
        assert wa[27:35].isdigit(), "an empty date is 00000000"


def test_rowskips_rowcount_and_shuffled_order(connect: t.Callable[..., pyrfc.Connection]) -> None:
    conn = connect()
    keys = [{"FIELDNAME": "MATNR"}]
    first = [r["WA"] for r in conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", FIELDS=keys)["DATA"]]
    second = [r["WA"] for r in conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", FIELDS=keys)["DATA"]]
    assert sorted(first) == sorted(second) and len(first) == 80
    assert first != second, "two reads must not return the same order (no ORDER BY)"
    page = conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", FIELDS=keys, ROWSKIPS=70, ROWCOUNT=30)["DATA"]
    assert len(page) == 10
    assert conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", NO_DATA="X")["DATA"] == []


def test_errors_have_pyrfc_classes_and_keys(connect: t.Callable[..., pyrfc.Connection]) -> None:
    system = SapSystem("erp", 5, history="committed", faults=Faults(denied_tables=frozenset({"KNA1"})))
    conn = connect(system)
    cases: list[tuple[dict[str, t.Any], type[pyrfc.RFCLibError], str]] = [
        ({"QUERY_TABLE": "T008X"}, pyrfc.ABAPApplicationError, "TABLE_NOT_AVAILABLE"),
        ({"QUERY_TABLE": "KNA1"}, pyrfc.ABAPApplicationError, "NOT_AUTHORIZED"),
        ({"QUERY_TABLE": "ZWIDE"}, pyrfc.ABAPApplicationError, "DATA_BUFFER_EXCEEDED"),
        ({"QUERY_TABLE": "MARA", "FIELDS": [{"FIELDNAME": "NOPE"}]}, pyrfc.ABAPApplicationError, "FIELD_NOT_VALID"),
        (
            {"QUERY_TABLE": "MARA", "OPTIONS": [{"TEXT": "(MATNR = '1')"}]},
            pyrfc.ABAPApplicationError,
            "OPTION_NOT_VALID",
        ),
        ({"QUERY_TABLE": "ZNOTES"}, pyrfc.ABAPRuntimeError, "ASSIGN_CASTING_ILLEGAL_CAST"),
        ({"QUERY_TABLE": "MARA", "NOPE": 1}, pyrfc.ExternalRuntimeError, "RFC_INVALID_PARAMETER"),
    ]
    for params, cls, key in cases:
        with pytest.raises(cls) as caught:
            conn.call("RFC_READ_TABLE", **params)
        assert caught.value.key == key, params
    with pytest.raises(pyrfc.ABAPApplicationError) as caught:
        conn.call("RFC_READ_TABLE", QUERY_TABLE="T008X")
    error = caught.value
    assert (error.code, error.msg_class, error.msg_type, error.msg_number, error.msg_v1) == (
        5,
        "SV",
        "E",
        "029",
        "T008X",
    )
    with pytest.raises(pyrfc.ABAPApplicationError) as caught:
        conn.call("Z_UNDEFINED")
    assert caught.value.key == "FU_NOT_FOUND"
    # ZWIDE fits when its two long notes are read in separate projections.
    narrow = conn.call("RFC_READ_TABLE", QUERY_TABLE="ZWIDE", FIELDS=[{"FIELDNAME": "DOCID"}, {"FIELDNAME": "NOTE1"}])
    assert len(narrow["DATA"]) == 30


def test_logon_and_communication_errors(connect: t.Callable[..., pyrfc.Connection]) -> None:
    with pytest.raises(pyrfc.LogonError) as caught:
        connect(passwd="wrong")
    assert (caught.value.code, caught.value.key) == (2, "RFC_LOGON_FAILURE")
    with pytest.raises(pyrfc.LogonError):
        connect(client="200")
    with pytest.raises(pyrfc.CommunicationError):
        pyrfc.Connection(ashost="no-such-host", sysnr="00", user="U", passwd="P")
    with pytest.raises(pyrfc.RFCError, match="not string"):
        pyrfc.Connection(ashost="x", sysnr=0)
    system = SapSystem("erp", 5, faults=Faults(communication_calls=frozenset({2})))
    conn = connect(system)
    conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", ROWCOUNT=1)
    with pytest.raises(pyrfc.CommunicationError):
        conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", ROWCOUNT=1)
    assert conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", ROWCOUNT=1)["DATA"], "the connection is reopened"
    conn.close()
    with pytest.raises(pyrfc.RFCError, match="closed"):
        conn.call("RFC_PING")


def test_fieldinfo_serves_the_dictionary(connect: t.Callable[..., pyrfc.Connection]) -> None:
    dfies = connect().call("DDIF_FIELDINFO_GET", TABNAME="VBAK")["DFIES_TAB"]
    netwr = next(row for row in dfies if row["FIELDNAME"] == "NETWR")
    assert (netwr["DATATYPE"], netwr["INTTYPE"], netwr["LENG"], netwr["DECIMALS"]) == ("CURR", "P", "000015", "000002")
    assert [row["FIELDNAME"] for row in dfies if row["KEYFLAG"] == "X"] == ["MANDT", "VBELN"]


def test_internal_text_rendering() -> None:
    assert render(Field("P", "DEC", 9, 2), Decimal("-12.50")) == "   12.50-"
    assert render(Field("P", "DEC", 5, 2), Decimal("123456.00")).startswith("*")
    assert render(Field("N", "NUMC", 6), "000042") == "000042"
    assert render(Field("D", "DATS", 8), "00000000") == "00000000"
    assert render(Field("T", "TIMS", 6), "235959") == "235959"
    assert render(Field("X", "RAW", 8), bytes.fromhex("0a0b0c0d0e0f1011")) == "0A0B0C0D", "RAW hex is cut to LENG"
    assert render(Field("I", "INT4", 10), -7) == "        7-"


def test_change_documents_follow_the_history() -> None:
    system = SapSystem("erp", 9)
    cdhdr = system.tables["CDHDR"]
    before = len(cdhdr.rows)
    system.reveal_all()
    headers = list(cdhdr.rows.values())
    assert len(headers) > before
    assert {h["OBJECTCLAS"] for h in headers} == {"MATERIAL", "DEBI", "VERKBELEG"}
    deletes = [h for h in headers if h["CHANGE_IND"] == "D"]
    assert deletes, "the erp history deletes sales orders and customers"
    items = system.tables["CDPOS"].rows.values()
    for header in deletes:
        mine = [i for i in items if i["CHANGENR"] == header["CHANGENR"]]
        assert [(i["FNAME"], i["CHNGIND"]) for i in mine] == [("KEY", "D")]
    numbers = [h["CHANGENR"] for h in headers]
    assert len(set(numbers)) == len(numbers) and all(len(n) == 10 and n.isdigit() for n in numbers)


def test_history_is_deterministic_and_revealed_by_calls(connect: t.Callable[..., pyrfc.Connection]) -> None:
    assert final_state("erp", 4) == final_state("erp", 4)
    assert final_state("erp", 4) != final_state("erp", 5)
    system = SapSystem("erp", 4)
    conn = connect(system)
    revealed = system.counters.revealed
    conn.call("RFC_READ_TABLE", QUERY_TABLE="MARA", ROWCOUNT=1)
    assert system.counters.revealed == revealed + 1


def test_a_system_on_a_state_file_resumes_its_history_where_it_was(
    connect: t.Callable[..., pyrfc.Connection], tmp_path: Path
) -> None:
    """A restarted emulator is the same system, later: never back in time (a real SAP
    system outlives the worker that reads it)."""
    state = tmp_path / "sap.json"
    first = SapSystem("erp", 4, count=40, state_file=state)
    conn = connect(first)
    for _ in range(12):
        conn.call("RFC_READ_TABLE", QUERY_TABLE="KNA1", ROWCOUNT=1)
    tables = {name: dict(first.tables[name].rows) for name in ("KNA1", "VBAK", "MARA", "CDHDR", "CDPOS")}
    # The process dies here: nothing is closed or flushed.
    again = SapSystem("erp", 4, count=40, state_file=state)
    assert again.counters.revealed == first.counters.revealed == 13
    assert again.counters.read_table_calls == 12
    assert {name: dict(again.tables[name].rows) for name in tables} == tables
    connect(again).call("RFC_READ_TABLE", QUERY_TABLE="KNA1", ROWCOUNT=1)
    fresh = SapSystem("erp", 4, count=40)
    for _ in range(13):
        fresh.call("RFC_READ_TABLE", {"client": "100"}, QUERY_TABLE="KNA1", ROWCOUNT=1)
    assert again.counters.revealed == 14
    assert again.tables["CDHDR"].rows == fresh.tables["CDHDR"].rows, "the resumed history goes on as one run would"
    with pytest.raises(StateFileError, match="another emulated system"):
        SapSystem("erp", 5, count=40, state_file=state)
    state.write_text("{not json")
    with pytest.raises(StateFileError, match=r"sap\.json"):
        SapSystem("erp", 4, count=40, state_file=state)


_FIELDS = define_tables()["VBAK"].by_name


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (["VBELN = '0004000001'"], True),
        (["VBELN EQ '0004000002'"], False),
        (["NETWR > 100 AND NETWR <= '200.00'"], True),
        (["( AUART = 'RE' OR AUART = 'OR' )", "AND NOT VKORG = '2000'"], True),
        (["AUART IN ( 'RE' , 'ZOR' )"], False),
        (["AUART NOT IN ('RE','ZOR')"], True),
        (["KUNNR LIKE '00000%'"], True),
        (["KUNNR LIKE '_1%'"], False),
        (["ERDAT BETWEEN '20250101' AND '20251231'"], True),
        (["ZZPRIO NOT BETWEEN '10' AND '99'"], True),
        (["AEDAT = '00000000' AND ZZITEMS GE 3"], True),
        (["ERNAM = 'O''BRIEN'"], True),
    ],
)
def test_where_clause(where: list[str], expected: bool) -> None:
    row = {name: f.initial() for name, f in _FIELDS.items()}
    row |= {"VBELN": "0004000001", "NETWR": Decimal("150.00"), "AUART": "OR", "VKORG": "1000", "KUNNR": "0000010001"}
    row |= {"ERDAT": "20250505", "ZZPRIO": "07", "ZZITEMS": 3, "ERNAM": "O'BRIEN"}
    predicate = parse_where(where, _FIELDS)
    assert predicate is not None
    assert predicate(row) is expected


@pytest.mark.parametrize(
    "where",
    [
        ["(VBELN = '1' )"],
        ["VBELN='1'"],
        ["VBELN = '1"],
        ["NOPE = '1'"],
        ["VBELN = '1' AND"],
        ["NETWR = 'abc'"],
        ["x" * 73],
    ],
)
def test_where_clause_refused(where: list[str]) -> None:
    with pytest.raises(OptionNotValid):
        parse_where(where, _FIELDS)


_TOKENS = st.sampled_from(
    [
        "VBELN",
        "NETWR",
        "ERDAT",
        "AUART",
        "ZZITEMS",
        "=",
        "<>",
        "<=",
        ">",
        "EQ",
        "GE",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        "LIKE",
        "IN",
        "BETWEEN",
        "IS",
        "NULL",
        "ESCAPE",
        ",",
        "'0004000001'",
        "'%A_'",
        "12",
        "-3.5",
        "'x''y'",
        "'",
        "''",
        "(AUART",
        "X)",
        "#",
        "=",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS, max_size=14), st.sampled_from([" ", "", "  "]))
def test_where_parser_fuzz_gives_only_clean_errors(tokens: list[str], joiner: str) -> None:
    text = joiner.join(tokens)
    row = {name: f.initial() for name, f in _FIELDS.items()}
    try:
        predicate = parse_where([text[i : i + 72] for i in range(0, len(text), 72)] if text else [], _FIELDS)
    except OptionNotValid:
        return
    if predicate is not None:
        assert predicate(row) in (True, False)
