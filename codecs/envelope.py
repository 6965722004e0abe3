"""The change-event format every Headwater source emits and every sink reads.

It is Debezium's envelope, so existing consumers work unchanged:

- key: the primary-key object, e.g. ``{"ID": 42}``;
- value: ``{"before": row|None, "after": row|None, "source": {...}, "op": "c"|"u"|"d"|"r"|"t",
  "ts_ms": int}``;
- after each delete, by default, a tombstone (same key, value ``None``) so that log
  compaction can drop the key.

:func:`fold` is the state check the conformance suite relies on: folding a change
stream by key reproduces the source's final state.
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass

import orjson

from headwater.connectors.errors import RecordError

if t.TYPE_CHECKING:
    from headwater.codecs.schema import Schema

__all__ = [
    "SNAPSHOT_FALSE",
    "SNAPSHOT_LAST",
    "SNAPSHOT_TRUE",
    "ChangeEvent",
    "Op",
    "as_snapshot_read",
    "canonical_key",
    "envelope_schema",
    "fold",
    "key_schema",
    "source_block",
    "source_schema",
    "to_messages",
]

Row: t.TypeAlias = t.Mapping[str, t.Any]


class Op(enum.StrEnum):
    """Debezium's operation codes."""

    CREATE = "c"
    UPDATE = "u"
    DELETE = "d"
    READ = "r"
    TRUNCATE = "t"


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One change to one row.

    ``before`` is the row before the change (None for creates and reads), ``after`` the
    row after it (None for deletes). ``source`` says where the change came from (file,
    table, SCN, record number...).
    """

    op: Op
    key: Row
    before: Row | None
    after: Row | None
    source: Row
    ts_ms: int

    def __post_init__(self) -> None:
        needs_after = self.op in (Op.CREATE, Op.UPDATE, Op.READ)
        if needs_after and self.after is None:
            msg = f"op {self.op.value!r} needs an 'after' row"
            raise ValueError(msg)
        if self.op is Op.DELETE and self.before is None:
            msg = "op 'd' needs a 'before' row"
            raise ValueError(msg)

    def value(self) -> dict[str, t.Any]:
        """The envelope as the Kafka record value."""
        return {
            "before": self.before,
            "after": self.after,
            "source": self.source,
            "op": self.op.value,
            "ts_ms": self.ts_ms,
        }

    @classmethod
    def from_value(cls, key: t.Any, value: t.Any) -> ChangeEvent | None:
        """Parse a record back into an event; None for a tombstone.

        Raises:
            RecordError: when ``value`` is not a change-event envelope.
        """
        if value is None:
            return None
        if not isinstance(value, t.Mapping) or "op" not in value:
            msg = "value is not a change event (no 'op' field)"
            raise RecordError(msg)
        try:
            op = Op(value["op"])
            return cls(
                op=op,
                key=key if isinstance(key, t.Mapping) else {"key": key},
                before=value.get("before"),
                after=value.get("after"),
                source=value.get("source") or {},
                ts_ms=int(value.get("ts_ms") or 0),
            )
        except (ValueError, TypeError) as exc:
            msg = f"malformed change event: {exc}"
            raise RecordError(msg) from exc


def to_messages(event: ChangeEvent, *, tombstone_on_delete: bool = True) -> list[tuple[Row, dict[str, t.Any] | None]]:
    """The (key, value) pairs for one event: the envelope, plus a tombstone after a delete."""
    messages: list[tuple[Row, dict[str, t.Any] | None]] = [(event.key, event.value())]
    if event.op is Op.DELETE and tombstone_on_delete:
        messages.append((event.key, None))
    return messages


def canonical_key(key: t.Any) -> str:
    """A stable text form of a key: the same key always gives the same string."""
    return orjson.dumps(key, option=orjson.OPT_SORT_KEYS, default=str).decode()


def fold(messages: t.Iterable[tuple[t.Any, t.Any]]) -> dict[str, Row]:
    """Apply a change stream, in order, and return the final row per canonical key.

    Creates, reads and updates set the row to ``after``; deletes and tombstones remove
    it; a truncate clears everything folded so far.
    """
    state: dict[str, Row] = {}
    for key, value in messages:
        event = ChangeEvent.from_value(key, value)
        if event is None or event.op is Op.DELETE:
            state.pop(canonical_key(key), None)
        elif event.op is Op.TRUNCATE:
            state.clear()
        else:
            assert event.after is not None  # guaranteed by ChangeEvent.__post_init__
            state[canonical_key(key)] = event.after
    return state


# -- Debezium's source block, initial loads and schema names ---------------------------------

SNAPSHOT_TRUE = "true"
SNAPSHOT_LAST = "last"
SNAPSHOT_FALSE = "false"


def source_block(
    *, version: str, connector: str, name: str, ts_ms: int, snapshot: str = SNAPSHOT_FALSE, **extra: t.Any
) -> dict[str, t.Any]:
    """An envelope's ``source`` block in Debezium's order: ``version``, ``connector``, ``name``
    (the logical server name, Debezium's ``topic.prefix``), ``ts_ms`` (when the change
    happened at the source), ``snapshot`` (``"true"``/``"last"`` during an initial load,
    ``"false"`` after it), then the connector's own fields."""
    return {"version": version, "connector": connector, "name": name, "ts_ms": ts_ms, "snapshot": snapshot, **extra}


def as_snapshot_read(event: ChangeEvent, *, last: bool) -> ChangeEvent:
    """``event`` as one row of an initial load, as Debezium writes it: ``op: "r"``, no
    ``before``, and ``source.snapshot`` ``"true"`` (``"last"`` for the load's last row)."""
    if event.after is None:
        msg = "only a row that exists can be part of an initial load"
        raise ValueError(msg)
    source = {**event.source, "snapshot": SNAPSHOT_LAST if last else SNAPSHOT_TRUE}
    return ChangeEvent(Op.READ, event.key, None, event.after, source, event.ts_ms)


def envelope_schema(row: Schema, source: Schema, *, prefix: str, table: str) -> Schema:
    """The change-event schema named as Debezium names it: ``<prefix>.<table>.Envelope``, whose
    ``before``/``after`` are the row schema named ``<prefix>.<table>.Value`` (optional)."""
    from headwater.codecs import schema as s

    value = row.named(f"{prefix}.{table}.Value").optional()
    return s.struct(
        {"before": value, "after": value, "source": source, "op": s.STRING, "ts_ms": s.INT64.optional()},
        name=f"{prefix}.{table}.Envelope",
    )


def key_schema(key: Schema, *, prefix: str, table: str) -> Schema:
    """The key schema named as Debezium names it: ``<prefix>.<table>.Key``."""
    return key.named(f"{prefix}.{table}.Key")


def source_schema(connector: str, extra: t.Mapping[str, Schema] | None = None) -> Schema:
    """The ``source`` block's schema (``io.headwater.connector.<connector>.Source``): Debezium's
    common fields, ``snapshot`` as Debezium's Enum, then the connector's own ``extra`` fields."""
    from headwater.codecs import schema as s

    snapshot = s.debezium.enum(["true", "last", "false", "incremental"]).optional().with_default(SNAPSHOT_FALSE)
    common = {"version": s.STRING, "connector": s.STRING, "name": s.STRING, "ts_ms": s.INT64, "snapshot": snapshot}
    connector_name = connector.replace("-", "_")
    return s.struct({**common, **(extra or {})}, name=f"io.headwater.connector.{connector_name}.Source")
