"""Benchmark: Oracle change events/s from the LogMiner emulator through the worker into Kafka.

Two emulator loads, each streamed from its first SCN (stored as the connector's offset):
``users``, the table and load of Redpanda Connect's published LogMiner benchmark (inserts
of a ten-column table, up to 10,000 rows a transaction; the published 50,000 msg/s), and
``bulk`` (seeded: 2,000 interleaved transactions of up to 50 DML statements on two tables
with every Oracle type, a few rollbacks). Measured in one run, on one broker:

* ``emulator only``: the emulator rendering and returning every ``V$LOGMNR_CONTENTS`` row
  once (what a database does; it runs in the worker's process here);
* ``task only``: the task's ``poll()`` loop over the same rows, already rendered: buffer
  per XID, parse, typed conversion, Debezium envelopes and schemas (no Kafka); once with the
  compiled code (``_credo``: the SQL_REDO reader, the conversion loop, the timestamp readers;
  when built) and once in pure Python;
* ``raw producer``: confluent-kafka sending as many pre-built messages of the same key and
  value sizes (the JSON of the real records), with the runtime's producer settings;
* ``worker``: the in-process :class:`~headwater.connectors.runtime.worker.Worker` running the
  ``oracle-logminer`` connector (JSON values with and without schemas), timed from start to a
  clean stop after the stored offset reached the end of the history. ``rows pre-rendered``
  hands the task the emulator whose rows the first step rendered (the database's cost left
  out, as with a real database on its own machine); ``emulator in the worker`` is the plain
  demo config, the emulator generating and rendering its history in the worker's process.

The task rows are each the best of three runs by CPU time, the pre-rendered worker rows the
best of five (this shared machine's speed varies by a third from run to run, for the same
code; every run is listed, and the reading quotes the median too); every worker run's topics are
counted afterwards (all events and tombstones, or the bench fails). Each row's runs take a
fresh process with the collector settings of the ``headwater`` command (as a worker process
starts: no other row's records, messages or load in its heap). Change events are the c/u/d envelopes
(tombstones are produced but not counted). Run:
``.venv/bin/python bench/bench_oracle_source.py [--seed 1] [--write]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

from baselines import produce_all
from report import machine_description, write_section
from source_run import bootstrap_servers, drop_topics, json_converters, messages_in

from headwater.codecs.converters import JsonConverter
from headwater.codecs.oracle import redo
from headwater.conformance.emulators.oracle import LogMinerEmulator
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.loading import parse_connector
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask
from headwater.connectors.runtime.offsets import ConnectorOffsets, offset_key
from headwater.connectors.runtime.process import tune_for_worker

SECTION = "## Oracle source (LogMiner emulator to Kafka)"
_JSON = "worker, rows pre-rendered, JSON schemas.enable=false"
_SCHEMAS = "worker, rows pre-rendered, JSON schemas.enable=true"
_DEMO = "worker, emulator in the worker (demo config), JSON schemas.enable=false"
ROUND = (
    "This round (the fourth, 2026-12-01) leaves the worker's code as it was. The emulator writes SQL_REDO"
    " with per-column writers made once per dictionary version and DATE and TIMESTAMP literals formatted by"
    " `isoformat` (where it writes what `strftime` does), and generates its history with each version's"
    " lookups made once: side by side, 21,107 -> 45,050 `users` rows and 20,710 -> 29,977 `bulk` rows"
    " rendered per CPU second, the same rows byte for byte on every scenario, the `users` history in about"
    " two thirds of the time; that moves the `emulator only` and `emulator in the worker` rows. The bench"
    " runs each row's runs in a fresh process now: before, the `users` worker runs followed the `bulk` rows"
    " and their own sample records and messages in one process, and the whole bench measured `users` at"
    " 42,232-48,606 events/s (five runs) minutes after a harness running `users` alone measured"
    " 56,495-66,723. One experiment pointed at the heap the earlier rows leave (55,219 events per CPU second"
    " after them, 69,610 with `malloc_trim` in between); its repeat minutes later did not (72,715-75,677"
    " without, 57,799-67,723 with), so the cause is not settled; a fresh process is what a worker is. The"
    " round before, side by side in one harness (the worker, rows pre-rendered, JSON schemas.enable=false, three"
    " runs a side a turn, best by CPU time; the turns alternate, so both sides meet the same phases of the"
    " machine), in events per CPU second, before -> after. The code before the round (a7d4b5a) against its"
    " first two changes (bb93a75), in a fast phase: `users` 62,718 -> 68,495, 64,377 -> 73,841, 58,998 ->"
    " 76,860 (ratios 1.09, 1.15, 1.30), `bulk` 28,304 -> 32,978, 28,008 -> 31,443 (1.17, 1.12); against all"
    " three (9062f0a), in a slow phase: `users` 48,702 -> 54,692, 42,948 -> 57,299, 51,597 -> 61,331 (1.12,"
    " 1.33, 1.19), and the task alone on `users` (best of five) 86,379 -> 119,872, 75,267 -> 141,897, 76,345"
    " -> 148,894 (1.39, 1.89, 1.95); those three against the fourth (2537318), in a fast phase: `users`"
    " 55,806 -> 68,585, 77,944 -> 84,988, 56,539 -> 78,033 (1.23, 1.09, 1.38). The changes: a plain change"
    " event (every column named in the table's order, each value readable: every statement of both loads) is"
    " read, converted and built (images, `source` block, key, envelope) by compiled code, `_credo.event`,"
    " instead of the parser's change object, the conversion loop and the Python that built the dicts; then"
    " runs of up to 512 changes of a transaction become their records in one call, `_credo.records` (the"
    " offset of each, the record's slots set directly, a delete's tombstone), instead of a generator, a"
    " function call and a dataclass `__init__` per change. Anything else (the first change of a table, a"
    " clause that is not every column in order, a value the compiled readers leave) takes the Python path,"
    " which tests compare both with on every scenario and on mined and mangled statements. The JSON writer"
    " matches a struct's fields with the dict's entries in order instead of looking each up by hash, writes"
    " into an inline buffer and is called by vectorcall (about 4% of a `users` value). The source runtime"
    " (every connector's) converts a run of at least 8 plain records (one topic, partition and schema"
    " objects, no headers, timestamp or Kafka partition, no transforms) with one call of each converter's new"
    " `from_connect_batch`, then produces them, instead of two converter calls and the runner's checks per"
    " record; a run a converter refuses goes record by record, so each bad record is named and dead-lettered."
    " Earlier rounds: until 2026-12-01 (third round) this bench's worker rows were about a fifth too high"
    " (without a stored offset the worker streamed from the emulator's current SCN, past the first sixth of"
    " the history, while the rate counted every event; each run now starts at the first SCN and its topics"
    " are counted); the second round took `users` from about 36,000 to 48,000-67,000 events per CPU"
    " second (the compiled JSON writer, VariableScaleDecimal read in C, the delivery callback in the"
    " producer's config, the `source` template)."
)
"""This round's side-by-side measurement (quoted by ``--write``; the table above it is the run itself)."""

PROFILE = (
    "Where the worker's time goes on `users` now (py-spy on the task's thread, rows pre-rendered,"
    " schemas.enable=false, 2026-12-01): the records built by compiled code (parse, conversion, envelope,"
    " record) about 41%, the JSON writers (compiled, called a run at a time) about 19%, producing about 8%"
    " (0.7 us a message; confluent-kafka's `produce_batch` measured no faster, 0.9-1.0 us, with its"
    " dicts), the runner's loop (freeing each polled batch most of it) about 10%, buffering per XID about"
    " 5%, the task's other Python (polls, generators, the transaction's `source`) about 9%, fetching the"
    " rows about 3%. Most of it is compiled work now; the next steps would be the JSON written from the"
    " parsed clause directly (no Python dicts between the two compiled steps) and the buffering per XID in"
    " compiled code."
)
"""Where the time goes (py-spy, quoted by ``--write``)."""


WORKER_RUNS = 5
"""Timed worker runs per pre-rendered row: this shared machine's speed varies by a third from
run to run (43,000-67,000 events/s for the same code, minutes apart), so the best and the
median of five say more than of three."""


class _FromStart:
    """A stored offset at the history's first SCN: stream all of it, no snapshot."""

    def __init__(self, scn: int) -> None:
        self.stored = {"scn": str(scn), "commit_scn": "", "snapshot_completed": True}

    def offset(self, partition: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
        return self.stored


def _settings(scenario: str, seed: int, prefix: str) -> dict[str, str]:
    return {
        "connector.class": "oracle-logminer",
        "emulator.scenario": scenario,
        "emulator.seed": str(seed),
        "topic.prefix": prefix,
        "table.exclude.list": "",
        "snapshot.mode": "no_data",
        "log.mining.sleep.time.ms": "10",
    }


def _rewind(emulator: LogMinerEmulator) -> LogMinerEmulator:
    emulator.visible_scn = emulator.history.snapshot_scn  # replay the history from its start
    return emulator


def _task_only(
    emulator: LogMinerEmulator, seed: int, keep: bool = False
) -> tuple[float, int, list[SourceRecord], dict[str, t.Any]]:
    """CPU seconds of ``poll()`` until caught up; the events, the records (with ``keep``:
    holding them all costs collector time, so timed runs drop them), the final offset."""
    settings = {k: v for k, v in _settings("bulk", seed, "bench").items() if k != "connector.class"}
    config = OracleLogMinerConfig.model_validate(settings)
    _rewind(emulator)
    context = SourceTaskContext("bench", 0, _FromStart(emulator.history.first_scn - 1))
    task = OracleLogMinerTask(config, context, client=emulator)
    events, idle = 0, 0
    records: list[SourceRecord] = []
    started = time.process_time()
    while idle < 2:
        batch = task.poll()
        for item in batch:
            if isinstance(item, SourceRecord):
                events += item.value is not None
                if keep:
                    records.append(item)
        caught_up = context.next_poll_delay_ms > 0
        context.next_poll_delay_ms = 0
        idle = idle + 1 if emulator.finished and caught_up else 0
    elapsed = time.process_time() - started
    assert task._last_offset is not None
    return elapsed, events, records, dict(task._last_offset)


def _worker(
    bootstrap: str,
    work: Path,
    settings: dict[str, str],
    first_scn: int,
    final: dict[str, t.Any],
    prepared: LogMinerEmulator | None,
) -> tuple[float, float]:
    """Wall and process CPU seconds (all the worker's threads, librdkafka's included) from
    the worker's start, streaming from ``first_scn``, to a clean stop after the stored offset
    reached ``final``."""
    connector = parse_connector({"name": settings["topic.prefix"], "config": settings})

    def factory(task_class: type[t.Any], config: t.Any, context: t.Any) -> t.Any:
        return (
            OracleLogMinerTask(config, context, client=_rewind(prepared)) if prepared else task_class(config, context)
        )

    worker = in_process_worker(bootstrap, work / settings["topic.prefix"], [connector], task_factory=factory)
    name = connector.framework.name
    # The history's first SCN as the stored offset (what a user sets through the REST offsets
    # API): without one, ``snapshot.mode=no_data`` streams from the current SCN, which the
    # emulator has moved ``reveal_scns`` past the history's start by then.
    start = _FromStart(first_scn - 1).stored
    worker.offset_store.put_many({offset_key(name, {"server": settings["topic.prefix"]}): start})
    offsets = ConnectorOffsets(worker.offset_store, name)
    started, cpu = time.perf_counter(), time.process_time()
    worker.start()
    try:
        while True:
            stored = [offset for _, offset in offsets.all()]
            # Inside a transaction the records' offsets carry its SCNs too, with the change's
            # ``tx_seq``; the offset after its last change has none.
            if any("tx_seq" not in o and all(o.get(k) == v for k, v in final.items()) for o in stored):
                break
            status = worker.status(name)
            if any(task["state"] == "FAILED" for task in status["tasks"]):
                raise RuntimeError(status)
            time.sleep(0.05)
    finally:
        assert worker.stop(60)
    return time.perf_counter() - started, time.process_time() - cpu


class _Workload(t.NamedTuple):
    scenario: str
    rows: int
    transactions: int
    events: int
    tombstones: int
    generated_s: float
    fetch_s: float
    task_s: float
    pure_s: float | None
    value_bytes: float
    raw_s: float
    runs: dict[str, tuple[float, float]]
    every: dict[str, list[tuple[float, float]]]  # each run's (wall, CPU) seconds, in the order run


def _rendered(scenario: str, seed: int) -> tuple[LogMinerEmulator, float, int, float]:
    """The emulator with every row of its history rendered once: the emulator, the seconds
    its history took to generate, the rows and the CPU seconds of rendering and fetching them."""
    started = time.perf_counter()
    emulator = LogMinerEmulator(scenario, seed)
    generated = time.perf_counter() - started
    emulator.reveal_all()
    start = emulator.history.first_scn - 1
    started = time.process_time()
    emulator.start_logminer(start, emulator.visible_scn)
    rows = sum(1 for _ in emulator.fetch_contents(start, emulator.visible_scn))
    fetch_s = time.process_time() - started
    # The rendered history is the database's: in a real deployment it lives in another
    # process. Here it would be the bulk of the worker's heap, and every full collection of
    # the cyclic garbage collector would walk it (about a sixth of the worker's CPU time,
    # measured with the collector off); moved out of the collector's view, it costs nothing.
    gc.collect()
    gc.freeze()
    return emulator, generated, rows, fetch_s


def _prepare(scenario: str, seed: int, bootstrap: str, full: bool) -> dict[str, t.Any]:
    """The rows that are not the worker (a process of their own): the emulator alone, the
    task alone (``full``: in pure Python too), the raw producer; and the final offset and
    message count every worker run must reach."""
    emulator, generated, rows, fetch_s = _rendered(scenario, seed)
    _, _, records, final = _task_only(emulator, seed, keep=True)  # the records, for the producer row
    gc.collect()
    gc.freeze()  # the bench's own objects too (freed by reference counting when dropped)
    # Best of three (by CPU time): this shared machine's speed varies by a quarter from run to run.
    task_s, events = min(_task_only(emulator, seed)[:2] for _ in range(3))
    pure_s = None
    if full:
        saved, redo.NATIVE_ENABLED = redo.NATIVE_ENABLED, False
        try:
            pure_s = min(_task_only(emulator, seed)[0] for _ in range(3))
        finally:
            redo.NATIVE_ENABLED = saved
    values = JsonConverter({"schemas.enable": "false"})
    keys = JsonConverter({"schemas.enable": "false"})
    messages = [
        (
            keys.from_connect_data(r.topic, r.key_schema, r.key),
            values.from_connect_data(r.topic, r.value_schema, r.value),
        )
        for r in records
    ]
    raw_topic = f"bench-oracle-raw-{uuid.uuid4().hex[:6]}"
    produce_all(bootstrap, raw_topic, messages[:1])  # the topic exists before the clock starts
    raw_s = produce_all(bootstrap, raw_topic, messages)
    drop_topics(bootstrap, lambda name: name == raw_topic)
    return {
        "rows": rows,
        "transactions": sum(1 for event in emulator.history.events if event.code == 7),  # COMMIT rows
        "events": events,
        "produced": len(messages),
        "generated_s": generated,
        "fetch_s": fetch_s,
        "task_s": task_s,
        "pure_s": pure_s,
        "value_bytes": sum(len(v or b"") for _, v in messages if v) / events,
        "raw_s": raw_s,
        "final": final,
        "first_scn": emulator.history.first_scn,
    }


def _worker_runs(
    scenario: str, seed: int, bootstrap: str, work: Path, label: str, prep: dict[str, t.Any]
) -> list[tuple[float, float]]:
    """One worker row's runs, in a process of their own: as a worker process starts, with
    only the database's rows in its heap, not the other rows' records and messages nor the
    other load's (whose leftovers the bench's frozen collector never frees). Once, a
    ``users`` run after the ``bulk`` rows in the same process took a third more CPU than
    after the same rows and ``malloc_trim``; a later pair, minutes on, showed the reverse
    (this machine's speed moves by as much): a fresh process takes the question away."""
    prepared = None if label == _DEMO else _rendered(scenario, seed)[0]
    settings = {
        **_settings(scenario, seed, f"bench-oracle-{uuid.uuid4().hex[:6]}"),
        **json_converters(label == _SCHEMAS),
    }
    first_scn, final, produced = prep["first_scn"], prep["final"], prep["produced"]
    timed = []
    for n in range(WORKER_RUNS if prepared else 1):  # best by CPU time (the emulator in the worker: one)
        prefix = f"{settings['topic.prefix']}-{n}"
        timed.append(_worker(bootstrap, work, {**settings, "topic.prefix": prefix}, first_scn, final, prepared))
        found = messages_in(bootstrap, lambda name, head=f"{prefix}.": name.startswith(head))
        if found != produced:
            msg = f"{label}: {found:,} messages in the {prefix}.* topics, {produced:,} expected"
            raise AssertionError(msg)
        drop_topics(bootstrap, lambda name, head=f"{prefix}.": name.startswith(head))
    return timed


def _in_child(job: dict[str, t.Any]) -> t.Any:
    """Run ``job`` (``_prepare`` or ``_worker_runs`` and their arguments) in a fresh Python
    process with the worker's collector settings; its JSON result."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, __file__, "--child", json.dumps(job), "--out", out.name]
        subprocess.run(command, check=True)
        return json.loads(Path(out.name).read_text())


def _measure(scenario: str, seed: int, bootstrap: str, work: Path, *, full: bool) -> _Workload:
    """One workload's rows of the table (``full``: the pure-Python task and the schemas run
    too), each part in a process of its own."""
    common = {"scenario": scenario, "seed": seed, "bootstrap": bootstrap}
    prep = _in_child({"job": "prepare", **common, "full": full})
    runs: dict[str, tuple[float, float]] = {}
    every: dict[str, list[tuple[float, float]]] = {}
    for label in (_JSON, _SCHEMAS, _DEMO) if full else (_JSON, _DEMO):
        timed = [
            tuple(run)
            for run in _in_child({"job": "worker", **common, "work": str(work), "label": label, "prep": prep})
        ]
        runs[label] = t.cast(tuple[float, float], min(timed, key=lambda run: run[1]))
        every[label] = t.cast(list[tuple[float, float]], timed)
        events = prep["events"]
        print(f"{scenario}, {label}: {events / runs[label][0]:,.0f} events/s, {events / runs[label][1]:,.0f} per CPU s")
    return _Workload(
        scenario,
        prep["rows"],
        prep["transactions"],
        prep["events"],
        prep["produced"] - prep["events"],
        prep["generated_s"],
        prep["fetch_s"],
        prep["task_s"],
        prep["pure_s"],
        prep["value_bytes"],
        prep["raw_s"],
        runs,
        every,
    )


def _child(spec: str, out: str) -> None:
    tune_for_worker()
    job = json.loads(spec)
    common = (job["scenario"], job["seed"], job["bootstrap"])
    if job["job"] == "prepare":
        result: t.Any = _prepare(*common, job["full"])
    else:
        result = _worker_runs(*common, Path(job["work"]), job["label"], job["prep"])
    Path(out).write_text(json.dumps(result))


def _table(w: _Workload) -> list[str]:
    return [
        f"| Path (best of {WORKER_RUNS} runs by CPU time, the task alone: of three, the emulator in the worker: one)"
        " | events/s (wall)"
        " | seconds (wall) | events per CPU second of the process | every run, events/s (wall) |",
        "|---|---:|---:|---:|---|",
        f"| emulator only (render and fetch every row once) | | | {w.rows / w.fetch_s:,.0f} rows | |",
        f"| task only (`poll()` until caught up, rows already rendered) | | | {w.events / w.task_s:,.0f} | |",
        *(
            [
                "| task only, pure Python (`HEADWATER_ORACLE_NATIVE=0`: no `_credo`) | | |"
                f" {w.events / w.pure_s:,.0f} | |"
            ]
            if w.pure_s
            else []
        ),
        f"| raw confluent-kafka producer, the same {w.events + w.tombstones:,} messages pre-built (acks=all)"
        f" | {(w.events + w.tombstones) / w.raw_s:,.0f} msgs/s | {w.raw_s:.2f} | | |",
        *[
            f"| {label} | {w.events / wall:,.0f} | {wall:.2f} | {w.events / cpu:,.0f}"
            f" | {', '.join(f'{w.events / run[0]:,.0f}' for run in w.every[label])} |"
            for label, (wall, cpu) in w.runs.items()
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one part of the bench, run by _in_child
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.out)
        return

    with tempfile.TemporaryDirectory(prefix="bench-oracle-") as tmp, bootstrap_servers(Path(tmp)) as bootstrap:
        bulk = _measure("bulk", args.seed, bootstrap, Path(tmp), full=True)
        users = _measure("users", args.seed, bootstrap, Path(tmp), full=False)

    b, u = bulk, users
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} on {machine_description()}; the broker ({bootstrap}) on the same"
        f" machine; load average {load:.1f} at the end (a shared machine: other work competes for both cores)."
        " Every worker run streams the whole history from its first SCN (stored as the connector's offset"
        " before it starts) and is checked afterwards: its topics hold every event and tombstone; then they are"
        " deleted, so that no run meets the data of the ones before it on the broker.",
        "",
        "Two workloads. **`users`** is the load behind the published 50,000 msg/s"
        " (Redpanda Connect's `oracledb_cdc` benchmark, Oracle XE 21c in Docker:"
        " `internal/impl/oracledb/bench/create.sql` and `users.sql`): the ten-column TESTDB.USERS table (NUMBER"
        " identity key, three NVARCHAR2, two DATE, a TIMESTAMP, NUMBER(1), NUMBER, NUMBER(10,2)) filled by"
        " INSERT ... SELECT of up to 10,000 users a transaction with the values its script generates. **`bulk`**"
        " is this project's harder load: two tables of 14 and 8 columns with every literal form LogMiner writes"
        " (Decimal, VariableScaleDecimal, dates, timestamps with and without zones, intervals, RAW, UNISTR text),"
        " 2,000 interleaved transactions of up to 50 inserts, updates and deletes (updates and deletes carry the"
        " whole before image), a few rollbacks.",
        "",
        f"### `users`, seed {args.seed}: {u.rows:,} rows, {u.events:,} change events in {u.transactions:,}"
        f" transactions; JSON values {u.value_bytes:.0f} bytes on average without schemas; history generated in"
        f" {u.generated_s:.1f} s before timing",
        "",
        *_table(u),
        "",
        f"### `bulk`, seed {args.seed}: {b.rows:,} rows, {b.events:,} change events (c/u/d) and {b.tombstones:,}"
        f" tombstones in {b.transactions:,} committed transactions; JSON values {b.value_bytes:.0f} bytes on"
        f" average without schemas; history generated in {b.generated_s:.1f} s before timing",
        "",
        *_table(b),
        "",
        "Reading: the per-CPU-second column is the one to compare on this shared machine (wall time stretches"
        " with the load of other work; the load average is above). The machine's own speed moves too, with the"
        " load average near its floor (another tenant's load, invisible from here): the task alone, one version"
        " of the code (bb93a75) on the same rows, measured 122,000 `users` events per CPU second in one run of"
        " this bench and 77,000 in the next, ten minutes later (2026-12-01). On the published benchmark's own"
        " table and"
        f" load the worker streams {u.events / u.runs[_JSON][0]:,.0f} events/s"
        f" ({u.events / u.runs[_JSON][1]:,.0f} per CPU second; the median run"
        f" {u.events / statistics.median(run[0] for run in u.every[_JSON]):,.0f} events/s) into the broker on the"
        " same two cores,"
        + (" above" if u.events / u.runs[_JSON][0] >= 50_000 else " below")
        + " the goal's 50,000. That benchmark ran Oracle XE in Docker; its connector, in Go, reported about 50,000"
        " msg/s on average while streaming (25,000 over the whole run, 70,000-90,000 at peak) and about the same"
        " from Debezium, with LogMiner's fetch as the bound. Here the rows are rendered before the clock starts,"
        " so these figures are the connector's own capacity; with the emulator rendering in the worker's process"
        " (the `emulator in the worker` row) the emulator is the bound. The `bulk` load"
        f" costs about {(b.runs[_JSON][1] / b.events) / (u.runs[_JSON][1] / u.events):.1f} times as much CPU an"
        f" event ({b.runs[_JSON][1] / b.events * 1e6:.0f} against {u.runs[_JSON][1] / u.events * 1e6:.0f} us):"
        " every value is typed (zoned timestamps, intervals, decimals, VariableScaleDecimal, bytes) and most are"
        " new to the conversion caches, updates and deletes carry two images, deletes a tombstone too, and its"
        " transactions are small. The compiled code (the SQL_REDO reader, the conversion loop, the timestamp and"
        " VariableScaleDecimal readers of"
        + (
            f" `_credo`) takes the `bulk` task alone from {b.events / b.pure_s:,.0f} to {b.events / b.task_s:,.0f}"
            " events per CPU second; the other rows are measured with it and with the JSON converter's compiled"
            " writer (`_cjson`)."
            if redo.NATIVE_AVAILABLE and b.pure_s
            else " `_credo`) is **not built** in this run: every row is pure Python."
        )
        + " The raw producer sends the same messages in"
        f" 1/{u.runs[_JSON][0] / u.raw_s:.1f} (`users`) and 1/{b.runs[_JSON][0] / b.raw_s:.1f} (`bulk`) of the"
        " worker's time. " + ROUND + " " + PROFILE,
        "",
        "Goal: 50,000 events/s (the published LogMiner rates of Debezium and Redpanda Connect).",
        "Reproduce: `.venv/bin/python bench/bench_oracle_source.py --write`.",
    ]
    if args.write:
        write_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
