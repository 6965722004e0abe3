"""A VB dataset through a real worker process and Kafka into the file sink, with a ``kill -9`` midway."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from headwater.codecs.envelope import canonical_key, fold
from headwater.conformance.emulators.mainframe import connector_config, final_state, generate
from headwater.connectors.launch.worker import WorkerProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

COUNT = 50_000
SEED = 21


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # the sink may be writing the last line right now
    # parse_float=Decimal: the balances must compare exactly, scale included.
    return [json.loads(line, parse_float=Decimal) for line in complete.splitlines()]


def test_vb_file_survives_kill_9_and_restart(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    topic = f"mainframe.customers.{uuid.uuid4().hex[:6]}"
    files = generate("customers-vb", SEED, tmp_path / "demo", count=COUNT)
    out = tmp_path / "out"
    source = {
        "name": f"src-{topic}",
        "config": {
            "connector.class": "headwater.connectors.mainframe:MainframeCopybookConnector",
            **connector_config(files, topic),
            "batch.size": "2000",
        },
    }
    sink = {"name": f"sink-{topic}", "config": {"connector.class": "file", "topics": topic, "file.dir": str(out)}}
    sink_file = out / f"{topic}.jsonl"
    # Static membership: the restart need not wait out a rebalance the kill may interrupt.
    static = {"worker.instance.id": f"w-{topic}"}
    worker = WorkerProcess(tmp_path / "work", kafka_bootstrap_servers, [source, sink], worker_overrides=static)
    with worker:
        worker.wait_until(lambda: len(_lines(sink_file)) > COUNT // 5, timeout=180, what="some records in the sink")
        landed_before_kill = len(_lines(sink_file))
        worker.kill()
    assert landed_before_kill < COUNT, "the crash should happen mid-stream (make COUNT larger)"
    with worker:
        worker.wait_until(lambda: worker.status(f"src-{topic}")["tasks"][0]["state"] == "RUNNING", what="RUNNING")
        expected = {
            canonical_key(entry["key"]): entry["row"] for entry in final_state("customers-vb", SEED, count=COUNT)
        }

        def done() -> bool:
            state = fold((line["key"], line["value"]) for line in _lines(sink_file))
            return len(state) >= len(expected) and len(_lines(sink_file)) >= COUNT

        worker.wait_until(done, timeout=300, what="every record in the sink")
        assert worker.stop() == 0
    lines = _lines(sink_file)
    assert len(lines) >= COUNT  # at least once: the uncommitted window may be replayed
    state = fold((line["key"], line["value"]) for line in lines)
    assert state == expected
