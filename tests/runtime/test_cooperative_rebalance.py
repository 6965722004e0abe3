"""Incremental cooperative rebalancing on real ``headwater distributed`` processes.

Three workers run twelve tasks (three datagen connectors and a file sink, three tasks
each); a fourth worker joins. Only the tasks whose slot moves to the new worker stop
(once, on their old worker) and start (once, on the new one); every other task keeps
running untouched, and afterwards each task runs on exactly one worker. Each worker's
own log is the record of what it started and stopped.
"""

from __future__ import annotations

import random
import re
import socket
import time
import typing as t
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest

from headwater.connectors.launch.worker import DistributedWorkerProcess
from headwater.connectors.runtime.distributed import task_slot

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FAST = {
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "1000",
    "consumer.session.timeout.ms": "6000",
    "consumer.heartbeat.interval.ms": "1000",
}
PLAIN = {"key.converter": "string", "value.converter": "json", "value.converter.schemas.enable": "false"}
EVENT = re.compile(r"(started|stopped) task (\S+)-(\d+) \(slot \d+\)")

Task = tuple[str, int]


def _worker_id(worker: DistributedWorkerProcess) -> str:
    return f"{socket.gethostname()}:{worker.rest_port}"


def _placement(worker: DistributedWorkerProcess, names: t.Sequence[str]) -> dict[Task, str | None]:
    """Each task's worker id, or None while it is not RUNNING."""
    placement: dict[Task, str | None] = {}
    for name in names:
        for task in worker.status(name)["tasks"]:
            placement[(name, task["id"])] = task["worker_id"] if task["state"] == "RUNNING" else None
    return placement


def _events(worker: DistributedWorkerProcess, since: int = 0) -> tuple[Counter[Task], Counter[Task]]:
    """(starts, stops) per task in the worker's log from byte ``since`` on."""
    starts: Counter[Task] = Counter()
    stops: Counter[Task] = Counter()
    for kind, name, task_id in EVENT.findall(worker.log_path.read_bytes()[since:].decode()):
        (starts if kind == "started" else stops)[(name, int(task_id))] += 1
    return starts, stops


def _spread_names(group: str) -> list[str]:
    """Three source names and a sink name whose twelve task slots lie at most 7 apart, so
    that the newcomer's share (a quarter of the slots, in runs of 5 or 6) almost surely
    holds some tasks; with random names it holds none in about one run of 30."""
    rng = random.Random(group)
    while True:
        names = [*(f"src{rng.randrange(10_000)}-{group}" for _ in range(3)), f"sink{rng.randrange(10_000)}-{group}"]
        slots = sorted({task_slot(name, task_id, 64) for name in names for task_id in range(3)})
        if len(slots) == 12 and max((b - a) % 64 for a, b in zip(slots, slots[1:] + slots[:1], strict=True)) <= 7:
            return names


def _create(worker: DistributedWorkerProcess, name: str, config: dict[str, str], timeout: float = 60) -> None:
    """POST a connector as a Connect client does: a 409 while the workers' first rebalances
    leave no leader ("retry the request") is retried; any other answer but 201 fails."""
    deadline = time.monotonic() + timeout
    while True:
        code, answer = worker.post("/connectors", {"name": name, "config": config})
        if code == 409 and "retry" in str(answer) and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        assert code == 201, (code, answer)
        return


def _wait_for_lines(folder: Path, *, more_than: int, timeout: float = 60) -> int:
    """Wait until the file sink's output in ``folder`` has more than ``more_than`` lines."""
    deadline = time.monotonic() + timeout
    while (count := sum(path.read_bytes().count(b"\n") for path in folder.glob("*.jsonl"))) <= more_than:
        assert time.monotonic() < deadline, f"the sink wrote {count} lines, expected more than {more_than}"
        time.sleep(0.5)
    return count


def test_a_joining_worker_restarts_only_the_tasks_that_move_to_it(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    group = f"coop-{uuid.uuid4().hex[:6]}"
    # Exactly-once sources: a task moving to the newcomer is fenced there before it starts.
    overrides = {**FAST, "exactly.once.source.support": "enabled"}
    workers = [
        DistributedWorkerProcess(tmp_path / name, kafka_bootstrap_servers, group, worker_overrides=overrides)
        for name in "abcd"
    ]
    first, newcomer = workers[:3], workers[3]
    *sources, sink = names = _spread_names(group)
    with ExitStack() as stack:
        with ThreadPoolExecutor(3) as pool:
            for worker in pool.map(lambda worker: worker.start(), first):
                stack.callback(worker.__exit__)
        a = first[0]
        for name in sources:
            settings = {
                "connector.class": "datagen",
                "tasks.max": "3",
                "topic.prefix": name,
                "count": "-1",
                "rate": "20",
            }
            _create(a, name, {**settings, **PLAIN})
        settings = {"connector.class": "file", "tasks.max": "3", "file.dir": str(tmp_path / "out")}
        sink_config = {**settings, "topics.regex": f"src\\d+-{group}\\..*", **PLAIN}
        _create(a, sink, sink_config)
        a.wait_until(
            lambda: len(placement := _placement(a, names)) == 12 and None not in placement.values(),
            timeout=60,
            what="12 tasks RUNNING",
        )
        # The sink has read records before the join (its regex picks up the sources'
        # topics once they exist), so a partition that moves has offsets to hand over.
        written_before = _wait_for_lines(tmp_path / "out", more_than=0)
        before = _placement(a, names)
        marks = [worker.log_path.stat().st_size for worker in first]

        stack.callback(newcomer.__exit__)
        newcomer.start()
        newcomer.wait_until(
            lambda: re.search(r"assigned [1-9]\d* task slot", newcomer.log_path.read_text()) is not None,
            timeout=60,
            what="the new worker's share of the slots",
        )
        after: dict[Task, str | None] = {}

        def settled() -> bool:
            nonlocal after
            after = _placement(a, names)
            return len(after) == 12 and None not in after.values()

        a.wait_until(settled, timeout=60, what="every task RUNNING again after the join")
        time.sleep(1)  # a stray second restart would show in the logs now
        assert _placement(a, names) == after

        moved = {task for task in before if after[task] != before[task]}
        assert all(after[task] == _worker_id(newcomer) for task in moved), "slots only move to the new worker"
        assert len(moved) < 12, "an eager rebalance would have moved (restarted) every task"
        starts, stops = Counter[Task](), Counter[Task]()
        for worker, mark in zip(first, marks, strict=True):
            worker_starts, worker_stops = _events(worker, mark)
            starts.update(worker_starts)
            stops.update(worker_stops)
        assert not starts, f"the old workers restarted {sorted(starts)}"
        assert stops == Counter(moved), "exactly the moved tasks stop on their old worker, once each"
        assert _events(newcomer) == (Counter(moved), Counter()), "and start on the new worker, once each"

        # Every task runs on exactly one worker: started once more than stopped, on the
        # worker its status names.
        for worker in workers:
            worker_starts, worker_stops = _events(worker)
            running = {task for task in worker_starts if worker_starts[task] - worker_stops[task] == 1}
            assert all(worker_starts[task] - worker_stops[task] in (0, 1) for task in worker_starts)
            assert running == {task for task, owner in after.items() if owner == _worker_id(worker)}
        print(f"{len(moved)} of 12 tasks moved to the new worker: {sorted(moved)}")
        _wait_for_lines(tmp_path / "out", more_than=written_before)  # and it reads on after the move

        for worker in workers:
            assert worker.stop() == 0
    # Sink tasks flushed and committed before their slots (or partitions) moved: no
    # record was written twice, by the old owner and again by the new one.
    lines = [orjson.loads(line) for path in (tmp_path / "out").glob("*.jsonl") for line in path.open("rb")]
    assert lines, "the sink should have written records"
    written = Counter((line["topic"], line["partition"], line["offset"]) for line in lines)
    assert [record for record, times in written.items() if times > 1] == []
