"""Kafka Connect schemas of the ``sap-rfc-table`` events, derived from the data dictionary.

Per table: the key struct (client and key fields, required), the row struct (every read
field, optional but the key, since a delete's ``before`` holds only the key) and the
Debezium envelope around it, named ``<topic>.Key``, ``<topic>.Value`` and
``<topic>.Envelope`` as Debezium names them.

=================================  ============================================
DDIC type (INTTYPE)                Connect schema
=================================  ============================================
CHAR, CLNT, CUKY, UNIT, LANG (C)   string
NUMC (N)                           string (leading zeros kept)
DATS (D)                           Date (``org.apache.kafka.connect.data.Date``)
TIMS (T)                           Time
DEC, CURR, QUAN (P)                Decimal, scale = DECIMALS, precision = LENG
INT1, INT2 (b, s)                  int16
INT4 (I)                           int32
INT8 (8)                           int64
FLTP (F)                           float64
=================================  ============================================
"""

from __future__ import annotations

import typing as t

from headwater.codecs import schema as s
from headwater.connectors.sap.reader import Column

__all__ = ["SOURCE", "column_schema", "table_schemas"]

SOURCE = s.struct(
    {
        "version": s.STRING,
        "connector": s.STRING,
        "name": s.STRING,
        "ts_ms": s.INT64,
        "snapshot": s.STRING.optional(),
        "db": s.STRING,
        "sysid": s.STRING,
        "client": s.STRING,
        "table": s.STRING,
        "mode": s.STRING,
        "changenr": s.STRING.optional(),
        "user": s.STRING.optional(),
        "tcode": s.STRING.optional(),
    },
    name="io.headwater.connector.sap.Source",
)
"""The ``source`` block: system id, client, table, and the change document's number, user and transaction."""

_BY_INTTYPE: dict[str, s.Schema] = {
    "C": s.STRING,
    "N": s.STRING,
    "g": s.STRING,
    "D": s.DATE,
    "T": s.TIME,
    "b": s.INT16,
    "s": s.INT16,
    "I": s.INT32,
    "8": s.INT64,
    "F": s.FLOAT64,
}


def column_schema(column: Column) -> s.Schema:
    """The Connect schema of one field's values (see the module table)."""
    if column.inttype == "P":
        return s.decimal_of(column.decimals, precision=column.leng)
    return _BY_INTTYPE.get(column.inttype, s.STRING)


def table_schemas(topic: str, identity: t.Sequence[Column], columns: t.Sequence[Column]) -> tuple[s.Schema, s.Schema]:
    """``(key_schema, value_schema)`` of a table's events on ``topic``."""
    key_names = {c.name for c in identity}
    key = s.struct({c.name: column_schema(c) for c in identity}, name=f"{topic}.Key")
    row = s.struct(
        {c.name: column_schema(c) if c.name in key_names else column_schema(c).optional() for c in columns},
        name=f"{topic}.Value",
    )
    return key, s.envelope(row, SOURCE, name=f"{topic}.Envelope")
