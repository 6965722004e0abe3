"""The Kafka Connect endpoints a standalone worker answers: validate, plugin config, active
topics, loggers, the cluster id, and restarts with Connect's codes."""

from __future__ import annotations

import json
import logging
import time
import typing as t
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from headwater.conformance.runtime import in_process_worker, wait_for
from headwater.connectors.runtime.loggers import LoggerLevels
from headwater.connectors.runtime.plugin_configs import PluginMismatch, PluginNotFound, config_definitions, validate
from headwater.connectors.runtime.rest import RestServer


def _call(url: str, method: str = "GET", body: object = None) -> tuple[int, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_validate_reports_every_error_on_its_key_in_connects_shape() -> None:
    answer = validate(
        "file",
        {"name": "v", "topics": "t", "tasks.max": "0", "bogus.key": "1", "producer.override.sasl.password": "pw"},
        None,
        remote=True,
    )
    assert set(answer) == {"name", "error_count", "groups", "configs"}
    errors = {entry["value"]["name"]: entry["value"]["errors"] for entry in answer["configs"]}
    flagged = {key for key, messages in errors.items() if messages}
    assert flagged == {"file.dir", "tasks.max", "bogus.key"}
    assert answer["error_count"] == 3
    assert answer["groups"] == ["file", "Common", "Error Handling"]
    entry = next(entry for entry in answer["configs"] if entry["definition"]["name"] == "tasks.max")
    assert entry["definition"]["type"] == "INT" and entry["definition"]["default_value"] == "1"
    assert entry["value"] == {
        "name": "tasks.max",
        "value": "0",
        "recommended_values": [],
        "errors": errors["tasks.max"],
        "visible": True,
    }
    tolerance = next(entry for entry in answer["configs"] if entry["definition"]["name"] == "errors.tolerance")
    assert tolerance["value"]["recommended_values"] == ["none", "all"]
    assert tolerance["definition"]["group"] == "Error Handling"
    assert "pw" not in json.dumps(answer)
    clean = validate("FileSinkConnector", {"name": "v", "topics": "t", "file.dir": "/tmp/out"}, None, remote=True)
    assert clean["error_count"] == 0


def test_plugins_answer_to_connect_style_names_and_refuse_others() -> None:
    for name in ("file", "FileSink", "FileSinkConnector", "headwater.sinks.file.FileSinkConnector"):
        keys = [definition["name"] for definition in config_definitions(name)]
        assert keys[0] == "file.dir" and "tasks.max" in keys and "topics" in keys
    with pytest.raises(PluginNotFound, match="Unknown plugin FileStreamSink"):
        config_definitions("FileStreamSink")
    with pytest.raises(PluginMismatch, match="does not match"):
        validate("file", {"connector.class": "datagen", "name": "v"}, None, remote=True)


def test_loggers_change_python_levels_below_a_namespace() -> None:
    levels = LoggerLevels()
    parent, child = f"hw-test-{uuid.uuid4().hex[:6]}", None
    child = logging.getLogger(f"{parent}.inner")
    try:
        assert levels.get(child.name)["last_modified"] is None
        changed = levels.set(parent, "debug")
        assert changed == [parent, child.name]
        assert child.getEffectiveLevel() == logging.DEBUG and child.isEnabledFor(logging.DEBUG)
        assert levels.get(child.name)["level"] == "DEBUG"
        assert isinstance(levels.get(parent)["last_modified"], int)
        levels.set(child.name, "WARN")
        assert levels.get(child.name)["level"] == "WARN" and not child.isEnabledFor(logging.INFO)
        assert levels.all()["root"]["level"] == levels.get("root")["level"]
    finally:
        for name in (parent, child.name):
            logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.mark.kafka
def test_standalone_topics_restarts_and_cluster_id(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    from confluent_kafka.admin import AdminClient

    name = f"api-{uuid.uuid4().hex[:6]}"
    source = {"connector.class": "datagen", "topic.prefix": name, "tables": "orders", "count": "-1", "rate": "50"}
    builds: list[int] = []

    def counting_factory(task_class: t.Any, config: t.Any, context: t.Any) -> t.Any:
        builds.append(1)
        return task_class(config, context)

    worker = in_process_worker(
        kafka_bootstrap_servers, tmp_path, [{"name": name, "config": source}], task_factory=counting_factory
    )
    rest = RestServer(worker, "127.0.0.1", 0)
    worker.start()
    rest.start()
    base = f"{rest.url}/connectors/{name}"
    try:
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
        cluster_id = admin.describe_cluster(request_timeout=10).result(15)
        status, root = _call(f"{rest.url}/")
        assert status == 200 and root["kafka_cluster_id"] == cluster_id.cluster_id  # type: ignore[index]
        wait_for(lambda: _call(f"{base}/topics")[1] == {name: {"topics": [f"{name}.orders"]}}, what="active topic")
        # Paused first: a running task may write its next record between the reset and the
        # read (50 a second here) and report the topic again at once.
        assert _call(f"{base}/pause", "PUT") == (202, None)
        wait_for(lambda: worker.status(name)["tasks"][0]["state"] == "PAUSED", what="paused")
        assert _call(f"{base}/topics/reset", "PUT") == (202, None)
        assert _call(f"{base}/topics")[1] == {name: {"topics": []}}
        assert _call(f"{base}/resume", "PUT") == (202, None)
        # The resumed task reports the topic again at its next record.
        wait_for(lambda: _call(f"{base}/topics")[1] == {name: {"topics": [f"{name}.orders"]}}, what="re-reported")
        wait_for(lambda: worker.status(name)["tasks"][0]["state"] == "RUNNING", what="resumed")

        status, listing = _call(f"{rest.url}/connectors?expand=status")
        assert status == 200 and set(listing[name]) == {"status"}  # type: ignore[index]
        status, listing = _call(f"{rest.url}/connectors?expand=info")
        assert set(listing[name]) == {"info"}  # type: ignore[index]

        assert _call(f"{base}/tasks/7/restart", "POST") == (
            404,
            {"error_code": 404, "message": f"Unknown task: {name}-7"},
        )
        # onlyFailed with nothing failed: 202 and the status, nothing restarted.
        status, body = _call(f"{base}/restart?onlyFailed=true&includeTasks=true", "POST")
        assert status == 202 and body["connector"]["state"] == "RUNNING"  # type: ignore[index]
        assert [task["state"] for task in body["tasks"]] == ["RUNNING"]  # type: ignore[index]
        assert len(builds) == 1
        status, body = _call(f"{base}/restart?includeTasks=true", "POST")
        assert status == 202 and [task["state"] for task in body["tasks"]] == ["RESTARTING"]  # type: ignore[index]
        assert body["connector"]["state"] == "RESTARTING"  # type: ignore[index]
        wait_for(lambda: len(builds) == 2 and worker.status(name)["tasks"][0]["state"] == "RUNNING", what="restart")
        assert _call(f"{base}/tasks/0/restart", "POST") == (204, None)
        wait_for(lambda: len(builds) == 3 and worker.status(name)["tasks"][0]["state"] == "RUNNING", what="restart")
        assert _call(f"{base}/restart", "POST") == (204, None)
        time.sleep(0.5)
        assert len(builds) == 3, "a plain restart restarts the connector, not tasks whose configs did not change"
        assert worker.status(name)["connector"]["state"] == "RUNNING"
    finally:
        rest.stop()
        assert worker.stop(20)
