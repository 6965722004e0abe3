"""Issue 14 section 2: log lines an operator can use.

JSON lines carry time with milliseconds and zone, the connector and task of the thread
that logged, a traceback as its own field; librdkafka's lines pass the same formatter;
an unknown ``--log-level`` is one clear error; repeated errors are held back and the
trouble shows in the task status instead.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater.conformance.runtime import in_process_worker
from headwater.connectors.cli import cli
from headwater.connectors.runtime import logs
from headwater.connectors.runtime.tasks import CLIENT_LOG, client_hooks

UNREACHABLE = "127.0.0.1:20301"
"""A port of this branch's range where nothing listens: a broker that is down."""


@pytest.fixture
def json_lines() -> t.Iterator[io.StringIO]:
    """The root logger writes JSON lines to the returned buffer (restored afterwards)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def _entries(stream: io.StringIO) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_have_time_with_ms_and_zone_context_and_traceback_field(json_lines: io.StringIO) -> None:
    log = logging.getLogger("headwater.test")

    def task_thread() -> None:
        logs.bind("orders-sink", 3)
        try:
            raise ValueError("disk full")
        except ValueError:
            log.exception("put failed")

    thread = threading.Thread(target=task_thread)
    thread.start()
    thread.join()
    log.info("worker line")
    failed, worker = _entries(json_lines)
    moment = dt.datetime.fromisoformat(failed["time"])
    assert moment.utcoffset() is not None, "the zone is in the time"
    assert len(failed["time"].split("T")[1].split(".")[1].split("+")[0].split("-")[0]) == 3, failed["time"]
    assert (failed["connector"], failed["task"], failed["level"]) == ("orders-sink", 3, "ERROR")
    assert failed["message"] == "put failed", "the traceback is not inside the message"
    assert failed["exception"] == "ValueError: disk full"
    assert failed["traceback"].startswith("Traceback") and "raise ValueError" in failed["traceback"]
    assert (worker["connector"], worker["task"]) == (None, None), "another thread does not inherit a binding"


def test_text_lines_carry_connect_style_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.TextFormatter())
    log = logging.getLogger("headwater.test.text")
    log.addHandler(handler)
    log.propagate = False
    try:
        with logs.bound("cust-src", 0):
            log.warning("file CUST.D1 opened")
        with logs.bound("cust-src"):
            log.warning("connector line")
    finally:
        log.removeHandler(handler)
        log.propagate = True
    first, second = stream.getvalue().splitlines()
    assert first.endswith("headwater.test.text: [cust-src|task-0] file CUST.D1 opened")
    assert second.endswith("[cust-src] connector line")


def test_librdkafka_lines_go_through_the_formatter_with_the_task(json_lines: io.StringIO) -> None:
    from confluent_kafka import Producer

    def task_thread() -> None:
        logs.bind("datagen-src", 1)
        producer = Producer({"bootstrap.servers": UNREACHABLE, "reconnect.backoff.ms": "50", **client_hooks(None)})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "librdkafka" not in json_lines.getvalue():
            producer.poll(0.1)

    thread = threading.Thread(target=task_thread)
    thread.start()
    thread.join()
    client = [entry for entry in _entries(json_lines) if entry["logger"] == CLIENT_LOG.name]
    assert client, json_lines.getvalue()
    assert client[0]["connector"] == "datagen-src" and client[0]["task"] == 1
    assert UNREACHABLE.split(":")[1] in client[0]["message"]


def test_repeated_errors_are_held_back_then_summarised() -> None:
    now = [0.0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RepeatFilter(30, clock=lambda: now[0]))
    log = logging.getLogger("librdkafka")
    own = logging.getLogger("headwater.test.repeat")
    own.addHandler(handler)
    own.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    log.propagate = False
    try:
        for second in range(20):
            now[0] = float(second)
            log.error("Connect to ipv4#127.0.0.1:9092 failed (after %dms in state CONNECT)", second)
            log.info("poll %d", second)  # below WARNING: never held back
        log.error("another error")
        for offset in (10, 20, 20):
            own.warning("skipping bad record CUST.D1: record at byte offset %d", offset)
        now[0] = 31.0
        log.error("Connect to ipv4#127.0.0.1:9092 failed (after 3ms in state CONNECT)")
    finally:
        log.setLevel(logging.NOTSET)
        log.removeHandler(handler)
        log.propagate = True
        own.removeHandler(handler)
        own.propagate = True
    lines = stream.getvalue().splitlines()
    assert [line for line in lines if line.startswith("skipping")] == [
        "skipping bad record CUST.D1: record at byte offset 10",
        "skipping bad record CUST.D1: record at byte offset 20",
    ], "Headwater's own lines must match exactly to be held back"
    errors = [line for line in lines if "Connect to" in line]
    assert errors == [
        "Connect to ipv4#127.0.0.1:9092 failed (after 0ms in state CONNECT)",
        "Connect to ipv4#127.0.0.1:9092 failed (after 3ms in state CONNECT) [repeated 19 more times in the last 30 s]",
    ]
    assert "another error" in lines
    assert sum(line.startswith("poll") for line in lines) == 20


def test_an_unknown_log_level_is_one_clear_error() -> None:
    result = CliRunner().invoke(cli, ["--log-level", "VERBOSE", "plugins"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "unknown log level 'VERBOSE'" in result.output and "DEBUG" in result.output
    assert logs.parse_level("warn") == logging.WARNING and logs.parse_level("trace") == logging.DEBUG


@pytest.mark.kafka
def test_broker_down_shows_in_the_status_not_in_a_flood_of_errors(tmp_path: Path, json_lines: io.StringIO) -> None:
    name = f"down-{uuid.uuid4().hex[:6]}"
    connector = {
        "name": name,
        "config": {
            "connector.class": "datagen",
            "topic.prefix": name,
            "count": "20",
            "producer.override.message.timeout.ms": "3000",
            "producer.override.reconnect.backoff.ms": "20",
            "producer.override.reconnect.backoff.max.ms": "100",
        },
    }
    worker = in_process_worker(UNREACHABLE, tmp_path, [connector], offset_flush_interval_ms=60_000)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while "warning" not in (task := worker.status(name)["tasks"][0]) or time.monotonic() < deadline - 17:
            assert time.monotonic() < deadline, task
            time.sleep(0.2)
        assert task["state"] == "RUNNING", "trouble Kafka retries by itself does not fail the task (as in Connect)"
        assert "Kafka client error" in task["warning"] and UNREACHABLE in task["warning"]
        assert "since" in task["warning"]
    finally:
        worker.stop(10)
    entries = _entries(json_lines)
    client_errors = [e for e in entries if e["logger"] == CLIENT_LOG.name and e["level"] == "ERROR"]
    assert client_errors, "the first failure is logged"
    distinct = {logs._NUMBERS.sub("#", e["message"].split(" [repeated")[0]) for e in client_errors}
    assert len(client_errors) <= 2 * len(distinct), [e["message"] for e in client_errors]
    lifecycle = [e["message"] for e in entries if e["logger"] == "headwater.connectors.runtime.worker"]
    assert f"starting connector {name} (headwater.connectors.datagen.connector.DatagenConnector" in lifecycle[0]
    assert any(message == f"task {name}-0 started (RUNNING)" for message in lifecycle), lifecycle
    assert all(e["connector"] == name for e in client_errors)


@pytest.mark.kafka
def test_a_failing_task_logs_its_cause_restarts_and_counts_startup_failures(
    tmp_path: Path, kafka_bootstrap_servers: str, json_lines: io.StringIO
) -> None:
    from prometheus_client import generate_latest

    name = f"fail-{uuid.uuid4().hex[:6]}"
    connector = {
        "name": name,
        "config": {
            "connector.class": "datagen",
            "topic.prefix": name,
            "task.restart.max.attempts": "1",
            "task.restart.backoff.initial.ms": "10",
        },
    }

    def broken(_task_class: type[t.Any], _config: t.Any, _context: t.Any) -> t.Any:
        try:
            raise KeyError("MARA")
        except KeyError as exc:
            raise RuntimeError("table MARA is not readable") from exc

    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector], task_factory=broken)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while "stays FAILED" not in json_lines.getvalue():
            assert time.monotonic() < deadline, json_lines.getvalue()
            time.sleep(0.05)
        status = worker.status(name)["tasks"][0]
        metrics = generate_latest(worker.metrics.registry).decode()
    finally:
        worker.stop(10)
    assert status["state"] == "FAILED" and "table MARA is not readable" in status["trace"]
    failures = [e for e in _entries(json_lines) if e["message"].startswith(f"task {name}-0 failed: ")]
    assert len(failures) == 1, "the restart failed the same way: held back for 30 s (its restart line is there)"
    assert failures[0]["message"] == (
        f"task {name}-0 failed: RuntimeError: table MARA is not readable (caused by KeyError: 'MARA')"
    )
    assert failures[0]["task"] == 0 and "raise KeyError" in failures[0]["traceback"]
    assert any(e["message"] == f"restarting task {name}-0 (restart 1)" for e in _entries(json_lines))
    assert "kafka_connect_connect_worker_metrics_task_startup_failure_total 2.0" in metrics
    assert "kafka_connect_connect_worker_metrics_task_startup_attempts_total 2.0" in metrics
    assert "kafka_connect_connect_worker_metrics_connector_startup_success_total 1.0" in metrics


def test_debug_batch_summaries_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = logging.getLogger("headwater.test.tally")
    tally = logs.BatchTally(log, "src-0 polled", interval_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.DEBUG, logger="headwater.test.tally"):
        for second in range(25):  # 4 polls a second for 25 s
            for _ in range(4):
                now[0] = second + 0.1
                tally.add(50)
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [  # the batch that ends an interval is in its summary
        "src-0 polled 2050 records in 41 batches over the last 10 s",
        "src-0 polled 2000 records in 40 batches over the last 10 s",
    ]
