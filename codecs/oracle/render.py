"""Write DML statements the way LogMiner writes them in ``SQL_REDO`` (pure, no I/O).

The LogMiner emulator uses these to produce ``V$LOGMNR_CONTENTS`` rows, and tests use
them to round-trip the parser. Values are literals as they appear in the statement:
``None`` is written ``NULL``; a :class:`Raw` is written verbatim (a number, a function
such as ``TO_DATE(...)``); any other string is quoted with its quotes doubled, unless
``unescaped_quotes`` asks for LogMiner's occasional bug of leaving them single.
"""

from __future__ import annotations

import typing as t

__all__ = ["Raw", "quote", "render_delete", "render_insert", "render_update"]


class Raw(str):
    """A literal written verbatim: a bare number or a function call."""

    __slots__ = ()


Value: t.TypeAlias = "str | None"


def quote(value: str | None, *, unescaped_quotes: bool = False) -> str:
    """Render one literal as LogMiner does (see the module doc)."""
    if value is None:
        return "NULL"
    if isinstance(value, Raw):
        return str(value)
    return "'" + (value if unescaped_quotes else value.replace("'", "''")) + "'"


def _table(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


def _where(old: t.Mapping[str, str | None], unescaped: bool) -> str:
    conditions = [
        f'"{name}" IS NULL' if value is None else f'"{name}" = {quote(value, unescaped_quotes=unescaped)}'
        for name, value in old.items()
    ]
    return " where " + " and ".join(conditions) if conditions else ""


def render_insert(schema: str, table: str, new: t.Mapping[str, str | None], *, unescaped_quotes: bool = False) -> str:
    """``insert into "S"."T"("A","B") values ('x',NULL);``"""
    names = ",".join(f'"{name}"' for name in new)
    values = ",".join(quote(value, unescaped_quotes=unescaped_quotes) for value in new.values())
    return f"insert into {_table(schema, table)}({names}) values ({values});"


def render_update(
    schema: str,
    table: str,
    new: t.Mapping[str, str | None],
    old: t.Mapping[str, str | None],
    *,
    unescaped_quotes: bool = False,
) -> str:
    """``update "S"."T" set "A" = 'y' where "A" = 'x' and "B" IS NULL;``"""
    sets = ", ".join(f'"{name}" = {quote(value, unescaped_quotes=unescaped_quotes)}' for name, value in new.items())
    return f"update {_table(schema, table)} set {sets}{_where(old, unescaped_quotes)};"


def render_delete(schema: str, table: str, old: t.Mapping[str, str | None], *, unescaped_quotes: bool = False) -> str:
    """``delete from "S"."T" where "A" = 'x' and "B" IS NULL;``"""
    return f"delete from {_table(schema, table)}{_where(old, unescaped_quotes)};"
