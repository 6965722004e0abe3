"""The compiled SQL_REDO reader (``_credo``) against the pure-Python path.

Wherever the compiled reader returns a change it must be the one the pure-Python path
(``_fast``, then the general reader) gives: operation, schema, table, the values as
written, their types (``str`` or None) and the column order. Where it returns None the
Python path decides, errors included, so ``parse_redo`` must give the same result or the
same error whether the extension is enabled or not. The statements: every statement
literal of ``test_oracle_redo.py`` (read from its source), the emulator's bulk history,
hand-picked edge forms, statements generated and mangled with the strategies of
``test_oracle_redo.py``, truncations at every length and random text.

Runs when the extension is built (``pip install`` with a C compiler); CI sets
``HEADWATER_REQUIRE_NATIVE=1`` so a missing build fails instead of skipping.
"""

from __future__ import annotations

import ast
import os
import typing as t
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_oracle_redo import _fragments, _names, _rows

from headwater.codecs.oracle import redo
from headwater.codecs.oracle.redo import RedoChange, RedoParseError, parse_redo
from headwater.codecs.oracle.render import Raw, render_delete, render_insert, render_update
from headwater.codecs.oracle.schema import variable_scale_literal
from headwater.conformance.emulators.oracle import redo_statements

if os.environ.get("HEADWATER_REQUIRE_NATIVE") == "1":
    assert redo.NATIVE_AVAILABLE, "the _credo extension was not built (is a C compiler installed?)"
pytestmark = pytest.mark.skipif(not redo.NATIVE_AVAILABLE, reason="the _credo extension is not built")

Outcome: t.TypeAlias = tuple[str, t.Any]


def _outcome(sql: str, *, native: bool) -> Outcome:
    """``parse_redo``'s change (as ordered, typed items) or its error, on one path."""
    saved = redo.NATIVE_ENABLED
    redo.NATIVE_ENABLED = native
    try:
        return "change", _typed(parse_redo(sql, position="line 3"))
    except RedoParseError as exc:
        return "error", (str(exc), exc.location, exc.raw)
    finally:
        redo.NATIVE_ENABLED = saved


def _typed(change: RedoChange) -> t.Any:
    def items(values: dict[str, str | None]) -> list[tuple[str, str, str | None]]:
        return [(key, type(value).__name__, value) for key, value in values.items()]

    return (change.operation, change.schema, change.table, items(change.new), items(change.old))


def check(sql: str) -> bool:
    """The compiled reader agrees with the pure path on ``sql``; True if it took it."""
    assert redo._native_parse is not None
    native = redo._native_parse(sql)
    pure = _outcome(sql, native=False)
    if native is not None:
        assert type(native) is RedoChange
        assert pure == ("change", _typed(native)), sql
        assert all(type(key) is str for key in [*native.new, *native.old, native.schema, native.table])
    assert _outcome(sql, native=True) == pure, sql
    return native is not None


def _statement_literals() -> list[str]:
    source = (Path(__file__).parent / "test_oracle_redo.py").read_text(encoding="utf-8")
    return sorted(
        {
            node.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.lstrip().lower().startswith(("insert", "update", "delete", "select"))
        }
    )


STATEMENTS = _statement_literals()


def test_the_statements_of_the_parser_tests_are_found() -> None:
    assert len(STATEMENTS) >= 20
    assert any(sql.startswith('insert into "HR"."EMP"("ID","NAME","NOTE"') for sql in STATEMENTS)


@pytest.mark.parametrize("sql", STATEMENTS)
def test_every_statement_of_the_parser_tests(sql: str) -> None:
    check(sql)
    for cut in range(len(sql)):  # every truncation, the empty one included
        check(sql[:cut])


def test_the_emulated_history_takes_the_compiled_path() -> None:
    taken = total = 0
    for scenario, seed in (("default", 1), ("rollbacks", 3), ("lobs", 5)):
        for _, _, sql in redo_statements(scenario, seed):
            total += 1
            taken += check(sql)
    assert total > 500
    assert taken >= total * 0.9, (taken, total)  # the rest: '||' (UNISTR) and comments, for the Python path


ROW: dict[str, str | None] = {
    "ID": Raw("42"),
    "NAME": "O'Brien, \"Jr\" and ''",
    "NOTE": None,
    "EMPTY": "",
    "WORD": "NULL",
    "AMOUNT": Raw("-1.5E+03"),
    "HIRED": Raw("TO_DATE('2018-03-27 00:00:00', 'YYYY-MM-DD HH24:MI:SS')"),
    "TS": Raw("TO_TIMESTAMP('2020-02-01 00:00:00.')"),
    "TZ": Raw("TO_TIMESTAMP_TZ('2024-02-14 10:58:02.202590 +01:00')"),
    "RAW": Raw("HEXTORAW('0e')"),
    "NAME2": Raw("UNISTR('\\0412\\044B')"),
    "GONE": Raw("Unsupported Type"),
    "DOC": Raw("EMPTY_CLOB()"),
    "PIC": Raw("EMPTY_BLOB()"),
    "F": Raw("-Inf"),
    "G": Raw("Nan"),
    "H": Raw(".5e-7"),
    "I": Raw("+12."),
}


@pytest.mark.parametrize(
    "sql",
    [
        render_insert("HR", "EMP 1#", ROW),
        render_update("HR", "EMP 1#", {"NOTE": "x", "NAME": None, "ID": Raw("7")}, ROW),
        render_update("HR", "EMP 1#", {"NOTE": "x"}, {}),
        render_delete("HR", "EMP 1#", ROW),
        render_delete("HR", "EMP 1#", {}),
        render_delete("HR", "EMP 1#", {}).rstrip(";"),
        render_update("S", "T", {"A": "1"}, {"B": None}).rstrip(";"),
        # names with spaces, '#', single quotes, the separators LogMiner writes, and nothing
        render_insert("MY SCHEMA", "O'Brien#T", {"A B": "1", "C#1": "2", "it's": "3", "x) values (y": "4", "": "5"}),
        render_update("S", "T", {"x = ": "a", " where ": "b"}, {" and ": None, ", ": "c"}),
        # separators inside strings
        render_update("S", "T", {"A": '" = \' where "B" = 1'}, {"A": 'x and "B" IS NULL', "C": ") values ("}),
        render_insert("S", "T", {"A": "a','b", "B": "');", "C": "''''"}),
        # two- and four-byte text, in names and values; a lone surrogate
        render_insert("S", "Таблица", {"Имя": "Вы", "B": "😀 O'😀", "C": "\ud800"}),
        render_update("S", "😀", {"A": "é"}, {"Ж": "x'y", "B": None}),
        # duplicate columns: the last value, the first position
        'insert into "S"."T"("A","B","A") values (1,2,3);',
        'update "S"."T" set "A" = 1, "A" = 2 where "B" = 1 and "B" IS NULL;',
    ],
)
def test_logminer_shapes_take_the_compiled_path(sql: str) -> None:
    assert check(sql), sql
    for cut in range(len(sql)):
        check(sql[:cut])


@pytest.mark.parametrize(
    "sql",
    [
        # forms only the Python path reads (or rejects)
        'insert into "S"."T"("A") values (UNISTR(\'\\0412\') || UNISTR(\'x\'));',
        'update "S"."T" a set a."A" = 1 where a."A" = 2;',
        'insert into "S"."T"("A") values (/* JSON */ HEXTORAW(\'7b7d\'));',
        'delete from "S"."T" where "A" = 1 and ROWID = \'AAASt5AAHAAAAFcAAA\';',
        'insert into "S"."T"("A","B") values (\'Bob\'s Diner\',1);',
        'update "S"."T" set "A" = \'Bob\'s\' where "A" = \'Jim\'s\' and "B" = \'1\';',
        'UPDATE "S"."T"  SET "A"=\'x\' ,  "B" = NULL  WHERE "A" = \'y\'  AND "B" IS NULL ;',
        'insert into "S"."T"("A") values (XMLType(f(1)));',
        'insert into "S"."T"("A") values (1);\n',
        'insert into "S"."T" ("A") values (1);',
        'insert into "S"."T"("A", "B") values (1,2);',
        'insert into "S"."T"("A","B") values (1, 2);',
        'insert into "S"."T"("A") values (١٢);',
        'insert into "S"."T"("A") values (1e);',
        'insert into "S"."T"("A") values (Infinity);',
        'insert into "S"."T"("A") values (NULLX);',
        'insert into "S"."T"("A") values (NULL(1));',
        'insert into "S"."T"("A") values (-Inf(1));',
        'insert into "S"."T"("A") values (Unsupported Types);',
        'insert into "S"."T"("A") values (\'x\');;',
        'insert into "S"."T"() values ();',
        'update "S"."T" set "A" IS NULL;',
        'update "S"."T" set "A" = 1 and "B" = 2;',
        'update "S"."T" set "A" = 1 where "B" = 2, "C" = 3;',
        'update "S"."T" set "A" = 1 where "B" = 2 where "C" = 3;',
        'delete from "S"."T" where ;',
        'delete from "S"."T" where "A" = 1 and;',
        # an empty SET clause: the regular expression shapes take it, the compiled reader leaves it to them
        'update "S"."T" set  where "A" = 1;',
        'update "S"."T" set ;',
        "",
        ";",
        "insert",
        'insert into "',
    ],
)
def test_other_forms_and_errors_are_the_python_paths(sql: str) -> None:
    check(sql)
    for cut in range(len(sql)):
        check(sql[:cut])


def test_the_compiled_reader_leaves_1001_columns_to_python() -> None:
    row = {f"C{index}": Raw(str(index)) for index in range(1001)}
    assert not check(render_insert("S", "T", row))
    del row["C1000"]
    assert check(render_insert("S", "T", row))


def test_names_repeat_across_statements_of_other_tables_and_kinds() -> None:
    """The per-position name cache never hands out a stale name."""
    statements = [
        render_insert("S", "T", {"A": "1", "B": "2"}),
        render_insert("S", "U", {"A": "1", "BB": "2"}),
        render_insert("S2", "T", {"A": "1", "b": "2", "C": None}),
        render_insert("S", "T", {"Ä": "1", "B": "2"}),
        render_insert("S", "T", {"A": "1", "B": "2"}),
        render_update("S", "T", {"B": "1"}, {"A": "1", "B": None}),
        render_update("S", "T", {"A": "1"}, {"B": "1", "A": None}),
        render_delete("S", "T", {"A": "1", "B": None}),
        render_delete("S", "T", {"A😀": "1", "B": None}),
        render_delete("S", "T", {"A": "1", "B": None}),
    ]
    for sql in statements * 3:
        assert check(sql), sql


def test_a_non_string_is_the_python_paths() -> None:
    assert redo._native_parse is not None
    for value in (None, b'delete from "S"."T";', 1):
        assert redo._native_parse(value) is None  # type: ignore[arg-type]


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(schema=_names, table=_names, new=_rows, old=_rows, kind=st.sampled_from(["insert", "update", "delete"]))
def test_fuzz_generated_statements(
    schema: str, table: str, new: dict[str, str | None], old: dict[str, str | None], kind: str
) -> None:
    if kind == "insert":
        sql = render_insert(schema, table, new)
    elif kind == "update":
        sql = render_update(schema, table, new, old)
    else:
        sql = render_delete(schema, table, old)
    check(sql)
    unescaped = render_update(schema, table, new, old, unescaped_quotes=True)  # LogMiner's unescaped quotes
    check(unescaped)


@SETTINGS
@given(
    base=st.sampled_from(
        [
            'insert into "S"."T"("A","B") values (\'x\',1);',
            'update "S"."T" set "A" = \'x\' where "B" = 1 and "C" IS NULL;',
            'delete from "S"."T" where "A" = \'x\';',
            'insert into "S"."T"("A","B","C") values (TO_DATE(\'2018\', \'YYYY\'),-1.5E+03,NULL);',
            'update "S"."T" set "A" = HEXTORAW(\'0e\'), "B" = \'O\'\'B\' where "A" = EMPTY_CLOB() and "B" = Nan;',
        ]
    ),
    cuts=st.lists(st.tuples(st.integers(0, 90), st.integers(0, 6), st.lists(_fragments, max_size=3)), max_size=4),
    noise=st.text(max_size=30),
)
def test_fuzz_mangled_statements(base: str, cuts: list[tuple[int, int, list[str]]], noise: str) -> None:
    sql = base
    for at, drop, insert in cuts:
        at = min(at, len(sql))
        sql = sql[:at] + "".join(insert) + sql[at + drop :]
    for candidate in (sql, noise, sql + noise, sql[: len(sql) // 2]):
        check(candidate)


# -- _credo.epoch: DATE and TIMESTAMP literals in epoch units --------------------------------

_STAMP_TEXT = st.one_of(
    st.builds(
        lambda function, date, time, fraction, offset, tail: f"TO_{function}('{date} {time}{fraction}{offset}'{tail}",
        st.sampled_from(["DATE", "TIMESTAMP", "TIMESTAMP_TZ", "X_Y"]),
        st.builds(
            lambda y, mo, d: f"{y:04d}-{mo:02d}-{d:02d}",
            st.one_of(st.integers(1000, 9999), st.integers(0, 1100)),
            st.integers(0, 13),
            st.integers(0, 32),
        ),
        st.builds(
            lambda h, mi, s: f"{h:02d}:{mi:02d}:{s:02d}", st.integers(0, 24), st.integers(0, 60), st.integers(0, 60)
        ),
        st.one_of(
            st.just(""), st.from_regex(r"\.[0-9]{0,10}", fullmatch=True), st.sampled_from([".000", ".120", ".5"])
        ),
        st.one_of(
            st.just(""),
            st.from_regex(r" [+-][0-9]{2}:[0-9]{2}", fullmatch=True),
            st.sampled_from([" -00:00", " +00:00", " Europe/Paris"]),
        ),
        st.sampled_from([")", ", 'SYYYY-MM-DD HH24:MI:SS')", ""]),
    ),
    st.sampled_from(["TO_DATE('2024-02-29 10:00:00')", "TO_DATE('2023-02-29 10:00:00')",
                     "TO_('2024-01-01 00:00:00')", "to_date('2024-01-01 00:00:00')",
                     "TO_DATE('\uff12\uff10\uff12\uff14-01-01 00:00:00')",  # full-width digits
                     "TO_DATE('2024-01-01 00:00:00", "TO_DATE('2024-01-01 00:00:00.')", "",
                     "TO_DATE('9999-12-31 23:59:59.999999999')", "TO_DATE('2262-04-11 23:47:16.854775807')"]),
    st.text(max_size=40),
)  # fmt: skip


@settings(max_examples=1000, deadline=None)
@given(
    literal=_STAMP_TEXT,
    digits=st.sampled_from([0, 3, 6, 9]),
    zone=st.sampled_from(["", "", " WITH TIME ZONE", " WITH LOCAL TIME ZONE"]),
)
def test_the_compiled_timestamps_read_what_the_python_closures_read(literal: str, digits: int, zone: str) -> None:
    """Where ``_credo.epoch`` (dates and timestamps) or ``_credo.zoned`` (timestamps with a
    time zone) gives a value it is the pure-Python converter's (the general path's for
    anything the regular expression does not take); the converter with them gives the same
    value or the same error as without them, on every literal."""
    from headwater.codecs.oracle.convert import OracleColumn, ValueConversionError, value_converter

    data_type = "DATE" if digits == 0 else f"TIMESTAMP({digits}){zone}"
    column = OracleColumn("T", data_type, 13 if zone else 11, None, digits or None)

    def outcome(native: bool) -> tuple[str, t.Any]:
        saved, redo.NATIVE_ENABLED = redo.NATIVE_ENABLED, native
        try:
            convert = value_converter(column)
        finally:
            redo.NATIVE_ENABLED = saved
        try:
            return "value", convert(literal)
        except ValueConversionError as exc:
            return "error", str(exc)

    assert outcome(True) == outcome(False), literal


def test_the_compiled_timestamps_read_logminers_usual_forms() -> None:
    epoch = redo._credo.epoch
    assert epoch("TO_DATE('1970-01-01 00:00:01', 'SYYYY-MM-DD HH24:MI:SS')", 1000) == 1000
    assert epoch("TO_TIMESTAMP('1969-12-31 23:59:59.123456789')", 1_000_000_000) == -876_543_211
    assert epoch("TO_TIMESTAMP('1969-12-31 23:59:59.123456789')", 1_000) == -877  # floored, as Python's //
    assert epoch("TO_TIMESTAMP_TZ('2024-02-29 10:00:00.5 +02:00')", 1_000_000) == 1_709_200_800_500_000
    assert epoch("TO_TIMESTAMP('2300-01-01 00:00:00')", 1_000_000_000) is None  # beyond 64 bits: Python reads it
    assert epoch("TO_TIMESTAMP('2024-01-01 00:00:00')", 60) is None
    zoned = redo._credo.zoned
    assert zoned("TO_TIMESTAMP_TZ('2024-01-01 10:00:00.120 -05:30')", False) == "2024-01-01T10:00:00.12-05:30"
    assert zoned("TO_TIMESTAMP_TZ('2024-01-01 10:00:00.000 -00:00')", False) == "2024-01-01T10:00:00Z"
    assert zoned("TO_TIMESTAMP_TZ('2024-01-01 10:00:00.5 +01:00')", True) == "2024-01-01T10:00:00.5Z"


# -- _credo.convert_row and _credo.Column: the task's conversion loop -----------------------


def _python_row(values: dict[str, t.Any], columns: dict[str, tuple[t.Any, ...]]) -> dict[str, t.Any]:
    """What convert_row must give: the task's Python closures, written out (the timestamp
    readers are held to the Python converters by the tests above)."""
    credo = redo._credo
    out = {}
    for name, literal in values.items():
        if literal is None:
            out[name] = None
            continue
        mode, cache, miss, argument = columns[name]
        if mode in (credo.EPOCH, credo.ZONED, credo.SCALED):
            if mode == credo.SCALED:
                digits = sum(ch in "0123456789" for ch in literal)
                read = variable_scale_literal(literal) if digits <= 18 else None  # more: Python's int reads it
            else:
                read = credo.epoch(literal, argument) if mode == credo.EPOCH else credo.zoned(literal, argument)
            out[name] = miss(literal) if read is None else read
        elif mode == credo.TEXT and "(" not in literal and literal != "Unsupported Type":
            out[name] = literal
        elif mode in (credo.TEXT, credo.CACHED):
            out[name] = cache[literal] if literal in cache else miss(literal)
        else:
            try:
                out[name] = int(literal) if mode == credo.INT else float(literal)
            except ValueError:
                out[name] = miss(literal)
    return out


_LITERALS = st.one_of(
    st.none(),
    st.sampled_from(["12", "-0", " 7 ", "1_000", "1.5", "1e400", "inf", "nan", "\u0661\u0662", "x(y)", "UNISTR('a')",
                     "Unsupported Type", "", "O'Brien", "TO_DATE('2024-01-01 00:00:00')",
                     "TO_TIMESTAMP_TZ('2024-01-01 10:00:00.120 -05:30')", "TO_DATE('2023-02-29 00:00:00')"]),
    st.text(max_size=8),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@example(
    {"A": "Unsupported Type", "B": "x(y)", "C": "12", "D": " 7 ", "E": "nan", "F": None, "G": "abc"},
    ["TEXT", "TEXT", "CACHED", "INT", "FLOAT", "TEXT", "INT"],
)
@example(
    {"A": "TO_DATE('2024-01-01 00:00:00')", "B": "TO_DATE('2023-02-29 00:00:00')", "C": "x"},
    ["EPOCH", "EPOCH", "ZONED", "ZONED", "INT", "INT", "INT"],
)
@example({"A": "12", "B": "Unsupported Type", "C": "1e400"}, ["TEXT", "CACHED", "FLOAT", "INT", "INT", "INT", "INT"])
@example(
    {"A": "-12.50", "B": "1e5", "C": "1.2.3", "D": "-"}, ["SCALED", "SCALED", "SCALED", "SCALED", "INT", "INT", "INT"]
)
@given(
    st.dictionaries(st.sampled_from("ABCDEFG"), _LITERALS, min_size=2, max_size=7),
    st.lists(st.sampled_from(["TEXT", "CACHED", "INT", "FLOAT", "EPOCH", "ZONED", "SCALED"]), min_size=7, max_size=7),
)
def test_convert_row_gives_what_the_python_closures_give(values: dict[str, t.Any], modes: list[str]) -> None:
    credo = redo._credo
    specs: dict[str, tuple[t.Any, ...]] = {}
    for name, mode_name in zip("ABCDEFG", modes, strict=True):
        mode = getattr(credo, mode_name)
        cache: dict[str, t.Any] | None = {"12": "cached 12", "x(y)": ("cached", 1)} if mode <= credo.CACHED else None

        def miss(literal: str, name: str = name, cache: dict[str, t.Any] | None = cache) -> t.Any:
            value = ("converted", name, literal)
            if cache is not None:
                cache[literal] = value
            return value

        argument = {credo.EPOCH: 1_000_000, credo.ZONED: 0}.get(mode, 0)
        specs[name] = (mode, cache, miss, argument)
    copies = {
        name: (mode, dict(cache) if cache is not None else None, *rest) for name, (mode, cache, *rest) in specs.items()
    }
    expected = _python_row(values, copies)
    columns = {name: credo.Column(*spec) for name, spec in specs.items()}
    assert repr(credo.convert_row(values, columns)) == repr(expected)  # values, types, the clause's order
    # A Column called on its own converts the same (the caches now hold what the misses stored).
    called = {name: columns[name](literal) for name, literal in values.items() if literal is not None}
    assert repr(called) == repr({name: value for name, value in expected.items() if values[name] is not None})


_PLAIN_NUMBERS = st.builds(
    lambda sign, head, dot, fraction: sign + head + dot + fraction,
    st.sampled_from(["", "-", "+", "--"]),
    st.text("0123456789", max_size=22),
    st.sampled_from(["", ".", ".", ".."]),
    st.text("0123456789", max_size=22),
)


@settings(max_examples=500, deadline=None)
@example("0")
@example("-0.00")
@example(".5")
@example("5.")
@example("-128")
@example("-129")
@example("128")
@example("999999999999999999")  # 18 digits: the most C reads
@example("-99999999999999999.9")
@example("1000000000000000000")  # 19: Python's
@example("0000000000000000000001")
@given(st.one_of(_PLAIN_NUMBERS, _LITERALS.filter(lambda x: x is not None)))
def test_the_compiled_variable_scale_reader_builds_the_python_struct(literal: str) -> None:
    credo = redo._credo
    missed: list[str] = []

    def miss(text: str) -> str:
        missed.append(text)
        return "python"

    value = credo.Column(credo.SCALED, None, miss)(literal)
    expected = variable_scale_literal(literal)
    digits = sum(ch in "0123456789" for ch in literal)
    if expected is None or digits > 18:
        assert (value, missed) == ("python", [literal])  # any other form, or a long one: the Python path
    else:
        assert value == expected and list(value) == ["scale", "value"]  # the same struct, the same key order
        assert not missed


def test_convert_row_errors_are_the_python_loops() -> None:
    credo = redo._credo

    def refuse(literal: str) -> t.Any:
        raise ValueError(f"cannot convert {literal!r}")

    with pytest.raises(KeyError) as missing:
        credo.convert_row({"A": "1", "GONE": "2"}, {"A": credo.Column(credo.INT, None, refuse)})
    assert missing.value.args == ("GONE",)  # what the task's _converted reads to name the column
    with pytest.raises(ValueError, match="cannot convert 'x'"):
        credo.convert_row({"A": "x"}, {"A": credo.Column(credo.INT, None, refuse)})
    with pytest.raises(TypeError, match="literal must be str"):
        credo.convert_row({"A": 5}, {"A": credo.Column(credo.CACHED, {}, refuse)})
    with pytest.raises(TypeError):
        credo.Column(credo.INT, {}, refuse)  # INT and FLOAT take no cache
    with pytest.raises(TypeError):
        credo.Column(credo.TEXT, None, refuse)
    with pytest.raises(ValueError, match="mode"):
        credo.Column(9, None, refuse)
    # Any callable converts too; one that empties the converters mid-row does no harm.
    converters: dict[str, t.Any] = {}

    def rude(literal: str) -> str:
        converters.clear()
        return literal.upper()

    converters.update(A=rude, B=credo.Column(credo.TEXT, {}, refuse))
    with pytest.raises(KeyError):
        credo.convert_row({"A": "a", "B": "b"}, converters)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["ID", "NAME", "id", "NOTE", "A B", ""]), max_size=6, unique=True),
    st.lists(st.sampled_from(["ID", "NAME", "id", "NOTE", "A B", ""]), max_size=6, unique=True),
)
def test_keys_are_is_the_list_comparison(keys: list[str], names: list[str]) -> None:
    row = dict.fromkeys("".join([k, "x"])[:-1] for k in keys)  # equal strings, not the same objects
    assert redo._credo.keys_are(row, names) is (list(row) == names)
    assert redo._credo.keys_are(dict.fromkeys(names), names) is True


def test_keys_are_refuses_what_is_not_a_dict_and_a_list() -> None:
    with pytest.raises(TypeError, match="keys_are"):
        redo._credo.keys_are({"A": 1}, ("A",))
