"""Benchmark: Oracle change events/s from the LogMiner emulator through the worker into Kafka.

The emulator's ``bulk`` scenario (seeded: 2,000 interleaved transactions of up to 50 DML
statements on two tables with every Oracle type, a few rollbacks) is streamed from its
first SCN (``snapshot.mode=no_data``). Measured in one run, on one broker:

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

The task and pre-rendered worker rows are each the best of three runs by CPU time (this
shared machine's speed varies by a quarter from run to run). Change events are the c/u/d
envelopes (tombstones are produced but not counted). Run:
``.venv/bin/python bench/bench_oracle_source.py [--seed 1] [--write]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

from baselines import produce_all
from report import machine_description, write_section
from source_run import bootstrap_servers, json_converters

from headwater.codecs.converters import JsonConverter
from headwater.codecs.oracle import redo
from headwater.conformance.emulators.oracle import LogMinerEmulator
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.api import SourceRecord, SourceTaskContext
from headwater.connectors.loading import parse_connector
from headwater.connectors.oracle.config import OracleLogMinerConfig
from headwater.connectors.oracle.task import OracleLogMinerTask
from headwater.connectors.runtime.offsets import ConnectorOffsets

SECTION = "## Oracle source (LogMiner emulator to Kafka)"
_JSON = "worker, rows pre-rendered, JSON schemas.enable=false"
_SCHEMAS = "worker, rows pre-rendered, JSON schemas.enable=true"
_DEMO = "worker, emulator in the worker (demo config), JSON schemas.enable=false"
ROUND = (
    "On 2026-12-01 (second round) the code before this round (a837d8c) and after it (a5cff6d) ran alternately in"
    " one harness (this script's worker, rows pre-rendered, JSON schemas.enable=false, the history frozen out of"
    " the collector's view; two runs a side a turn, three turns; this machine's speed varied by a quarter between"
    " turns), in events per CPU second, before -> after: 18,007 -> 17,467, 13,159 -> 14,611, 13,553 -> 17,165"
    " (ratios 0.97, 1.11, 1.27). The task alone, four warm runs in one process a side, three turns, took at best"
    " 33.0, 36.3 and 46.1 us of CPU an event before and 27.1, 29.2 and 31.8 us after (medians of the turns about"
    " 42 and 31 us). Measured alone: the JSON converter's schema-checked encoding of these envelopes went from"
    " 13.5 to about 7.5 us a value, a TIMESTAMP literal from 3.2 to 0.2 us, a 14-column clause's conversion loop"
    " (cache hits, text, integers) costs 1.2 us in C. Two later changes are in the table but not in these pairs:"
    " dates and timestamps read inside the C loop with no value cache (each unique one had cost a Python cache"
    " miss), and the emulator's V$LOGMNR_CONTENTS.TIMESTAMP in whole seconds, a DATE as in Oracle (with"
    " milliseconds no two rows shared one, so the task's per-second cache of row timestamps never hit)."
)
"""This round's side-by-side measurement (quoted by ``--write``; the table above it is the run itself)."""


class _FromStart:
    """A stored offset at the history's first SCN: stream all of it, no snapshot."""

    def __init__(self, scn: int) -> None:
        self.stored = {"scn": str(scn), "commit_scn": "", "snapshot_completed": True}

    def offset(self, partition: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
        return self.stored


def _settings(seed: int, prefix: str) -> dict[str, str]:
    return {
        "connector.class": "oracle-logminer",
        "emulator.scenario": "bulk",
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
    settings = {k: v for k, v in _settings(seed, "bench").items() if k != "connector.class"}
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
    bootstrap: str, work: Path, settings: dict[str, str], final: dict[str, t.Any], prepared: LogMinerEmulator | None
) -> tuple[float, float]:
    """Wall and process CPU seconds (all the worker's threads, librdkafka's included) from
    the worker's start to a clean stop after the stored offset reached ``final``."""
    connector = parse_connector({"name": settings["topic.prefix"], "config": settings})

    def factory(task_class: type[t.Any], config: t.Any, context: t.Any) -> t.Any:
        return (
            OracleLogMinerTask(config, context, client=_rewind(prepared)) if prepared else task_class(config, context)
        )

    worker = in_process_worker(bootstrap, work / settings["topic.prefix"], [connector], task_factory=factory)
    name = connector.framework.name
    offsets = ConnectorOffsets(worker.offset_store, name)
    started, cpu = time.perf_counter(), time.process_time()
    worker.start()
    try:
        while True:
            stored = [offset for _, offset in offsets.all()]
            if any(o.get("scn") == final["scn"] and o.get("commit_scn") == final["commit_scn"] for o in stored):
                break
            status = worker.status(name)
            if any(task["state"] == "FAILED" for task in status["tasks"]):
                raise RuntimeError(status)
            time.sleep(0.05)
    finally:
        assert worker.stop(60)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    emulator = LogMinerEmulator("bulk", args.seed)
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

    _, _, records, final = _task_only(emulator, args.seed, keep=True)  # the records, for the producer row
    gc.collect()
    gc.freeze()  # the bench's own objects too (freed by reference counting when dropped)
    # Best of three (by CPU time): this shared machine's speed varies by a quarter from run to run.
    task_s, events = min(_task_only(emulator, args.seed)[:2] for _ in range(3))
    saved, redo.NATIVE_ENABLED = redo.NATIVE_ENABLED, False
    try:
        pure_s = min(_task_only(emulator, args.seed)[0] for _ in range(3))
    finally:
        redo.NATIVE_ENABLED = saved

    json = JsonConverter({"schemas.enable": "false"})
    keys = JsonConverter({"schemas.enable": "false"})
    messages = [
        (keys.from_connect_data(r.topic, r.key_schema, r.key), json.from_connect_data(r.topic, r.value_schema, r.value))
        for r in records
    ]
    value_bytes = sum(len(v or b"") for _, v in messages) / len(messages)

    with tempfile.TemporaryDirectory(prefix="bench-oracle-") as tmp, bootstrap_servers(Path(tmp)) as bootstrap:
        raw_topic = f"bench-oracle-raw-{uuid.uuid4().hex[:6]}"
        produce_all(bootstrap, raw_topic, messages[:1])  # the topic exists before the clock starts
        raw_s = produce_all(bootstrap, raw_topic, messages)
        produced, tombstones = len(messages), len(records) - events
        # The sample records and messages are the bench's, not the worker's: dropped before
        # it starts, so its collector does not walk 120,000 objects it never made.
        del records, messages
        gc.collect()
        runs = {}
        for label, schemas, prepared in ((_JSON, False, emulator), (_SCHEMAS, True, emulator), (_DEMO, False, None)):
            settings = {**_settings(args.seed, f"bench-oracle-{uuid.uuid4().hex[:6]}"), **json_converters(schemas)}
            # Best of three by CPU time (one run for the emulator in the worker: 10 s each).
            runs[label] = min(
                (
                    _worker(
                        bootstrap,
                        Path(tmp),
                        {**settings, "topic.prefix": f"{settings['topic.prefix']}-{n}"},
                        final,
                        prepared,
                    )
                    for n in range(3 if prepared else 1)
                ),
                key=lambda run: run[1],
            )
            print(f"{label}: {events / runs[label][0]:,.0f} events/s, {events / runs[label][1]:,.0f} per CPU second")

    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"Measured {dt.date.today().isoformat()} on {machine_description()}; the broker ({bootstrap}) on the same"
        f" machine; load average {load:.1f} at the end (a shared machine: other work competes for both cores).",
        "",
        f"Workload: emulator scenario `bulk`, seed {args.seed}: {rows:,} `V$LOGMNR_CONTENTS` rows, {events:,} change"
        f" events (c/u/d) in committed transactions, {tombstones:,} tombstones, two tables of 14 and 8"
        f" columns with every literal form (NUMBER, Decimal, VariableScaleDecimal, dates, timestamps with and"
        f" without zones, intervals, RAW, UNISTR text); history generated in {generated:.1f} s before timing;"
        f" streamed from its first SCN. JSON values {value_bytes:.0f} bytes on average without schemas.",
        "",
        "| Path (best of three runs by CPU time, but the emulator in the worker: one) | events/s (wall)"
        " | seconds (wall) | events per CPU second of the process |",
        "|---|---:|---:|---:|",
        f"| emulator only (render and fetch every row once) | | | {rows / fetch_s:,.0f} rows |",
        f"| task only (`poll()` until caught up, rows already rendered) | | | {events / task_s:,.0f} |",
        f"| task only, pure Python (`HEADWATER_ORACLE_NATIVE=0`: no `_credo`) | | | {events / pure_s:,.0f} |",
        f"| raw confluent-kafka producer, the same {produced:,} messages pre-built (acks=all)"
        f" | {produced / raw_s:,.0f} msgs/s | {raw_s:.2f} | |",
        *[
            f"| {label} | {events / wall:,.0f} | {wall:.2f} | {events / cpu:,.0f} |"
            for label, (wall, cpu) in runs.items()
        ],
        "",
        "Reading: the per-CPU-second column is the one to compare on this shared machine (wall time stretches"
        " with the load of other work; the load average is above). The compiled code (the SQL_REDO reader,"
        " the conversion loop and the timestamp readers of"
        + (
            f" `_credo`) takes the task alone from {events / pure_s:,.0f} to {events / task_s:,.0f} events per CPU"
            f" second ({(pure_s - task_s) / events * 1e6:.0f} us less an event); the other rows are measured with it."
            if redo.NATIVE_AVAILABLE
            else " `_credo`) is **not built** in this run: both task rows are pure Python."
        )
        + " This round cut the Python cost of an event again without changing its output (the tests hold each"
        " compiled path to the Python one, byte for byte): a struct's JSON encoder is Python source generated for"
        " its fields once a schema has served 64 records; DATE, TIMESTAMP and zoned TIMESTAMP literals are read in"
        " C (`_credo.epoch`, `_credo.zoned`); a clause's typed conversion loop runs in C (`_credo.convert_row`:"
        " text passed through, cached values looked up, integers and floats read; a cache miss is still converted"
        " in Python). The bench itself changed: the rendered history (the database's, in another process in a real"
        " deployment) and the bench's sample records are frozen out of the garbage collector's view before the"
        " timed rows; every full collection walked them, about a sixth of the worker's CPU. "
        + ROUND
        + " Where the time goes now (py-spy on the worker, rows pre-rendered, schemas.enable=false, share of the"
        " task's thread): building the events (images, `source` block, key, envelope, records) about 20%, the typed"
        " conversion about 26% (py-spy counts the C loop and the young-generation garbage collections that its"
        " allocations trigger in it; a cache miss's Python conversion, intervals and decimals, about 5%), the JSON"
        " converter about 24% (orjson writing about 13%, the generated encoders about 11%), the runner's send loop"
        " and producing about 8%, buffering per XID about 7%, the compiled SQL_REDO parse about 7%, the runner's"
        f" loop about 5%. The raw producer sends the same messages in 1/{runs[_JSON][0] / raw_s:.1f} of the"
        " worker's time: the source's own Python is the bound, not Kafka. This workload converts every Oracle type"
        " LogMiner writes (timestamps with zones, intervals, VariableScaleDecimal, UNISTR); a value seen before in"
        " the same column (a WHERE clause repeats the row's last image) comes from a per-column cache. 50,000"
        " events/s is 20 us of CPU an event for everything; the worker takes"
        f" {runs[_JSON][1] / events * 1e6:.0f} us here and the task alone {task_s / events * 1e6:.0f} us. What it"
        " would still need: the events built in C from the parsed clause (images, `source`, key and envelope: about"
        " a fifth), the envelope written to JSON in C from the schema (about a quarter); even with both free, the"
        f" rest (about 55% of the worker, {runs[_JSON][1] / events * 1e6 * 0.55:.0f} us an event here) is above 20"
        " us, so 50,000 events/s on this machine would also need the conversion and encoding spread over processes"
        " (the mining itself is one ordered stream). Before the round of work of 29f2253 (earlier, pure Python)"
        " the task alone did about 12,000-13,500 events per CPU second on the same workload (measured side by"
        " side with the code of that commit).",
        "",
        "Goal: 50,000 events/s (the published LogMiner rates of Debezium and Redpanda Connect).",
        "Reproduce: `.venv/bin/python bench/bench_oracle_source.py --write`.",
    ]
    if args.write:
        write_section("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
