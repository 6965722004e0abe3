"""The LogMiner SQL_REDO parser: every literal and identifier form, errors, and a fuzzer."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import typing as t
from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater.codecs.oracle import redo
from headwater.codecs.oracle.convert import OracleColumn, ValueConversionError, convert_value, unistr
from headwater.codecs.oracle.redo import RedoParseError, parse_redo
from headwater.codecs.oracle.render import (
    IntervalYM,
    Raw,
    literal,
    quote,
    render_delete,
    render_insert,
    render_update,
    sql_literal,
)


def test_insert_with_every_literal_form() -> None:
    sql = (
        'insert into "HR"."EMP"("ID","NAME","NOTE","HIRED","TS","TZ","RAW","NAME2","DOC","PIC","GONE")'
        " values (42,'O''Brien',NULL,TO_DATE('2018-03-27 00:00:00', 'YYYY-MM-DD HH24:MI:SS'),"
        "TO_TIMESTAMP('2020-02-01 00:00:00.'),TO_TIMESTAMP_TZ('2024-02-14 10:58:02.202590 +01:00'),"
        "HEXTORAW('0e'),UNISTR('\\0412\\044B') || UNISTR('\\0020x'),EMPTY_CLOB(),EMPTY_BLOB(),Unsupported Type);"
    )
    change = parse_redo(sql)
    assert change.operation == "INSERT"
    assert (change.schema, change.table) == ("HR", "EMP")
    assert change.old == {}
    assert change.new == {
        "ID": "42",
        "NAME": "O'Brien",
        "NOTE": None,
        "HIRED": "TO_DATE('2018-03-27 00:00:00', 'YYYY-MM-DD HH24:MI:SS')",
        "TS": "TO_TIMESTAMP('2020-02-01 00:00:00.')",
        "TZ": "TO_TIMESTAMP_TZ('2024-02-14 10:58:02.202590 +01:00')",
        "RAW": "HEXTORAW('0e')",
        "NAME2": "UNISTR('\\0412\\044B') || UNISTR('\\0020x')",
        "DOC": "EMPTY_CLOB()",
        "PIC": "EMPTY_BLOB()",
        "GONE": "Unsupported Type",
    }


def test_update_with_alias_is_null_and_rowid() -> None:
    sql = (
        'update "HR"."EMP" a set a."NAME" = \'x, where y\', a."N" = -1.5E+03 '
        "where a.\"ID\" = '7' and a.\"NAME\" IS NULL and ROWID = 'AAASt5AAHAAAAFcAAA';"
    )
    change = parse_redo(sql)
    assert change.operation == "UPDATE"
    assert change.new == {"NAME": "x, where y", "N": "-1.5E+03"}
    assert change.old == {"ID": "7", "NAME": None}


def test_delete_and_dictionary_mismatch_forms() -> None:
    sql = 'delete from "UNKNOWN"."OBJ# 74858" where "COL 1" = HEXTORAW(\'c102\') and "COL 2" IS NULL;'
    change = parse_redo(sql)
    assert change.to_json() == {
        "operation": "DELETE",
        "table": "UNKNOWN.OBJ# 74858",
        "new": {},
        "old": {"COL 1": "HEXTORAW('c102')", "COL 2": None},
    }
    assert parse_redo('delete from "S"."T";').old == {}
    assert parse_redo('update "S"."T" set "A" = 1;').old == {}


def test_identifiers_with_spaces_hash_and_quotes() -> None:
    sql = 'insert into "MY SCHEMA"."O\'Brien#T"("A B","C#1","it\'s","x)y") values (\'1\',\'2\',\'3\',\'4\');'
    change = parse_redo(sql)
    assert change.to_json()["table"] == "MY SCHEMA.O'Brien#T"
    assert change.new == {"A B": "1", "C#1": "2", "it's": "3", "x)y": "4"}


def test_unescaped_quote_written_by_logminer() -> None:
    change = parse_redo('insert into "S"."T"("A","B") values (\'Bob\'s Diner\',\'it\'s, ok\');')
    assert change.new == {"A": "Bob's Diner", "B": "it's, ok"}
    change = parse_redo('update "S"."T" set "A" = \'Bob\'s\' where "A" = \'Jim\'s\' and "B" = \'1\';')
    assert change.new == {"A": "Bob's"}
    assert change.old == {"A": "Jim's", "B": "1"}


def test_strings_may_hold_keywords_separators_and_newlines() -> None:
    text = "a', 'b'' and \"C\" = 1 where\nnext;"
    sql = render_update("S", "T", {"A": text}, {"A": text, "B": None})
    change = parse_redo(sql)
    assert change.new == {"A": text}
    assert change.old == {"A": text, "B": None}


@pytest.mark.parametrize(
    ("sql", "offset"),
    [
        ("select * from dual;", 0),
        ('insert into "S"."T"("A","B") values (\'1\');', 37),
        ('insert into "S"."T"("A") values (1,);', 35),
        ('insert into "S"."T"("A") values (1 2);', 33),
        ('update "S"."T" set "A" 1 where "B" = 2;', 19),
        ('update "S"."T" set  where "A" = 1;', 20),
        ('update "S"."T" set ;', 19),
        ('delete from "S"."T" where "A" = 1 and;', 26),
        ('delete from "S"."T" where "A" = \'x;', 26),
    ],
)
def test_bad_statements_raise_a_record_error_with_the_position(sql: str, offset: int) -> None:
    with pytest.raises(RedoParseError) as caught:
        parse_redo(sql, position="line 9")
    assert caught.value.location == f"line 9, character {offset}"
    assert str(caught.value).startswith(f"line 9, character {offset}: ")
    assert caught.value.raw == sql.encode()


# ----------------------------------------------------------------------- typed conversion


@pytest.mark.parametrize(
    ("column", "literal", "expected"),
    [
        (OracleColumn("N", "NUMBER", precision=10, scale=6), "4.4444", Decimal("4.444400")),
        (OracleColumn("N", "NUMBER", precision=2, scale=0), "99", 99),
        (OracleColumn("N", "NUMBER", precision=1, scale=-1), "90", 90),
        (OracleColumn("N", "NUMBER", precision=36, scale=-2), "1200", Decimal(1200)),
        (OracleColumn("N", "NUMBER"), "77.323", Decimal("77.323")),
        (OracleColumn("N", "NUMBER", precision=38, scale=0), "22", Decimal(22)),
        (OracleColumn("F", "BINARY_FLOAT"), "3.3999999E+037", 3.3999999e37),
        (OracleColumn("F", "BINARY_DOUBLE"), "2.22", 2.22),
        (OracleColumn("D", "DATE"), "TO_DATE('2018-03-27 00:00:00', 'YYYY-MM-DD HH24:MI:SS')", 1522108800000),
        (OracleColumn("T", "TIMESTAMP(3)", scale=3), "TO_TIMESTAMP('2018-03-27 12:34:56.125')", 1522154096125),
        (OracleColumn("T", "TIMESTAMP(6)", scale=6), "TO_TIMESTAMP('2018-03-27 12:34:56.125456')", 1522154096125456),
        (
            OracleColumn("T", "TIMESTAMP(9)", scale=9),
            "TO_TIMESTAMP('2018-03-27 12:34:56.125456789')",
            1522154096125456789,
        ),
        (OracleColumn("T", "TIMESTAMP(6)", scale=6), "TO_TIMESTAMP('2020-02-01 00:00:00.')", 1580515200000000),
        (
            OracleColumn("Z", "TIMESTAMP(6) WITH TIME ZONE", scale=6),
            "TO_TIMESTAMP_TZ('2018-03-27 01:34:56.007891 -11:00')",
            "2018-03-27T01:34:56.007891-11:00",
        ),
        (
            OracleColumn("Z", "TIMESTAMP(6) WITH TIME ZONE", scale=6),
            "TO_TIMESTAMP_TZ('2024-02-14 10:58:02.202590 +01:00')",
            "2024-02-14T10:58:02.20259+01:00",
        ),
        (
            OracleColumn("L", "TIMESTAMP(6) WITH LOCAL TIME ZONE", scale=6),
            "TO_TIMESTAMP('2024-02-14 10:58:02.000000')",
            "2024-02-14T10:58:02Z",
        ),
        (OracleColumn("I", "INTERVAL YEAR(2) TO MONTH"), "TO_YMINTERVAL('-03-06')", -110451600000000.0),
        (OracleColumn("I", "INTERVAL DAY(2) TO SECOND(6)"), "TO_DSINTERVAL('-01 02:03:04.560000')", -93784560000.0),
        (OracleColumn("R", "RAW", length=4), "HEXTORAW('0e1F')", b"\x0e\x1f"),
        (OracleColumn("B", "BLOB"), "EMPTY_BLOB()", b""),
        (OracleColumn("C", "CLOB"), "EMPTY_CLOB()", ""),
        (OracleColumn("S", "NVARCHAR2"), "UNISTR('\\0412\\044B') || UNISTR('\\d83d\\de00')", "Вы😀"),
        (OracleColumn("S", "CHAR", length=3), "c  ", "c  "),
        (OracleColumn("S", "VARCHAR2"), "a || b", "a || b"),
        (OracleColumn("S", "VARCHAR2"), None, None),
        (OracleColumn("S", "VARCHAR2"), "Unsupported Type", None),
    ],
)
def test_typed_conversion_follows_debezium(column: OracleColumn, literal: str | None, expected: object) -> None:
    value = convert_value(column, literal)
    assert value == expected
    assert type(value) is type(expected)


def test_quoted_text_is_never_read_as_a_function() -> None:
    assert convert_value(OracleColumn("S", "VARCHAR2"), "UNISTR('x')", quoted=True) == "UNISTR('x')"
    assert unistr("a\\\\b\\00e9") == "a\\bé"


@pytest.mark.parametrize(
    ("column", "literal"),
    [
        (OracleColumn("N", "NUMBER", precision=5, scale=2), "12x"),
        (OracleColumn("N", "NUMBER", precision=5, scale=2), "Infinity"),
        (OracleColumn("N", "NUMBER", precision=10, scale=0), "-Infinity"),
        (OracleColumn("N", "NUMBER"), "NaN"),
        (OracleColumn("N", "NUMBER", precision=30, scale=-2), "sNaN"),
        (OracleColumn("N", "NUMBER", precision=5, scale=2), "1e+200"),
        (OracleColumn("D", "DATE"), "TO_DATE('yesterday', 'YYYY')"),
        (OracleColumn("R", "RAW"), "HEXTORAW('zz')"),
        (OracleColumn("I", "INTERVAL DAY TO SECOND"), "TO_DSINTERVAL('soon')"),
        (OracleColumn("D", "DATE"), "TO_DATE('2020-13-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')"),
        (OracleColumn("X", "SDO_GEOMETRY"), "1"),
    ],
)
def test_conversion_errors_name_the_column(column: OracleColumn, literal: str) -> None:
    with pytest.raises(ValueConversionError, match=f"column {column.name}"):
        convert_value(column, literal)


# ----------------------------------------------------------------------- CLI


def test_parse_redo_cli_prints_json_lines_and_reports_bad_lines() -> None:
    stdin = (
        'insert into "S"."T"("A","B") values (\'O\'\'Brien\',NULL);\n'
        "\n"
        "not sql\n"
        'delete from "S"."T" where "A" = 1 and "B" IS NULL;\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "headwater.connectors.cli", "oracle", "parse-redo"],
        input=stdin.encode(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 1
    lines = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert lines == [
        {"operation": "INSERT", "table": "S.T", "new": {"A": "O'Brien", "B": None}, "old": {}},
        {"operation": "DELETE", "table": "S.T", "new": {}, "old": {"A": "1", "B": None}},
    ]
    assert b"line 3, character 0" in proc.stderr


# ----------------------------------------------------------------------- fuzzing

_names = st.text(st.characters(blacklist_characters='"\x00', blacklist_categories=("Cs",)), min_size=1, max_size=12)
_raw = st.one_of(
    st.integers(-(10**30), 10**30).map(lambda n: Raw(str(n))),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(lambda d: Raw(str(d))),
    st.just(Raw("TO_DATE('2018-03-27 00:00:00', 'YYYY-MM-DD HH24:MI:SS')")),
    st.just(Raw("TO_TIMESTAMP_TZ('2024-02-14 10:58:02.202590 +01:00')")),
    st.binary(max_size=8).map(lambda b: Raw(f"HEXTORAW('{b.hex()}')")),
    st.just(Raw("UNISTR('\\0412') || UNISTR('\\044B')")),
    st.sampled_from([Raw("EMPTY_CLOB()"), Raw("EMPTY_BLOB()"), Raw("Unsupported Type")]),
)
_values = st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cs",)), max_size=20), _raw)
_rows = st.dictionaries(_names, _values, min_size=1, max_size=6)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_names, table=_names, new=_rows, old=_rows, kind=st.sampled_from(["insert", "update", "delete"]))
def test_fuzz_round_trip_of_rendered_statements(
    schema: str, table: str, new: dict[str, str | None], old: dict[str, str | None], kind: str
) -> None:
    if kind == "insert":
        sql = render_insert(schema, table, new)
        change = parse_redo(sql)
        assert (change.new, change.old) == (new, {})
    elif kind == "update":
        sql = render_update(schema, table, new, old)
        change = parse_redo(sql)
        assert (change.new, change.old) == (new, old)
    else:
        sql = render_delete(schema, table, old)
        change = parse_redo(sql)
        assert (change.new, change.old) == ({}, old)
    _assert_fast_path_agrees(sql)
    assert (change.schema, change.table) == (schema, table)


def _assert_fast_path_agrees(sql: str) -> bool:
    """Where the one-pass reader of LogMiner's shapes takes a statement, the general reader
    must give the same change, values and column order included."""
    fast = redo._fast(sql)
    if fast is None:
        return False
    general = redo._parse(redo._STRICT, sql)
    assert fast == general
    assert (list(fast.new.items()), list(fast.old.items())) == (list(general.new.items()), list(general.old.items()))
    return True


def test_the_fast_path_takes_logminer_statements_and_agrees_with_the_general_reader() -> None:
    row: dict[str, str | None] = {
        "ID": Raw("42"),
        "NAME": "O'Brien, \"Jr\" and ''",
        "NOTE": None,
        "EMPTY": "",
        "WORD": "NULL",
        "AMOUNT": Raw("-1.5E+03"),
        "HIRED": Raw("TO_DATE('2018-03-27 00:00:00', 'YYYY-MM-DD HH24:MI:SS')"),
        "RAW": Raw("HEXTORAW('0e')"),
        "GONE": Raw("Unsupported Type"),
        "DOC": Raw("EMPTY_CLOB()"),
    }
    statements = [
        render_insert("HR", "EMP 1#", row),
        render_update("HR", "EMP 1#", {"NOTE": "x", "NAME": None}, row),
        render_update("HR", "EMP 1#", {"NOTE": "x"}, {}),
        render_delete("HR", "EMP 1#", row),
    ]
    for sql in statements:
        assert _assert_fast_path_agrees(sql), sql
    assert parse_redo(statements[0]).new["NAME"] == "O'Brien, \"Jr\" and ''"
    # Forms only the general reader takes: concatenation, an alias, a comment, ROWID, an unescaped quote.
    for sql in (
        'insert into "S"."T"("A") values (UNISTR(\'\\0412\') || UNISTR(\'x\'));',
        'update "S"."T" a set a."A" = 1 where a."A" = 2;',
        'insert into "S"."T"("A") values (/* JSON */ HEXTORAW(\'7b7d\'));',
        'delete from "S"."T" where "A" = 1 and ROWID = \'AAASt5AAHAAAAFcAAA\';',
        'insert into "S"."T"("A","B") values (\'Bob\'s Diner\',1);',
    ):
        assert redo._fast(sql) is None, sql
        assert parse_redo(sql).operation in ("INSERT", "UPDATE", "DELETE")


_fragments = st.sampled_from(
    ['"', "'", "''", ",", "(", ")", " and ", " where ", " set ", "NULL", " IS NULL", "||", "=", ";", "x", "1", " "]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from(
        [
            'insert into "S"."T"("A","B") values (\'x\',1);',
            'update "S"."T" set "A" = \'x\' where "B" = 1 and "C" IS NULL;',
            'delete from "S"."T" where "A" = \'x\';',
        ]
    ),
    cuts=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 6), st.lists(_fragments, max_size=3)), max_size=4),
    noise=st.text(max_size=30),
)
def test_fuzz_mangled_statements_fail_only_with_record_errors(
    base: str, cuts: list[tuple[int, int, list[str]]], noise: str
) -> None:
    sql = base
    for at, drop, insert in cuts:
        at = min(at, len(sql))
        sql = sql[:at] + "".join(insert) + sql[at + drop :]
    for candidate in (sql, noise, sql + noise):
        _assert_fast_path_agrees(candidate)
        error: RedoParseError | None = None
        try:
            change = parse_redo(candidate, position="line 1")
        except RedoParseError as exc:
            error = exc
        if error is None:
            assert change.operation in ("INSERT", "UPDATE", "DELETE")
        else:
            assert error.location is not None
            assert error.location.startswith("line 1, character ")


def test_json_and_xml_markers_are_kept_as_written() -> None:
    sql = 'insert into "S"."T"("ID","DOC","X") values (1,/* JSON */ HEXTORAW(\'7b7d\'),XMLType(:1));'
    assert parse_redo(sql).new == {"ID": "1", "DOC": "/* JSON */ HEXTORAW('7b7d')", "X": "XMLType(:1)"}


def test_keywords_in_any_case_and_blanks_between_tokens() -> None:
    sql = 'UPDATE "S"."T"  SET "A"=\'x\' ,  "B" = NULL  WHERE "A" = \'y\'  AND "B" IS NULL ;'
    change = parse_redo(sql)
    assert (change.new, change.old) == ({"A": "x", "B": None}, {"A": "y", "B": None})


@settings(max_examples=300, deadline=None)
@given(
    stamp=st.datetimes(min_value=dt.datetime(1, 1, 1)),
    digits=st.integers(0, 9),
    offset=st.one_of(st.none(), st.tuples(st.sampled_from("+-"), st.integers(0, 14), st.integers(0, 59))),
    function=st.sampled_from(["TO_DATE", "TO_TIMESTAMP", "TO_TIMESTAMP_TZ"]),
    data_type=st.sampled_from(
        ["DATE", "TIMESTAMP(3)", "TIMESTAMP(6)", "TIMESTAMP(9)", "TIMESTAMP(6) WITH TIME ZONE",
         "TIMESTAMP(6) WITH LOCAL TIME ZONE"]
    ),
)  # fmt: skip
def test_the_fast_timestamp_reader_agrees_with_the_general_one(
    stamp: t.Any, digits: int, offset: tuple[str, int, int] | None, function: str, data_type: str
) -> None:
    from headwater.codecs.oracle import convert

    fraction = f"{stamp.microsecond:06d}{stamp.microsecond % 1000:03d}"[:digits]
    text = stamp.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0") + (f".{fraction}" if digits else "")
    if offset is not None:
        text += f" {offset[0]}{offset[1]:02d}:{offset[2]:02d}"
    literal = f"{function}('{text}')"
    column = OracleColumn("C", data_type, 11, None, int(data_type[10]) if "(" in data_type else None)
    parts = convert._parts_of(literal, column)[1]
    kind = convert._kind(column)
    if kind == "zoned":
        general: object = convert._zoned(parts, local=False)
    elif kind == "local":
        general = convert._zoned(parts, local=True)
    else:
        digits_of = column.fraction_digits if kind == "timestamp" else 0
        unit = 1_000 if digits_of <= 3 else 1_000_000 if digits_of <= 6 else 1_000_000_000
        general = convert._epoch(*convert._naive(parts), unit)
    assert convert.value_converter(column)(literal) == general
    if stamp.year >= 1000:
        assert convert._fast_stamp(literal) is not None, "LogMiner's form takes the fast path"


@pytest.mark.parametrize("width", [30, 200, 1000])
def test_wide_and_late_failing_statements_parse_in_linear_time(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """The pure-Python path (installs without a C compiler): a wide update, and the same one
    broken at its very end, each parse in well under a second. Numbers of several digits
    used to be re-split on a late mismatch (2**values tries) and wide shapes took seconds to
    compile."""
    import time

    monkeypatch.setattr(redo, "NATIVE_ENABLED", False)
    sets = ", ".join(f'"C{i}" = {i * 13}' for i in range(width))
    where = " and ".join(f'"C{i}" = {i * 7}' for i in range(width))
    sql = f'update "S"."T" set {sets} where {where};'
    start = time.perf_counter()
    change = parse_redo(sql)
    with pytest.raises(RedoParseError):
        parse_redo(sql[:-1] + " x")
    assert time.perf_counter() - start < 1.0
    assert change.new[f"C{width - 1}"] == str((width - 1) * 13)
    assert change.old[f"C{width - 1}"] == str((width - 1) * 7)


_TZ = st.builds(dt.timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: dt.timedelta(minutes=m)))
_TYPED: list[tuple[OracleColumn, st.SearchStrategy[t.Any]]] = [
    (OracleColumn("N", "NUMBER", 22, 10, 2), st.decimals(-(10**8), 10**8, places=2)),
    (OracleColumn("I", "NUMBER", 22), st.integers(-(10**30), 10**30)),
    (OracleColumn("F", "BINARY_FLOAT", 4), st.floats(width=32)),
    (OracleColumn("D", "BINARY_DOUBLE", 8), st.floats()),
    (OracleColumn("V", "VARCHAR2", 40), st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)),
    (OracleColumn("C", "CHAR", 10), st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)),
    (OracleColumn("NV", "NVARCHAR2", 80), st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)),
    (OracleColumn("NC", "NCHAR", 20), st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)),
    (OracleColumn("R", "RAW", 16), st.binary(max_size=16)),
    (OracleColumn("DT", "DATE", 7), st.datetimes()),
    (OracleColumn("TS", "TIMESTAMP(6)", 11, scale=6), st.datetimes()),
    (OracleColumn("T0", "TIMESTAMP(0)", 7, scale=0), st.datetimes()),
    (OracleColumn("TZ", "TIMESTAMP(9) WITH TIME ZONE", 13, scale=9), st.datetimes(timezones=_TZ)),
    (OracleColumn("LZ", "TIMESTAMP(3) WITH LOCAL TIME ZONE", 11, scale=3), st.datetimes()),
    (
        OracleColumn("YM", "INTERVAL YEAR(2) TO MONTH", 5),
        st.builds(IntervalYM, st.integers(-99, 99), st.integers(-11, 11)),
    ),
    (OracleColumn("DS", "INTERVAL DAY(2) TO SECOND(6)", 11), st.timedeltas()),
    (OracleColumn("X", "XMLTYPE", 2000), st.text(max_size=5)),
]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), typed=st.sampled_from(_TYPED))
def test_the_emulators_writer_of_a_column_writes_what_literal_gives(
    data: st.DataObject, typed: tuple[OracleColumn, st.SearchStrategy[t.Any]]
) -> None:
    """The emulator renders SQL_REDO with ``sql_literal`` (the type's dispatch done once);
    snapshots convert ``literal``'s text (``debezium_value``). The two must write the same
    text for every value, or a snapshot and the stream would disagree on a row."""
    column, values = typed
    value = data.draw(st.one_of(st.none(), values))
    assert sql_literal(column)(value) == quote(literal(column, value))


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.datetimes(), st.datetimes(timezones=_TZ)))
def test_dates_and_timestamps_are_written_in_oracles_nls_forms(value: dt.datetime) -> None:
    """LogMiner writes a DATE as TO_DATE('YYYY-MM-DD HH24:MI:SS', ...) and timestamps with
    the fraction the column keeps; the emulator's fast formatting must write every year the
    same way strftime does (also below 1000)."""
    stamp = f"{value:%Y-%m-%d %H:%M:%S}"
    fraction = f"{value.microsecond:06d}"[:3]
    assert literal(OracleColumn("D", "DATE", 7), value) == f"TO_DATE('{stamp}', 'YYYY-MM-DD HH24:MI:SS')"
    assert literal(OracleColumn("T", "TIMESTAMP(3)", 11, scale=3), value) == f"TO_TIMESTAMP('{stamp}.{fraction}')"
    zoned = literal(OracleColumn("Z", "TIMESTAMP(3) WITH TIME ZONE", 13, scale=3), value)
    assert zoned is not None and zoned.startswith(f"TO_TIMESTAMP_TZ('{stamp}.{fraction} ")
