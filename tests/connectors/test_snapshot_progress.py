"""Snapshot progress (issue 9, issue 14): the SAP and Oracle sources report ``context.progress``.

The tasks run against their emulators with a :class:`TaskReport` as the status, the
object a worker puts in the task's REST status and status-topic entry.
"""

from __future__ import annotations

import logging
import typing as t

import pytest

from headwater.conformance.emulators.oracle import LogMinerEmulator
from headwater.conformance.standard import drain
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask
from headwater.connectors.runtime.offsets import ConnectorOffsets, MemoryOffsetStore
from headwater.connectors.runtime.status import TaskReport
from headwater.connectors.sap import SapRfcTableConnector, SapRfcTableTask


def test_sap_snapshot_reports_rows_of_the_estimate_and_logs_start_and_end(caplog: pytest.LogCaptureFixture) -> None:
    raw = {"tables": "MARA", "emulator.scenario": "large", "emulator.count": "1200", "page.size": "100"}
    config = SapRfcTableConnector.config_class.model_validate({"poll.interval.ms": "0", **raw})
    task_config = SapRfcTableConnector(config).task_configs(1)[0]
    report = TaskReport()
    context = SourceTaskContext("sap-test", 0, ConnectorOffsets(MemoryOffsetStore(), "sap-test"), status=report)
    task = SapRfcTableTask(task_config, context)
    seen: list[tuple[float, float | None]] = []
    original = report.progress

    def spy(done: float, total: float | None, unit: str, what: str | None) -> None:
        seen.append((done, total))
        original(done, total, unit, what)

    report.progress = spy  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="headwater.connectors.sap.task"):
        try:
            records = drain(task, timeout=60)
        finally:
            task.stop()
    assert len([r for r in records if isinstance(r, SourceRecord)]) == 1200
    progress = report.to_json()["progress"]
    assert progress == progress | {"done": 1200, "total": 1200, "unit": "rows", "eta_s": 0, "what": "table MARA"}
    assert len(seen) > 3 and [done for done, _ in seen] == sorted(done for done, _ in seen), "it grows page by page"
    messages = [record.getMessage() for record in caplog.records]
    assert "snapshot of MARA started (about 1200 rows)" in messages
    assert any(m.startswith("snapshot of MARA done: 1200 rows in ") for m in messages), messages


class _Offsets:
    def offset(self, partition: t.Mapping[str, t.Any]) -> None:
        return None


def test_oracle_snapshot_reports_rows_per_table(caplog: pytest.LogCaptureFixture) -> None:
    config = OracleLogMinerConfig.model_validate(
        {"emulator.scenario": "simple", "emulator.seed": 3, "table.exclude.list": r"SHOP\.GEO"}
    )
    emulator = LogMinerEmulator("simple", 3)
    report = TaskReport()
    task = OracleLogMinerTask(config, SourceTaskContext("oracle-test", 0, _Offsets(), status=report), client=emulator)
    snapshot: list[SourceRecord] = []
    with caplog.at_level(logging.INFO, logger="headwater.connectors.oracle.task"):
        for _ in range(1000):
            batch = task.poll()
            snapshot.extend(r for r in batch if isinstance(r, SourceRecord) and r.value and r.value["op"] == "r")
            if any(isinstance(r, SourceRecord) and r.value and r.value["source"]["snapshot"] == "last" for r in batch):
                break
    progress = report.to_json()["progress"]
    assert progress["done"] == len(snapshot) > 0 and progress["unit"] == "rows" and progress["total"] is None
    assert progress["what"].endswith("(2/2)")
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("snapshot of 2 table(s) at SCN") and m.endswith("started") for m in messages), messages
    done = [m for m in messages if m.startswith("snapshot of SHOP.") and " done: " in m]
    assert len(done) == 2 and sum(int(m.split(" done: ")[1].split()[0]) for m in done) == len(snapshot)
