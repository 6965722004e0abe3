"""The ``file`` sink on its own: what a user finds in the files, and after a crash."""

from __future__ import annotations

import decimal
import json
import typing as t
from pathlib import Path

import pytest

from headwater.connectors.api import SinkRecord, SinkTaskContext
from headwater.sinks.file import FileSinkConnector, FileSinkTask


def _task(folder: Path, reported: list[tuple[SinkRecord, BaseException]], **extra: str) -> FileSinkTask:
    config = FileSinkConnector.config_class.model_validate({"file.dir": str(folder), **extra})
    return FileSinkTask(config, SinkTaskContext("files", 0, report=lambda r, e: reported.append((r, e))))


def _lines(path: Path) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_per_topic_with_metadata_and_exact_decimals(tmp_path: Path) -> None:
    reported: list[tuple[SinkRecord, BaseException]] = []
    task = _task(tmp_path, reported)
    task.put(
        [
            SinkRecord("a", 0, 7, "k1", {"amount": decimal.Decimal("12345678901234567890.12")}, (), 1000),
            SinkRecord("b", 1, 3, None, None, (), None),
            SinkRecord("a", 0, 8, "k2", [1, "x"], (), 1001),
        ]
    )
    task.flush()
    assert _lines(tmp_path / "a.jsonl") == [
        {
            "key": "k1",
            "value": {"amount": 12345678901234567890.12},
            "topic": "a",
            "partition": 0,
            "offset": 7,
            "timestamp": 1000,
        },
        {"key": "k2", "value": [1, "x"], "topic": "a", "partition": 0, "offset": 8, "timestamp": 1001},
    ]
    assert "12345678901234567890.12" in (tmp_path / "a.jsonl").read_text()  # every digit kept
    assert _lines(tmp_path / "b.jsonl") == [
        {"key": None, "value": None, "topic": "b", "partition": 1, "offset": 3, "timestamp": None}
    ]
    assert reported == []
    task.stop()


def test_a_record_that_is_not_json_is_reported_and_the_others_written(tmp_path: Path) -> None:
    reported: list[tuple[SinkRecord, BaseException]] = []
    task = _task(tmp_path, reported, **{"file.include.metadata": "false"})
    bad = SinkRecord("a", 0, 1, "k", {"amount": decimal.Decimal("NaN")})
    task.put([SinkRecord("a", 0, 0, "k", 1), bad, SinkRecord("a", 0, 2, "k", 3), SinkRecord("a", 0, 3, "k", 2**70)])
    task.flush()
    assert _lines(tmp_path / "a.jsonl") == [
        {"key": "k", "value": 1},
        {"key": "k", "value": 3},
        {"key": "k", "value": 2**70},  # every digit, not a float
    ]
    assert [record for record, _error in reported] == [bad]
    assert "cannot write as JSON" in str(reported[0][1])
    task.stop()


@pytest.mark.parametrize("tail", [b'{"key": "k", "val', b"x" * 200_000])
def test_a_torn_last_line_left_by_a_crash_is_cut_before_appending(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"key":"k","value":1}\n' * 3 + tail)
    reported: list[tuple[SinkRecord, BaseException]] = []
    task = _task(tmp_path, reported, **{"file.include.metadata": "false"})
    task.put([SinkRecord("a", 0, 3, "k", 4)])
    task.flush()
    assert _lines(path) == [{"key": "k", "value": 1}] * 3 + [{"key": "k", "value": 4}]
    task.stop()


def test_a_file_of_one_torn_line_is_emptied(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_bytes(b'{"key": "k", "value"' * 10_000)
    task = _task(tmp_path, [], **{"file.include.metadata": "false"})
    task.put([SinkRecord("a", 0, 0, "k", 1)])
    task.flush()
    assert _lines(tmp_path / "a.jsonl") == [{"key": "k", "value": 1}]
    task.stop()


def test_lines_are_written_by_put_and_not_held_until_flush(tmp_path: Path) -> None:
    """A large load appears in the file as it is read, and memory does not hold it all."""
    task = _task(tmp_path, [], **{"file.include.metadata": "false", "file.fsync": "false"})
    for batch in range(20):
        task.put([SinkRecord("a", 0, batch * 500 + i, None, "x" * 100) for i in range(500)])
    size = (tmp_path / "a.jsonl").stat().st_size
    assert size > 900_000  # all but the last buffered block is on disk before any flush
    task.flush()
    assert len((tmp_path / "a.jsonl").read_bytes().splitlines()) == 10_000
    task.stop()
