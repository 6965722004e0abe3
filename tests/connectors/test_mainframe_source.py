"""The ``mainframe-copybook`` source without Kafka: config, formats, offsets, files, diffs, errors."""

from __future__ import annotations

import json
import os
import time
import typing as t
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.codecs.copybook import (
    DecodeError,
    DecodeOptions,
    FramingError,
    encode_record,
    frame_fb,
    frame_text,
    frame_v,
    frame_vb,
    frame_vbs,
    parse_copybook,
)
from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.emulators.mainframe import connector_config, final_state, generate
from headwater.conformance.standard import drain
from headwater.connectors.api import ErrantSourceRecord, SourceRecord, SourceTaskContext
from headwater.connectors.errors import ConfigError, FatalError
from headwater.connectors.loading import parse_connector
from headwater.connectors.mainframe import MainframeCopybookConnector, MainframeCopybookTask
from headwater.connectors.mainframe.config import MainframeCopybookConfig
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore, offset_key

COPYBOOK = """\
       01  ITEM-RECORD.
           05  ITEM-ID        PIC 9(6).
           05  ITEM-NAME      PIC X(12).
           05  PRICE          PIC S9(5)V99 COMP-3.
           05  QTY            PIC S9(4) COMP.
"""
TEXT_COPYBOOK = """\
       01  ITEM-LINE.
           05  ITEM-ID        PIC 9(6).
           05  ITEM-NAME      PIC X(12).
           05  PRICE          PIC S9(5)V99.
"""
LAYOUT = parse_copybook(COPYBOOK)
NAME = "source"


def _rows(count: int, start: int = 1) -> list[dict[str, t.Any]]:
    return [
        {"ITEM_ID": i, "ITEM_NAME": f"ITEM {i}", "PRICE": Decimal(i * 137 % 100_000).scaleb(-2), "QTY": i % 500}
        for i in range(start, start + count)
    ]


def _records(rows: list[dict[str, t.Any]]) -> list[bytes]:
    return [encode_record(LAYOUT, row) for row in rows]


def _config(tmp_path: Path, **keys: str) -> MainframeCopybookConfig:
    values = {"copybook.text": COPYBOOK, "input.dir": str(tmp_path / "in"), "topic": "items", "poll.interval.ms": "10",
              "key.fields": "ITEM_ID", **keys}  # fmt: skip
    return MainframeCopybookConfig.model_validate(values)


def _task(config: MainframeCopybookConfig, store: MemoryOffsetStore | None = None) -> MainframeCopybookTask:
    return MainframeCopybookTask(
        config, SourceTaskContext(NAME, 0, ConnectorOffsets(store or MemoryOffsetStore(), NAME))
    )


def _commit(task: MainframeCopybookTask, store: MemoryOffsetStore, records: t.Sequence[t.Any]) -> None:
    """What the runtime does after Kafka acknowledged ``records``: store the latest offsets, call commit()."""
    latest = {offset_key(NAME, r.partition): (r.partition, r.offset) for r in records}
    store.put_many({key: offset for key, (_p, offset) in latest.items()})
    task.commit(list(latest.values()))


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _after(records: t.Iterable[t.Any]) -> list[dict[str, t.Any]]:
    return [r.value["after"] for r in records if isinstance(r, SourceRecord) and r.value is not None]


# ----------------------------------------------------------------------------- config


def _errors(config: dict[str, str]) -> dict[str, str]:
    document = {
        "name": "bad",
        "config": {"connector.class": "headwater.connectors.mainframe:MainframeCopybookConnector", **config},
    }
    with pytest.raises(ConfigError) as caught:
        parse_connector(document)
    return {error.key: error.message for error in caught.value.errors}


def test_copybook_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    errors = _errors(
        {"copybook.text": "       01  REC.\n           05  A  PIC Q(3).\n", "input.dir": "x", "topic": "t"}
    )
    assert "copybook.text" in errors
    assert "line 2" in errors["copybook.text"]
    assert "column" in errors["copybook.text"]
    bad = tmp_path / "bad.cpy"
    bad.write_text("       01  REC.\n           05  A  PIC Q(3).\n")
    errors = _errors({"copybook.path": str(bad), "input.dir": "x", "topic": "t"})
    assert "line 2" in errors["copybook.path"]


def test_config_errors_per_field(tmp_path: Path) -> None:
    errors = _errors(
        {
            "copybook.text": COPYBOOK,
            "input.dir": str(tmp_path),
            "topic": "t",
            "key.fields": "ITEM_ID,NO_SUCH_FIELD",
            "record.format": "U",
            "segment.filter": "A",
            "code.page": "cp999",
            "finished.file.action": "move",
            "rdw.endian": "middle",
        }
    )
    assert "NO_SUCH_FIELD" in errors["key.fields"]
    assert {"record.format", "segment.filter", "code.page", "finished.dir", "rdw.endian"} <= set(errors)
    assert "copybook" in _errors({"input.dir": "x", "topic": "t"}).get("copybook.text", "copybook")
    both = _errors(
        {"copybook.text": COPYBOOK, "copybook.path": str(tmp_path / "x.cpy"), "input.dir": "x", "topic": "t"}
    )
    assert "copybook.path" in both
    snapshot = _errors({"copybook.text": COPYBOOK, "input.dir": "x", "topic": "t", "mode": "snapshot-diff"})
    assert "key.fields" in snapshot
    group_key = _errors({"copybook.text": COPYBOOK, "input.dir": "x", "topic": "t", "key.fields": "ITEM-RECORD"})
    assert "key.fields" in group_key


def test_config_maps_to_codec_options(tmp_path: Path) -> None:
    config = _config(tmp_path, **{"record.format": "VB", "rdw.endian": "little", "segment.field": "ITEM-NAME",
                                  "segment.map": "A=ITEM-ID", "trim": "right", "on.error": "null",
                                  "bdw.adjustment": "4"})  # fmt: skip
    options = config.format_options()
    assert options.record_format.value == "VB"
    assert not options.rdw_big_endian
    assert (options.rdw_adjustment, options.bdw_adjustment) == (0, 4)
    decode = config.decode_options()
    assert decode.segment_map == (("A", "ITEM-ID"),)
    assert decode.trim.value == "right"
    assert decode.on_error.value == "null"


def test_task_configs_split_files_without_overlap(tmp_path: Path) -> None:
    from headwater.connectors.mainframe.task import owns

    connector = MainframeCopybookConnector(_config(tmp_path))
    configs = connector.task_configs(3)
    assert [c.task_index for c in configs] == [0, 1, 2]
    names = [f"FILE{i}.VB" for i in range(50)]
    owners = [[c.task_index for c in configs if owns(name, c.task_index, c.task_count)] for name in names]
    assert all(len(o) == 1 for o in owners)
    snapshot = MainframeCopybookConnector(_config(tmp_path, mode="snapshot-diff"))
    assert len(snapshot.task_configs(4)) == 1


# ----------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("record_format", "frame", "extra"),
    [
        ("V", lambda rs: frame_v(rs), {}),
        ("VB", lambda rs: frame_vb(rs, records_per_block=7), {}),
        ("VBS", lambda rs: frame_vbs(rs, block_length=50), {}),
        ("FB", lambda rs: frame_fb(rs, records_per_block=7), {}),
        ("FB", lambda rs: frame_fb(rs, with_bdw=False), {"records.per.block": "7"}),
        ("F", lambda rs: b"".join(rs), {}),
    ],
)
def test_append_mode_formats(
    tmp_path: Path, record_format: str, frame: t.Callable[[list[bytes]], bytes], extra: dict[str, str]
) -> None:
    rows = _rows(40)
    _write(tmp_path / "in" / "ITEMS.DAT", frame(_records(rows)))
    task = _task(_config(tmp_path, **{"record.format": record_format, **extra}))
    records = drain(task, timeout=10)
    task.stop()
    assert _after(records) == rows
    first = records[0]
    assert isinstance(first, SourceRecord)
    assert first.key == {"ITEM_ID": 1}
    assert first.value["op"] == "c"
    assert first.value["source"]["file"] == "ITEMS.DAT"
    assert first.value["source"]["record"] == 1
    assert first.partition == {"file": "ITEMS.DAT"}
    assert records[-1].offset["record"] == 40


def test_append_mode_text_lines(tmp_path: Path) -> None:
    layout = parse_copybook(TEXT_COPYBOOK)
    rows = [{"ITEM_ID": i, "ITEM_NAME": f"ITEM {i}", "PRICE": Decimal(-i * 101).scaleb(-2)} for i in range(1, 21)]
    ascii_options = DecodeOptions(code_page="ascii")
    _write(
        tmp_path / "in" / "ITEMS.TXT", frame_text([encode_record(layout, r, ascii_options) for r in rows], crlf=True)
    )
    config = _config(tmp_path, **{"copybook.text": TEXT_COPYBOOK, "record.format": "T", "code.page": "ascii"})
    records = drain(_task(config), timeout=10)
    assert _after(records) == rows


def test_key_defaults_to_file_and_record(tmp_path: Path) -> None:
    _write(tmp_path / "in" / "A.V", frame_v(_records(_rows(3))))
    records = drain(_task(_config(tmp_path, **{"record.format": "V", "key.fields": ""})), timeout=10)
    assert [r.key for r in records] == [{"file": "A.V", "record": n} for n in (1, 2, 3)]


def test_old_files_keep_their_time_in_the_event_not_in_the_kafka_timestamp(tmp_path: Path) -> None:
    # A Kafka timestamp from a years-old mtime would let the broker's time-based
    # retention delete the records as soon as they land.
    path = _write(tmp_path / "in" / "OLD.V", frame_v(_records(_rows(3))))
    mtime = 978_307_200  # 2001-01-01
    os.utime(path, (mtime, mtime))
    records = drain(_task(_config(tmp_path, **{"record.format": "V"})), timeout=10)
    assert [r.timestamp_ms for r in records] == [None, None, None]
    assert {r.value["ts_ms"] for r in records} == {mtime * 1000}


# ----------------------------------------------------------------------------- offsets and files


def test_vbs_resumes_at_a_record_whose_segments_were_cut(tmp_path: Path) -> None:
    rows = _rows(60)
    data = frame_vbs(_records(rows), block_length=50)  # every record spans two or three blocks
    cut = len(data) // 2 + 7
    path = _write(tmp_path / "in" / "ITEMS.VBS", data[:cut])
    config = _config(tmp_path, **{"record.format": "VBS"})
    store = MemoryOffsetStore()
    first = _task(config, store)
    seen = drain(first, timeout=10)
    _commit(first, store, seen)
    first.stop()
    assert 0 < len(seen) < len(rows)
    path.write_bytes(data)
    resumed = drain(_task(config, store), timeout=10)
    assert _after(seen) + _after(resumed) == rows


def test_resume_mid_block_from_stored_offset(tmp_path: Path) -> None:
    rows = _rows(100)
    data = frame_vb(_records(rows), records_per_block=8)
    path = _write(tmp_path / "in" / "ITEMS.VB", data[: len(data) // 2 + 3])  # cut inside a block and a record
    config = _config(tmp_path, **{"record.format": "VB"})
    store = MemoryOffsetStore()
    first = _task(config, store)
    seen = drain(first, timeout=10)
    first.stop()
    assert seen
    assert seen[-1].offset["resume.block.end"] is not None, "the cut must fall inside a block"
    # Store an offset from the middle of the poll (resumes by re-splitting from the chunk start).
    middle = seen[: len(seen) // 2]
    _commit(first, store, middle)
    with path.open("ab") as handle:
        handle.write(data[len(data) // 2 + 3 :])
    resumed = drain(_task(config, store), timeout=10)
    assert _after(middle) + _after(resumed) == rows
    # And from the exact end of a poll, inside a block.
    store2 = MemoryOffsetStore()
    _write(tmp_path / "in" / "ITEMS.VB", data[: len(data) // 2 + 3])
    first = _task(config, store2)
    seen = drain(first, timeout=10)
    _commit(first, store2, seen)
    path.write_bytes(data)
    resumed = drain(_task(config, store2), timeout=10)
    assert _after(seen) + _after(resumed) == rows


def test_new_files_are_picked_up(tmp_path: Path) -> None:
    config = _config(tmp_path, **{"record.format": "V"})
    _write(tmp_path / "in" / "A.V", frame_v(_records(_rows(5))))
    task = _task(config)
    assert len(drain(task, timeout=10)) == 5
    _write(tmp_path / "in" / "B.V", frame_v(_records(_rows(7, start=100))))
    time.sleep(0.05)
    later = drain(task, timeout=10)
    assert [r.partition["file"] for r in later] == ["B.V"] * 7


def test_growing_file_is_followed_and_partial_record_waits(tmp_path: Path) -> None:
    rows = _rows(30)
    data = frame_v(_records(rows))
    path = _write(tmp_path / "in" / "LOG.V", data[:100])
    task = _task(_config(tmp_path, **{"record.format": "V"}))
    got = _after(drain(task, timeout=10))
    assert 0 < len(got) < 30
    for cut in (101, 250, 251, 600, len(data)):
        with path.open("ab") as handle:
            handle.write(data[path.stat().st_size : cut])
        time.sleep(0.03)
        got += _after(drain(task, timeout=10))
    assert got == rows


def test_growing_emulator_scenario(tmp_path: Path) -> None:
    files = generate("growing", 3, tmp_path / "growing")
    config = MainframeCopybookConfig.model_validate({**connector_config(files, "txn"), "poll.interval.ms": "10"})
    task = _task(config)
    records = drain(task, timeout=10)
    while files.append_next():
        time.sleep(0.03)
        records += drain(task, timeout=10)
    expected = {canonical_key(e["key"]): e["row"] for e in final_state("growing", 3)}
    assert fold((r.key, r.value) for r in records) == expected


@pytest.mark.parametrize("action", ["move", "delete"])
def test_finished_file_released_only_after_commit(tmp_path: Path, action: str) -> None:
    path = _write(tmp_path / "in" / "DONE.V", frame_v(_records(_rows(20))))
    config = _config(tmp_path, **{"record.format": "V", "finished.file.action": action,
                                  "finished.dir": str(tmp_path / "done"), "file.quiet.ms": "0"})  # fmt: skip
    store = MemoryOffsetStore()
    task = _task(config, store)
    records = drain(task, timeout=10)
    assert len(records) == 20
    assert path.exists(), "released before the offsets were durable"
    _commit(task, store, records[:10])
    assert path.exists(), "released with records not yet durable"
    _commit(task, store, records)
    assert not path.exists()
    assert (tmp_path / "done" / "DONE.V").exists() == (action == "move")
    assert drain(task, timeout=5) == []


def _drain_committing(
    task: MainframeCopybookTask, store: MemoryOffsetStore, *, timeout: float = 10
) -> list[SourceRecord | ErrantSourceRecord]:
    """Poll until idle, storing each batch's offsets as the runtime does after Kafka acknowledged it."""
    out: list[SourceRecord | ErrantSourceRecord] = []
    idle = 0
    deadline = time.monotonic() + timeout
    while idle < 5:
        batch = task.poll()
        _commit(task, store, batch)
        out += batch
        idle = 0 if batch else idle + 1
        time.sleep(0.02)
        assert time.monotonic() < deadline, "the source did not go idle"
    return out


def test_truncated_last_record_of_a_finished_file_goes_to_the_dlq(tmp_path: Path) -> None:
    data = frame_v(_records(_rows(5)))
    path = _write(tmp_path / "in" / "CUT.V", data[:-3])
    config = _config(tmp_path, **{"record.format": "V", "finished.file.action": "delete", "file.quiet.ms": "0"})
    store = MemoryOffsetStore()
    out = _drain_committing(_task(config, store), store)
    assert _after(out) == _rows(4)
    errant = [r for r in out if isinstance(r, ErrantSourceRecord)]
    assert len(errant) == 1
    assert errant[0].raw == data[4 * 28 : -3]
    assert "CUT.V: record 5 at byte offset 112" in str(errant[0].error)
    assert "truncated" in str(errant[0].error)
    assert not path.exists(), "the file is finished and its bad tail reported: it is released"


@pytest.mark.parametrize("action", ["move", "keep"])
def test_a_file_with_no_readable_record_is_quarantined(tmp_path: Path, action: str) -> None:
    junk = b"\x00\x20\x01\x01" + b"\x40" * 40
    path = _write(tmp_path / "in" / "BAD.VB", junk)
    config = _config(tmp_path, **{"record.format": "VB", "file.quiet.ms": "0", "failed.file.action": action})
    store = MemoryOffsetStore()
    out = _drain_committing(_task(config, store), store)
    assert [(type(r).__name__, r.raw) for r in out] == [("ErrantSourceRecord", junk)]  # type: ignore[union-attr]
    assert "BAD.VB: record 1 at byte offset 0" in str(out[0].error)  # type: ignore[union-attr]
    assert "BDW" in str(out[0].error)  # type: ignore[union-attr]
    assert "quarantined" in str(out[0].error)  # type: ignore[union-attr]
    assert path.exists() == (action == "keep")
    assert (tmp_path / "in" / "failed" / "BAD.VB").exists() == (action == "move")
    # A restart neither reads nor reports it again.
    assert _drain_committing(_task(config, store), store) == []


def test_a_large_unreadable_region_goes_to_the_dlq_in_pieces_that_name_their_offset(tmp_path: Path) -> None:
    junk = bytes(range(1, 256)) * 2500  # 637,500 bytes without two zero bytes in a row: no BDW anywhere
    _write(tmp_path / "in" / "JUNK.VB", junk)
    store = MemoryOffsetStore()
    out = _drain_committing(_task(_config(tmp_path, **{"record.format": "VB", "file.quiet.ms": "0"}), store), store)
    assert all(isinstance(r, ErrantSourceRecord) for r in out)
    assert b"".join(r.raw for r in out) == junk  # type: ignore[union-attr]
    assert [len(r.raw) for r in out] == [262_144, 262_144, 113_212]  # type: ignore[union-attr]
    assert [str(r.error).split(":")[1] for r in out] == [  # type: ignore[union-attr]
        " record 1 at byte offset 0",
        " record 1 at byte offset 262144",
        " record 1 at byte offset 524288",
    ]
    assert (tmp_path / "in" / "failed" / "JUNK.VB").exists()


def test_records_before_a_broken_rdw_are_stored_before_the_bad_bytes_are_reported(tmp_path: Path) -> None:
    rows = _rows(6)
    tail = b"\x00\x09\x00\x01" + b"\x40" * 5
    _write(tmp_path / "in" / "BROKEN.V", frame_v(_records(rows)) + tail)
    store = MemoryOffsetStore()
    config = _config(tmp_path, **{"record.format": "V", "file.quiet.ms": "0"})
    task = _task(config, store)
    delivered = drain(task, timeout=10)  # nothing stored yet: the bad bytes wait for the six records
    assert _after(delivered) == rows
    assert all(isinstance(r, SourceRecord) for r in delivered)
    _commit(task, store, delivered)
    errant = task.poll()
    assert len(errant) == 1
    assert isinstance(errant[0], ErrantSourceRecord)
    assert errant[0].raw == tail
    assert "BROKEN.V: record 7 at byte offset 168" in str(errant[0].error)
    assert "RDW bytes 3-4" in str(errant[0].error)
    # errors.tolerance=none: the runtime fails the task on it without storing its offset. Each
    # restart sends the same bad bytes again, and no record twice.
    for _restart in range(3):
        again = drain(_task(config, store), timeout=10)
        assert [(type(r).__name__, r.raw) for r in again] == [("ErrantSourceRecord", tail)]  # type: ignore[union-attr]
    # errors.tolerance=all: once its offset is stored, nothing is left.
    _commit(task, store, errant)
    assert drain(_task(config, store), timeout=10) == []


def test_a_stray_file_beside_the_dataset_does_not_block_it(tmp_path: Path) -> None:
    """Item 6: README.txt matches the default glob ``*``: it goes to the DLQ and failed/, the dataset is read."""
    rows = _rows(40)
    _write(tmp_path / "in" / "ITEMS.VB", frame_vb(_records(rows), records_per_block=7))
    readme = b"Extracts from the nightly CUSTMAST job. Do not edit.\n" * 4
    _write(tmp_path / "in" / "README.txt", readme)
    store = MemoryOffsetStore()
    config = _config(tmp_path, **{"record.format": "VB", "file.quiet.ms": "0"})
    out = _drain_committing(_task(config, store), store)
    assert sorted(_after(out), key=lambda row: row["ITEM_ID"]) == rows
    errant = [r for r in out if isinstance(r, ErrantSourceRecord)]
    assert [(r.raw, r.partition) for r in errant] == [(readme, {"file": "README.txt"})]
    assert "README.txt: record 1 at byte offset 0" in str(errant[0].error)
    assert (tmp_path / "in" / "failed" / "README.txt").read_bytes() == readme
    assert (tmp_path / "in" / "ITEMS.VB").exists()


def test_a_file_replaced_by_rename_while_read_is_read_to_its_end_then_the_new_one(tmp_path: Path) -> None:
    """Item 7: the old file's last records (written after the rename) and the whole new file arrive."""
    path = _write(tmp_path / "in" / "ITEMS.V", frame_v(_records(_rows(5))))
    store = MemoryOffsetStore()
    config = _config(tmp_path, **{"record.format": "V", "file.quiet.ms": "0"})
    task = _task(config, store)
    first = _drain_committing(task, store)
    assert _after(first) == _rows(5)
    with path.open("ab") as old:  # the writer still holds the old file open
        _write(tmp_path / "new.V", frame_v(_records(_rows(10, start=101))))
        os.replace(tmp_path / "new.V", path)
        old.write(frame_v(_records(_rows(3, start=6))))
    second = _drain_committing(task, store)
    assert _after(second) == _rows(3, start=6) + _rows(10, start=101)
    # The stored offset is the new file's: a restart sends nothing again.
    assert _drain_committing(_task(config, store), store) == []
    # Replaced by a file that cannot be read through an open handle any more: a fresh generation.
    _write(tmp_path / "new.V", frame_v(_records(_rows(2, start=201))))
    os.replace(tmp_path / "new.V", path)
    assert _after(_drain_committing(_task(config, store), store)) == _rows(2, start=201)


def test_a_replaced_file_fails_the_task_when_so_configured(tmp_path: Path) -> None:
    path = _write(tmp_path / "in" / "ITEMS.V", frame_v(_records(_rows(5))))
    config = _config(tmp_path, **{"record.format": "V", "replaced.file.action": "fail"})
    task = _task(config)
    assert len(drain(task, timeout=10)) == 5
    _write(tmp_path / "new.V", frame_v(_records(_rows(10, start=101))))
    os.replace(tmp_path / "new.V", path)
    with pytest.raises(FatalError, match=r"ITEMS\.V was replaced by another file"):
        drain(task, timeout=10)


def test_truncated_last_record_is_reported_with_keep_once_the_file_is_quiet(tmp_path: Path) -> None:
    """Item 8: finished.file.action=keep still reports the cut record, once."""
    data = frame_v(_records(_rows(5)))
    path = _write(tmp_path / "in" / "CUT.V", data[:-3])
    store = MemoryOffsetStore()
    config = _config(tmp_path, **{"record.format": "V", "file.quiet.ms": "200"})
    task = _task(config, store)
    out = _drain_committing(task, store)
    assert _after(out) == _rows(4)
    assert not [r for r in out if isinstance(r, ErrantSourceRecord)], "reported before the file was quiet"
    time.sleep(0.3)
    out = _drain_committing(task, store)
    assert [(type(r).__name__, r.raw) for r in out] == [("ErrantSourceRecord", data[4 * 28 : -3])]  # type: ignore[union-attr]
    assert path.exists()
    time.sleep(0.3)
    assert _drain_committing(task, store) == []
    assert _drain_committing(_task(config, store), store) == []


def test_file_start_offset_with_a_growing_file_first_seen_shorter_than_the_header(tmp_path: Path) -> None:
    """Item 9: the header is skipped whatever the chunks; no record is misframed."""
    rows = _rows(50)
    data = b"HDR" * 40 + frame_v(_records(rows))
    path = _write(tmp_path / "in" / "GROW.V", data[:50])
    store = MemoryOffsetStore()
    config = _config(tmp_path, **{"record.format": "V", "file.start.offset": "120"})
    task = _task(config, store)
    assert _drain_committing(task, store) == []
    with path.open("ab") as handle:
        handle.write(data[50:])
    out = _drain_committing(task, store)
    assert _after(out) == rows
    assert not [r for r in out if isinstance(r, ErrantSourceRecord)]


# ----------------------------------------------------------------------------- bad records


def test_bad_record_becomes_errant_record(tmp_path: Path) -> None:
    records = _records(_rows(10))
    bad = bytearray(records[4])
    bad[18] = 0xAB  # PRICE is packed: 0xA is not a digit
    records[4] = bytes(bad)
    _write(tmp_path / "in" / "ITEMS.VB", frame_vb(records, records_per_block=4))
    out = drain(_task(_config(tmp_path, **{"record.format": "VB"})), timeout=10)
    assert len(out) == 10
    errant = out[4]
    assert isinstance(errant, ErrantSourceRecord)
    assert errant.raw == records[4]
    assert isinstance(errant.error, DecodeError)
    message = str(errant.error)
    assert "ITEMS.VB" in message
    assert "record 5" in message
    assert "PRICE" in message
    assert errant.offset["record"] == 5
    assert [r.key for r in out if isinstance(r, SourceRecord)] == [{"ITEM_ID": i} for i in (1, 2, 3, 4, 6, 7, 8, 9, 10)]


def test_on_error_null_keeps_the_record(tmp_path: Path) -> None:
    records = _records(_rows(3))
    bad = bytearray(records[1])
    bad[18] = 0xAB
    records[1] = bytes(bad)
    _write(tmp_path / "in" / "ITEMS.V", frame_v(records))
    out = drain(_task(_config(tmp_path, **{"record.format": "V", "on.error": "null"})), timeout=10)
    rows = _after(out)
    assert len(rows) == 3
    assert rows[1]["PRICE"] is None
    assert rows[1]["_errors"][0]["field"] == "PRICE"


# ----------------------------------------------------------------------------- snapshot-diff


def _snapshot_config(tmp_path: Path, **keys: str) -> MainframeCopybookConfig:
    files = generate("generations", 5, tmp_path / "gen", count=60)
    for path in files.data[1:]:
        path.rename(tmp_path / path.name)  # held back; they "arrive" one by one
    values = {**connector_config(files, "accounts"), "poll.interval.ms": "10", "batch.size": "17", **keys}
    return MainframeCopybookConfig.model_validate(values)


def _arrive(tmp_path: Path, config: MainframeCopybookConfig, number: int) -> None:
    name = f"ACCT.FULL.G{number:04d}V00"
    (tmp_path / name).rename(Path(config.input_dir) / name)


def test_snapshot_diff_three_generations_with_restarts(tmp_path: Path) -> None:
    from headwater.conformance.emulators.mainframe import _generations

    config = _snapshot_config(tmp_path)
    generations = _generations(5, 60)
    store = MemoryOffsetStore()
    stream: list[t.Any] = []

    task = _task(config, store)
    first = drain(task, timeout=10)
    # The first generation is the initial load, as Debezium writes a snapshot.
    assert {r.value["op"] for r in first} == {"r"}
    assert [r.value["source"]["snapshot"] for r in first] == ["true"] * (len(first) - 1) + ["last"]
    assert len(first) == len(generations[0])
    _commit(task, store, first)
    stream += first
    task.stop()

    # Generation 2 arrives; the task is restarted in the middle of its diff.
    _arrive(tmp_path, config, 2)
    task = _task(config, store)
    partial: list[t.Any] = []
    while len(partial) < 20:
        partial += task.poll()
    _commit(task, store, partial[:20])
    stream += partial[:20]
    task.stop()
    task = _task(config, store)
    rest = drain(task, timeout=10)
    _commit(task, store, rest)
    stream += rest
    ops = {r.value["op"] for r in partial + rest if r.value is not None}
    assert ops == {"c", "u", "d"}
    state = fold((r.key, r.value) for r in stream)
    assert state == {canonical_key({"ACCT_ID": row["ACCT_ID"]}): row for row in generations[1]}
    updates = [r for r in stream if r.value is not None and r.value["op"] == "u"]
    assert all(u.value["before"] != u.value["after"] for u in updates)
    task.stop()

    # Restart between generations, then generation 3.
    task = _task(config, store)
    assert drain(task, timeout=5) == []
    _arrive(tmp_path, config, 3)
    time.sleep(0.03)
    third = drain(task, timeout=10)
    _commit(task, store, third)
    stream += third
    expected = {canonical_key(e["key"]): e["row"] for e in final_state("generations", 5, count=60)}
    assert fold((r.key, r.value) for r in stream) == expected
    deletes = [r for r in third if r.value is not None and r.value["op"] == "d"]
    assert deletes
    assert all(r.value["source"]["generation"] == "ACCT.FULL.G0003V00" for r in third if r.value is not None)


def test_snapshot_diff_initial_load_survives_a_restart_and_marks_one_last_row(tmp_path: Path) -> None:
    from headwater.conformance.emulators.mainframe import _generations

    config = _snapshot_config(tmp_path)
    store = MemoryOffsetStore()
    task = _task(config, store)
    partial: list[t.Any] = []
    while len(partial) < 20:
        partial += task.poll()
    _commit(task, store, partial[:20])
    task.stop()
    task = _task(config, store)
    rest = drain(task, timeout=10)
    task.stop()
    load = partial[:20] + rest
    rows = _generations(5, 60)[0]
    assert len(load) == len(rows)  # the row held back at the restart was read again, none twice
    assert {r.value["op"] for r in load} == {"r"}
    assert [r.value["source"]["snapshot"] for r in load].count("last") == 1
    assert load[-1].value["source"]["snapshot"] == "last"
    assert load[-1].value["source"]["name"] == config.topic
    assert fold((r.key, r.value) for r in load) == {canonical_key({"ACCT_ID": row["ACCT_ID"]}): row for row in rows}


def test_snapshot_diff_deletes_previous_generation_only_when_durable(tmp_path: Path) -> None:
    config = _snapshot_config(tmp_path, **{"finished.file.action": "delete"})
    folder = Path(config.input_dir)
    store = MemoryOffsetStore()
    task = _task(config, store)
    _commit(task, store, drain(task, timeout=10))
    assert (folder / "ACCT.FULL.G0001V00").exists()
    _arrive(tmp_path, config, 2)
    time.sleep(0.03)
    second = drain(task, timeout=10)
    assert (folder / "ACCT.FULL.G0001V00").exists(), "base deleted before the diff was durable"
    _commit(task, store, second)
    assert not (folder / "ACCT.FULL.G0001V00").exists()
    assert (folder / "ACCT.FULL.G0002V00").exists(), "the new base must stay"


# ----------------------------------------------------------------------------- CLI


def test_emulator_cli_generate_and_final_state(tmp_path: Path) -> None:
    from headwater.connectors.commands.emulator import emulator

    runner = CliRunner()
    out = tmp_path / "demo"
    result = runner.invoke(
        emulator, ["generate", "mainframe", "--scenario", "customers-vb", "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "customers.cpy").exists()
    assert (out / "data" / "CUST.MASTER.VB").exists()
    result = runner.invoke(emulator, ["final-state", "mainframe", "--scenario", "customers-vb", "--seed", "1"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line, parse_float=Decimal) for line in result.output.splitlines()]
    assert lines
    assert {"table", "key", "row"} == set(lines[0])
    assert lines[0]["table"] == "customers"
    # Decimals keep their full scale in the JSON text.
    assert all(abs(line["row"]["BALANCE"].as_tuple().exponent) == 2 for line in lines)
    expected = final_state("customers-vb", 1)
    assert [line["key"] for line in lines] == [e["key"] for e in expected]


def test_snapshot_diff_framing_error_fails_only_after_the_events_before_it_are_stored(tmp_path: Path) -> None:
    """A gap in a generation would turn its keys into deletes: the task fails, but a restart loop re-sends nothing."""
    config = _snapshot_config(tmp_path, **{"batch.size": "10"})
    path = Path(config.input_dir) / "ACCT.FULL.G0001V00"
    data = bytearray(path.read_bytes())
    second_block = int.from_bytes(data[0:2], "big")
    data[second_block + 2] = 0x05  # the second block's BDW is broken
    path.write_bytes(bytes(data))
    store = MemoryOffsetStore()
    task = _task(config, store)
    events: list[t.Any] = []
    for _ in range(20):
        events += task.poll()
    assert len(events) == 20  # the first block's events, none after the break
    # The initial load broke before its end: no row is marked as its last.
    assert {r.value["source"]["snapshot"] for r in events} == {"true"}
    assert task.poll() == []  # they are not stored yet: the error waits
    _commit(task, store, events)
    with pytest.raises(FramingError, match=r"ACCT\.FULL\.G0001V00.*BDW"):
        task.poll()
    restarted = _task(config, store)
    with pytest.raises(FramingError, match=r"BDW"):
        drain(restarted, timeout=10)


@pytest.mark.parametrize("action", ["new-generation", "fail"])
def test_a_file_rewritten_shorter_in_place_is_a_new_generation_or_an_error(tmp_path: Path, action: str) -> None:
    path = _write(tmp_path / "in" / "ITEMS.V", frame_v(_records(_rows(8))))
    store = MemoryOffsetStore()
    config = _config(tmp_path, **{"record.format": "V", "file.quiet.ms": "0", "replaced.file.action": action})
    task = _task(config, store)
    assert _after(_drain_committing(task, store)) == _rows(8)
    with path.open("r+b") as handle:  # same inode, truncated and rewritten
        handle.truncate(0)
        handle.write(frame_v(_records(_rows(3, start=501))))
    if action == "fail":
        with pytest.raises(FatalError, match=r"ITEMS\.V shrank from 224 to 84 bytes"):
            _drain_committing(task, store)
    else:
        assert _after(_drain_committing(task, store)) == _rows(3, start=501)


def test_a_cobrix_style_file_decodes_with_the_cobrix_options(tmp_path: Path) -> None:
    """Little-endian reversed-word RDWs with payload lengths, a COPY member, Cobrix's code page
    table, a field code page and kept FILLER groups: the issue-12 options reach the source."""
    library = tmp_path / "lib"
    library.mkdir()
    (library / "ITEMBODY.cpy").write_text("           05  :X:-NAME   PIC X(4).\n           05  FILLER.\n"
                                          "               10  :X:-QTY PIC 9(2) COMP-9.\n")  # fmt: skip
    book = tmp_path / "items.cpy"
    book.write_text(
        "      01  ITEM.\n      05  ITEM-ID PIC 9(3).\n           COPY ITEMBODY REPLACING ==:X:== BY ==ITEM==.\n"
    )
    records = [f"{i:03d}".encode("cp037") + b"\x4a" + "AB ".encode("cp037") + bytes([i]) for i in (1, 2, 3)]
    data = b"".join(b"\x00\x00" + len(r).to_bytes(2, "little") + r for r in records)
    _write(tmp_path / "in" / "ITEMS.V", data)
    config = MainframeCopybookConfig.model_validate({
        "copybook.path": str(book), "copybook.dir": str(library), "input.dir": str(tmp_path / "in"),
        "topic": "items", "poll.interval.ms": "10", "key.fields": "ITEM-ID", "record.format": "V",
        "rdw.endian": "little", "code.page": "common", "field.code.pages": "cp037=ITEM-NAME",
        "drop.group.fillers": "false",
    })  # fmt: skip
    task = _task(config)
    decoded = _after(drain(task, timeout=10))
    task.stop()
    assert decoded == [{"ITEM_ID": i, "ITEM_NAME": "¢AB", "FILLER_1": {"ITEM_QTY": i}} for i in (1, 2, 3)]


def test_cobrix_option_keys_are_checked(tmp_path: Path) -> None:
    problems = _errors({"copybook.text": COPYBOOK, "input.dir": "x", "topic": "t", "field.code.pages": "cp999=ITEM-ID",
                        "copybook.dir": str(tmp_path / "missing"), "filler.naming": "odd"})  # fmt: skip
    assert {"field.code.pages", "copybook.dir", "filler.naming"} <= set(problems)


def test_a_growing_file_that_contradicts_its_detected_convention_names_the_option(tmp_path: Path) -> None:
    """Auto RDW convention: decided on the two records there are, then later records framed otherwise."""
    first = _records(_rows(2))
    path = _write(tmp_path / "in" / "GROW.V", frame_v(first))
    store = MemoryOffsetStore()
    task = _task(_config(tmp_path, **{"record.format": "V", "file.quiet.ms": "500"}), store)
    assert _after(_drain_committing(task, store)) == _rows(2)  # not held back until the file is quiet
    with path.open("ab") as handle:  # payload-only RDWs (Cobrix's default convention)
        handle.write(b"".join(len(r).to_bytes(2, "big") + b"\x00\x00" + r for r in _records(_rows(3, start=3))))
    time.sleep(0.03)
    out = _drain_committing(task, store)
    time.sleep(0.6)  # quiet: the broken bytes that no resync point follows are reported
    out += _drain_committing(task, store)
    errant = [r for r in out if isinstance(r, ErrantSourceRecord)]
    # The first misread record may fail to decode (too short) before a descriptor is broken.
    framing = [str(r.error) for r in errant if "set rdw.includes.header explicitly" in str(r.error)]
    assert framing, [str(r.error) for r in errant]
    assert framing[0].startswith("GROW.V: record ")
