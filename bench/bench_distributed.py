"""Distributed mode: failover after ``kill -9`` and throughput at one, two and three workers.

All on one broker, in one run, with real ``headwater distributed`` processes:

1. **Failover.** Three workers run twelve datagen tasks (four connectors, three tasks
   each, paced). One worker is killed with SIGKILL; the time is measured from the kill
   until every task it ran writes RUNNING again to the status topic (read back from
   the topic: the broker timestamps of the new RUNNING records). Four cases: dynamic
   members or static members (``worker.instance.id``), and either the survivors take the
   tasks over (the killed worker stays dead) or a supervisor restarts the killed worker
   at once.
2. **Throughput.** Four datagen connectors (twelve tasks, unpaced, a fixed count each)
   on one worker, then two, then three (each added worker joins the same cluster), timed
   from the ``POST`` of the connectors until the topics hold every record.

Usage: ``python bench/bench_distributed.py [--rounds R] [--events N] [--write]``. Uses
``$HEADWATER_BOOTSTRAP_SERVERS`` or starts a broker; ``--port-base P`` puts the workers'
REST ports at P, P+1, ... (default: free ports).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import typing as t
import uuid
from contextlib import ExitStack
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition
from report import machine_description, write_section
from source_run import messages_in

from headwater.connectors.datagen.client import message_count
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.launch.worker import DistributedWorkerProcess, free_port

SESSION_TIMEOUT_MS = 10_000  # the worker default
PLAIN = {"key.converter": "string", "value.converter": "json", "value.converter.schemas.enable": "false"}
CONNECTORS = 4
TASKS = 3


class Ports:
    """REST ports from ``--port-base`` on, or free ones."""

    def __init__(self, base: int | None) -> None:
        self.next = base

    def take(self) -> int:
        if self.next is None:
            return free_port()
        self.next += 1
        return self.next - 1


def _worker_id(worker: DistributedWorkerProcess) -> str:
    return f"{socket.gethostname()}:{worker.rest_port}"


def _placement(worker: DistributedWorkerProcess, names: t.Sequence[str]) -> dict[tuple[str, int], str | None]:
    placement: dict[tuple[str, int], str | None] = {}
    for name in names:
        for task in worker.status(name)["tasks"]:
            placement[(name, task["id"])] = task["worker_id"] if task["state"] == "RUNNING" else None
    return placement


def _all_running(worker: DistributedWorkerProcess, names: t.Sequence[str]) -> bool:
    placement = _placement(worker, names)
    return len(placement) == CONNECTORS * TASKS and None not in placement.values()


def _start_all(workers: t.Sequence[DistributedWorkerProcess], stack: ExitStack) -> None:
    for worker in workers:
        worker.start()
        stack.callback(worker.__exit__)


def _running_again(bootstrap: str, topic: str, since_ms: int, tasks: set[tuple[str, int]], timeout: float) -> float:
    """Seconds from ``since_ms`` until every task in ``tasks`` has a RUNNING status record
    written after ``since_ms`` (broker timestamps of the status topic)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:6]}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in partitions], timeout=10)
        consumer.assign(starts)
        waiting = {f"status-task-{name}-{task_id}": (name, task_id) for name, task_id in tasks}
        last_ms = since_ms
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None or message.value() is None:
                continue
            key = (message.key() or b"").decode()
            if key in waiting and orjson.loads(message.value()).get("state") == "RUNNING":
                stamp = message.timestamp()[1]
                if stamp >= since_ms:
                    del waiting[key]
                    last_ms = max(last_ms, stamp)
        if waiting:
            msg = f"tasks {sorted(waiting)} not RUNNING again within {timeout} s"
            raise TimeoutError(msg)
        return (last_ms - since_ms) / 1000
    finally:
        consumer.close()


def failover(bootstrap: str, folder: Path, ports: Ports, *, static: bool, restart: bool) -> tuple[float, int]:
    """Kill one of three workers; seconds until its tasks run again, and how many it ran."""
    group = f"fail-{uuid.uuid4().hex[:6]}"
    names = [f"src{i}-{group}" for i in range(CONNECTORS)]
    workers = [
        DistributedWorkerProcess(
            folder / group / letter,
            bootstrap,
            group,
            worker_overrides={"worker.instance.id": f"{group}-{letter}"} if static else {},
            rest_port=ports.take(),
        )
        for letter in "abc"
    ]
    with ExitStack() as stack:
        _start_all(workers, stack)
        a = workers[0]
        for name in names:
            settings = {"connector.class": "datagen", "tasks.max": str(TASKS), "topic.prefix": name}
            config = {**settings, "count": "-1", "rate": "30", **PLAIN}
            code, answer = a.post("/connectors", {"name": name, "config": config})
            assert code == 201, answer
        a.wait_until(lambda: _all_running(a, names), timeout=120, what="12 tasks RUNNING")
        # Until the joins' rebalances are over: the same placement for 3 s, over all
        # three workers (or 30 s). A task that started a moment before the kill would
        # write its first RUNNING after it and pass for a task running again.
        deadline = time.monotonic() + 30
        placement, stable_since = _placement(a, names), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = _placement(a, names)
            if now != placement:
                placement, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= 3 and len(set(placement.values())) == 3:
                break
        # The victim: whichever of the other two runs more tasks (never the one we ask).
        victim = max(workers[1:], key=lambda worker: list(placement.values()).count(_worker_id(worker)))
        tasks = {task for task, owner in placement.items() if owner == _worker_id(victim)}
        killed_ms = int(time.time() * 1000)
        victim.kill()
        if restart:
            victim.start()
        elapsed = _running_again(bootstrap, f"{group}-status", killed_ms, tasks, timeout=120)
        for worker in workers:
            worker.stop()
    return elapsed, len(tasks)


def _datagen(events: int) -> dict[str, str]:
    return {"count": str(events), "keys": "20000", "batch.size": "2000"}


def _records(events: int) -> int:
    """Records (events plus tombstones) of the four connectors."""
    return CONNECTORS * message_count(DatagenConfig.model_validate(_datagen(events)))


def throughput(bootstrap: str, worker: DistributedWorkerProcess, events: int) -> tuple[float, dict[str, int]]:
    """Records/s of 12 datagen tasks (4 connectors) on the cluster ``worker`` is in, and
    how many tasks each worker ran."""
    run = uuid.uuid4().hex[:6]
    names = [f"tp{i}-{run}" for i in range(CONNECTORS)]
    datagen = _datagen(events)
    expected = _records(events)
    topics = [f"{name}.{table}" for name in names for table in ("customers", "orders", "products")]
    started = time.monotonic()
    for name in names:
        config = {"connector.class": "datagen", "tasks.max": str(TASKS), "topic.prefix": name, **datagen, **PLAIN}
        code, answer = worker.post("/connectors", {"name": name, "config": config})
        assert code == 201, answer
    deadline = time.monotonic() + 600
    while messages_in(bootstrap, set(topics).__contains__) < expected:
        if time.monotonic() > deadline:
            msg = f"only {messages_in(bootstrap, set(topics).__contains__)} of {expected} records after 600 s"
            raise TimeoutError(msg)
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    spread: dict[str, int] = {}
    for owner in _placement(worker, names).values():
        spread[owner or "none"] = spread.get(owner or "none", 0) + 1
    for name in names:
        worker.delete(f"/connectors/{name}")
    return expected / elapsed, spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events", type=int, default=60_000, help="datagen events per connector (x4)")
    parser.add_argument("--port-base", type=int, default=None)
    parser.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    args = parser.parse_args()

    from headwater.connectors.launch.broker import LocalKafka, find_free_port

    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="hw-bench-dist-"))
    ports = Ports(args.port_base)
    bootstrap = os.environ.get("HEADWATER_BOOTSTRAP_SERVERS")
    broker = None
    if not bootstrap:
        broker = LocalKafka(folder / "kafka", port=find_free_port(), controller_port=find_free_port())
        bootstrap = broker.start()
    try:
        cases = {
            ("dynamic", False): "dynamic members, survivors take over",
            ("static", False): "static members (`worker.instance.id`), survivors take over",
            ("dynamic", True): "dynamic members, killed worker restarted at once",
            ("static", True): "static members (`worker.instance.id`), killed worker restarted at once",
        }
        failovers: dict[tuple[str, bool], list[float]] = {case: [] for case in cases}
        moved: dict[tuple[str, bool], list[int]] = {case: [] for case in cases}
        for round_ in range(args.rounds):
            for case in cases:
                seconds, count = failover(bootstrap, folder, ports, static=case[0] == "static", restart=case[1])
                failovers[case].append(seconds)
                moved[case].append(count)
                print(f"round {round_ + 1} {cases[case]}: {seconds:.1f} s for {count} tasks", file=sys.stderr)

        rates: dict[int, list[float]] = {1: [], 2: [], 3: []}
        spreads: dict[int, list[int]] = {}
        group = f"tp-{uuid.uuid4().hex[:6]}"
        workers = [
            DistributedWorkerProcess(folder / group / str(i), bootstrap, group, rest_port=ports.take())
            for i in range(3)
        ]
        with ExitStack() as stack:
            for count, worker in enumerate(workers, start=1):
                worker.start()
                stack.callback(worker.__exit__)
                time.sleep(3)  # the join's rebalance, before the clock starts
                for round_ in range(args.rounds):
                    rate, spread = throughput(bootstrap, workers[0], args.events)
                    rates[count].append(rate)
                    spreads[count] = sorted(spread.values(), reverse=True)
                    print(f"{count} worker(s), round {round_ + 1}: {rate:,.0f} records/s {spread}", file=sys.stderr)
            for worker in workers:
                worker.stop()
    finally:
        if broker is not None:
            broker.stop()

    records = _records(args.events)
    lines = [
        "## Distributed mode (failover after kill -9, throughput by worker count)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} with `python bench/bench_distributed.py --rounds {args.rounds} "
        f"--events {args.events}`: {machine_description()}; single-node Kafka 4.1.1 (KRaft) on loopback, real "
        "`headwater distributed` processes, `connect.protocol=sessioned` (cooperative), "
        f"`session.timeout.ms={SESSION_TIMEOUT_MS}` (the default). All measured in one run on one broker; "
        f"1-minute load average {load_before:.1f} before the run and {os.getloadavg()[0]:.1f} after it "
        "(other jobs share the machine).",
        "",
        f"**Failover**: three workers, {CONNECTORS * TASKS} paced datagen tasks; one worker is killed with SIGKILL. "
        "Time from the kill until every task it ran has written RUNNING again to the status topic "
        f"(broker timestamps), each of {args.rounds} rounds:",
        "",
        "| case | seconds (each round) | tasks moved |",
        "|---|---:|---:|",
    ]
    for case, title in cases.items():
        each = " / ".join(f"{value:.1f}" for value in failovers[case])
        lines.append(f"| {title} | {each} | {' / '.join(map(str, moved[case]))} |")
    lines += [
        "",
        f"**Throughput**: {CONNECTORS} datagen connectors, {CONNECTORS * TASKS} tasks, {records:,} records in all "
        "(JSON values without schemas, unpaced), timed from the POSTs until the topics hold every record; "
        f"median of {args.rounds} rounds:",
        "",
        "| workers | records/s | vs one worker | tasks per worker (last round) |",
        "|---:|---:|---:|---|",
    ]
    base = statistics.median(rates[1])
    for count, values in rates.items():
        median = statistics.median(values)
        lines.append(f"| {count} | {median:,.0f} | {median / base:.2f} | {', '.join(map(str, spreads[count]))} |")
    lines += [
        "",
        "Reading: a worker killed with `kill -9` never leaves the group, so its slots move when its session "
        "expires (`session.timeout.ms`) plus a cooperative rebalance, static member or not; a lower session "
        "timeout fails over faster at the price of false alarms on a busy machine. A static member that a "
        "supervisor restarts takes its own slots back at once, with no rebalance (the other workers' tasks "
        "never stop); a dynamic one joins as a new member and the group first waits out the dead member's "
        "session. Throughput: datagen tasks are CPU-bound Python (one core per worker process at most, under "
        "the GIL), so extra workers help only as far as there are free cores; on a machine shared with "
        "other jobs the numbers move with their load.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        write_section(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
