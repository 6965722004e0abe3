"""The Grafana dashboard in ``docs/`` against a running distributed worker.

One in-process distributed worker runs a mainframe source (a file load, so it reports
progress) and a file sink. Every metric the dashboard's queries name must have a sample
in the worker's ``/metrics``, and the source task's progress must reach the REST status
through the status topic.
"""

from __future__ import annotations

import json
import logging
import re
import time
import typing as t
import urllib.request
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from headwater.conformance.emulators.mainframe import connector_config, generate
from headwater.connectors.runtime.distributed import DistributedHerder
from headwater.connectors.runtime.rest import RestServer
from headwater.connectors.settings import WorkerConfig

pytestmark = pytest.mark.kafka

DASHBOARD = Path(__file__).parents[2] / "docs" / "grafana-dashboard.json"
_METRIC = re.compile(r"\b((?:kafka_connect|headwater)_[a-z0-9_]+)\b")


def _dashboard_metrics() -> set[str]:
    document = json.loads(DASHBOARD.read_text())
    exprs = [target["expr"] for panel in document["panels"] for target in panel.get("targets", [])]
    exprs += [variable["definition"] for variable in document["templating"]["list"]]
    return {name for expr in exprs for name in _METRIC.findall(expr)}


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return t.cast(bytes, response.read())


def _sample_names(url: str) -> set[str]:
    text = _get(f"{url}/metrics").decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def _samples(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    text = _get(f"{url}/metrics").decode()
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def _sample(url: str, name: str, labels: dict[str, str]) -> float:
    return sum(value for found, value in _samples(url, name) if labels.items() <= found.items())


def test_every_dashboard_metric_exists_on_a_running_worker(
    tmp_path: Path, kafka_bootstrap_servers: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="headwater.connectors.runtime")
    wanted = _dashboard_metrics()
    assert len(wanted) > 30, "the dashboard covers the worker, sources, sinks, errors, rebalances and progress"
    group = f"dash-{uuid.uuid4().hex[:6]}"
    config = WorkerConfig(
        bootstrap_servers=kafka_bootstrap_servers,
        group_id=group,
        config_storage_topic=f"{group}-configs",
        status_storage_topic=f"{group}-status",
        offset_storage_topic=f"{group}-offsets",
        offset_flush_interval_ms=200,
        rest_port=0,
        task_slots=4,
    )
    files = generate("customers-vb", 7, tmp_path / "ds", count=300)
    topic = f"{group}-customers"
    herder = DistributedHerder(config)
    rest = RestServer(herder, "127.0.0.1", 0)
    herder.worker_id = f"127.0.0.1:{rest.port}"
    herder.start()
    rest.start()
    try:
        source = {"poll.interval.ms": "100", "file.quiet.ms": "300", **connector_config(files, topic)}
        herder.create({"name": f"{group}-src", "config": {"connector.class": "mainframe-copybook", **source}})
        sink = {"connector.class": "file", "topics": topic, "file.dir": str(tmp_path / "out")}
        herder.create({"name": f"{group}-sink", "config": sink})
        deadline = time.monotonic() + 90
        while (missing := wanted - _sample_names(rest.url)) or "progress" not in (
            task := json.loads(_get(f"{rest.url}/connectors/{group}-src/status"))["tasks"][0]
        ):
            assert time.monotonic() < deadline, f"missing: {sorted(missing)}"
            time.sleep(0.5)
        while task["progress"]["done"] < files.data[0].stat().st_size:  # published every 5 s at most
            assert time.monotonic() < deadline, task
            time.sleep(0.5)
            task = json.loads(_get(f"{rest.url}/connectors/{group}-src/status"))["tasks"][0]
        sink_labels = {"connector": f"{group}-sink", "task": "0"}
        while (read := _sample(rest.url, "kafka_connect_sink_task_metrics_sink_record_read_total", sink_labels)) < 300:
            assert time.monotonic() < deadline, read
            time.sleep(0.5)
        # Everything is read: the lag of the topic's partition comes down to 0 (measured every 5 s at most).
        lag_name = "kafka_connect_sink_task_metrics_sink_record_lag"
        lags = _samples(rest.url, lag_name)
        while [value for _labels, value in lags] != [0]:
            assert time.monotonic() < deadline, lags
            time.sleep(0.5)
            lags = _samples(rest.url, lag_name)
    finally:
        rest.stop()
        herder.stop()
    assert task["state"] == "RUNNING"
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("rebalance done: assigned 4 task slot(s)") for m in messages), messages
    assert f"{group}-sink-0: partitions assigned: {topic}-0" in messages
    assert f"connector {group}-src started" in messages
    assert [(labels["topic"], labels["partition"]) for labels, _v in lags] == [(topic, "0")]
    assert task["progress"]["unit"] == "bytes" and task["progress"]["total"] == files.data[0].stat().st_size
