"""Distributed mode forwards REST requests as Kafka Connect does: task restarts to the worker
running the task, config changes to the one leader, with the caller's credentials."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import typing as t
import urllib.error
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest

from headwater.conformance.runtime import in_process_distributed, wait_for
from headwater.connectors.runtime.forwarding import FORWARDED_HEADER, LEADER_KEY
from headwater.connectors.runtime.rest_security import Authenticator

pytestmark = pytest.mark.kafka

OPS = {"ops": ("ops-pass", "admin")}


def _auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _call(
    url: str, method: str = "GET", body: object = None, *, user: str = "ops", headers: dict[str, str] | None = None
) -> tuple[int, t.Any]:
    password = {"ops": "ops-pass", "a-only": "a-pass"}.get(user, "")
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Content-Type": "application/json", "Authorization": _auth(user, password), **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


def test_writes_go_to_the_leader_and_task_restarts_to_the_owner(kafka_bootstrap_servers: str, tmp_path: Path) -> None:
    group = f"fwd-{uuid.uuid4().hex[:6]}"
    with ExitStack() as stack:
        # Worker A also knows user a-only; worker B does not: a request A forwards to B
        # carries the caller's credentials, not A's, so B refuses a-only.
        a_herder, a_rest = stack.enter_context(
            in_process_distributed(
                kafka_bootstrap_servers,
                tmp_path / "a",
                group_id=group,
                auth=Authenticator({**OPS, "a-only": ("a-pass", "admin")}, {}),
            )
        )
        b_herder, b_rest = stack.enter_context(
            in_process_distributed(kafka_bootstrap_servers, tmp_path / "b", group_id=group, auth=Authenticator(OPS, {}))
        )
        herders = {a_herder.worker_id: (a_herder, a_rest), b_herder.worker_id: (b_herder, b_rest)}
        wait_for(
            lambda: (
                sum(h.leads() for h in (a_herder, b_herder)) == 1
                and all(h._owned_slots for h in (a_herder, b_herder))
                and (a_herder.statuses.get(LEADER_KEY) or {}).get("worker_id") in herders
            ),
            what="both workers assigned and one leader announced",
        )
        leader = next(h for h in (a_herder, b_herder) if h.leads())
        follower_rest = b_rest if leader is a_herder else a_rest

        # Two simultaneous creates of one name, on two workers: exactly one wins.
        for round_ in range(3):
            name = f"{group}-race-{round_}"
            document = {"name": name, "config": {"connector.class": "datagen", "topic.prefix": name, "count": "10"}}
            barrier = threading.Barrier(2)
            codes: list[int] = []

            def post(
                rest: t.Any,
                document: dict[str, t.Any] = document,
                barrier: threading.Barrier = barrier,
                codes: list[int] = codes,
            ) -> None:
                barrier.wait()
                codes.append(_call(f"{rest.url}/connectors", "POST", document)[0])

            threads = [threading.Thread(target=post, args=(rest,)) for rest in (a_rest, b_rest)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(90)
            assert sorted(codes) == [201, 409], f"round {round_}: {codes}"
            assert _call(f"{follower_rest.url}/connectors/{name}", "DELETE")[0] == 204

        # A connector whose three tasks spread over both workers.
        name = f"{group}-spread"
        config = {"connector.class": "datagen", "topic.prefix": name, "count": "-1", "rate": "20", "tasks.max": "3"}
        assert _call(f"{follower_rest.url}/connectors", "POST", {"name": name, "config": config})[0] == 201

        def spread() -> bool:
            tasks = _call(f"{a_rest.url}/connectors/{name}/status")[1]["tasks"]
            return (
                len(tasks) == 3
                and all(task["state"] == "RUNNING" for task in tasks)
                and {task["worker_id"] for task in tasks} == set(herders)
            )

        wait_for(spread, what="tasks running on both workers")
        tasks = _call(f"{a_rest.url}/connectors/{name}/status")[1]["tasks"]
        on_b = next(task["id"] for task in tasks if task["worker_id"] == b_herder.worker_id)
        seen: list[str] = []
        b_herder.statuses.add_listener(
            lambda key, value: (
                seen.append(value["state"]) if key == f"status-task-{name}-{on_b}" and value is not None else None
            )
        )
        # Asked of A, the restart of B's task is carried out on B.
        assert _call(f"{a_rest.url}/connectors/{name}/tasks/{on_b}/restart", "POST") == (204, None)
        wait_for(lambda: "RESTARTING" in seen and seen[-1] == "RUNNING", what="B's task restarted")
        # includeTasks restarts every task wherever it runs.
        status, body = _call(f"{a_rest.url}/connectors/{name}/restart?includeTasks=true", "POST")
        assert status == 202 and {task["state"] for task in body["tasks"]} == {"RESTARTING"}
        wait_for(lambda: seen.count("RESTARTING") == 2, what="B's task restarted again")
        wait_for(spread, what="all running again")

        # A plain restart goes to the worker running the connector instance, wherever asked.
        runs_connector = _call(f"{a_rest.url}/connectors/{name}/status")[1]["connector"]["worker_id"]
        elsewhere = next(rest for worker_id, (_h, rest) in herders.items() if worker_id != runs_connector)
        assert _call(f"{elsewhere.url}/connectors/{name}/restart", "POST") == (204, None)

        # The forwarded request carries the caller's credentials: B does not know a-only.
        assert _call(f"{a_rest.url}/connectors/{name}/tasks/{on_b}/restart", "POST", user="a-only")[0] == 401
        # Unauthenticated callers are refused before anything is forwarded.
        assert _call(f"{a_rest.url}/connectors/{name}/pause", "PUT", user="nobody")[0] == 401

        # A config change sent to the follower is carried out by the leader.
        assert _call(f"{follower_rest.url}/connectors/{name}/pause", "PUT") == (202, None)
        wait_for(
            lambda: (
                {task["state"] for task in _call(f"{a_rest.url}/connectors/{name}/status")[1]["tasks"]} == {"PAUSED"}
            ),
            what="paused on both workers",
        )
        # A request another worker forwarded is never forwarded again.
        forwarded = {FORWARDED_HEADER: "somewhere:1"}
        status, body = _call(f"{follower_rest.url}/connectors/{name}/resume", "PUT", headers=forwarded)
        assert status == 409 and "no longer leads" in body["message"]
        # A cluster-wide log level goes through the config topic to every worker.
        logger = f"{group}.logger"
        try:
            assert _call(f"{a_rest.url}/admin/loggers/{logger}?scope=cluster", "PUT", {"level": "DEBUG"}) == (204, None)
            # 204 once the level is written to the config topic; every worker reads it from there.
            wait_for(
                lambda: b_herder.configs.get(f"logger-cluster-{logger}") == {"level": "DEBUG"},
                what="the level in the other worker's config table",
            )
            wait_for(lambda: logging.getLogger(logger).level == logging.DEBUG, what="cluster level applied")
        finally:
            logging.getLogger(logger).setLevel(logging.NOTSET)
        assert _call(f"{follower_rest.url}/connectors/{name}", "DELETE") == (204, None)
        deadline = time.monotonic() + 30
        while any(h.names() for h in (a_herder, b_herder)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
