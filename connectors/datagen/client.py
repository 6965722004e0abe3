"""The deterministic generator behind ``datagen``: the plugin's stand-in for an external system.

Each table's stream depends only on (seed, table): event ``n`` is always the same, so a
task resumes at any sequence number by replaying the (cheap) generator state up to it,
and tests can compute the final state independently of Kafka.
"""

from __future__ import annotations

import random
import typing as t
from decimal import Decimal

from headwater.codecs import schema as s
from headwater.codecs.envelope import ChangeEvent, Op, to_messages

if t.TYPE_CHECKING:
    from headwater.connectors.datagen.config import DatagenConfig

__all__ = ["BASE_TS_MS", "TableGenerator", "final_state", "message_count", "table_schemas"]

BASE_TS_MS = 1_700_000_000_000
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Wirth")
_STATUS = ("NEW", "PAID", "SHIPPED", "DELIVERED", "RETURNED")
_KEY_FIELD = {"customers": "id", "orders": "order_id", "products": "sku"}

# The tables' columns as a database would declare them; keep in step with _make_row.
_ROWS = {
    "customers": {
        "id": s.INT32,
        "name": s.STRING,
        "email": s.STRING,
        "balance": s.decimal_of(2, precision=10),
        "version": s.INT32,
    },
    "orders": {
        "order_id": s.INT32,
        "customer_id": s.INT32,
        "amount": s.decimal_of(2, precision=10),
        "status": s.STRING,
        "version": s.INT32,
    },
    "products": {
        "sku": s.STRING,
        "title": s.STRING,
        "price": s.decimal_of(2, precision=7),
        "stock": s.INT32,
        "version": s.INT32,
    },
}
_SOURCE = s.struct(
    {"connector": s.STRING, "table": s.STRING, "seq": s.INT64, "snapshot": s.STRING.optional()},
    name="io.headwater.connector.datagen.Source",
)


def table_schemas(table: str, topic: str) -> tuple[s.Schema, s.Schema]:
    """``(key_schema, value_schema)`` of ``table``'s change events on ``topic``, named as Debezium names them."""
    row = s.struct(_ROWS[table], name=f"{topic}.Value")
    key_field = _KEY_FIELD[table]
    key = s.struct({key_field: _ROWS[table][key_field]}, name=f"{topic}.Key")
    return key, s.envelope(row, _SOURCE, name=f"{topic}.Envelope")


class TableGenerator:
    """Yields the change events of one table, in sequence order."""

    def __init__(self, table: str, *, seed: int, keys: int) -> None:
        self.table = table
        self.keys = keys
        self.key_field = _KEY_FIELD[table]
        self._random = random.Random(f"{seed}:{table}")
        self._rows: dict[int, dict[str, t.Any]] = {}
        self._live: list[int] = []
        self._position: dict[int, int] = {}
        self.sequence = 0

    def skip_to(self, sequence: int) -> None:
        """Advance without returning events until the next event is number ``sequence``."""
        while self.sequence < sequence:
            self.next_event()

    def next_event(self) -> ChangeEvent:
        """The next event; it changes the generator's notion of the table."""
        draw = self._random.random()
        if not self._live or (draw < 0.5 and len(self._live) < self.keys):
            key = self._random.randrange(self.keys)
            if key in self._rows:
                # An existing key: this event becomes an update (no probing for a free
                # key, which gets slow as the key space fills up).
                before = self._rows[key]
                op, after = Op.UPDATE, self._make_row(key, version=before["version"] + 1)
            else:
                op, before = Op.CREATE, None
                after = self._make_row(key, version=0)
                self._add(key)
        elif draw < 0.85:
            key = self._live[self._random.randrange(len(self._live))]
            before = self._rows[key]
            op, after = Op.UPDATE, self._make_row(key, version=before["version"] + 1)
        else:
            key = self._live[self._random.randrange(len(self._live))]
            op, before, after = Op.DELETE, self._rows[key], None
            self._remove(key)
        if after is not None:
            self._rows[key] = after
        sequence = self.sequence
        self.sequence += 1
        key_value: t.Any = f"SKU-{key:06d}" if self.table == "products" else key
        return ChangeEvent(
            op=op,
            key={self.key_field: key_value},
            before=before,
            after=after,
            source={"connector": "datagen", "table": self.table, "seq": sequence, "snapshot": "false"},
            ts_ms=BASE_TS_MS + sequence,
        )

    def _add(self, key: int) -> None:
        self._position[key] = len(self._live)
        self._live.append(key)

    def _remove(self, key: int) -> None:
        index = self._position.pop(key)
        last = self._live.pop()
        if last != key:
            self._live[index] = last
            self._position[last] = index
        del self._rows[key]

    def _make_row(self, key: int, *, version: int) -> dict[str, t.Any]:
        rnd = self._random
        if self.table == "customers":
            first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
            return {
                "id": key,
                "name": f"{first} {last}",
                "email": f"{first}.{last}{key}@example.com".lower(),
                "balance": Decimal(rnd.randrange(-50_000, 1_000_000)).scaleb(-2),
                "version": version,
            }
        if self.table == "orders":
            return {
                "order_id": key,
                "customer_id": rnd.randrange(self.keys),
                "amount": Decimal(rnd.randrange(100, 500_000)).scaleb(-2),
                "status": rnd.choice(_STATUS),
                "version": version,
            }
        return {
            "sku": f"SKU-{key:06d}",
            "title": f"{rnd.choice(('Blue', 'Red', 'Steel', 'Oak'))} {rnd.choice(('Chair', 'Lamp', 'Desk', 'Shelf'))}",
            "price": Decimal(rnd.randrange(99, 99_999)).scaleb(-2),
            "stock": rnd.randrange(0, 500),
            "version": version,
        }


def message_count(config: DatagenConfig) -> int:
    """How many Kafka records a finite datagen config produces (events plus tombstones)."""
    total = 0
    for table in config.table_list():
        generator = TableGenerator(table, seed=config.seed, keys=config.keys)
        for _ in range(config.table_count(table)):
            total += len(to_messages(generator.next_event(), tombstone_on_delete=config.tombstones_on_delete))
    return total


def final_state(table: str, *, seed: int, keys: int, count: int) -> dict[str, dict[str, t.Any]]:
    """The rows of ``table`` after its first ``count`` events, by canonical key."""
    from headwater.codecs.envelope import canonical_key

    generator = TableGenerator(table, seed=seed, keys=keys)
    state: dict[str, dict[str, t.Any]] = {}
    for _ in range(count):
        event = generator.next_event()
        if event.op is Op.DELETE:
            state.pop(canonical_key(event.key), None)
        else:
            assert event.after is not None
            state[canonical_key(event.key)] = dict(event.after)
    return state
