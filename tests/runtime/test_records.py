"""The record types of the plugin contract behave as the frozen dataclasses they declare.

``SourceRecord`` and ``SinkRecord`` are built once per record, so their ``__init__`` sets
the slots through their descriptors instead of the dataclass's generated one; everything a
plugin author relies on must be unchanged.
"""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing as t

import pytest

from headwater.connectors.api import SinkRecord, SourceRecord


@pytest.mark.parametrize("cls", [SourceRecord, SinkRecord])
def test_the_fast_init_takes_the_dataclass_fields_and_defaults(cls: type[t.Any]) -> None:
    fields = dataclasses.fields(cls)
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in parameters] == [f.name for f in fields]
    for parameter, item in zip(parameters, fields, strict=True):
        expected = inspect.Parameter.empty if item.default is dataclasses.MISSING else item.default
        assert parameter.default == expected, item.name
    assert cls.__init__.__qualname__ == f"{cls.__name__}.__init__"


def test_records_are_frozen_comparable_replaceable_and_picklable() -> None:
    record = SourceRecord({"server": "a"}, {"scn": "1"}, "topic", {"ID": 1}, {"op": "c"}, timestamp_ms=5)
    assert (record.topic, record.key, record.headers, record.timestamp_ms, record.value_schema) == (
        "topic",
        {"ID": 1},
        (),
        5,
        None,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.topic = "other"
    changed = dataclasses.replace(record, value=None)
    assert changed.value is None and changed.key == {"ID": 1} and record.value == {"op": "c"}
    assert pickle.loads(pickle.dumps(record)) == record
    assert record != changed
    sink = SinkRecord("t", 0, 7, b"k", b"v", timestamp_type="LogAppendTime")
    assert (sink.offset, sink.timestamp_type, sink.key_schema) == (7, "LogAppendTime", None)
    with pytest.raises(TypeError, match="missing"):
        SourceRecord({"server": "a"}, {"scn": "1"})
    with pytest.raises(TypeError, match="unexpected keyword"):
        SinkRecord("t", 0, 7, b"k", b"v", offset_ms=1)
