"""The change-event envelope and the fold that the state checks rely on."""

from __future__ import annotations

import pytest

from headwater.codecs.envelope import ChangeEvent, Op, canonical_key, fold, to_messages
from headwater.connectors.errors import RecordError


def _event(op: Op, key: int, before: dict | None, after: dict | None) -> ChangeEvent:
    return ChangeEvent(op=op, key={"id": key}, before=before, after=after, source={"table": "T"}, ts_ms=1)


def test_debezium_shape_and_tombstone_after_delete() -> None:
    delete = _event(Op.DELETE, 1, {"id": 1, "v": "a"}, None)
    messages = to_messages(delete)
    assert messages[0] == (
        {"id": 1},
        {"before": {"id": 1, "v": "a"}, "after": None, "source": {"table": "T"}, "op": "d", "ts_ms": 1},
    )
    assert messages[1] == ({"id": 1}, None)
    assert len(to_messages(delete, tombstone_on_delete=False)) == 1


def test_fold_applies_creates_updates_deletes_and_truncates() -> None:
    stream = [
        *to_messages(_event(Op.CREATE, 1, None, {"id": 1, "v": "a"})),
        *to_messages(_event(Op.READ, 2, None, {"id": 2, "v": "b"})),
        *to_messages(_event(Op.UPDATE, 1, {"id": 1, "v": "a"}, {"id": 1, "v": "c"})),
        *to_messages(_event(Op.DELETE, 2, {"id": 2, "v": "b"}, None)),
    ]
    assert fold(stream) == {canonical_key({"id": 1}): {"id": 1, "v": "c"}}
    truncate = ({"id": 0}, {"op": "t", "before": None, "after": None, "source": {}, "ts_ms": 2})
    assert fold([*stream, truncate]) == {}


def test_events_must_be_well_formed() -> None:
    with pytest.raises(ValueError, match="after"):
        _event(Op.CREATE, 1, None, None)
    with pytest.raises(ValueError, match="before"):
        _event(Op.DELETE, 1, None, None)
    with pytest.raises(RecordError, match="not a change event"):
        ChangeEvent.from_value({"id": 1}, {"id": 1})
    with pytest.raises(RecordError, match="malformed"):
        ChangeEvent.from_value({"id": 1}, {"op": "x"})


def test_canonical_key_ignores_field_order() -> None:
    assert canonical_key({"a": 1, "b": 2}) == canonical_key({"b": 2, "a": 1})
