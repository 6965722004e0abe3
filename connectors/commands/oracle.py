"""``headwater oracle``: tools for DBAs debugging Oracle LogMiner capture.

``parse-redo`` reads ``SQL_REDO`` statements on standard input, one per line (blank lines
are skipped), and prints each parsed change as one JSON object per line:
``{"operation": "INSERT|UPDATE|DELETE", "table": "SCHEMA.TABLE", "new": {...}, "old": {...}}``
with every value as written (quotes removed, doubled quotes undone, functions kept as
text, ``NULL`` as ``null``). A statement that does not parse is reported on standard
error with its line number and character offset; the other lines are still printed and
the exit status is 1.
"""

from __future__ import annotations

import sys

import click
import orjson

from headwater.codecs.oracle.redo import RedoParseError, parse_redo

__all__ = ["oracle"]


@click.group("oracle")
def oracle() -> None:
    """Oracle LogMiner tools."""


@oracle.command("parse-redo")
def parse_redo_command() -> None:
    """Parse SQL_REDO statements (one per line on stdin) and print each change as JSON."""
    out = sys.stdout.buffer
    failed = 0
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line.strip():
            continue
        try:
            change = parse_redo(line, position=f"line {number}")
        except RedoParseError as exc:
            failed += 1
            click.echo(f"error: {exc}", err=True)
            continue
        out.write(orjson.dumps(change.to_json(), option=orjson.OPT_APPEND_NEWLINE))
    out.flush()
    if failed:
        click.echo(f"{failed} statement(s) did not parse", err=True)
        sys.exit(1)
