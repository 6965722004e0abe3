"""A local AWS Lambda endpoint that runs real handler code inside AWS's own runtime client.

Two HTTP faces, both on 127.0.0.1:

* the **Invoke API** that boto3 calls (``POST /2015-03-31/functions/{name}/invocations``,
  with ``X-Amz-Invocation-Type`` ``RequestResponse`` / ``Event`` / ``DryRun``, the
  ``Qualifier`` query parameter and ``X-Amz-Log-Type``), answering as Lambda does: 200
  with ``X-Amz-Function-Error: Unhandled`` when the handler raised or timed out, 202 for
  ``Event``, 204 for ``DryRun`` (which checks the function and the caller's permission
  and runs nothing), 404 ``ResourceNotFoundException`` for an unknown function, 403
  ``AccessDeniedException`` for a function :meth:`LambdaEndpoint.deny` refuses, 413
  ``RequestTooLargeException`` over the payload limit (6 MB sync, 1 MB async) and 429
  ``TooManyRequestsException`` with ``Retry-After`` and ``retryAfterSeconds`` when a
  throttle was injected;
* the **Runtime API** (``/2018-06-01/runtime/invocation/next``, ``.../{id}/response``,
  ``.../{id}/error``, ``/runtime/init/error``) that ``python -m awslambdaric module.fn``
  polls, one server per function (the runtime client takes a bare ``host:port``).

Each function runs ``concurrency`` runtime-client processes, so that many invocations run
at once; a handler that outlives the function's timeout is killed and restarted and the
caller gets ``Unhandled`` with ``Task timed out``, as on Lambda. Every socket has
``TCP_NODELAY`` (without it each small response waits for a delayed ACK).

Use::

    with LambdaEndpoint(port=21200) as endpoint:
        endpoint.add_function("recorder", handler_dir, "handler.handle", runtime_port=21201)
        boto3.client("lambda", endpoint_url=endpoint.url, ...).invoke(FunctionName="recorder", ...)

or ``python -m headwater.conformance.lambda_endpoint --port 21200 --function
recorder=/path/to/dir:handler.handle`` to run one by hand.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import typing as t
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["ASYNC_LIMIT", "SYNC_LIMIT", "Invocation", "LambdaEndpoint", "LambdaFunction", "function_arn"]

SYNC_LIMIT = 6 * 1024 * 1024
"""Lambda's payload limit for a RequestResponse invocation (bytes)."""
ASYNC_LIMIT = 1024 * 1024
"""Lambda's payload limit for an Event invocation (bytes)."""

_INVOKE_PREFIX = "/2015-03-31/functions/"
_RUNTIME_PREFIX = "/2018-06-01/runtime/"


@dataclass
class Invocation:
    """One invocation on its way through the runtime client."""

    request_id: str
    payload: bytes
    invocation_type: str
    qualifier: str
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    response: bytes = b""
    error: bytes | None = None
    error_type: str | None = None
    started: float | None = None
    finished: float | None = None


@dataclass
class _Throttle:
    times: int
    retry_after_seconds: float
    match: t.Callable[[bytes], bool] | None
    reason: str
    status: int = 429


@dataclass
class LambdaFunction:
    """A function: its handler, its runtime processes and its record of invocations."""

    name: str
    handler_dir: Path
    handler: str
    timeout_s: float
    concurrency: int
    env: dict[str, str]
    runtime_port: int
    pending: queue.Queue[Invocation] = field(default_factory=queue.Queue)
    running: dict[str, Invocation] = field(default_factory=dict)
    history: list[Invocation] = field(default_factory=list)
    injected: list[_Throttle] = field(default_factory=list)
    faults: int = 0
    polling: int = 0
    generation: int = 0
    """Bumped when the runtime clients are restarted: polls of the old ones hand work back."""
    denied: bool = False
    """Invocations (DryRun included) are refused with 403 AccessDeniedException."""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    init_errors: list[bytes] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def arn(self) -> str:
        return function_arn(self.name)


_CALLER = "arn:aws:iam::000000000000:user/headwater-test"
"""The identity the endpoint pretends every caller is (it names it in AccessDeniedException)."""


def function_arn(name: str, qualifier: str = "") -> str:
    """The ARN of function ``name`` (with ``:qualifier`` unless empty or ``$LATEST``)."""
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    return f"{arn}:{qualifier}" if qualifier and qualifier != "$LATEST" else arn


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: t.Any, client_address: t.Any) -> None:
        """Clients that reset their connection (the runtime client does) are not errors."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: t.Any

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: t.Any) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes = b"", headers: t.Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _error(self, status: int, error_type: str, message: str, **extra: t.Any) -> None:
        body = json.dumps({"Type": "User", "message": message, **extra}).encode()
        headers = {"Content-Type": "application/json", "X-Amzn-ErrorType": error_type, **extra.pop("_headers", {})}
        self._send(status, body, headers)


class _InvokeHandler(_Handler):
    """The Invoke API: what boto3's ``lambda`` client calls."""

    def do_POST(self) -> None:
        endpoint: LambdaEndpoint = self.server.endpoint
        url = urllib.parse.urlsplit(self.path)
        body = self._body()
        if not (url.path.startswith(_INVOKE_PREFIX) and url.path.endswith("/invocations")):
            self._error(404, "UnknownOperationException", f"unknown path {url.path}")
            return
        raw_name = urllib.parse.unquote(url.path[len(_INVOKE_PREFIX) : -len("/invocations")])
        qualifier = urllib.parse.parse_qs(url.query).get("Qualifier", [""])[0]
        name = raw_name.rsplit(":function:", 1)[-1]
        if ":" in name:  # name:alias
            name, qualifier = name.split(":", 1)
        function = endpoint.functions.get(name)
        if function is None:
            self._error(404, "ResourceNotFoundException", f"Function not found: {function_arn(name, qualifier)}")
            return
        if function.denied:
            message = (
                f"User: {_CALLER} is not authorized to perform: lambda:InvokeFunction on resource: "
                f"{function_arn(name, qualifier)} because no identity-based policy allows the "
                "lambda:InvokeFunction action"
            )
            self._error(403, "AccessDeniedException", message)
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            self._error(400, "InvalidParameterValueException", f"bad invocation type {invocation_type}")
            return
        limit = endpoint.sync_limit if invocation_type == "RequestResponse" else endpoint.async_limit
        if len(body) > limit:
            self._error(
                413,
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the {invocation_type} invocation type",
            )
            return
        if invocation_type == "DryRun":
            self._send(204)
            return
        throttle = endpoint._take_fault(function, body)
        if throttle is not None and throttle.status != 429:
            self._error(throttle.status, throttle.reason, "injected service failure")
            return
        if throttle is not None:
            seconds = throttle.retry_after_seconds
            self._error(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                Reason=throttle.reason,
                retryAfterSeconds=str(seconds),
                _headers={"Retry-After": str(seconds)},
            )
            return
        try:
            json.loads(body or b"null")
        except ValueError:
            self._error(400, "InvalidRequestContentException", "Could not parse request body into json")
            return
        invocation = endpoint._submit(function, body or b"{}", invocation_type, qualifier or "$LATEST")
        if invocation_type == "Event":
            self._send(202, b"", {"X-Amz-Executed-Version": invocation.qualifier})
            return
        invocation.done.wait()
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": invocation.qualifier}
        if self.headers.get("X-Amz-Log-Type") == "Tail":
            log = f"START RequestId: {invocation.request_id}\nEND RequestId: {invocation.request_id}\n"
            headers["X-Amz-Log-Result"] = base64.b64encode(log.encode()).decode()
        if invocation.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            self._send(200, invocation.error, headers)
        else:
            self._send(200, invocation.response, headers)


class _RuntimeHandler(_Handler):
    """The Runtime API of one function: what awslambdaric polls."""

    def do_GET(self) -> None:
        function: LambdaFunction = self.server.function
        endpoint: LambdaEndpoint = self.server.endpoint
        if self.path != _RUNTIME_PREFIX + "invocation/next":
            self._send(404)
            return
        with function.lock:
            function.polling += 1
            generation = function.generation
        try:
            while True:
                try:
                    invocation = function.pending.get(timeout=0.5)
                except queue.Empty:
                    invocation = None
                if generation != function.generation:  # this poll's runtime client was killed
                    if invocation is not None:
                        function.pending.put(invocation)
                    return
                if invocation is not None:
                    break
                if endpoint.closed:
                    self._send(500)
                    return
        finally:
            with function.lock:
                function.polling -= 1
        invocation.started = time.monotonic()
        with function.lock:
            function.running[invocation.request_id] = invocation
        deadline_ms = int((time.time() + (invocation.deadline - time.monotonic())) * 1000)
        self._send(
            200,
            invocation.payload,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": function.arn
                + (f":{invocation.qualifier}" if invocation.qualifier != "$LATEST" else ""),
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        function: LambdaFunction = self.server.function
        body = self._body()
        path = self.path[len(_RUNTIME_PREFIX) :] if self.path.startswith(_RUNTIME_PREFIX) else ""
        if path == "init/error":
            function.init_errors.append(body)
            self._send(202, b'{"status":"OK"}')
            return
        parts = path.split("/")
        if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
            self._send(404)
            return
        with function.lock:
            invocation = function.running.pop(parts[1], None)
        self._send(202, b'{"status":"OK"}')
        if invocation is None:  # timed out meanwhile
            return
        if parts[2] == "response":
            invocation.response = body
        else:
            invocation.error = body
            invocation.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        invocation.finished = time.monotonic()
        invocation.done.set()


class LambdaEndpoint:
    """The Invoke API on ``port`` plus one Runtime API per function; see the module doc.

    Thread-safe: tests inject faults from their own thread while invocations run.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        sync_limit: int = SYNC_LIMIT,
        async_limit: int = ASYNC_LIMIT,
        python: str = sys.executable,
    ) -> None:
        self.functions: dict[str, LambdaFunction] = {}
        self.sync_limit = sync_limit
        self.async_limit = async_limit
        self.python = python
        self.closed = False
        self._ids = itertools.count()
        self._server = _Server(("127.0.0.1", port), _InvokeHandler)
        self._server.endpoint = self  # type: ignore[attr-defined]
        self._threads = [threading.Thread(target=self._server.serve_forever, name="lambda-invoke", daemon=True)]
        self._threads[0].start()
        self._watchdog = threading.Thread(target=self._watch, name="lambda-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The ``endpoint_url`` for boto3."""
        return f"http://127.0.0.1:{self.port}"

    def add_function(
        self,
        name: str,
        handler_dir: Path | str,
        handler: str,
        *,
        runtime_port: int = 0,
        concurrency: int = 1,
        timeout_s: float = 30.0,
        env: t.Mapping[str, str] | None = None,
        ready_timeout: float = 30.0,
    ) -> LambdaFunction:
        """Start ``concurrency`` runtime clients running ``handler`` (``module.function``)
        from ``handler_dir``; returns once every one of them is polling for work.

        Raises:
            RuntimeError: a runtime client exited or reported an init error (an import
                error in the handler, say), with its output.
        """
        server = _Server(("127.0.0.1", runtime_port), _RuntimeHandler)
        function = LambdaFunction(
            name=name,
            handler_dir=Path(handler_dir),
            handler=handler,
            timeout_s=timeout_s,
            concurrency=concurrency,
            env=dict(env or {}),
            runtime_port=int(server.server_address[1]),
            server=server,
        )
        server.function = function  # type: ignore[attr-defined]
        server.endpoint = self  # type: ignore[attr-defined]
        thread = threading.Thread(target=server.serve_forever, name=f"lambda-runtime-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)
        self.functions[name] = function
        for _ in range(concurrency):
            function.processes.append(self._spawn(function))
        self._wait_ready(function, ready_timeout)
        return function

    def throttle(
        self,
        name: str,
        times: int = 1,
        *,
        retry_after_seconds: float = 1.0,
        match: t.Callable[[bytes], bool] | None = None,
        reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded",
    ) -> None:
        """Answer the next ``times`` invocations of ``name`` (whose payload ``match``es, if
        given) with 429 and ``retryAfterSeconds``."""
        with self.functions[name].lock:
            self.functions[name].injected.append(_Throttle(times, retry_after_seconds, match, reason))

    def fail(
        self,
        name: str,
        times: int = 1,
        *,
        status: int = 500,
        error_type: str = "ServiceException",
        match: t.Callable[[bytes], bool] | None = None,
    ) -> None:
        """Answer the next ``times`` invocations of ``name`` (matching ``match``) with a
        service error, e.g. 500 ``ServiceException`` or 502 ``ResourceNotReadyException``."""
        with self.functions[name].lock:
            self.functions[name].injected.append(_Throttle(times, 0.0, match, error_type, status))

    def deny(self, name: str, denied: bool = True) -> None:
        """Refuse (or, with ``denied=False``, allow again) every invocation of ``name``,
        DryRun included, with 403 ``AccessDeniedException``, as Lambda answers a caller
        whose policy lacks ``lambda:InvokeFunction``."""
        with self.functions[name].lock:
            self.functions[name].denied = denied

    def invocations(self, name: str) -> list[Invocation]:
        """Every invocation of ``name`` that reached the handler, in arrival order."""
        with self.functions[name].lock:
            return list(self.functions[name].history)

    def close(self) -> None:
        """Stop the runtime clients and the servers."""
        self.closed = True
        for function in self.functions.values():
            for process in function.processes:
                process.kill()
            for process in function.processes:
                process.wait()
            if function.server is not None:
                function.server.shutdown()
                function.server.server_close()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LambdaEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # internals

    def _spawn(self, function: LambdaFunction) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{function.runtime_port}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_REGION": "us-east-1",
            "LAMBDA_TASK_ROOT": str(function.handler_dir),
            "PYTHONPATH": str(function.handler_dir),
            **function.env,
        }
        return subprocess.Popen(
            [self.python, "-m", "awslambdaric", function.handler],
            cwd=function.handler_dir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _wait_ready(self, function: LambdaFunction, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while function.polling < function.concurrency:
            time.sleep(0.05)
            dead = [p for p in function.processes if p.poll() is not None]
            if dead or function.init_errors or time.monotonic() > deadline:
                self.close()
                stderr = b"".join(p.stderr.read() for p in dead if p.stderr is not None)
                msg = (
                    f"the runtime client of {function.name} ({function.handler}) did not start: "
                    f"{b''.join(function.init_errors).decode(errors='replace')} {stderr.decode(errors='replace')}"
                )
                raise RuntimeError(msg)

    def _submit(self, function: LambdaFunction, payload: bytes, invocation_type: str, qualifier: str) -> Invocation:
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            payload=payload,
            invocation_type=invocation_type,
            qualifier=qualifier,
            deadline=time.monotonic() + function.timeout_s,
        )
        with function.lock:
            function.history.append(invocation)
        function.pending.put(invocation)
        return invocation

    def _take_fault(self, function: LambdaFunction, body: bytes) -> _Throttle | None:
        with function.lock:
            for throttle in function.injected:
                if throttle.times > 0 and (throttle.match is None or throttle.match(body)):
                    throttle.times -= 1
                    function.faults += 1
                    return throttle
        return None

    def _watch(self) -> None:
        """Time out handlers that run too long: kill the runtime clients and start new ones."""
        while not self.closed:
            time.sleep(0.1)
            now = time.monotonic()
            for function in list(self.functions.values()):
                with function.lock:
                    if not any(i.deadline < now for i in function.running.values()):
                        continue
                    # Which process runs which invocation is unknown to the Runtime API:
                    # restart them all; what the others ran fails as on a runtime exit.
                    running = list(function.running.values())
                    function.running.clear()
                    function.generation += 1
                for number, process in enumerate(function.processes):
                    process.kill()
                    process.wait()
                    if not self.closed:
                        function.processes[number] = self._spawn(function)
                for invocation in running:
                    if invocation.deadline < now:
                        elapsed = now - (invocation.started or now)
                        kind, message = "Sandbox.Timedout", f"Task timed out after {elapsed:.2f} seconds"
                    else:
                        kind, message = "Runtime.ExitError", "Runtime exited with error: signal: killed"
                    invocation.error = json.dumps(
                        {"errorType": kind, "errorMessage": f"RequestId: {invocation.request_id} Error: {message}"}
                    ).encode()
                    invocation.error_type = kind
                    invocation.done.set()


def main(argv: t.Sequence[str] | None = None) -> None:
    """Run an endpoint by hand until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument(
        "--function",
        action="append",
        default=[],
        metavar="NAME=DIR:MODULE.FN",
        help="a function to serve, e.g. recorder=./handlers:recorder.handle",
    )
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    endpoint = LambdaEndpoint(args.port)
    for number, spec in enumerate(args.function, start=1):
        name, _, rest = spec.partition("=")
        folder, _, handler = rest.rpartition(":")
        endpoint.add_function(name, folder, handler, runtime_port=args.port + number, concurrency=args.concurrency)
    print(f"Lambda endpoint on {endpoint.url} serving {', '.join(endpoint.functions)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        endpoint.close()


if __name__ == "__main__":
    main()
