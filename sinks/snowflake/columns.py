"""Column types of ``cdc`` tables: from a record's Connect schema, else inferred from values.

:func:`column_type` picks the Snowflake type of one field; :func:`to_json` renders a value
for the load file so that ``V[...]::<type>`` reads it back exactly; :func:`fits` says
whether a value can be stored in a column of an existing type (a record that does not
fit goes to the dead-letter topic, the rest of the batch lands).
"""

from __future__ import annotations

import datetime as dt
import decimal
import typing as t

from headwater.codecs.schema import DECIMAL, PRECISION_PARAMETER, Schema, Type

__all__ = ["column_type", "fits", "read_expression", "to_json"]

_EPOCH = dt.datetime(1970, 1, 1)
_DATE = "io.debezium.time.Date"
_TIMESTAMPS = {
    "io.debezium.time.Timestamp": 1_000,
    "io.debezium.time.MicroTimestamp": 1_000_000,
    "io.debezium.time.NanoTimestamp": 1_000_000_000,
    "org.apache.kafka.connect.data.Timestamp": 1_000,
}
_ZONED = "io.debezium.time.ZonedTimestamp"


def column_type(value: t.Any, schema: Schema | None) -> str:
    """The Snowflake type of a column first seen holding ``value`` (schema wins when given)."""
    if schema is not None:
        if schema.name == DECIMAL:
            scale = int(schema.parameters.get("scale", "0"))
            precision = int(schema.parameters.get(PRECISION_PARAMETER, "38"))
            return f"NUMBER({min(precision, 38)},{scale})"
        if schema.name == _DATE or schema.name == "org.apache.kafka.connect.data.Date":
            return "DATE"
        if schema.name in _TIMESTAMPS:
            return "TIMESTAMP_NTZ"
        if schema.name == _ZONED:
            return "TIMESTAMP_TZ"
        return {
            Type.INT8: "NUMBER(3,0)",
            Type.INT16: "NUMBER(5,0)",
            Type.INT32: "NUMBER(10,0)",
            Type.INT64: "NUMBER(19,0)",
            Type.FLOAT32: "FLOAT",
            Type.FLOAT64: "FLOAT",
            Type.BOOLEAN: "BOOLEAN",
            Type.STRING: "VARCHAR",
            Type.BYTES: "BINARY",
        }.get(schema.type, "VARIANT")
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "NUMBER(38,0)"
    if isinstance(value, float):
        return "FLOAT"
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return f"NUMBER(38,{min(scale, 37)})"
    if isinstance(value, (bytes, bytearray)):
        return "BINARY"
    if isinstance(value, (dict, list)):
        return "VARIANT"
    return "VARCHAR"  # strings, and columns seen only as null


def to_json(value: t.Any, schema: Schema | None) -> t.Any:
    """``value`` as the load file carries it (exact decimals and binaries as strings)."""
    if value is None:
        return None
    name = schema.name if schema is not None else None
    if name in _TIMESTAMPS and isinstance(value, int):
        seconds, fraction = divmod(value, _TIMESTAMPS[name])
        moment = _EPOCH + dt.timedelta(seconds=seconds, microseconds=fraction * 1_000_000 // _TIMESTAMPS[name])
        return moment.isoformat()
    if name in (_DATE, "org.apache.kafka.connect.data.Date") and isinstance(value, int):
        return (_EPOCH.date() + dt.timedelta(days=value)).isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v, None) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v, None) for v in value]
    if isinstance(value, float) and value != value:  # NaN: not JSON
        return str(value)
    return value


def read_expression(path: str, column_type: str) -> str:
    """SQL reading a loaded value at ``path`` (``V['row']['x']``) as ``column_type``."""
    if column_type == "BINARY":
        return f"TO_BINARY({path}::VARCHAR, 'HEX')"
    if column_type == "VARIANT":
        return path
    return f"{path}::{column_type}"


def _number(column: str) -> tuple[int, int]:
    """Precision and scale of ``NUMBER(p,s)`` (``NUMBER`` alone: 38, 0)."""
    if "(" not in column:
        return 38, 0
    precision, _, scale = column[column.index("(") + 1 : column.rindex(")")].partition(",")
    return int(precision), int(scale or 0)


def _iso(value: str, kind: str) -> bool:
    try:
        if kind == "DATE" and len(value) == 10:
            dt.date.fromisoformat(value)
        else:
            dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def fits(value: t.Any, column: str) -> bool:
    """Whether ``value`` (as given to :func:`to_json`'s caller) can be stored in ``column``
    without Snowflake refusing the whole statement: numbers within the column's precision
    and scale, dates and timestamps as epoch numbers or ISO 8601 strings (what Debezium
    and the converters write), exact types otherwise."""
    if value is None or column == "VARIANT":
        return True
    if column.startswith("NUMBER"):
        precision, scale = _number(column)
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return value == 0 or len(str(abs(value))) <= precision - scale
        if isinstance(value, decimal.Decimal) and value.is_finite():
            _, digits, exponent = value.as_tuple()
            if not isinstance(exponent, int) or -exponent > scale:
                return False
            return value == 0 or len(digits) + exponent <= precision - scale
        return False
    if column in ("FLOAT", "DOUBLE", "REAL"):
        return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
    if column == "BOOLEAN":
        return isinstance(value, bool)
    if column == "BINARY":
        return isinstance(value, (bytes, bytearray))
    if column in ("DATE", "TIMESTAMP_NTZ", "TIMESTAMP_TZ", "TIMESTAMP_LTZ"):
        if isinstance(value, str):
            return _iso(value, column)
        return isinstance(value, (int, dt.date)) and not isinstance(value, bool)
    return isinstance(value, str)
