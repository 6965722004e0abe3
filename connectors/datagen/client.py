"""The deterministic generator behind ``datagen``: the plugin's stand-in for an external system.

Each table's stream depends only on (seed, table): event ``n`` is always the same, so a
task resumes at any sequence number by replaying the (cheap) generator state up to it,
and tests can compute the final state independently of Kafka.
"""

from __future__ import annotations

import random
import typing as t
from decimal import Decimal

from headwater.codecs.envelope import SNAPSHOT_FALSE, ChangeEvent, Op, as_snapshot_read, source_block, to_messages
from headwater.connectors.version import HEADWATER_VERSION

if t.TYPE_CHECKING:
    from headwater.connectors.datagen.config import DatagenConfig

__all__ = ["BASE_TS_MS", "TableGenerator", "final_state", "message_count"]

BASE_TS_MS = 1_700_000_000_000
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Wirth")
_STATUS = ("NEW", "PAID", "SHIPPED", "DELIVERED", "RETURNED")
_KEY_FIELD = {"customers": "id", "orders": "order_id", "products": "sku"}


class TableGenerator:
    """Yields the change events of one table, in sequence order.

    With ``initial_rows=N`` the first N events are an initial load, as Debezium writes a
    snapshot: reads (``op: "r"``) of keys 0..N-1 with ``source.snapshot`` ``"true"``,
    ``"last"`` on the N-th; the change stream follows. ``name`` is the logical server
    name in ``source.name`` (the topic prefix).
    """

    def __init__(self, table: str, *, seed: int, keys: int, initial_rows: int = 0, name: str = "datagen") -> None:
        if initial_rows > keys:
            msg = f"initial rows ({initial_rows}) cannot exceed the key space ({keys})"
            raise ValueError(msg)
        self.table = table
        self.keys = keys
        self.initial_rows = initial_rows
        self.name = name
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
        if self.sequence < self.initial_rows:
            return self._initial_read()
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
        return self._event(op, key, before, after)

    def _event(self, op: Op, key: int, before: dict[str, t.Any] | None, after: dict[str, t.Any] | None) -> ChangeEvent:
        sequence = self.sequence
        self.sequence += 1
        key_value: t.Any = f"SKU-{key:06d}" if self.table == "products" else key
        ts_ms = BASE_TS_MS + sequence
        source = source_block(version=HEADWATER_VERSION, connector="datagen", name=self.name, ts_ms=ts_ms,
                              snapshot=SNAPSHOT_FALSE, table=self.table, seq=sequence)  # fmt: skip
        return ChangeEvent(op=op, key={self.key_field: key_value}, before=before, after=after, source=source,
                           ts_ms=ts_ms)  # fmt: skip

    def _initial_read(self) -> ChangeEvent:
        key = self.sequence
        row = self._make_row(key, version=0)
        self._rows[key] = row
        self._add(key)
        event = self._event(Op.CREATE, key, None, row)
        return as_snapshot_read(event, last=self.sequence == self.initial_rows)

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
        generator = TableGenerator(table, seed=config.seed, keys=config.keys, initial_rows=config.initial_rows)
        for _ in range(config.table_count(table)):
            total += len(to_messages(generator.next_event(), tombstone_on_delete=config.tombstones_on_delete))
    return total


def final_state(table: str, *, seed: int, keys: int, count: int, initial_rows: int = 0) -> dict[str, dict[str, t.Any]]:
    """The rows of ``table`` after its first ``count`` events, by canonical key."""
    from headwater.codecs.envelope import canonical_key

    generator = TableGenerator(table, seed=seed, keys=keys, initial_rows=initial_rows)
    state: dict[str, dict[str, t.Any]] = {}
    for _ in range(count):
        event = generator.next_event()
        if event.op is Op.DELETE:
            state.pop(canonical_key(event.key), None)
        else:
            assert event.after is not None
            state[canonical_key(event.key)] = dict(event.after)
    return state
