"""``mainframe-copybook`` with ``segment.children``: one nested event per root, offsets at root boundaries."""

from __future__ import annotations

import time
import typing as t
from pathlib import Path

import pytest

from headwater.codecs.copybook import (
    DecodeError,
    RecordFormat,
    RecordFormatOptions,
    SegmentHierarchyError,
    encode_record,
    frame_vb,
    parse_copybook,
    split_records,
)
from headwater.conformance.emulators.mainframe import COMPANIES_CPY, connector_config, final_state, generate
from headwater.conformance.standard import drain
from headwater.connectors.api import ErrantSourceRecord, SourceRecord, SourceTaskContext
from headwater.connectors.errors import ConfigError
from headwater.connectors.loading import parse_connector
from headwater.connectors.mainframe import MainframeCopybookTask
from headwater.connectors.mainframe.config import MainframeCopybookConfig
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore, offset_key

NAME = "source"
SEED = 11
COUNT = 40
LAYOUT = parse_copybook(COMPANIES_CPY)
ROOT_ID = "C".encode("cp037")[0]


def _config(keys: dict[str, str], **overrides: str) -> MainframeCopybookConfig:
    return MainframeCopybookConfig.model_validate({**keys, "poll.interval.ms": "10", "batch.size": "7", **overrides})


def _task(config: MainframeCopybookConfig, store: MemoryOffsetStore) -> MainframeCopybookTask:
    return MainframeCopybookTask(config, SourceTaskContext(NAME, 0, ConnectorOffsets(store, NAME)))


def _commit(task: MainframeCopybookTask, store: MemoryOffsetStore, records: t.Sequence[t.Any]) -> None:
    """What the runtime does after Kafka acknowledged ``records``: store the latest offsets, call commit()."""
    latest = {offset_key(NAME, r.partition): (r.partition, r.offset) for r in records}
    store.put_many({key: offset for key, (_partition, offset) in latest.items()})
    task.commit(list(latest.values()))


def _after(records: t.Iterable[t.Any]) -> list[dict[str, t.Any]]:
    return [r.value["after"] for r in records if isinstance(r, SourceRecord)]


def _expected(count: int = COUNT) -> list[dict[str, t.Any]]:
    return [entry["row"] for entry in final_state("hierarchical", SEED, count=count)]


def _scenario(tmp_path: Path, count: int = COUNT) -> tuple[dict[str, str], Path, bytes]:
    files = generate("hierarchical", SEED, tmp_path / "hierarchical", count=count)
    path = files.data[0]
    return connector_config(files, "companies"), path, path.read_bytes()


def _errors(keys: dict[str, str]) -> dict[str, str]:
    connector_class = "headwater.connectors.mainframe:MainframeCopybookConnector"
    document = {"name": "bad", "config": {"connector.class": connector_class, **keys}}
    with pytest.raises(ConfigError) as caught:
        parse_connector(document)
    return {error.key: error.message for error in caught.value.errors}


# ----------------------------------------------------------------------------- config


def test_config_maps_segment_children_to_the_codec(tmp_path: Path) -> None:
    keys, _path, _data = _scenario(tmp_path, count=1)
    options = _config(keys).decode_options()
    assert options.segment_children == (("COMPANY", ("DEPARTMENT", "CONTACT")), ("DEPARTMENT", ("EMPLOYEE",)))
    assert _config(keys, **{"segment.children": ""}).decode_options().segment_children == ()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"segment.children": "COMPANY"}, "expected PARENT=CHILD1,CHILD2 entries separated by ';'"),
        ({"segment.children": "COMPANY=DEPARTMENT,BRANCH"}, "BRANCH is not a REDEFINES named in segment_map"),
        ({"segment.children": "COMPANY=EMPLOYEE;DEPARTMENT=EMPLOYEE"}, "EMPLOYEE has two parents"),
        ({"segment.map": ""}, "needs segment.field and segment.map"),
        ({"mode": "snapshot-diff"}, "works in append mode only"),
        ({"key.fields": "EMP_ID"}, "key field EMP_ID is inside the child segment EMPLOYEE"),
    ],
)
def test_config_rejects_bad_segment_children_under_that_key(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    keys, _path, _data = _scenario(tmp_path, count=1)
    errors = _errors({**keys, **overrides})
    assert message in errors.get("segment.children", ""), errors


# ----------------------------------------------------------------------------- events and offsets


def test_one_event_per_company_with_offsets_at_root_boundaries(tmp_path: Path) -> None:
    keys, _path, data = _scenario(tmp_path)
    records = drain(_task(_config(keys, **{"file.quiet.ms": "0"}), MemoryOffsetStore()), timeout=20)
    assert all(isinstance(r, SourceRecord) for r in records)
    assert _after(records) == _expected()
    assert [r.key for r in records] == [{"COMPANY_ID": row["COMPANY_ID"]} for row in _expected()]
    physical = list(split_records(data, RecordFormatOptions(record_format=RecordFormat.VB)))
    roots = [raw.number for raw in physical if raw.data[0] == ROOT_ID]
    assert [r.value["source"]["record"] for r in records] == roots
    # Each offset stops just before the next root, and the last one at the end of the file.
    assert [r.offset["record"] for r in records] == [number - 1 for number in roots[1:]] + [len(physical)]


def test_the_open_hierarchy_waits_for_the_next_root_or_the_quiet_end(tmp_path: Path) -> None:
    keys, path, data = _scenario(tmp_path, count=6)
    physical = list(split_records(data, RecordFormatOptions(record_format=RecordFormat.VB)))
    path.write_bytes(b"")  # rewritten below as VB blocks of whole records
    last_root = max(index for index, raw in enumerate(physical) if raw.data[0] == ROOT_ID)
    assert last_root < len(physical) - 1, "the last company needs children for this test"
    head, tail = physical[: last_root + 1], physical[last_root + 1 :]
    path.write_bytes(frame_vb([raw.data for raw in head], records_per_block=3))
    store = MemoryOffsetStore()
    task = _task(_config(keys, **{"file.quiet.ms": "600000"}), store)
    first = drain(task, timeout=10)
    expected = _expected(count=6)
    assert _after(first) == expected[:-1], "the sixth company is open: more children may follow"
    with path.open("ab") as handle:
        handle.write(frame_vb([raw.data for raw in tail], records_per_block=3))
    assert drain(task, timeout=10) == [], "children alone do not complete a hierarchy"
    _commit(task, store, first)
    task.stop()
    # Once the file is quiet, the last company is complete: a restart emits it whole.
    closing = _task(_config(keys, **{"file.quiet.ms": "0"}), store)
    assert _after(drain(closing, timeout=10)) == [expected[-1]]


@pytest.mark.parametrize("commit_share", [1.0, 0.5])
def test_restart_inside_a_hierarchy_resumes_at_its_root(tmp_path: Path, commit_share: float) -> None:
    keys, path, data = _scenario(tmp_path)
    physical = list(split_records(data, RecordFormatOptions(record_format=RecordFormat.VB)))
    expected = _expected()
    # Cuts inside child records of several companies (inside VB blocks too).
    cuts = [raw.offset + 5 for raw in physical[5::17] if raw.data[0] != ROOT_ID]
    assert len(cuts) >= 3
    for cut in cuts:
        path.write_bytes(data[:cut])
        store = MemoryOffsetStore()
        first = _task(_config(keys, **{"file.quiet.ms": "600000"}), store)
        seen = [r for r in drain(first, timeout=10) if isinstance(r, SourceRecord)]
        committed = seen[: int(len(seen) * commit_share)]
        if committed:
            _commit(first, store, committed)
        first.stop()  # abort: whatever was read after the committed offset is not durable
        path.write_bytes(data)
        resumed = drain(_task(_config(keys, **{"file.quiet.ms": "0"}), store), timeout=10)
        assert _after(committed) + _after(resumed) == expected, f"cut at byte {cut}"


# ----------------------------------------------------------------------------- bad records


def _segment(segment_id: str, company_id: int, **group: t.Any) -> bytes:
    (name, value), = group.items()  # fmt: skip
    return encode_record(LAYOUT, {"SEGMENT_ID": segment_id, "COMPANY_ID": company_id, name: value})


def test_bad_records_are_held_with_their_hierarchy_and_orphans_are_errant(tmp_path: Path) -> None:
    keys, path, _data = _scenario(tmp_path, count=1)
    salary_byte = 1 + 8 + 6 + 30  # first byte of the packed SALARY
    bad_employee = bytearray(_segment("E", 2, EMPLOYEE={"EMP_ID": 7, "EMP_NAME": "BAD", "SALARY": 1}))
    bad_employee[salary_byte] = 0xAB
    records = [
        _segment("P", 1, CONTACT={"CONTACT_NAME": "EARLY", "PHONE": "1"}),  # before the first root
        _segment("C", 2, COMPANY={"COMPANY_NAME": "ACME", "REGISTERED": 20200101}),
        _segment("D", 2, DEPARTMENT={"DEPT_CODE": "D001", "DEPT_NAME": "SALES", "BUDGET": 5}),
        bytes(bad_employee),
        _segment("E", 2, EMPLOYEE={"EMP_ID": 8, "EMP_NAME": "GOOD", "SALARY": 2}),
        _segment("C", 3, COMPANY={"COMPANY_NAME": "GLOBEX", "REGISTERED": 20210101}),
    ]
    path.write_bytes(frame_vb(records, records_per_block=2))
    out = drain(_task(_config(keys, **{"file.quiet.ms": "0"}), MemoryOffsetStore()), timeout=10)
    kinds = [type(r).__name__ for r in out]
    assert kinds == ["ErrantSourceRecord", "ErrantSourceRecord", "SourceRecord", "SourceRecord"]
    early, bad, acme, globex = out
    assert isinstance(early, ErrantSourceRecord)
    assert isinstance(early.error, SegmentHierarchyError)
    assert "record 1 at byte offset" in str(early.error)
    assert "before the first root" in str(early.error)
    assert early.offset["record"] == 1
    assert isinstance(bad, ErrantSourceRecord)
    assert isinstance(bad.error, DecodeError)
    assert bad.raw == bytes(bad_employee)
    # Held with its hierarchy: committing it cannot skip the company read before it.
    assert bad.offset == acme.offset
    assert acme.offset["record"] == 5
    assert [e["EMP_NAME"] for e in acme.value["after"]["COMPANY"]["DEPARTMENT"][0]["EMPLOYEE"]] == ["GOOD"]
    assert globex.value["after"]["COMPANY"] == {
        "COMPANY_NAME": "GLOBEX",
        "REGISTERED": 20210101,
        "DEPARTMENT": [],
        "CONTACT": [],
    }


def test_emulator_cli_generates_the_hierarchical_scenario(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from headwater.connectors.commands.emulator import emulator

    runner = CliRunner()
    args = ["--scenario", "hierarchical", "--seed", str(SEED), "--count", "3"]
    result = runner.invoke(emulator, ["generate", "mainframe", *args, "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)
    assert config["segment.children"] == "COMPANY=DEPARTMENT,CONTACT;DEPARTMENT=EMPLOYEE"
    records = drain(_task(_config(config), MemoryOffsetStore()), timeout=10)
    result = runner.invoke(emulator, ["final-state", "mainframe", *args])
    assert result.exit_code == 0, result.output
    expected = [json.loads(line)["row"] for line in result.stdout.splitlines()]
    assert json.loads(json.dumps(_after(records), default=float)) == expected


def test_finished_file_emits_its_last_hierarchy_and_is_deleted_after_commit(tmp_path: Path) -> None:
    keys, path, _data = _scenario(tmp_path, count=5)
    store = MemoryOffsetStore()
    task = _task(_config(keys, **{"finished.file.action": "delete", "file.quiet.ms": "0"}), store)
    records = drain(task, timeout=10)
    assert _after(records) == _expected(count=5)
    assert path.exists(), "not durable yet"
    _commit(task, store, records)
    assert not path.exists()


def test_a_broken_block_ends_the_open_hierarchy_and_the_next_roots_are_assembled(tmp_path: Path) -> None:
    """A framing error inside a hierarchical file: the bad block goes out as bad bytes, after
    the hierarchy read so far; companies after it are whole again, and a restart re-sends nothing."""
    keys, path, data = _scenario(tmp_path)
    at, blocks = 0, []
    while at + 4 <= len(data):
        blocks.append(at)
        at += int.from_bytes(data[at : at + 2], "big")
    broken = bytearray(data)
    third = blocks[3]
    broken[third + 2] = 0x01  # BDW bytes 3-4 must be zero
    path.write_bytes(bytes(broken))
    store = MemoryOffsetStore()
    config = _config(keys)
    task = _task(config, store)
    out: list[t.Any] = []
    # The last company is emitted only at a folder scan that finds the file quiet (at most
    # every poll.interval.ms): poll by wall time, not a number of calls, until nothing comes.
    deadline, idle_since = time.monotonic() + 30, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - idle_since < 1:
        batch = task.poll()
        _commit(task, store, batch)
        out += batch
        if batch:
            idle_since = time.monotonic()
        time.sleep(0.005)
    errant = [r for r in out if isinstance(r, ErrantSourceRecord) and "BDW" in str(r.error)]
    assert len(errant) == 1
    assert errant[0].raw == bytes(broken[third : blocks[4]])
    rows = _after(out)
    expected = _expected()
    assert rows[0] == expected[0]
    assert rows[-1] == expected[-1]  # companies after the gap are assembled whole
    assert len({r["COMPANY_ID"] for r in rows}) == len(rows)
    assert drain(_task(config, store), timeout=5) == []
