"""``headwater demo``: a real pipeline on the embedded defaults, end to end.

Starts the local Kafka broker (unless one is given), runs a ``headwater standalone``
worker process with the ``datagen`` source and the ``file`` sink, waits until every
change event has landed, stops the worker with SIGTERM, and checks that folding the
files by key gives exactly the generator's final state.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
import uuid
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from headwater.codecs.envelope import fold
from headwater.connectors.datagen.client import final_state, message_count
from headwater.connectors.datagen.config import DatagenConfig
from headwater.connectors.launch.worker import WorkerProcess

__all__ = ["run_demo"]


def _count_lines(folder: Path) -> int:
    total = 0
    for path in folder.glob("*.jsonl"):
        with path.open("rb") as handle:
            total += sum(chunk.count(b"\n") for chunk in iter(functools.partial(handle.read, 1 << 20), b""))
    return total


def run_demo(
    *,
    count: int,
    out_dir: Path,
    bootstrap_servers: str | None,
    kafka_port: int | None = None,
    rest_port: int | None = None,
) -> int:
    """Run the demo pipeline; returns the process exit code (0 when everything landed).

    ``kafka_port`` is the embedded broker's port (default 9092; ignored with
    ``bootstrap_servers``); ``rest_port`` the worker's REST port (default: a free one).
    """
    console = Console()
    broker = None
    if not bootstrap_servers:
        from headwater.connectors.launch.broker import DEFAULT_PORT, LocalKafka

        broker = LocalKafka(port=kafka_port or DEFAULT_PORT, echo=lambda line: console.print(f"[dim]{line}[/dim]"))
        console.print("[bold]Starting the embedded Kafka broker[/bold] (the first start downloads its jars)")
        bootstrap_servers = broker.start()
    console.print(f"Kafka at [cyan]{bootstrap_servers}[/cyan]")

    run_id = uuid.uuid4().hex[:6]
    out_dir = out_dir.resolve()
    shutil.rmtree(out_dir, ignore_errors=True)
    work = out_dir / ".run"
    files = out_dir / "topics"
    prefix = f"demo-{run_id}"
    datagen = {
        "connector.class": "datagen",
        "tasks.max": "1",
        "topic.prefix": prefix,
        "seed": "7",
        "count": str(count),
        "keys": "5000",
    }
    converters = {
        "key.converter": "json",
        "key.converter.schemas.enable": "false",
        "value.converter": "json",
        "value.converter.schemas.enable": "true",
    }
    sink = {
        "connector.class": "file",
        "tasks.max": "1",
        "topics.regex": f"{prefix}\\..*",
        "file.dir": str(files),
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": f"{prefix}-dlq",
    }
    config = DatagenConfig.model_validate(
        {k: v for k, v in datagen.items() if k not in ("connector.class", "tasks.max")}
    )
    expected_total = message_count(config)
    console.print(
        f"datagen will emit {count:,} change events ({expected_total:,} records with tombstones) to {prefix}.*"
    )

    worker = WorkerProcess(
        work,
        bootstrap_servers,
        [
            {"name": f"datagen-{run_id}", "config": {**datagen, **converters}},
            {"name": f"file-{run_id}", "config": {**sink, **converters}},
        ],
        rest_port=rest_port,
    )
    started = time.monotonic()
    with worker:
        console.print(f"Worker REST at http://127.0.0.1:{worker.rest_port} (log: {worker.log_path})")
        worker.wait_until(lambda: worker.status(f"datagen-{run_id}")["tasks"][0]["state"] == "RUNNING", what="RUNNING")
        status = worker.status(f"file-{run_id}")
        console.print(f"status: {json.dumps(status)}")
        last_report = 0.0
        while (landed := _count_lines(files) if files.exists() else 0) < expected_total:
            if time.monotonic() - last_report > 2:
                console.print(f"  landed {landed:,} / {expected_total:,}")
                last_report = time.monotonic()
            worker.wait_until(lambda: True, what="worker alive")
            if time.monotonic() - started > 600:
                console.print("[red]timed out waiting for the records to land[/red]")
                return 1
            time.sleep(0.3)
        elapsed = time.monotonic() - started
        exit_code = worker.stop()
    console.print(f"worker stopped with exit code {exit_code} after SIGTERM")

    table = Table(title=f"What landed in {files}")
    for column in ("topic file", "lines", "keys now", "expected keys", "state matches"):
        table.add_column(column)
    all_match = exit_code == 0
    for name in config.table_list():
        path = files / f"{prefix}.{name}.jsonl"
        lines = [json.loads(line, parse_float=Decimal) for line in path.read_bytes().splitlines()]
        state = fold((line["key"], line["value"]) for line in lines)
        expected = final_state(
            name, seed=config.seed, keys=config.keys, count=config.table_count(name), initial_rows=config.initial_rows
        )
        match = json.dumps(state, default=str, sort_keys=True) == json.dumps(expected, default=str, sort_keys=True)
        all_match = all_match and match
        table.add_row(path.name, f"{len(lines):,}", f"{len(state):,}", f"{len(expected):,}", "yes" if match else "NO")
    console.print(table)
    sample = (files / f"{prefix}.customers.jsonl").read_text().splitlines()[:1]
    if sample:
        console.print("first line:", sample[0][:400])
    console.print(
        f"{expected_total:,} records moved in {elapsed:.1f} s ({expected_total / elapsed:,.0f} records/s end to end)"
    )
    if broker is not None:
        console.print("The broker keeps running for you; stop it with [bold]headwater kafka stop[/bold].")
    console.print("[green]demo passed[/green]" if all_match else "[red]demo FAILED[/red]")
    return 0 if all_match else 1
