"""The worker's REST API, in Kafka Connect's shapes and status codes, plus ``/metrics``.

A standalone worker serves read-only views, restarts, pause/resume/stop and offset
changes (its connectors come from its command line; the config write routes answer 405).
A distributed worker also creates, updates and deletes connectors, and answers every read
for the whole cluster. Secrets are hidden in every response.
"""

from __future__ import annotations

import errno
import functools
import logging
import re
import socket
import ssl
import sys
import threading
import typing as t
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from headwater.connectors.errors import ConfigError, FieldError, RetriableError
from headwater.connectors.registry import available_plugins
from headwater.connectors.runtime.admin import (
    ConnectorAdmin,
    ConnectorExists,
    ConnectorNotFound,
    ConnectorNotStopped,
    ReadOnlyConnectors,
    StandaloneAdmin,
    TaskElsewhere,
    TaskNotFound,
    TasksStillStopping,
    kafka_cluster_id,
)
from headwater.connectors.runtime.forwarding import FORWARDED_HEADER, Answer, Forwarding, NotLeader
from headwater.connectors.runtime.loggers import LEVELS_OF_PROCESS, InvalidLevel, LoggerNotFound
from headwater.connectors.runtime.offset_admin import GroupNotEmpty, InvalidOffsets
from headwater.connectors.runtime.plugin_configs import (
    PluginMismatch,
    PluginNotFound,
    config_definitions,
    plugin_version,
    validate,
)
from headwater.connectors.runtime.rest_security import Authenticator, listener_of, tls_context

if t.TYPE_CHECKING:
    from headwater.connectors.runtime.worker import Worker
    from headwater.connectors.settings import WorkerConfig

__all__ = ["RestServer"]

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20


class RestServer:
    """Serves one worker on ``rest.host:rest.port`` (or ``listeners``) from a daemon thread."""

    def __init__(
        self,
        admin: ConnectorAdmin | Worker,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        auth: Authenticator | None = None,
    ) -> None:
        """Bind the port (0 picks a free one); serve nothing before :meth:`start`.

        Args:
            admin: what the API answers for; a standalone :class:`Worker` is wrapped in
                :class:`StandaloneAdmin`.
            tls: serve HTTPS with this context; the handshake runs on the request's
                handler thread, so a slow client never holds up the others.
            auth: require a caller this authenticator knows (see :mod:`.rest_security`).

        Raises:
            OSError: the address cannot be bound (:meth:`for_worker` names the key).
        """
        from headwater.connectors.runtime.worker import Worker

        view: ConnectorAdmin = StandaloneAdmin(admin) if isinstance(admin, Worker) else admin
        handler = type("Handler", (_Handler,), {"admin": view, "auth": auth})
        self.server = _Server((host, port), handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, name="rest", daemon=True)

    @classmethod
    def for_worker(cls, admin: ConnectorAdmin | Worker, config: WorkerConfig) -> RestServer:
        """The REST server a worker file asks for: listener, TLS and authentication.

        Raises:
            ConfigError: naming the key when a file cannot be loaded, the host does not
                resolve or the port is taken.
        """
        listener = listener_of(config)
        tls = tls_context(config) if listener.scheme == "https" else None
        auth = Authenticator.from_config(config)
        host_key, port_key = ("listeners", "listeners") if config.listeners else ("rest.host", "rest.port")
        try:
            return cls(admin, listener.host, listener.port, tls=tls, auth=auth)
        except (socket.gaierror, UnicodeError) as exc:
            message = f"{listener.host!r} does not resolve to an address: {getattr(exc, 'strerror', None) or exc}"
            raise ConfigError([FieldError(host_key, message)]) from exc
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                message = f"port {listener.port} on {listener.host} is in use (another worker?); pick a free one"
                raise ConfigError([FieldError(port_key, message)]) from exc
            message = f"cannot listen on {listener.host}:{listener.port}: {exc.strerror or exc}"
            raise ConfigError([FieldError(host_key, message)]) from exc

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    @property
    def port(self) -> int:
        """The port actually bound."""
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """A connection that fails outside a route (a failed TLS handshake, a client gone
        away) is logged in one line, not as a traceback on stderr."""
        log.info("rest: connection from %s failed: %s", client_address[0], sys.exc_info()[1])


_NAME = r"(?P<name>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/$"), "root"),
    ("GET", re.compile(r"^/connectors/?$"), "list_connectors"),
    ("POST", re.compile(r"^/connectors/?$"), "create_connector"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/?$"), "connector_info"),
    ("DELETE", re.compile(rf"^/connectors/{_NAME}/?$"), "delete_connector"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/status$"), "connector_status"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/config$"), "connector_config"),
    ("PUT", re.compile(rf"^/connectors/{_NAME}/config$"), "put_connector_config"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/tasks$"), "connector_tasks"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/tasks/(?P<task>\d+)/status$"), "task_status"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/offsets$"), "connector_offsets"),
    ("DELETE", re.compile(rf"^/connectors/{_NAME}/offsets$"), "reset_offsets"),
    ("PATCH", re.compile(rf"^/connectors/{_NAME}/offsets$"), "alter_offsets"),
    ("PUT", re.compile(rf"^/connectors/{_NAME}/pause$"), "pause_connector"),
    ("PUT", re.compile(rf"^/connectors/{_NAME}/resume$"), "resume_connector"),
    ("PUT", re.compile(rf"^/connectors/{_NAME}/stop$"), "stop_connector"),
    ("POST", re.compile(rf"^/connectors/{_NAME}/restart$"), "restart_connector"),
    ("POST", re.compile(rf"^/connectors/{_NAME}/tasks/(?P<task>\d+)/restart$"), "restart_task"),
    ("GET", re.compile(rf"^/connectors/{_NAME}/topics$"), "connector_topics"),
    ("PUT", re.compile(rf"^/connectors/{_NAME}/topics/reset$"), "reset_topics"),
    ("GET", re.compile(r"^/connector-plugins/?$"), "plugins"),
    ("GET", re.compile(r"^/connector-plugins/(?P<plugin>[^/]+)/config/?$"), "plugin_config"),
    ("PUT", re.compile(r"^/connector-plugins/(?P<plugin>[^/]+)/config/validate/?$"), "validate_config"),
    ("GET", re.compile(r"^/admin/loggers/?$"), "loggers"),
    ("GET", re.compile(r"^/admin/loggers/(?P<logger>[^/]+)$"), "logger"),
    ("PUT", re.compile(r"^/admin/loggers/(?P<logger>[^/]+)$"), "set_logger"),
    ("GET", re.compile(r"^/metrics$"), "metrics"),
    ("GET", re.compile(r"^/health$"), "health"),
]
# The write routes check the name themselves (a standalone worker answers 405 for any);
# the others answer 404 for an unknown name.
_WRITES = {"create_connector", "put_connector_config", "delete_connector"}
_ANY_NAME = {"connector_topics"}
"""Routes that answer for any name, as Connect's: the active topics of an unknown connector are none."""
_LEADER_WRITES = {
    "create_connector",
    "put_connector_config",
    "delete_connector",
    "pause_connector",
    "resume_connector",
    "stop_connector",
    "reset_offsets",
    "alter_offsets",
}
"""Config changes a distributed worker carries out on the group's leader only (forwarded there)."""


class _BadRequest(Exception):
    """The request body is not what the route takes (REST 400)."""


class _Handler(BaseHTTPRequestHandler):
    admin: t.ClassVar[ConnectorAdmin]
    auth: t.ClassVar[Authenticator | None]
    server_version = "headwater"
    timeout = 60
    """Seconds a connection may stay silent (TLS handshake included) before it is closed."""

    def log_message(self, format: str, *args: t.Any) -> None:
        log.debug("rest: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _authorized(self, method: str) -> bool:
        """Answer 401 or 403 and return False unless the caller may send this request."""
        if self.auth is None:
            return True
        principal = self.auth.authenticate(self.headers.get("Authorization"))
        if principal is None:
            self.close_connection = True
            data = orjson.dumps({"error_code": 401, "message": "authentication required"})
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", self.auth.challenge)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return False
        if method != "GET" and not principal.may_write:
            self.close_connection = True
            self._error(HTTPStatus.FORBIDDEN, f"{principal.name} is read-only: {method} needs the admin role")
            return False
        return True

    def _dispatch(self, method: str) -> None:
        if not self._authorized(method):
            return
        url = urlsplit(self.path)
        self._raw: bytes | None = None
        self.query_lists = parse_qs(url.query)
        self.query = {key: values[-1] for key, values in self.query_lists.items()}
        for route_method, pattern, action in _ROUTES:
            match = pattern.match(url.path)
            if match and route_method == method:
                params = {key: unquote(value) for key, value in match.groupdict().items()}
                name = params.get("name")
                try:
                    if name is not None and action not in _WRITES | _ANY_NAME and not self.admin.exists(name):
                        msg = f"Connector {name} not found"
                        raise ConnectorNotFound(msg)
                    forwarding = self._forwarding()
                    if action in _LEADER_WRITES and forwarding is not None:
                        leader = forwarding.leader_url(forwarded=self._forwarded)
                        if leader is not None:
                            self._relay(self._forward(leader, method, self.path))
                            return
                    try:
                        getattr(self, action)(**params)
                    except TaskElsewhere as exc:
                        target = self._elsewhere_url(exc)
                        if target is None:
                            raise
                        self._relay(self._forward(target, method, self.path))
                except (ConnectorNotFound, TaskNotFound, PluginNotFound, LoggerNotFound, InvalidLevel) as exc:
                    # An invalid level answers 404, as Kafka Connect does.
                    self._error(HTTPStatus.NOT_FOUND, str(exc))
                except (ConnectorExists, TaskElsewhere, TasksStillStopping, GroupNotEmpty, NotLeader) as exc:
                    self._error(HTTPStatus.CONFLICT, str(exc))
                except ReadOnlyConnectors as exc:
                    self._error(HTTPStatus.METHOD_NOT_ALLOWED, str(exc))
                except (_BadRequest, ConnectorNotStopped, InvalidOffsets, PluginMismatch) as exc:
                    self._error(HTTPStatus.BAD_REQUEST, str(exc))
                except ConfigError as exc:
                    self._invalid(exc)
                except RetriableError as exc:
                    log.warning("rest: %s %s failed: %s", method, url.path, exc)
                    self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
                return
        allowed = any(pattern.match(url.path) for _m, pattern, _a in _ROUTES)
        status = HTTPStatus.METHOD_NOT_ALLOWED if allowed else HTTPStatus.NOT_FOUND
        self._error(status, f"no route for {method} {url.path}")

    def _json(self, status: HTTPStatus, body: t.Any) -> None:
        data = orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _empty(self, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _error(self, status: HTTPStatus, message: str) -> None:
        self._json(status, {"error_code": int(status), "message": message})

    def _invalid(self, error: ConfigError) -> None:
        """400 naming every invalid key, in Kafka Connect's words plus a structured list."""
        lines = "\n".join(str(field) for field in error.errors)
        message = f"Connector configuration is invalid and contains the following {len(error.errors)} error(s):\n"
        self._json(
            HTTPStatus.BAD_REQUEST,
            {
                "error_code": 400,
                "message": message + lines,
                "errors": [{"key": field.key, "message": field.message} for field in error.errors],
            },
        )

    # -- forwarding (distributed mode) ------------------------------------------------------

    def _forwarding(self) -> Forwarding | None:
        """The distributed worker's :class:`~.forwarding.Forwarding` when it publishes a URL, else None."""
        forwarding = getattr(self.admin, "forwarding", None)
        return forwarding if isinstance(forwarding, Forwarding) and forwarding.url is not None else None

    @property
    def _forwarded(self) -> bool:
        """Whether another worker forwarded this request here (it is never forwarded again)."""
        return self.headers.get(FORWARDED_HEADER) is not None

    def _elsewhere_url(self, exc: TaskElsewhere) -> str | None:
        """The published URL of the one worker ``exc`` names, if this request may go there."""
        forwarding = self._forwarding()
        if forwarding is None or self._forwarded or len(exc.worker_ids) != 1:
            return None
        return forwarding.url_of(exc.worker_ids[0])

    def _forward(self, url: str, method: str, path: str, *, with_body: bool = True) -> Answer:
        """Send this request (the caller's body and ``Authorization``) to another worker."""
        body = self._raw_body() if with_body and method in ("POST", "PUT", "PATCH") else None
        authorization = self.headers.get("Authorization")
        forwarding = self._forwarding()
        assert forwarding is not None, "only called once a forwarding target was found"
        return forwarding.forward(url, method, path, body, authorization)

    def _relay(self, answer: Answer) -> None:
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _raw_body(self) -> bytes:
        """The request body, read once (also for forwarding)."""
        if self._raw is None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                msg = f"request body over {MAX_BODY} bytes"
                raise _BadRequest(msg)
            self._raw = self.rfile.read(length)
        return self._raw

    def _body(self) -> dict[str, t.Any]:
        try:
            body = orjson.loads(self._raw_body() or b"null")
        except orjson.JSONDecodeError as exc:
            msg = f"request body is not valid JSON: {exc}"
            raise _BadRequest(msg) from exc
        if not isinstance(body, dict):
            msg = "request body must be a JSON object"
            raise _BadRequest(msg)
        return body

    def root(self) -> None:
        from headwater.connectors.version import HEADWATER_VERSION

        cluster_id = kafka_cluster_id(self.admin.worker_config)
        self._json(HTTPStatus.OK, {"version": HEADWATER_VERSION, "commit": "", "kafka_cluster_id": cluster_id})

    def health(self) -> None:
        self._json(HTTPStatus.OK, {"status": "healthy", "message": "Worker has completed startup and is ready"})

    def list_connectors(self) -> None:
        names = self.admin.names()
        expand = [value for values in self.query_lists.get("expand", []) for value in values.split(",")]
        if not expand:
            self._json(HTTPStatus.OK, names)
            return
        body: dict[str, dict[str, t.Any]] = {}
        for name in names:
            entry: dict[str, t.Any] = {}
            try:
                if "info" in expand:
                    entry["info"] = self.admin.info(name)
                if "status" in expand:
                    entry["status"] = self.admin.status(name)
            except ConnectorNotFound:
                continue  # deleted meanwhile
            body[name] = entry
        self._json(HTTPStatus.OK, body)

    def create_connector(self) -> None:
        self._json(HTTPStatus.CREATED, self.admin.create(self._body()))

    def put_connector_config(self, name: str) -> None:
        created, info = self.admin.put_config(name, self._body())
        self._json(HTTPStatus.CREATED if created else HTTPStatus.OK, info)

    def delete_connector(self, name: str) -> None:
        self.admin.delete(name)
        self._empty(HTTPStatus.NO_CONTENT)

    def connector_info(self, name: str) -> None:
        self._json(HTTPStatus.OK, self.admin.info(name))

    def connector_status(self, name: str) -> None:
        self._json(HTTPStatus.OK, self.admin.status(name))

    def connector_config(self, name: str) -> None:
        self._json(HTTPStatus.OK, self.admin.config(name))

    def connector_tasks(self, name: str) -> None:
        configs = self.admin.task_configs(name)
        self._json(
            HTTPStatus.OK,
            [{"id": {"connector": name, "task": i}, "config": config} for i, config in enumerate(configs)],
        )

    def task_status(self, name: str, task: str) -> None:
        tasks = self.admin.status(name)["tasks"]
        for entry in tasks:
            if entry["id"] == int(task):
                self._json(HTTPStatus.OK, entry)
                return
        self._error(HTTPStatus.NOT_FOUND, f"Task {name}-{task} not found")

    def connector_offsets(self, name: str) -> None:
        self._json(HTTPStatus.OK, {"offsets": self.admin.offsets(name)})

    def reset_offsets(self, name: str) -> None:
        self._json(HTTPStatus.OK, {"message": self.admin.reset_offsets(name)})

    def alter_offsets(self, name: str) -> None:
        self._json(HTTPStatus.OK, {"message": self.admin.alter_offsets(name, self._body())})

    def pause_connector(self, name: str) -> None:
        self.admin.pause(name)
        self._empty(HTTPStatus.ACCEPTED)

    def resume_connector(self, name: str) -> None:
        self.admin.resume(name)
        self._empty(HTTPStatus.ACCEPTED)

    def stop_connector(self, name: str) -> None:
        self.admin.stop_connector(name)
        self._empty(HTTPStatus.NO_CONTENT)

    def _flag(self, key: str) -> bool:
        """A boolean query parameter as JAX-RS reads it: ``true`` in any case, else false."""
        return self.query.get(key, "false").strip().lower() == "true"

    def restart_connector(self, name: str) -> None:
        """Kafka Connect's restart: no flags (or both false) restarts the connector instance
        and answers 204; otherwise the connector (unless ``onlyFailed`` and it is not
        FAILED) and, with ``includeTasks``, its (failed) tasks restart, and the answer is
        202 with the status, the restarting ones shown RESTARTING."""
        include_tasks, only_failed = self._flag("includeTasks"), self._flag("onlyFailed")
        if not include_tasks and not only_failed:
            self.admin.restart_connector(name)
            self._empty(HTTPStatus.NO_CONTENT)
            return
        status = self.admin.status(name)
        restart_connector = not only_failed or status["connector"]["state"] == "FAILED"
        tasks = [task for task in status["tasks"] if include_tasks and (not only_failed or task["state"] == "FAILED")]
        if restart_connector:
            self._here_or_there(lambda: self.admin.restart_connector(name), f"/connectors/{quote(name)}/restart")
            status["connector"]["state"] = "RESTARTING"
        for task in tasks:
            task_id: int = task["id"]
            self._here_or_there(
                functools.partial(self.admin.restart, name, task_id=task_id),
                f"/connectors/{quote(name)}/tasks/{task_id}/restart",
            )
            task["state"] = "RESTARTING"
        self._json(HTTPStatus.ACCEPTED, status)

    def _here_or_there(self, restart: t.Callable[[], None], path: str) -> None:
        """Restart here, or send ``POST path`` to the worker that runs what is to restart.

        Raises:
            TaskElsewhere: it runs on a worker this one cannot forward to.
            RetriableError: that worker did not answer, or refused.
        """
        try:
            restart()
        except TaskElsewhere as exc:
            target = self._elsewhere_url(exc)
            if target is None:
                raise
            answer = self._forward(target, "POST", path, with_body=False)
            if answer.status >= 300:
                msg = f"{target} answered {answer.status} to POST {path}: {answer.body.decode(errors='replace')}"
                raise RetriableError(msg) from exc

    def restart_task(self, name: str, task: str) -> None:
        self.admin.restart(name, task_id=int(task))
        self._empty(HTTPStatus.NO_CONTENT)

    def connector_topics(self, name: str) -> None:
        self._json(HTTPStatus.OK, {name: {"topics": self.admin.topics(name)}})

    def reset_topics(self, name: str) -> None:
        self.admin.reset_topics(name)
        self._empty(HTTPStatus.ACCEPTED)

    def plugins(self) -> None:
        from headwater.connectors.api import SinkConnector

        body = []
        for alias, plugin in available_plugins().items():
            kind = "sink" if issubclass(plugin, SinkConnector) else "source"
            body.append({"class": alias, "type": kind, "version": plugin_version(plugin)})
        self._json(HTTPStatus.OK, body)

    def plugin_config(self, plugin: str) -> None:
        self._json(HTTPStatus.OK, config_definitions(plugin))

    def validate_config(self, plugin: str) -> None:
        from headwater.connectors.runtime.worker import build_converters, check_clients

        config = self.admin.worker_config

        def check(connector: t.Any) -> None:
            build_converters(connector, config)
            check_clients(connector, config)

        self._json(HTTPStatus.OK, validate(plugin, self._body(), config, remote=True, check=check))

    def loggers(self) -> None:
        self._json(HTTPStatus.OK, LEVELS_OF_PROCESS.all())

    def logger(self, logger: str) -> None:
        self._json(HTTPStatus.OK, LEVELS_OF_PROCESS.get(logger))

    def set_logger(self, logger: str) -> None:
        """Set a level on this worker (200, the loggers changed), or with
        ``scope=cluster`` on a distributed worker on every worker (204)."""
        level = self._body().get("level")
        if level is None:
            msg = "Desired 'level' parameter was not specified in request."
            raise _BadRequest(msg)
        scope = self.query.get("scope", "worker").strip().lower()
        if scope not in ("worker", "cluster"):
            msg = f"invalid scope {scope!r}: 'worker' or 'cluster'"
            raise _BadRequest(msg)
        if scope == "cluster":
            from headwater.connectors.runtime.loggers import parse_level

            parse_level(level)
            if self.admin.set_cluster_logger(logger, str(level)):
                self._empty(HTTPStatus.NO_CONTENT)
                return
        self._json(HTTPStatus.OK, LEVELS_OF_PROCESS.set(logger, level))

    def metrics(self) -> None:
        data = generate_latest(self.admin.metrics.registry)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
