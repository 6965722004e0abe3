"""One REST call sequence, replayed against a real Kafka Connect 4.1.1 worker and against ours.

``tests/interop/record_connect_rest.py`` runs it against Connect's own distributed worker
(FileStreamSource and FileStreamSink) and saves each answer's status code and JSON key
structure in ``tests/fixtures/connect-rest-4.1.1.json``;
``tests/runtime/test_connect_rest_replay.py`` runs it against a Headwater distributed
worker (``datagen`` source, ``file`` sink) and compares codes and key structures.

A step's path and body name the connectors and plugins through placeholders filled in
by each side's :class:`Side`. Values are never compared, only shapes (:func:`shape`).
"""

from __future__ import annotations

import json
import time
import typing as t
import urllib.error
import urllib.request
from dataclasses import dataclass, field

__all__ = ["STEPS", "Side", "Step", "differences", "run", "shape"]


@dataclass(frozen=True)
class Side:
    """What differs between the two workers: connector configs and plugin names."""

    source: str
    """The source connector's name."""
    sink: str
    source_config: dict[str, t.Any]
    sink_config: dict[str, t.Any]
    source_plugin: str
    """The source plugin as ``/connector-plugins/{plugin}`` takes it."""
    sink_plugin: str
    logger: str
    """A logger namespace to set a level on."""

    def fill(self, value: t.Any) -> t.Any:
        """``value`` with ``{source}``, ``{sink}``, ``{source_config}``... filled in."""
        if isinstance(value, str):
            if value in ("{source_config}", "{sink_config}"):
                return dict(getattr(self, value[1:-1]))
            return value.format(
                source=self.source,
                sink=self.sink,
                source_plugin=self.source_plugin,
                sink_plugin=self.sink_plugin,
                logger=self.logger,
            )
        if isinstance(value, dict):
            return {self.fill(key): self.fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        return value


@dataclass(frozen=True)
class Step:
    """One call. ``wait`` steps are polled until they hold and are not compared."""

    name: str
    method: str
    path: str
    body: t.Any = None
    keyed: bool = False
    """The answer is keyed by names (connectors, loggers): compare the values' shape."""
    depth: int | None = None
    """Compare keys only this deep (offsets' partition and offset differ by plugin)."""
    wait: t.Callable[[int, t.Any], bool] | None = field(default=None, compare=False)


def _running(connector: str) -> t.Callable[[int, t.Any], bool]:
    def check(status: int, body: t.Any) -> bool:
        return (
            status == 200
            and body["connector"]["state"] == "RUNNING"
            and bool(body["tasks"])
            and all(task["state"] == "RUNNING" for task in body["tasks"])
        )

    return check


def _stopped(status: int, body: t.Any) -> bool:
    return status == 200 and body["connector"]["state"] == "STOPPED" and not body["tasks"]


def _has_topics(connector: str) -> t.Callable[[int, t.Any], bool]:
    return lambda status, body: status == 200 and bool(body[connector]["topics"])


def _has_offsets(status: int, body: t.Any) -> bool:
    return status == 200 and bool(body["offsets"])


STEPS: list[Step] = [
    Step("root", "GET", "/"),
    Step("plugins", "GET", "/connector-plugins"),
    Step("create source", "POST", "/connectors", {"name": "{source}", "config": "{source_config}"}),
    Step("create sink", "POST", "/connectors", {"name": "{sink}", "config": "{sink_config}"}),
    Step("create taken name", "POST", "/connectors", {"name": "{source}", "config": "{source_config}"}),
    Step("create without config", "POST", "/connectors", {"name": "nothing-here"}),
    Step("wait source running", "GET", "/connectors/{source}/status", wait=_running("{source}")),
    Step("wait sink running", "GET", "/connectors/{sink}/status", wait=_running("{sink}")),
    Step("list", "GET", "/connectors"),
    Step("expand status", "GET", "/connectors?expand=status", keyed=True),
    Step("expand info", "GET", "/connectors?expand=info", keyed=True),
    Step("expand both", "GET", "/connectors?expand=status&expand=info", keyed=True),
    Step("info", "GET", "/connectors/{source}"),
    Step("status", "GET", "/connectors/{source}/status"),
    Step("config", "GET", "/connectors/{source}/config", depth=-1),
    Step("tasks", "GET", "/connectors/{source}/tasks", depth=2),
    Step("task status", "GET", "/connectors/{source}/tasks/0/status"),
    Step("unknown task status", "GET", "/connectors/{source}/tasks/7/status"),
    Step("wait source topics", "GET", "/connectors/{source}/topics", wait=_has_topics("{source}")),
    Step("source topics", "GET", "/connectors/{source}/topics", keyed=True),
    Step("wait sink topics", "GET", "/connectors/{sink}/topics", wait=_has_topics("{sink}")),
    Step("sink topics", "GET", "/connectors/{sink}/topics", keyed=True),
    Step("reset topics", "PUT", "/connectors/{source}/topics/reset"),
    Step("pause", "PUT", "/connectors/{source}/pause"),
    Step("resume", "PUT", "/connectors/{source}/resume"),
    Step("wait resumed", "GET", "/connectors/{source}/status", wait=_running("{source}")),
    Step("restart connector", "POST", "/connectors/{source}/restart"),
    Step("restart both flags false", "POST", "/connectors/{source}/restart?includeTasks=false&onlyFailed=false"),
    Step("restart only failed", "POST", "/connectors/{source}/restart?onlyFailed=true"),
    Step("restart failed tasks", "POST", "/connectors/{source}/restart?includeTasks=true&onlyFailed=true"),
    Step("wait before task restarts", "GET", "/connectors/{source}/status", wait=_running("{source}")),
    Step("restart with tasks", "POST", "/connectors/{source}/restart?includeTasks=true"),
    Step("wait after restart", "GET", "/connectors/{source}/status", wait=_running("{source}")),
    Step("restart task", "POST", "/connectors/{source}/tasks/0/restart"),
    Step("restart unknown task", "POST", "/connectors/{source}/tasks/7/restart"),
    Step("restart unknown connector", "POST", "/connectors/no-such-connector/restart"),
    Step("validate good", "PUT", "/connector-plugins/{source_plugin}/config/validate", "{source_config}", depth=4),
    Step(
        "validate bad",
        "PUT",
        "/connector-plugins/{sink_plugin}/config/validate",
        {"connector.class": "{sink_plugin}", "name": "v"},
        depth=4,
    ),
    Step(
        "validate other plugin",
        "PUT",
        "/connector-plugins/{sink_plugin}/config/validate",
        {"connector.class": "{source_plugin}", "name": "v"},
    ),
    Step("validate unknown plugin", "PUT", "/connector-plugins/NoSuchPlugin/config/validate", {"name": "v"}),
    Step("plugin config", "GET", "/connector-plugins/{sink_plugin}/config"),
    Step("unknown plugin config", "GET", "/connector-plugins/NoSuchPlugin/config"),
    Step("loggers", "GET", "/admin/loggers", keyed=True),
    Step("root logger", "GET", "/admin/loggers/root"),
    Step("set logger", "PUT", "/admin/loggers/{logger}", {"level": "DEBUG"}),
    Step("get set logger", "GET", "/admin/loggers/{logger}"),
    Step("unknown logger", "GET", "/admin/loggers/no.such.logger.anywhere"),
    Step("set logger without level", "PUT", "/admin/loggers/{logger}", {}),
    Step("set logger bad level", "PUT", "/admin/loggers/{logger}", {"level": "LOUD"}),
    Step("restore logger", "PUT", "/admin/loggers/{logger}", {"level": "INFO"}),
    Step("wait offsets", "GET", "/connectors/{source}/offsets", wait=_has_offsets),
    Step("offsets", "GET", "/connectors/{source}/offsets", depth=2),
    Step("reset offsets while running", "DELETE", "/connectors/{source}/offsets"),
    Step("stop", "PUT", "/connectors/{source}/stop"),
    Step("wait stopped", "GET", "/connectors/{source}/status", wait=_stopped),
    Step("stopped status", "GET", "/connectors/{source}/status"),
    Step("stopped info", "GET", "/connectors/{source}"),
    Step("reset offsets", "DELETE", "/connectors/{source}/offsets"),
    Step("update config", "PUT", "/connectors/{source}/config", "{source_config}", depth=1),
    Step("delete source", "DELETE", "/connectors/{source}"),
    Step("delete sink", "DELETE", "/connectors/{sink}"),
    Step("deleted status", "GET", "/connectors/{source}/status"),
    Step("deleted topics", "GET", "/connectors/{source}/topics", keyed=True),
    Step("deleted task restart", "POST", "/connectors/{source}/tasks/0/restart"),
    Step("delete again", "DELETE", "/connectors/{source}"),
    Step("no route", "GET", "/no/such/route"),
]


def call(base_url: str, method: str, path: str, body: t.Any = None, timeout: float = 60) -> tuple[int, t.Any]:
    """One HTTP call; (status, decoded JSON or None). Error statuses are returned."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, {"<not json>": None}


PLUGIN_KEYS = {"...": None}
"""The shape of a connector config: its keys are the plugin's, so they are not compared."""


def shape(value: t.Any, depth: int | None = None) -> t.Any:
    """The key structure of a JSON value: objects keep their keys, lists the union of their
    elements' shapes (as a one-element list, or ``[]``), scalars become None. A connector
    config (the value of a ``config`` key) is :data:`PLUGIN_KEYS`; below ``depth`` levels
    only whether a value is an object shows."""
    if depth is not None and depth < 0:
        return dict(PLUGIN_KEYS) if isinstance(value, dict) else None
    deeper = None if depth is None else depth - 1
    if isinstance(value, dict):
        return {
            key: dict(PLUGIN_KEYS) if key == "config" and isinstance(item, dict) else shape(item, deeper)
            for key, item in sorted(value.items())
        }
    if isinstance(value, list):
        merged: t.Any = None
        for item in value:
            merged = _merge(merged, shape(item, deeper))
        return [] if not value else [merged]
    return None


def _merge(a: t.Any, b: t.Any) -> t.Any:
    if isinstance(a, dict) and isinstance(b, dict):
        return {key: _merge(a.get(key), b.get(key)) for key in sorted(a.keys() | b.keys())}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    return a if a is not None else b


def keyed_shape(body: t.Any, depth: int | None) -> t.Any:
    """A name-keyed object's shape: ``{"*": union of the values' shapes}``."""
    if not isinstance(body, dict):
        return shape(body, depth)
    merged: t.Any = None
    for item in body.values():
        merged = _merge(merged, shape(item, depth))
    return {"*": merged} if body else {}


def differences(expected: t.Any, actual: t.Any, path: str = "$") -> tuple[list[str], list[str]]:
    """(paths Connect has that we lack, paths we have that Connect lacks). Lists are
    compared element-wise only when both are non-empty; a None shape matches anything."""
    if expected is None or actual is None:
        return [], []
    if isinstance(expected, dict) and isinstance(actual, dict):
        missing = [f"{path}.{key}" for key in expected if key not in actual]
        extra = [f"{path}.{key}" for key in actual if key not in expected]
        for key in expected.keys() & actual.keys():
            sub_missing, sub_extra = differences(expected[key], actual[key], f"{path}.{key}")
            missing += sub_missing
            extra += sub_extra
        return missing, extra
    if isinstance(expected, list) and isinstance(actual, list):
        if expected and actual:
            return differences(expected[0], actual[0], f"{path}[]")
        return [], []
    return [f"{path} (a {type(expected).__name__})"], [f"{path} (a {type(actual).__name__})"]


def run(base_url: str, side: Side, *, wait_timeout: float = 60) -> dict[str, dict[str, t.Any]]:
    """Run :data:`STEPS` against ``base_url``; ``{step name: {"method", "path", "status",
    "shape"}}`` for every step that is not a wait.

    Raises:
        TimeoutError: a wait step did not hold within ``wait_timeout`` s (naming it and
            the last answer).
    """
    answers: dict[str, dict[str, t.Any]] = {}
    for step in STEPS:
        path = side.fill(step.path)
        body = side.fill(step.body)
        if step.wait is not None:
            deadline = time.monotonic() + wait_timeout
            check = step.wait
            if "{source}" in step.path or "{sink}" in step.path:
                check = _rebind(step, side)
            while True:
                try:
                    status, answer = call(base_url, step.method, path, body)
                except OSError as exc:
                    msg = f"step {step.name!r}: {step.method} {path} got no answer: {exc}"
                    raise TimeoutError(msg) from exc
                try:
                    if check(status, answer):
                        break
                except (KeyError, TypeError):
                    pass
                if time.monotonic() > deadline:
                    msg = f"step {step.name!r}: {step.method} {path} still answers {status} {answer}"
                    raise TimeoutError(msg)
                time.sleep(0.3)
            continue
        try:
            status, answer = call(base_url, step.method, path, body)
        except OSError as exc:
            msg = f"step {step.name!r}: {step.method} {path} got no answer: {exc}"
            raise TimeoutError(msg) from exc
        structure = keyed_shape(answer, step.depth) if step.keyed else shape(answer, step.depth)
        answers[step.name] = {"method": step.method, "path": step.path, "status": status, "shape": structure}
    return answers


def _rebind(step: Step, side: Side) -> t.Callable[[int, t.Any], bool]:
    """The wait check with the connector name filled in (topics answers are keyed by it)."""
    if step.name.endswith("topics"):
        return _has_topics(side.fill("{sink}" if "{sink}" in step.path else "{source}"))
    return t.cast(t.Callable[[int, t.Any], bool], step.wait)
