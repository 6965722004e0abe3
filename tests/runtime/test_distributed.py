"""Distributed mode, end to end: real ``headwater distributed`` processes on a real broker.

Two workers in one group share connectors added over REST to either of them; a
``kill -9`` moves the dead worker's tasks to the survivor without losing a record;
DELETE and PUT reach the tasks on every worker; an invalid POST writes nothing.
"""

from __future__ import annotations

import socket
import time
import typing as t
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from headwater.conformance.file_sink import lines_landed, tables_off_final_state
from headwater.conformance.kafka import consume_all
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.launch.worker import DistributedWorkerProcess

# Quick failure detection for the tests: a dead worker leaves the cluster group, and its
# sink consumers their groups, after 6 s instead of 10 s and 45 s.
FAST = {
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "1000",
    "consumer.session.timeout.ms": "6000",
    "consumer.heartbeat.interval.ms": "1000",
}
JSON = {
    "key.converter": "json",
    "key.converter.schemas.enable": "false",
    "value.converter": "json",
    "value.converter.schemas.enable": "true",
}

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _worker_id(worker: DistributedWorkerProcess) -> str:
    return f"{socket.gethostname()}:{worker.rest_port}"


def _task_workers(worker: DistributedWorkerProcess, name: str) -> list[t.Any]:
    """The worker id of each task, or None while a task is not RUNNING."""
    status = worker.status(name)
    return [task["worker_id"] if task["state"] == "RUNNING" else None for task in status["tasks"]]


def _end_offsets(bootstrap: str, topics: t.Sequence[str]) -> dict[str, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:6]}"})
    try:
        ends = {}
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            ends[topic] = sum(
                consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in metadata.partitions
            )
        return ends
    finally:
        consumer.close()


def test_two_workers_share_tasks_and_a_kill_9_moves_them(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    group = f"dist-{uuid.uuid4().hex[:6]}"
    prefix = group
    out = tmp_path / "out"
    datagen = {
        "topic.prefix": prefix,
        "count": "30000",
        "rate": "1500",
        "keys": "2000",
        "seed": "5",
        "batch.size": "500",
    }
    source = {"name": f"src-{prefix}", "config": {"connector.class": "datagen", "tasks.max": "3", **datagen, **JSON}}
    sink = {
        "name": f"sink-{prefix}",
        "config": {"connector.class": "file", "topics.regex": f"{prefix}\\..*", "file.dir": str(out), **JSON},
    }
    config = DatagenConfig.model_validate(datagen)
    a = DistributedWorkerProcess(tmp_path / "a", kafka_bootstrap_servers, group, worker_overrides=FAST)
    b = DistributedWorkerProcess(tmp_path / "b", kafka_bootstrap_servers, group, worker_overrides=FAST)
    with ExitStack() as stack:
        stack.enter_context(a)
        stack.enter_context(b)
        status, info = a.post("/connectors", source)
        assert status == 201, info
        assert info["name"] == source["name"] and info["type"] == "source"
        assert info["tasks"] == [{"connector": source["name"], "task": i} for i in range(3)]
        assert a.post("/connectors", sink)[0] == 201
        assert a.post("/connectors", sink)[0] == 409

        # The other worker knows both connectors and every task's state.
        b.wait_until(lambda: b.get("/connectors") == sorted([source["name"], sink["name"]]), what="configs on b")
        assert b.get(f"/connectors/{source['name']}/config")["topic.prefix"] == prefix
        both = {_worker_id(a), _worker_id(b)}
        b.wait_until(
            lambda: (
                None not in _task_workers(b, source["name"]) + _task_workers(b, sink["name"])
                and set(_task_workers(b, source["name"]) + _task_workers(b, sink["name"])) == both
            ),
            timeout=90,
            what="all tasks RUNNING, spread over both workers",
        )
        status_on_a = a.status(source["name"])
        assert len(status_on_a["tasks"]) == 3
        assert status_on_a == b.status(source["name"])
        assert status_on_a["connector"]["state"] == "RUNNING"

        # A restart of a task on the other worker is forwarded there (as Kafka Connect does).
        remote = next(task for task in status_on_a["tasks"] if task["worker_id"] == _worker_id(b))
        assert a.post(f"/connectors/{source['name']}/tasks/{remote['id']}/restart") == (204, None)

        total = 30000 + 1  # at least: the events plus some tombstones
        b.wait_until(lambda: lines_landed(out) > 2000, what="records landing")
        b.kill()
        assert lines_landed(out) < total, "the crash should come before the end"

        survivor = _worker_id(a)
        a.wait_until(
            lambda: _task_workers(a, source["name"]) + _task_workers(a, sink["name"]) == [survivor] * 4,
            timeout=90,
            what="every task RUNNING on the survivor",
        )
        a.wait_until(
            lambda: not tables_off_final_state(out, prefix, config), timeout=180, what="final state after the kill"
        )
        assert a.stop() == 0
    assert "stopping gracefully" in a.log_path.read_text()


def test_put_and_delete_reach_the_tasks_on_every_worker(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    group = f"dist-{uuid.uuid4().hex[:6]}"
    name = f"src-{group}"
    settings = {"connector.class": "datagen", "tasks.max": "3", "topic.prefix": group, "count": "-1", "rate": "200"}
    topics = [f"{group}.customers", f"{group}.orders", f"{group}.products"]
    a = DistributedWorkerProcess(tmp_path / "a", kafka_bootstrap_servers, group, worker_overrides=FAST)
    b = DistributedWorkerProcess(tmp_path / "b", kafka_bootstrap_servers, group, worker_overrides=FAST)
    with a, b:
        code, _ = b.put(f"/connectors/{name}/config", settings)
        assert code == 201
        a.wait_until(
            lambda: set(_task_workers(a, name)) == {_worker_id(a), _worker_id(b)},
            timeout=90,
            what="three RUNNING tasks on both workers",
        )
        a.wait_until(
            lambda: _end_offsets(kafka_bootstrap_servers, [f"{group}.products"])[f"{group}.products"] > 50,
            what="products flowing",
        )

        # Fewer tables: the tasks restart with the new config, one task fewer.
        code, info = a.put(f"/connectors/{name}/config", {**settings, "tables": "customers,orders"})
        assert code == 200
        assert len(info["tasks"]) == 2
        b.wait_until(
            lambda: (
                len(b.status(name)["tasks"]) == 2
                and None not in _task_workers(b, name)
                and all(task["config"]["tables"] == "customers,orders" for task in b.get(f"/connectors/{name}/tasks"))
            ),
            timeout=60,
            what="two RUNNING tasks with the new config",
        )
        stopped = _wait_until_stable(kafka_bootstrap_servers, [f"{group}.products"])
        growing = _end_offsets(kafka_bootstrap_servers, topics[:2])
        a.wait_until(
            lambda: all(
                end > growing[topic] for topic, end in _end_offsets(kafka_bootstrap_servers, topics[:2]).items()
            ),
            what="the remaining tables still growing",
        )
        assert _end_offsets(kafka_bootstrap_servers, [f"{group}.products"]) == stopped

        # Delete from one worker: the tasks stop on both.
        code, _ = b.delete(f"/connectors/{name}")
        assert code == 204
        for worker in (a, b):
            worker.wait_until(lambda w=worker: w.request("GET", f"/connectors/{name}/status")[0] == 404, what="404")
            assert worker.get("/connectors") == []
        stopped = _wait_until_stable(kafka_bootstrap_servers, topics)
        time.sleep(2)
        assert _end_offsets(kafka_bootstrap_servers, topics) == stopped
        assert b.delete(f"/connectors/{name}")[0] == 404
        assert a.stop() == 0
        assert b.stop() == 0


def _wait_until_stable(bootstrap: str, topics: t.Sequence[str], timeout: float = 60) -> dict[str, int]:
    """The topics' end offsets once they stopped growing for 2 s (raises after ``timeout``)."""
    deadline = time.monotonic() + timeout
    previous = _end_offsets(bootstrap, topics)
    while time.monotonic() < deadline:
        time.sleep(2)
        current = _end_offsets(bootstrap, topics)
        if current == previous:
            return current
        previous = current
    msg = f"topics {topics} still growing after {timeout} s"
    raise TimeoutError(msg)


def test_an_invalid_post_answers_400_and_writes_nothing(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    group = f"dist-{uuid.uuid4().hex[:6]}"
    name = f"bad-{group}"
    bad = {"name": name, "config": {"connector.class": "datagen", "count": "many", "tabels": "orders"}}
    with DistributedWorkerProcess(tmp_path / "a", kafka_bootstrap_servers, group, worker_overrides=FAST) as worker:
        code, answer = worker.post("/connectors", bad)
        assert code == 400
        assert sorted(error["key"] for error in answer["errors"]) == ["count", "tabels"]
        assert "count" in answer["message"] and "tabels" in answer["message"]
        code, answer = worker.put(f"/connectors/{name}/config", {"connector.class": "no-such-plugin"})
        assert code == 400 and answer["errors"][0]["key"] == "connector.class"
        assert worker.get("/connectors") == []
        assert worker.request("GET", f"/connectors/{name}")[0] == 404
        assert worker.stop() == 0
    assert consume_all(kafka_bootstrap_servers, f"{group}-configs") == []


def test_a_static_worker_restarted_after_kill_9_takes_its_slots_back_without_a_rebalance(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    group = f"static-{uuid.uuid4().hex[:6]}"
    name = f"src-{group}"
    settings = {"connector.class": "datagen", "tasks.max": "3", "topic.prefix": group, "count": "-1", "rate": "200"}
    # A session long enough that the dead worker is not expired while it restarts.
    slow = {"session.timeout.ms": "60000", "heartbeat.interval.ms": "3000"}
    a = DistributedWorkerProcess(
        tmp_path / "a", kafka_bootstrap_servers, group, worker_overrides={**slow, "worker.instance.id": "a"}
    )
    b = DistributedWorkerProcess(
        tmp_path / "b", kafka_bootstrap_servers, group, worker_overrides={**slow, "worker.instance.id": "b"}
    )
    with ExitStack() as stack:
        stack.enter_context(a)
        stack.enter_context(b)
        assert a.post("/connectors", {"name": name, "config": settings})[0] == 201
        both = {_worker_id(a), _worker_id(b)}
        a.wait_until(
            lambda: None not in _task_workers(a, name) and set(_task_workers(a, name)) == both,
            timeout=90,
            what="the tasks RUNNING on both workers",
        )
        placement = _task_workers(a, name)
        rebalances_on_a = a.log_path.read_text().count("giving back")

        started_on_b = b.log_path.read_text().count("started task")
        b.kill()
        b.start()
        b.wait_until(
            lambda: b.log_path.read_text().count("started task") > started_on_b,
            timeout=30,
            what="the restarted worker to start its tasks again",
        )
        a.wait_until(lambda: _task_workers(a, name) == placement, timeout=30, what="the same placement as before")
        # The survivor kept its tasks running: it never gave its slots back.
        assert a.log_path.read_text().count("giving back") == rebalances_on_a
        assert a.stop() == 0
        assert b.stop() == 0


def _states(worker: DistributedWorkerProcess, name: str) -> tuple[str, list[tuple[str, str | None]]]:
    """The connector's state and each task's (state, worker id)."""
    status = worker.status(name)
    return status["connector"]["state"], [(task["state"], task["worker_id"]) for task in status["tasks"]]


def test_pause_stop_and_offsets_reset_reach_every_worker_and_a_moved_task_stays_paused(
    tmp_path: Path, kafka_bootstrap_servers: str
) -> None:
    group = f"ops-{uuid.uuid4().hex[:6]}"
    name = f"src-{group}"
    settings = {"connector.class": "datagen", "tasks.max": "3", "topic.prefix": group, "count": "-1", "rate": "200"}
    topics = [f"{group}.customers", f"{group}.orders", f"{group}.products"]
    a = DistributedWorkerProcess(tmp_path / "a", kafka_bootstrap_servers, group, worker_overrides=FAST)
    b = DistributedWorkerProcess(tmp_path / "b", kafka_bootstrap_servers, group, worker_overrides=FAST)
    both = {_worker_id(a), _worker_id(b)}

    def spread(state: str) -> t.Callable[[], bool]:
        def check() -> bool:
            connector, tasks = _states(a, name)
            return (
                connector == ("RUNNING" if state == "RUNNING" else state)
                and len(tasks) == 3
                and all(task_state == state for task_state, _ in tasks)
                and {worker_id for _, worker_id in tasks} == both
            )

        return check

    def seqs() -> dict[str, int]:
        return {
            entry["partition"]["table"]: entry["offset"]["seq"]
            for entry in a.get(f"/connectors/{name}/offsets")["offsets"]
        }

    with ExitStack() as stack:
        stack.enter_context(a)
        stack.enter_context(b)
        assert a.post("/connectors", {"name": name, "config": settings})[0] == 201
        a.wait_until(spread("RUNNING"), timeout=90, what="three RUNNING tasks on both workers")

        # Pause through one worker: the tasks on both stop producing.
        assert b.request("PUT", f"/connectors/{name}/pause") == (202, None)
        a.wait_until(spread("PAUSED"), what="every task PAUSED, on both workers")
        paused = _wait_until_stable(kafka_bootstrap_servers, topics)
        time.sleep(2)
        assert _end_offsets(kafka_bootstrap_servers, topics) == paused
        assert b.request("DELETE", f"/connectors/{name}/offsets")[0] == 400

        assert a.request("PUT", f"/connectors/{name}/resume") == (202, None)
        a.wait_until(spread("RUNNING"), what="every task RUNNING again")
        a.wait_until(
            lambda: all(end > paused[topic] for topic, end in _end_offsets(kafka_bootstrap_servers, topics).items()),
            what="every table growing again",
        )

        # Stop through one worker: no task runs anywhere, the config stays; then reset.
        assert b.request("PUT", f"/connectors/{name}/stop") == (204, None)
        assert _states(a, name) == ("STOPPED", [])
        assert a.get(f"/connectors/{name}")["tasks"] == []
        stopped = _wait_until_stable(kafka_bootstrap_servers, topics)
        before = seqs()
        assert sorted(before) == ["customers", "orders", "products"]
        assert a.request("DELETE", f"/connectors/{name}/offsets")[0] == 200
        assert b.get(f"/connectors/{name}/offsets") == {"offsets": []}
        assert b.request("PUT", f"/connectors/{name}/resume") == (202, None)
        a.wait_until(spread("RUNNING"), what="the tasks RUNNING again after stop")
        a.wait_until(lambda: len(seqs()) == 3, what="offsets stored again")
        after = seqs()
        assert all(after[table] < before[table] for table in before), (before, after)
        assert all(end > stopped[topic] for topic, end in _end_offsets(kafka_bootstrap_servers, topics).items())

        # Paused tasks moving off a killed worker stay paused on the survivor.
        assert a.request("PUT", f"/connectors/{name}/pause") == (202, None)
        a.wait_until(spread("PAUSED"), what="every task PAUSED before the kill")
        paused = _wait_until_stable(kafka_bootstrap_servers, topics)
        b.kill()
        survivor = _worker_id(a)
        a.wait_until(
            lambda: _states(a, name) == ("PAUSED", [("PAUSED", survivor)] * 3),
            timeout=90,
            what="every task PAUSED on the survivor",
        )
        time.sleep(2)
        assert _end_offsets(kafka_bootstrap_servers, topics) == paused

        # initial_state (KIP-980): a connector created STOPPED starts no task.
        other = {"name": f"other-{group}", "config": {**settings, "topic.prefix": f"other-{group}"}}
        code, answer = a.post("/connectors", {**other, "initial_state": "SLEEPING"})
        assert code == 400 and answer["errors"][0]["key"] == "initial_state"
        code, info = a.post("/connectors", {**other, "initial_state": "STOPPED"})
        assert code == 201 and info["tasks"] == []
        a.wait_until(lambda: _states(a, other["name"]) == ("STOPPED", []), what="the new connector STOPPED")
        assert a.stop() == 0
