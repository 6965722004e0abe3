"""``field.types``: PIC 9(8) dates and PIC 9(6) times as Connect Date/Time/Timestamp values."""

from __future__ import annotations

import datetime as dt
import typing as t
from pathlib import Path

import pytest

from headwater.codecs import schema as s
from headwater.codecs.copybook import encode_record, parse_copybook
from headwater.codecs.temporal import parse_field_types
from headwater.conformance.standard import drain
from headwater.connectors.api import ErrantSourceRecord, SourceRecord, SourceTaskContext
from headwater.connectors.errors import ConfigError
from headwater.connectors.loading import parse_connector
from headwater.connectors.mainframe import MainframeCopybookTask
from headwater.connectors.mainframe.config import MainframeCopybookConfig
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore

COPYBOOK = """\
       01  CUSTOMER-MASTER.
           05  CM-ID          PIC 9(6).
           05  CM-OPEN-DATE   PIC 9(8).
           05  CM-OPEN-TIME   PIC 9(6).
           05  CM-CHANGED     PIC X(14).
"""
LAYOUT = parse_copybook(COPYBOOK)
TYPES = "CM-OPEN-DATE:date:yyyyMMdd,CM-OPEN-TIME:time:HHmmss,CM-CHANGED:timestamp"


def _read(tmp_path: Path, rows: list[dict[str, t.Any]], **keys: str) -> list[t.Any]:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "CUST.DAT").write_bytes(b"".join(encode_record(LAYOUT, row) for row in rows))
    config = MainframeCopybookConfig.model_validate(
        {
            "copybook.text": COPYBOOK,
            "input.dir": str(folder),
            "topic": "cust",
            "key.fields": "CM-ID",
            "poll.interval.ms": "10",
            "field.types": TYPES,
            **keys,
        }
    )
    task = MainframeCopybookTask(config, SourceTaskContext("t", 0, ConnectorOffsets(MemoryOffsetStore(), "t")))
    try:
        return drain(task, timeout=10)
    finally:
        task.stop()


def test_dates_and_times_become_connect_logical_values(tmp_path: Path) -> None:
    rows = [
        {"CM_ID": 1, "CM_OPEN_DATE": 20240131, "CM_OPEN_TIME": 93015, "CM_CHANGED": "20240131093015"},
        {"CM_ID": 2, "CM_OPEN_DATE": 0, "CM_OPEN_TIME": 0, "CM_CHANGED": ""},  # "no date" on a mainframe
    ]
    records = _read(tmp_path, rows)
    after = [r.value["after"] for r in records]
    assert after[0] == {"CM_ID": 1, "CM_OPEN_DATE": dt.date(2024, 1, 31), "CM_OPEN_TIME": dt.time(9, 30, 15),
                        "CM_CHANGED": dt.datetime(2024, 1, 31, 9, 30, 15, tzinfo=dt.UTC)}  # fmt: skip
    assert after[1] == {"CM_ID": 2, "CM_OPEN_DATE": None, "CM_OPEN_TIME": None, "CM_CHANGED": None}


def test_a_value_that_is_not_a_date_is_a_bad_record_naming_the_field(tmp_path: Path) -> None:
    rows = [
        {"CM_ID": 1, "CM_OPEN_DATE": 20241399, "CM_OPEN_TIME": 1, "CM_CHANGED": ""},
        {"CM_ID": 2, "CM_OPEN_DATE": 20240229, "CM_OPEN_TIME": 235959, "CM_CHANGED": ""},
    ]
    records = _read(tmp_path, rows)
    assert isinstance(records[0], ErrantSourceRecord)
    message = str(records[0].error)
    assert "CUST.DAT" in message and "record 1" in message and "CM-OPEN-DATE" in message
    assert "not a date (yyyyMMdd)" in message
    assert isinstance(records[1], SourceRecord)
    assert records[1].value["after"]["CM_OPEN_DATE"] == dt.date(2024, 2, 29)


def test_field_types_config_errors_name_the_key() -> None:
    def errors(spec: str) -> dict[str, str]:
        document = {"name": "x", "config": {"connector.class": "mainframe-copybook", "copybook.text": COPYBOOK,
                                            "input.dir": "x", "topic": "t", "field.types": spec}}  # fmt: skip
        with pytest.raises(ConfigError) as caught:
            parse_connector(document)
        return {error.key: error.message for error in caught.value.errors}

    assert "KIND date, time or timestamp" in errors("CM-OPEN-DATE:datum")["field.types"]
    assert "unsupported letter 'Q'" in errors("CM-OPEN-DATE:date:QQ")["field.types"]
    assert "NO-SUCH" in errors("NO-SUCH:date")["field.types"]


def test_declared_fields_carry_connects_logical_types() -> None:
    date, time_, stamp = parse_field_types(TYPES)
    assert (date.schema, time_.schema, stamp.schema) == (s.DATE.optional(), s.TIME.optional(), s.TIMESTAMP.optional())
    assert stamp.pattern == "yyyyMMddHHmmss"
