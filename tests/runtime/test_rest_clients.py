"""Kafka Connect REST clients from PyPI drive our worker unchanged.

``kafka-connect-py`` (module ``kafka_connect``: ``KafkaConnect``, and the ``kc`` CLI) and
``kafka-connect-api`` (module ``kafka_connect_api``: ``Api``/``Cluster``/``Connector``)
are what Connect users install; both are in the ``dev`` extra. Each drives a distributed
worker with HTTP basic auth on: list, create, status, pause, resume, restart (connector
and task), topics, validate, loggers, delete.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from headwater.conformance.runtime import in_process_distributed, wait_for
from headwater.connectors.runtime.rest_security import Authenticator

pytestmark = pytest.mark.kafka

AUTH = Authenticator({"ops": ("s3cret", "admin")}, {})


def _datagen(prefix: str) -> dict[str, str]:
    return {"connector.class": "datagen", "topic.prefix": prefix, "tables": "orders", "count": "-1", "rate": "20"}


def test_kafka_connect_py_manages_connectors(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    from kafka_connect import KafkaConnect

    name = f"kcpy-{uuid.uuid4().hex[:6]}"
    with in_process_distributed(kafka_bootstrap_servers, tmp_path, auth=AUTH) as (herder, rest):
        client = KafkaConnect(url=rest.url, auth="ops:s3cret")
        info = client.get_cluster_info()
        assert info["kafka_cluster_id"], "GET / names the Kafka cluster"
        assert client.list_connectors() == []
        created = client.create_connector({"name": name, "config": _datagen(name)})
        assert created["name"] == name and created["type"] == "source"
        assert client.list_connectors() == [name]

        def running() -> bool:
            status = client.get_connector_status(name)
            return status["connector"]["state"] == "RUNNING" and [t["state"] for t in status["tasks"]] == ["RUNNING"]

        wait_for(running, what="the connector running")
        assert client.list_connectors(expand="status", state="running").keys() == {name}
        assert client.list_connector_plugins()
        validated = client.validate_connector_config("datagen", {"name": name, "tasks.max": "zero"})
        assert validated["error_count"] == 1
        assert [c["value"]["name"] for c in validated["configs"] if c["value"]["errors"]] == ["tasks.max"]

        client.pause_connector(name)
        wait_for(lambda: client.get_connector_status(name)["tasks"][0]["state"] == "PAUSED", what="paused")
        client.resume_connector(name)
        wait_for(running, what="resumed")
        restarted = client.restart_connector(name, include_tasks=True, only_failed=False)
        assert restarted["connector"]["state"] == "RESTARTING"
        assert [task["state"] for task in restarted["tasks"]] == ["RESTARTING"]
        assert client.restart_connector(name) is None  # 204: the connector instance only
        client.restart_connector_task(name, 0)
        wait_for(running, what="running after the restarts")
        wait_for(lambda: client.list_connector_topics(name)[name]["topics"] == [f"{name}.orders"], what="topics")

        client.delete_connector(name)
        assert client.list_connectors() == []
        assert herder.names() == []


def test_kafka_connect_api_manages_connectors(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    from kafka_connect_api.errors import GenericNotFound
    from kafka_connect_api.kafka_connect_api import Api, Cluster, Connector

    name = f"kcapi-{uuid.uuid4().hex[:6]}"
    with in_process_distributed(kafka_bootstrap_servers, tmp_path, auth=AUTH) as (herder, rest):
        host, port = rest.server.server_address[:2]
        cluster = Cluster(Api(hostname=str(host), port=int(port), username="ops", password="s3cret"))
        assert cluster.kafka_cluster, "GET / names the Kafka cluster"
        assert cluster.connectors == {}
        connector = Connector(cluster, name)
        # exists() raises on a 404 (the client's decorator turns every 404 into an
        # exception, against Kafka Connect too) instead of returning False.
        with pytest.raises(GenericNotFound):
            connector.exists()
        connector.config = _datagen(name)  # PUT .../config creates it
        assert connector.exists() and list(cluster.connectors) == [name]
        wait_for(lambda: connector.state == "RUNNING" and bool(connector.tasks), what="running")
        assert connector.connector_class == "datagen"
        connector.pause()
        wait_for(lambda: connector.tasks[0].state == "PAUSED", what="paused")
        connector.resume()
        wait_for(lambda: connector.tasks[0].is_running(), what="resumed")
        connector.restart()
        connector.restart_all_tasks()
        wait_for(lambda: connector.tasks[0].is_running(), what="running after the restarts")

        assert cluster.root_logger["level"] in ("INFO", "WARN", "DEBUG", "ERROR")
        changed = cluster.set_logger_log_level("headwater.connectors.runtime.worker", "DEBUG")
        assert "headwater.connectors.runtime.worker" in changed
        assert cluster.loggers["headwater.connectors.runtime.worker"]["level"] == "DEBUG"
        cluster.set_logger_log_level("headwater.connectors.runtime.worker", "INFO")
        logging.getLogger("headwater.connectors.runtime.worker").setLevel(logging.NOTSET)  # as before the test

        connector.delete()
        with pytest.raises(GenericNotFound):
            connector.status  # noqa: B018
        assert herder.names() == []
