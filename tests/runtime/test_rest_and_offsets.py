"""The REST API's shapes, the metrics names, and both offset stores."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import orjson
import pytest

from headwater.conformance.kafka import consume_all
from headwater.conformance.runtime import in_process_worker
from headwater.connectors.loading import parse_connector
from headwater.connectors.runtime.offsets import FileOffsetStore, KafkaOffsetStore, offset_key
from headwater.connectors.runtime.rest import RestServer
from headwater.connectors.version import HEADWATER_VERSION


def _get(url: str, method: str = "GET", body: object = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method), timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.kafka
def test_rest_status_config_and_metrics(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    name = f"rest-{uuid.uuid4().hex[:6]}"
    connector = parse_connector(
        {
            "name": name,
            "config": {
                "connector.class": "datagen",
                "topic.prefix": name,
                "count": "500",
                "producer.override.sasl.password": "do-not-show",
            },
        }
    )
    worker = in_process_worker(kafka_bootstrap_servers, tmp_path, [connector], offset_flush_interval_ms=100)
    rest = RestServer(worker, "127.0.0.1", 0)
    worker.start()
    rest.start()
    try:
        deadline = time.monotonic() + 60
        while worker.status(name)["tasks"][0]["state"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        consume_all(kafka_bootstrap_servers, f"{name}.customers", min_messages=100)
        status, body = _get(f"{rest.url}/connectors")
        assert (status, json.loads(body)) == (200, [name])
        status, body = _get(f"{rest.url}/connectors/{name}/status")
        document = json.loads(body)
        assert status == 200
        assert document["name"] == name and document["type"] == "source"
        assert document["connector"]["state"] == "RUNNING"
        version = document["connector"]["version"]
        assert version == HEADWATER_VERSION
        assert document["tasks"] == [{"id": 0, "state": "RUNNING", "worker_id": worker.worker_id, "version": version}]
        status, body = _get(f"{rest.url}/connectors/{name}/config")
        assert status == 200
        assert json.loads(body)["producer.override.sasl.password"] == "[hidden]"
        assert b"do-not-show" not in body
        status, body = _get(f"{rest.url}/connectors/{name}/tasks")
        assert b"do-not-show" not in body
        status, body = _get(f"{rest.url}/connectors/nope/status")
        assert status == 404 and json.loads(body)["error_code"] == 404
        status, body = _get(f"{rest.url}/connectors?expand=status")
        assert json.loads(body)[name]["status"]["connector"]["state"] == "RUNNING"
        deadline = time.monotonic() + 30
        while not json.loads(_get(f"{rest.url}/connectors/{name}/offsets")[1])["offsets"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        offsets = json.loads(_get(f"{rest.url}/connectors/{name}/offsets")[1])["offsets"]
        assert {o["partition"]["table"] for o in offsets} <= {"customers", "orders", "products"}
        status, body = _get(f"{rest.url}/metrics")
        text = body.decode()
        assert status == 200
        for metric in (
            "kafka_connect_source_task_metrics_source_record_poll_total",
            "kafka_connect_source_task_metrics_source_record_write_total",
            "kafka_connect_connector_task_metrics_offset_commit_success_total",
        ):
            assert f'{metric}{{connector="{name}",task="0"}}' in text, metric
        polled = [
            line
            for line in text.splitlines()
            if line.startswith("kafka_connect_source_task_metrics_source_record_poll_total{")
        ]
        assert float(polled[0].rsplit(" ", 1)[1]) > 0
        status, _ = _get(f"{rest.url}/connector-plugins")
        assert status == 200
        # A standalone worker's connectors come from its files: the write routes refuse.
        for method, path, body in (
            ("POST", "/connectors", {"name": "other", "config": {"connector.class": "datagen"}}),
            ("PUT", f"/connectors/{name}/config", {"connector.class": "datagen"}),
            ("DELETE", f"/connectors/{name}", None),
        ):
            status, body_bytes = _get(f"{rest.url}{path}", method, body)
            assert status == 405, (method, path)
            assert "files" in json.loads(body_bytes)["message"]
        assert worker.status(name)["tasks"][0]["state"] == "RUNNING"
    finally:
        rest.stop()
        assert worker.stop(20)


def test_file_store_survives_reopen_and_keeps_connect_key_shape(tmp_path: Path) -> None:
    path = tmp_path / "offsets.json"
    store = FileOffsetStore(path)
    key = offset_key("orders-cdc", {"table": "ORDERS", "pdb": "P1"})
    store.put_many({key: {"scn": "8812734", "commit_scn": "8812740"}})
    reopened = FileOffsetStore(path)
    assert reopened.get(key) == {"scn": "8812734", "commit_scn": "8812740"}
    document = json.loads(path.read_text())
    assert document == [
        {"key": ["orders-cdc", {"pdb": "P1", "table": "ORDERS"}], "offset": {"scn": "8812734", "commit_scn": "8812740"}}
    ]
    reopened.put_many({key: None})
    assert FileOffsetStore(path).get(key) is None
    assert not list(tmp_path.glob(".offsets.json.*")), "temp files must not be left behind"


@pytest.mark.kafka
def test_kafka_store_uses_a_compacted_topic_with_connect_keys(kafka_bootstrap_servers: str) -> None:
    topic = f"offsets-{uuid.uuid4().hex[:6]}"
    store = KafkaOffsetStore(kafka_bootstrap_servers, topic)
    key = offset_key("c1", {"file": "CUST.VB"})
    store.put_many({key: {"record": 10, "byte": 4096}})
    store.put_many({key: {"record": 20, "byte": 8192}})
    store.close()
    reread = KafkaOffsetStore(kafka_bootstrap_servers, topic)
    assert reread.get(key) == {"record": 20, "byte": 8192}
    reread.close()
    messages = consume_all(kafka_bootstrap_servers, topic, min_messages=2)
    assert orjson.loads(messages[-1].key()) == ["c1", {"file": "CUST.VB"}]
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap_servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert configs["cleanup.policy"].value == "compact"
