"""A small deterministic change-event generator for the standard tests and reference plugins.

The conformance suite must not depend on any plugin (``datagen`` included), so it brings
its own stand-in for an external system: :class:`ChangeStream` yields the change events
of one table, event ``n`` always the same for a given ``(seed, table)``, so a reader
resumes at any sequence number by replaying the cheap generator, and a test computes
the expected final state (:func:`final_state`) or the expected messages
(:func:`messages`) without Kafka. :func:`transaction_sizes` cuts a stream into
deterministic source transactions, for sources that mark Kafka transaction boundaries.
"""

from __future__ import annotations

import random
import typing as t
from decimal import Decimal

from headwater.codecs.envelope import ChangeEvent, Op, canonical_key, to_messages

__all__ = ["BASE_TS_MS", "ChangeStream", "final_state", "messages", "transaction_sizes"]

BASE_TS_MS = 1_700_000_000_000
"""``ts_ms`` of event 0; event ``n`` has ``BASE_TS_MS + n``."""
_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")


class ChangeStream:
    """The change events of one table with integer keys ``id`` in ``[0, keys)``.

    Creates, updates and deletes (about 50/35/15 %) of rows ``{"id", "name", "amount",
    "version"}``; ``amount`` is an exact ``Decimal`` with two places.
    """

    def __init__(self, table: str, *, seed: int = 0, keys: int = 50) -> None:
        self.table = table
        self.keys = keys
        self.sequence = 0
        """The number of the next event."""
        self._random = random.Random(f"{seed}:{table}")
        self._rows: dict[int, dict[str, t.Any]] = {}

    def skip_to(self, sequence: int) -> None:
        """Advance without returning events until the next event is number ``sequence``."""
        while self.sequence < sequence:
            self.next_event()

    def next_event(self) -> ChangeEvent:
        """The next event; it changes the generator's notion of the table."""
        rnd = self._random
        draw = rnd.random()
        live = sorted(self._rows)
        before: dict[str, t.Any] | None
        after: dict[str, t.Any] | None
        if not live or (draw < 0.5 and len(live) < self.keys):
            key = rnd.randrange(self.keys)
            before = self._rows.get(key)
            after = self._row(key, 0 if before is None else before["version"] + 1)
            op = Op.CREATE if before is None else Op.UPDATE
        elif draw < 0.85:
            key = live[rnd.randrange(len(live))]
            before = self._rows[key]
            op, after = Op.UPDATE, self._row(key, before["version"] + 1)
        else:
            key = live[rnd.randrange(len(live))]
            op, before, after = Op.DELETE, self._rows.pop(key), None
        if after is not None:
            self._rows[key] = after
        sequence = self.sequence
        self.sequence += 1
        return ChangeEvent(
            op=op,
            key={"id": key},
            before=before,
            after=after,
            source={"connector": "conformance", "table": self.table, "seq": sequence, "snapshot": "false"},
            ts_ms=BASE_TS_MS + sequence,
        )

    def _row(self, key: int, version: int) -> dict[str, t.Any]:
        rnd = self._random
        return {
            "id": key,
            "name": f"{rnd.choice(_NAMES)} {key}",
            "amount": Decimal(rnd.randrange(-10_000, 1_000_000)).scaleb(-2),
            "version": version,
        }


def messages(table: str, count: int, *, seed: int = 0, keys: int = 50) -> list[tuple[t.Any, t.Any]]:
    """The Kafka ``(key, value)`` messages of the first ``count`` events (tombstones after deletes)."""
    stream = ChangeStream(table, seed=seed, keys=keys)
    out: list[tuple[t.Any, t.Any]] = []
    for _ in range(count):
        out.extend(to_messages(stream.next_event()))
    return out


def final_state(
    table: str, count: int, *, seed: int = 0, keys: int = 50, skip: t.Container[int] = ()
) -> dict[str, dict[str, t.Any]]:
    """The rows after the first ``count`` events by canonical key, leaving out the events
    whose numbers are in ``skip`` (rolled-back transactions)."""
    stream = ChangeStream(table, seed=seed, keys=keys)
    state: dict[str, dict[str, t.Any]] = {}
    for number in range(count):
        event = stream.next_event()
        if number in skip:
            continue
        if event.op is Op.DELETE:
            state.pop(canonical_key(event.key), None)
        else:
            assert event.after is not None
            state[canonical_key(event.key)] = dict(event.after)
    return state


def transaction_sizes(count: int, *, seed: int = 0, largest: int = 4) -> list[int]:
    """Cut ``count`` events into source transactions of 1 to ``largest`` events each.

    The same arguments always give the same cut; the sizes add up to ``count``.
    """
    rnd = random.Random(f"{seed}:transactions")
    sizes: list[int] = []
    left = count
    while left > 0:
        size = min(left, rnd.randint(1, largest))
        sizes.append(size)
        left -= size
    return sizes
