"""The Connect schemas of datagen's tables, named as Debezium names them.

Keys are ``<prefix>.<table>.Key``, change events ``<prefix>.<table>.Envelope`` with rows
``<prefix>.<table>.Value``; money columns are Decimals with precision and scale, like a
``NUMERIC(10,2)`` column Debezium reads.
"""

from __future__ import annotations

import functools

from headwater.codecs import envelope
from headwater.codecs import schema as s

__all__ = ["KEYS", "ROWS", "SOURCE", "table_schemas"]

MONEY = s.decimal_of(2, precision=10)
ROWS: dict[str, s.Schema] = {
    "customers": s.struct({"id": s.INT64, "name": s.STRING, "email": s.STRING, "balance": MONEY, "version": s.INT64}),
    "orders": s.struct(
        {"order_id": s.INT64, "customer_id": s.INT64, "amount": MONEY, "status": s.STRING, "version": s.INT64}
    ),
    "products": s.struct({"sku": s.STRING, "title": s.STRING, "price": MONEY, "stock": s.INT32, "version": s.INT64}),
}
"""Each table's row."""
KEYS: dict[str, s.Schema] = {
    "customers": s.struct({"id": s.INT64}),
    "orders": s.struct({"order_id": s.INT64}),
    "products": s.struct({"sku": s.STRING}),
}
"""Each table's primary key."""
SOURCE = envelope.source_schema("datagen", {"table": s.STRING, "seq": s.INT64})
"""The ``source`` block of datagen's events."""


@functools.cache
def table_schemas(prefix: str, table: str) -> tuple[s.Schema, s.Schema]:
    """(key schema, change-event schema) of ``table`` under topic prefix ``prefix``."""
    return (
        envelope.key_schema(KEYS[table], prefix=prefix, table=table),
        envelope.envelope_schema(ROWS[table], SOURCE, prefix=prefix, table=table),
    )
