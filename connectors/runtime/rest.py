"""The standalone worker's REST API, in Kafka Connect's shapes, plus ``/metrics``.

Read-only views and restarts only: a standalone worker's connectors come from its
command line. Secrets are hidden in every response.
"""

from __future__ import annotations

import logging
import re
import threading
import typing as t
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headwater.connectors.registry import available_plugins

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.worker import Worker

__all__ = ["RestServer"]

log = logging.getLogger(__name__)


class RestServer:
    """Serves one worker on ``rest.host:rest.port`` from a daemon thread."""

    def __init__(self, worker: Worker, host: str, port: int) -> None:
        handler = type("Handler", (_Handler,), {"worker": worker})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="rest", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/$"), "root"),
    ("GET", re.compile(r"^/connectors/?$"), "list_connectors"),
    ("GET", re.compile(r"^/connectors/(?P<name>[^/]+)/?$"), "connector_info"),
    ("GET", re.compile(r"^/connectors/(?P<name>[^/]+)/status$"), "connector_status"),
    ("GET", re.compile(r"^/connectors/(?P<name>[^/]+)/config$"), "connector_config"),
    ("GET", re.compile(r"^/connectors/(?P<name>[^/]+)/tasks$"), "connector_tasks"),
    ("GET", re.compile(r"^/connectors/(?P<name>[^/]+)/tasks/(?P<task>\d+)/status$"), "task_status"),
    ("GET", re.compile(r"^/connectors/(?P<name>[^/]+)/offsets$"), "connector_offsets"),
    ("POST", re.compile(r"^/connectors/(?P<name>[^/]+)/restart$"), "restart_connector"),
    ("POST", re.compile(r"^/connectors/(?P<name>[^/]+)/tasks/(?P<task>\d+)/restart$"), "restart_task"),
    ("GET", re.compile(r"^/connector-plugins/?$"), "plugins"),
    ("GET", re.compile(r"^/metrics$"), "metrics"),
    ("GET", re.compile(r"^/health$"), "health"),
]


class _Handler(BaseHTTPRequestHandler):
    worker: t.ClassVar[Worker]
    server_version = "headwater"

    def log_message(self, format: str, *args: t.Any) -> None:
        log.debug("rest: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        for route_method, pattern, action in _ROUTES:
            match = pattern.match(url.path)
            if match and route_method == method:
                params = match.groupdict()
                name = params.get("name")
                if name is not None and name not in self.worker.connectors:
                    self._json(HTTPStatus.NOT_FOUND, {"error_code": 404, "message": f"Connector {name} not found"})
                    return
                getattr(self, action)(**params)
                return
        self._json(HTTPStatus.NOT_FOUND, {"error_code": 404, "message": f"no route for {method} {url.path}"})

    def _json(self, status: HTTPStatus, body: t.Any) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def root(self) -> None:
        from importlib.metadata import version

        self._json(HTTPStatus.OK, {"version": version("headwater"), "commit": "", "kafka_cluster_id": None})

    def health(self) -> None:
        self._json(HTTPStatus.OK, {"status": "healthy", "message": "Worker has completed startup and is ready"})

    def list_connectors(self) -> None:
        names = sorted(self.worker.connectors)
        if "expand" not in self.query:
            self._json(HTTPStatus.OK, names)
            return
        self._json(
            HTTPStatus.OK, {name: {"status": self.worker.status(name), "info": self._info(name)} for name in names}
        )

    def _info(self, name: str) -> dict[str, t.Any]:
        handle = self.worker.connectors[name]
        tasks = [{"connector": name, "task": state.id} for state in handle.tasks]
        return {"name": name, "config": handle.file.redacted(), "tasks": tasks, "type": handle.type}

    def connector_info(self, name: str) -> None:
        self._json(HTTPStatus.OK, self._info(name))

    def connector_status(self, name: str) -> None:
        self._json(HTTPStatus.OK, self.worker.status(name))

    def connector_config(self, name: str) -> None:
        self._json(HTTPStatus.OK, self.worker.connectors[name].file.redacted())

    def connector_tasks(self, name: str) -> None:
        handle = self.worker.connectors[name]
        self._json(
            HTTPStatus.OK,
            [{"id": {"connector": name, "task": i}, "config": config} for i, config in enumerate(handle.task_configs)],
        )

    def task_status(self, name: str, task: str) -> None:
        tasks = self.worker.connectors[name].tasks
        if int(task) >= len(tasks):
            self._json(HTTPStatus.NOT_FOUND, {"error_code": 404, "message": f"Task {name}-{task} not found"})
            return
        self._json(HTTPStatus.OK, tasks[int(task)].to_json(self.worker.worker_id))

    def connector_offsets(self, name: str) -> None:
        from headwater.connectors.runtime.offsets import ConnectorOffsets

        if self.worker.connectors[name].type == "sink":
            self._json(HTTPStatus.OK, {"offsets": []})
            return
        pairs = ConnectorOffsets(self.worker.offset_store, name).all()
        self._json(HTTPStatus.OK, {"offsets": [{"partition": p, "offset": o} for p, o in pairs]})

    def restart_connector(self, name: str) -> None:
        include_tasks = self.query.get("includeTasks", "false") == "true"
        only_failed = self.query.get("onlyFailed", "false") == "true"
        if include_tasks:
            self.worker.restart(name, only_failed=only_failed)
            self._json(HTTPStatus.ACCEPTED, self.worker.status(name))
            return
        self.send_response(HTTPStatus.NO_CONTENT)
        self.end_headers()

    def restart_task(self, name: str, task: str) -> None:
        self.worker.restart(name, task_id=int(task))
        self.send_response(HTTPStatus.NO_CONTENT)
        self.end_headers()

    def plugins(self) -> None:
        body = []
        for alias, plugin in available_plugins().items():
            from headwater.connectors.api import SinkConnector

            kind = "sink" if issubclass(plugin, SinkConnector) else "source"
            body.append({"class": alias, "type": kind, "version": "0.1.0"})
        self._json(HTTPStatus.OK, body)

    def metrics(self) -> None:
        data = generate_latest(self.worker.metrics.registry)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
