"""Connect schemas of Oracle tables, from ALL_TAB_COLUMNS, in Debezium's types.

The ``oracle-logminer`` source builds one :class:`TableSchemas` per table version (once
when the table is first seen, again after DDL) and puts its key and value schemas on
every record, so that the schema-registry converters write what Debezium's Oracle
connector writes with its defaults (``decimal.handling.mode=precise``,
``time.precision.mode=adaptive``, ``interval.handling.mode=numeric``; ``decimal.handling.mode``
``double`` and ``string`` are supported too, see the table):

========================================  ====================================================
Oracle type                                Connect schema
========================================  ====================================================
NUMBER(p, s>0)                             ``org.apache.kafka.connect.data.Decimal`` (scale s,
                                           ``connect.decimal.precision`` p)
NUMBER(p, s<=0), p - s < 3 / 5 / 10 / 19   INT8 / INT16 / INT32 / INT64
NUMBER(p, s<=0), p - s >= 19; INTEGER      Decimal, scale 0 (precision p, 38 for INTEGER)
NUMBER, FLOAT (no scale)                   ``io.debezium.data.VariableScaleDecimal``
(the three decimal rows above)             FLOAT64 with ``decimal.handling.mode=double``,
                                           STRING with ``decimal.handling.mode=string``
BINARY_FLOAT / BINARY_DOUBLE               FLOAT32 / FLOAT64
DATE, TIMESTAMP(0-3)                       ``io.debezium.time.Timestamp``
TIMESTAMP(4-6) / TIMESTAMP(7-9)            ``io.debezium.time.MicroTimestamp`` / ``NanoTimestamp``
TIMESTAMP WITH [LOCAL] TIME ZONE           ``io.debezium.time.ZonedTimestamp``
INTERVAL ...                               ``io.debezium.time.MicroDuration`` (FLOAT64)
character types, CLOB                      STRING
RAW, BLOB                                  BYTES (``binary.handling.mode=bytes``), else STRING
========================================  ====================================================

Columns are optional when ALL_TAB_COLUMNS says NULLABLE; key columns are required. A
LOB without ``lob.enabled`` holds ``unavailable.value.placeholder`` (a BLOB: its UTF-8
bytes, under ``binary.handling.mode``), which fits the column's schema. A type this module does not
know (``SDO_GEOMETRY``) is an optional STRING: LogMiner renders none of its values.

Values: :func:`headwater.codecs.oracle.convert.convert_value` gives the Python value of
every type but one already; :func:`connect_value` turns a ``NUMBER`` without scale (a
:class:`~decimal.Decimal` as written) into Debezium's VariableScaleDecimal struct
``{"scale": int, "value": bytes}``. Pure functions, any thread.
"""

from __future__ import annotations

import decimal
import re
import typing as t
from dataclasses import dataclass, replace

from headwater.codecs import schema as s
from headwater.codecs.envelope import envelope_schema, key_schema, source_schema
from headwater.codecs.oracle.convert import OracleColumn

__all__ = [
    "HEARTBEAT_KEY",
    "HEARTBEAT_VALUE",
    "MICRO_DURATION",
    "SOURCE",
    "TRANSACTION_BLOCK",
    "TRANSACTION_KEY",
    "TRANSACTION_VALUE",
    "DecimalHandlingMode",
    "TableSchemas",
    "column_schema",
    "connect_value",
    "is_decimal",
    "is_variable_scale",
    "table_schemas",
]

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.]")

MICRO_DURATION = s.Schema(s.Type.FLOAT64, name="io.debezium.time.MicroDuration", version=1)
"""Debezium's ``interval.handling.mode=numeric``: an interval in microseconds."""

_TEXT = {"CHAR", "NCHAR", "VARCHAR2", "NVARCHAR2", "VARCHAR", "CLOB", "NCLOB", "ROWID", "LONG"}
_BINARY = {"RAW", "BLOB", "LONG RAW"}
_NUMBER = {"NUMBER", "INTEGER", "FLOAT", "DECIMAL", "NUMERIC", "SMALLINT", "INT"}

SOURCE = source_schema(
    "oracle",
    {
        "db": s.STRING,
        "schema": s.STRING,
        "table": s.STRING,
        "scn": s.STRING.optional(),
        "txId": s.STRING.optional(),
        "commit_scn": s.STRING.optional(),
        "start_scn": s.STRING.optional(),
        "row_id": s.STRING.optional(),
        "rs_id": s.STRING.optional(),
        "ssn": s.INT32.optional(),
        "redo_thread": s.INT32.optional(),
        "commit_ts_ms": s.INT64.optional(),
    },
)
"""The ``source`` block of every change event (see the task's ``_source``)."""

TRANSACTION_BLOCK = s.struct(
    {"id": s.STRING, "total_order": s.INT64, "data_collection_order": s.INT64},
    name="event.block",
    version=1,
    optional=True,
)
"""Debezium's per-event ``transaction`` block (``provide.transaction.metadata``)."""

HEARTBEAT_KEY = s.struct({"serverName": s.STRING}, name="io.debezium.connector.common.ServerNameKey")
HEARTBEAT_VALUE = s.struct({"ts_ms": s.INT64}, name="io.debezium.connector.common.Heartbeat")
TRANSACTION_KEY = s.struct({"id": s.STRING}, name="io.debezium.connector.common.TransactionMetadataKey")
TRANSACTION_VALUE = s.struct(
    {
        "status": s.STRING,
        "id": s.STRING,
        "event_count": s.INT64.optional(),
        "data_collections": s.array_of(
            s.struct(
                {"data_collection": s.STRING, "event_count": s.INT64},
                name="io.debezium.connector.common.TransactionMetadataDataCollectionValue",
            )
        ).optional(),
        "ts_ms": s.INT64,
    },
    name="io.debezium.connector.common.TransactionMetadataValue",
)


def is_variable_scale(column: OracleColumn) -> bool:
    """NUMBER without precision and scale, or FLOAT: Debezium's VariableScaleDecimal."""
    return column.base_type in _NUMBER and column.scale is None


DecimalHandlingMode: t.TypeAlias = t.Literal["precise", "double", "string"]
"""Debezium's ``decimal.handling.mode``: how NUMBERs that are not integers below 10^18 are written."""


def column_schema(
    column: OracleColumn, binary_handling_mode: str = "bytes", decimal_handling_mode: DecimalHandlingMode = "precise"
) -> s.Schema:
    """The Connect schema of one column's values (required unless NULLABLE)."""
    schema = _base_schema(column, binary_handling_mode, decimal_handling_mode)
    return schema.optional() if column.nullable else schema


def is_decimal(column: OracleColumn) -> bool:
    """A NUMBER whose values are decimals (``Decimal`` or VariableScaleDecimal under
    ``decimal.handling.mode=precise``) rather than Connect integers: no scale, a positive
    scale, or 19 digits or more."""
    if column.base_type not in _NUMBER:
        return False
    precision, scale = column.precision, column.scale
    return scale is None or scale > 0 or precision is None or precision - scale >= 19


def _base_schema(column: OracleColumn, binary_handling_mode: str, decimal_handling_mode: str) -> s.Schema:
    base = column.base_type
    if base in _NUMBER:
        precision, scale = column.precision, column.scale
        if decimal_handling_mode != "precise" and is_decimal(column):
            # As Debezium: NUMBER(p, s<=0) below 19 digits stays an integer in every mode.
            return s.FLOAT64 if decimal_handling_mode == "double" else s.STRING
        if scale is None:
            return s.debezium.VARIABLE_SCALE_DECIMAL
        if scale > 0:
            return s.decimal_of(scale, precision)
        if precision is None:  # INTEGER: NUMBER(38)
            return s.decimal_of(0, 38)
        digits = precision - scale
        if digits < 3:
            return s.INT8
        if digits < 5:
            return s.INT16
        if digits < 10:
            return s.INT32
        if digits < 19:
            return s.INT64
        return s.decimal_of(0, precision)
    if base == "BINARY_FLOAT":
        return s.FLOAT32
    if base == "BINARY_DOUBLE":
        return s.FLOAT64
    if base in _TEXT:
        return s.STRING
    if base in _BINARY:
        return s.BYTES if binary_handling_mode == "bytes" else s.STRING
    if base == "DATE":
        return s.debezium.TIMESTAMP
    if base == "TIMESTAMP":
        digits = column.fraction_digits
        if digits <= 3:
            return s.debezium.TIMESTAMP
        return s.debezium.MICRO_TIMESTAMP if digits <= 6 else s.debezium.NANO_TIMESTAMP
    if base in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH LOCAL TIME ZONE"):
        return s.debezium.ZONED_TIMESTAMP
    if base.startswith("INTERVAL"):
        return MICRO_DURATION
    return s.STRING.optional()


def connect_value(column: OracleColumn, value: t.Any, decimal_handling_mode: DecimalHandlingMode = "precise") -> t.Any:
    """``value`` (from ``convert_value``) as the Connect value its :func:`column_schema` takes.

    A decimal NUMBER's ``Decimal`` becomes, by ``decimal_handling_mode``: the
    VariableScaleDecimal struct (no scale) or stays a ``Decimal`` (``precise``); a float
    (``double``, Java's ``BigDecimal.doubleValue``); its text (``string``, as Java's
    ``BigDecimal.toString``, with the column's scale: ``NUMBER(10,2)`` 12.5 -> ``"12.50"``)."""
    if not isinstance(value, decimal.Decimal):
        return value
    if decimal_handling_mode == "double":
        return float(value)
    if decimal_handling_mode == "string":
        return str(value)
    if is_variable_scale(column):
        return s.debezium.variable_scale_decimal(value)
    return value


def variable_scale_literal(literal: str) -> dict[str, t.Any] | None:
    """The VariableScaleDecimal struct of a plain number literal (``-623.105``, ``.5``,
    ``42``) read from its text, as :func:`connect_value` gives it for the ``Decimal`` of the
    same literal; None for any other form (an exponent, blanks, a sign other than ``-``),
    which then takes the general path."""
    head, _, fraction = literal.partition(".")
    digits = head[1:] if head.startswith("-") else head
    if (
        len(literal) > 100
        or not (digits or fraction)
        or not (digits.isdigit() or not digits)
        or not (fraction.isdigit() or not fraction)
        or not literal.isascii()
    ):
        return None
    unscaled = int(head + fraction)
    return {
        "scale": len(fraction),
        "value": unscaled.to_bytes(max(1, (unscaled.bit_length() + 8) // 8), "big", signed=True),
    }


@dataclass(frozen=True)
class TableSchemas:
    """The schemas of one table version's records.

    Attributes:
        key: ``<prefix>.<SCHEMA>.<TABLE>.Key``, the primary-key columns; None without a key.
        value: ``<prefix>.<SCHEMA>.<TABLE>.Envelope`` with ``before``/``after`` the optional
            ``<prefix>.<SCHEMA>.<TABLE>.Value`` row.
        variable_scale: the columns whose values :func:`connect_value` rewrites.
    """

    key: s.Schema | None
    value: s.Schema
    variable_scale: frozenset[str]


def table_schemas(
    prefix: str,
    owner: str,
    table: str,
    columns: t.Sequence[OracleColumn],
    primary_key: t.Sequence[str],
    *,
    binary_handling_mode: str = "bytes",
    decimal_handling_mode: DecimalHandlingMode = "precise",
    transaction_block: bool = False,
) -> TableSchemas:
    """Build the key and envelope schemas of ``owner.table`` from its column metadata.

    Args:
        transaction_block: add Debezium's ``transaction`` field (``provide.transaction.metadata``).
    """
    fields = [(c.name, column_schema(c, binary_handling_mode, decimal_handling_mode)) for c in columns]
    by_name = dict(fields)
    # Debezium's schema names: characters Avro refuses (a space, ``#``, ``$``) become ``_``.
    prefix = _NAME_CHARS.sub("_", prefix)
    name = _NAME_CHARS.sub("_", f"{owner}.{table}")
    row = s.struct(fields)
    envelope = envelope_schema(row, SOURCE, prefix=prefix, table=name)
    if transaction_block:
        envelope = s.struct(
            [*((f.name, f.schema) for f in envelope.fields), ("transaction", TRANSACTION_BLOCK)],
            name=envelope.name,
            version=envelope.version,
        )
    key = None
    if primary_key:
        key = key_schema(
            s.struct([(k, _required(by_name[k])) for k in primary_key]),
            prefix=prefix,
            table=name,
        )
    return TableSchemas(key, envelope, frozenset(c.name for c in columns if is_variable_scale(c)))


def _required(schema: s.Schema) -> s.Schema:
    return replace(schema, is_optional=False)
