"""Distributed task configs: computed once by the connector's leader and stored in the config topic.

Two ``headwater distributed`` processes run the reference source: its task list lands in
the config topic as Kafka Connect's ``task-<name>-<n>``/``commit-<name>`` records, one
worker alone runs the connector (``start`` once), a reconfiguration request (the
partition count file changes) reaches the tasks on both workers, and ``alter_offsets``
refuses a bad ``PATCH .../offsets`` with a 400 before anything is written.
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest

from headwater.conformance.kafka import consume_all
from headwater.connectors.launch.worker import DistributedWorkerProcess

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
FAST = {
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "1000",
    "task.slots": "8",
    "plugin.packages": "reference_source",
}


def _running(worker: DistributedWorkerProcess, name: str, count: int) -> bool:
    tasks = worker.status(name)["tasks"]
    return len(tasks) == count and all(task["state"] == "RUNNING" for task in tasks)


def _config_records(bootstrap: str, topic: str, name: str) -> dict[str, object]:
    """The latest value of each key of ``name`` in the config topic, read from Kafka itself."""
    latest: dict[str, object] = {}
    for message in consume_all(bootstrap, topic, min_messages=1):
        key = message.key().decode()
        if key.endswith(name) or f"-{name}-" in key:
            value = message.value()
            latest[key] = json.loads(value) if value is not None else None
    return latest


def test_leader_stores_task_configs_and_reconfiguration_reaches_every_worker(
    tmp_path: Path, kafka_bootstrap_servers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", f"{HERE}:{__import__('os').environ.get('PYTHONPATH', '')}")
    group = f"tc-{uuid.uuid4().hex[:6]}"
    name = f"ref-{group}"
    partitions_file = tmp_path / "partitions"
    partitions_file.write_text("2")
    lifecycle = tmp_path / "lifecycle.log"
    config = {
        "connector.class": "reference_source:ReferenceSource",
        "tasks.max": "4",
        "topic": group,
        "count": "200",
        "partitions.file": str(partitions_file),
        "lifecycle.file": str(lifecycle),
        "idle.poll.ms": "200",
    }
    a = DistributedWorkerProcess(tmp_path / "a", kafka_bootstrap_servers, group, worker_overrides=FAST)
    b = DistributedWorkerProcess(tmp_path / "b", kafka_bootstrap_servers, group, worker_overrides=FAST)
    with ExitStack() as stack:
        stack.enter_context(a)
        stack.enter_context(b)
        status, info = a.post("/connectors", {"name": name, "config": config})
        assert status == 201, info
        assert info["tasks"] == [{"connector": name, "task": i} for i in range(2)]
        b.wait_until(lambda: _running(b, name, 2), timeout=60, what="two running tasks")

        records = _config_records(kafka_bootstrap_servers, f"{group}-configs", name)
        assert records[f"commit-{name}"]["tasks"] == 2  # type: ignore[index]
        stored = [records[f"task-{name}-{i}"]["properties"] for i in range(2)]  # type: ignore[index]
        assert [task["task.partitions"] for task in stored] == ["p0", "p1"]
        # Both workers answer from the committed list, secrets hidden (none here).
        assert a.get(f"/connectors/{name}/tasks") == b.get(f"/connectors/{name}/tasks")
        assert [task["config"]["task.partitions"] for task in b.get(f"/connectors/{name}/tasks")] == ["p0", "p1"]

        # The connector's monitoring thread sees a third partition and asks for new task configs.
        partitions_file.write_text("3")
        for worker in (a, b):
            worker.wait_until(lambda w=worker: _running(w, name, 3), timeout=60, what="three running tasks")
        owners = {task["worker_id"] for task in a.status(name)["tasks"]}
        assert len(owners) == 2, f"the three tasks should be spread over both workers: {owners}"
        records = _config_records(kafka_bootstrap_servers, f"{group}-configs", name)
        assert records[f"commit-{name}"]["tasks"] == 3  # type: ignore[index]
        lines = lifecycle.read_text().splitlines()
        # One worker at a time runs the connector (it moves only with a rebalance), and the
        # new list is computed once, by that worker, not by every worker.
        starts_and_stops = [line for line in lines if line in ("start", "stop")]
        assert starts_and_stops == ["start", "stop"] * (len(starts_and_stops) // 2) + ["start"], lines
        assert lines.count("task_configs 3") == 1, lines
        assert lines[0] == "start" and lines[-1] == "task_configs 3", lines

        # KIP-875: the connector refuses a bad offset with a 400 naming it; nothing is written.
        assert b.put(f"/connectors/{name}/stop", None)[0] in (202, 204)
        b.wait_until(lambda: b.status(name)["tasks"] == [], timeout=60, what="the stopped connector")
        before = b.get(f"/connectors/{name}/offsets")
        bad = {"offsets": [{"partition": {"partition": "p0"}, "offset": {"seq": 999}}]}
        code, answer = a.request("PATCH", f"/connectors/{name}/offsets", bad)
        assert code == 400, answer
        assert "offsets[p0].seq" in json.dumps(answer)
        assert b.get(f"/connectors/{name}/offsets") == before
        good = {"offsets": [{"partition": {"partition": "p0"}, "offset": {"seq": 5}}]}
        assert a.request("PATCH", f"/connectors/{name}/offsets", good)[0] == 200

        assert a.delete(f"/connectors/{name}")[0] == 204
        a.wait_until(lambda: lifecycle.read_text().splitlines()[-1] == "stop", timeout=30, what="stop()")
        lines = lifecycle.read_text().splitlines()
        assert lines.count("start") == lines.count("stop"), lines
