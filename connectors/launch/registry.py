"""A real, local, Confluent-compatible schema registry (Apicurio Registry), managed from Python.

This is what ``headwater registry start`` and the ``schema_registry_url`` test fixture run:
Apicurio Registry's own application from Maven Central
(``io.apicurio:apicurio-registry-app:<version>:tar.gz:all``) on the local JVM, with
in-memory storage, serving Confluent's REST API at ``/apis/ccompat/v7``. Never a registry
of our own. The flow mirrors the Kafka launcher (:mod:`headwater.connectors.launch.broker`):

1. :func:`ensure_registry_app` fetches the tarball once with ``mvn dependency:copy`` and
   unpacks it into ``$HEADWATER_CACHE_DIR/apicurio/<version>/app`` (default
   ``~/.cache/headwater``); a stamp file marks a finished unpack, so later starts are
   offline, and a half-finished one is redone.
2. :class:`LocalRegistry` starts ``java -jar apicurio-registry-app-<v>-runner.jar``
   detached in its own session on ``127.0.0.1:<port>``, with a short HTTP idle timeout
   (``quarkus.http.idle-timeout=5s``: a client never waits on a half-closed keep-alive
   connection), waits until the Confluent API answers, and sets the default
   compatibility to BACKWARD (Apicurio's default is NONE), as a Confluent registry has it.
3. The pid and URL go into the data dir (default ``./.headwater/registry``), where a later
   ``status`` or ``stop`` from any process finds them.

Storage is in memory: a stopped registry forgets its schemas (fine for development and
tests; consumers of old topics need the same registry instance).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from headwater.connectors.errors import FatalError
from headwater.connectors.launch.broker import (
    Echo,
    _cmdline,
    _find_java,
    _port_is_free,
    _reap,
    _tail,
    cache_root,
)

__all__ = [
    "CCOMPAT_PATH",
    "DEFAULT_DATA_DIR",
    "DEFAULT_PORT",
    "DEFAULT_REGISTRY_VERSION",
    "LocalRegistry",
    "RegistryStatus",
    "ensure_registry_app",
]

#: Apicurio Registry 2.6.x runs on Java 17 (3.x needs Java 21).
DEFAULT_REGISTRY_VERSION = "2.6.13.Final"
DEFAULT_PORT = 8081
DEFAULT_DATA_DIR = Path(".headwater") / "registry"
CCOMPAT_PATH = "/apis/ccompat/v7"
_HOST = "127.0.0.1"
_STAMP_NAME = ".headwater-complete"
_PID_FILE = "registry.pid"
_URL_FILE = "registry.url"
_MAVEN_TIMEOUT_S = 1800.0
_children: dict[int, subprocess.Popen[bytes]] = {}
_log = logging.getLogger(__name__)


def _default_echo(message: str) -> None:
    _log.info("%s", message)


def registry_app_dir(version: str = DEFAULT_REGISTRY_VERSION, cache_dir: Path | None = None) -> Path:
    """Where the unpacked Apicurio application of ``version`` lives (or will)."""
    return (cache_dir or cache_root()) / "apicurio" / version / "app"


def _runner_jar(app: Path, version: str) -> Path:
    return app / f"apicurio-registry-app-{version}-runner.jar"


def _fetch_tarball(mvn: str, version: str, output_dir: Path) -> Path:
    """Run Maven to copy the application tarball into ``output_dir``.

    Raises:
        FatalError: Maven failed or hung; the message carries the tail of its output.
    """
    artifact = f"io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
    cmd = [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={output_dir}"]
    with tempfile.TemporaryDirectory(prefix="headwater-registry-mvn-") as cwd:
        try:
            proc = subprocess.run(  # fixed argv, no shell
                cmd,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_MAVEN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            msg = f"Maven did not fetch {artifact} within {_MAVEN_TIMEOUT_S:.0f}s"
            raise FatalError(msg) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        msg = f"Maven failed (exit {proc.returncode}) fetching {artifact}: {' '.join(cmd)}\n{tail}"
        raise FatalError(msg)
    found = sorted(output_dir.glob("apicurio-registry-app-*.tar.gz"))
    if not found:
        msg = f"Maven finished but {output_dir} holds no {artifact} tarball"
        raise FatalError(msg)
    return found[0]


def ensure_registry_app(
    version: str = DEFAULT_REGISTRY_VERSION, *, cache_dir: Path | None = None, echo: Echo | None = None
) -> Path:
    """Make sure Apicurio Registry ``version`` is unpacked in the cache; return its folder.

    Called by :meth:`LocalRegistry.start`. Returns at once, offline, when the stamp of a
    finished unpack is there; otherwise fetches with Maven (a file lock makes concurrent
    callers fetch once) and unpacks into a scratch folder that is then swapped in.

    Raises:
        FatalError: ``mvn`` is not installed, Maven failed, or the tarball is not the app.
    """
    say = echo or _default_echo
    app = registry_app_dir(version, cache_dir)
    stamp = app.parent / _STAMP_NAME
    if stamp.is_file() and _runner_jar(app, version).is_file():
        return app
    app.parent.mkdir(parents=True, exist_ok=True)
    with (app.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and _runner_jar(app, version).is_file():
            return app
        mvn = shutil.which("mvn")
        if mvn is None:
            msg = (
                f"Apache Maven ('mvn') is not on PATH; it is needed once to fetch Apicurio Registry "
                f"{version} into {app}. Install Maven (e.g. 'apt-get install maven')."
            )
            raise FatalError(msg)
        say(f"Fetching Apicurio Registry {version} with Maven into {app} (first time only)...")
        started = time.monotonic()
        scratch = app.parent / "app.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="headwater-registry-") as download:
            tarball = _fetch_tarball(mvn, version, Path(download))
            with tarfile.open(tarball) as archive:
                archive.extractall(scratch, filter="data")
        if not _runner_jar(scratch, version).is_file():
            msg = f"{tarball.name} holds no {_runner_jar(scratch, version).name}"
            raise FatalError(msg)
        shutil.rmtree(app, ignore_errors=True)
        scratch.rename(app)
        stamp.write_text(f"{version}\n", encoding="utf-8")
        say(f"Fetched and unpacked Apicurio Registry in {time.monotonic() - started:.1f}s.")
        return app


@dataclass(frozen=True)
class RegistryStatus:
    """What :meth:`LocalRegistry.status` found: whether it runs, its pid and its Confluent API URL."""

    running: bool
    pid: int | None
    url: str | None
    data_dir: Path


class LocalRegistry:
    """An Apicurio Registry with in-memory storage, identified by its data dir.

    Any process that builds a ``LocalRegistry`` on the same folder sees (and can stop) the
    registry another process started there. Not thread-safe.

    Args:
        data_dir: pid, URL and logs go here; ``./.headwater/registry`` when None.
        port: the HTTP port on 127.0.0.1.
        version: the Apicurio Registry 2.x release (Java 17).
        cache_dir: the download cache root; ``cache_root()`` when None.
        heap: the JVM max heap.
        startup_timeout: seconds :meth:`start` waits for the API to answer.
        echo: receives progress lines.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int = DEFAULT_PORT,
        version: str = DEFAULT_REGISTRY_VERSION,
        cache_dir: Path | None = None,
        heap: str = "256m",
        startup_timeout: float = 90.0,
        echo: Echo | None = None,
    ) -> None:
        self.data_dir = Path(data_dir if data_dir is not None else DEFAULT_DATA_DIR).resolve()
        self.port = port
        self.version = version
        self.cache_dir = cache_dir
        self.heap = heap
        self.startup_timeout = startup_timeout
        self._echo = echo or _default_echo

    @property
    def url(self) -> str:
        """The Confluent-compatible API this instance starts (``schema.registry.url``)."""
        return f"http://{_HOST}:{self.port}{CCOMPAT_PATH}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / _PID_FILE

    @property
    def url_file(self) -> Path:
        return self.data_dir / _URL_FILE

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "registry.log"

    def status(self) -> RegistryStatus:
        """Whether a registry started from this data dir runs (a recycled pid is not mistaken for it)."""
        pid = self._read_pid()
        if pid is None:
            return RegistryStatus(False, None, None, self.data_dir)
        _reap(pid)
        cmdline = _cmdline(pid)
        if cmdline is None or "apicurio-registry-app" not in cmdline or str(self.data_dir) not in cmdline:
            return RegistryStatus(False, None, None, self.data_dir)
        try:
            url: str | None = self.url_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            url = None
        return RegistryStatus(True, pid, url, self.data_dir)

    def start(self) -> str:
        """Start the registry if it is not running; return its ``schema.registry.url``.

        On return the Confluent API answers and the default compatibility is BACKWARD.

        Raises:
            FatalError: java or mvn missing, the port taken, or the registry died or did not
                answer within ``startup_timeout`` (its log tail is in the message; a registry
                that timed out is stopped).
        """
        current = self.status()
        if current.running:
            url = current.url or self.url
            self._echo(f"The schema registry is already running from {self.data_dir} (pid {current.pid}) at {url}")
            return url
        self.pid_file.unlink(missing_ok=True)
        self.url_file.unlink(missing_ok=True)
        java = _find_java()
        app = ensure_registry_app(self.version, cache_dir=self.cache_dir, echo=self._echo)
        if not _port_is_free(self.port):
            msg = f"Port {_HOST}:{self.port} is already in use; pick another with --port"
            raise FatalError(msg)
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        cmd = [
            java,
            f"-Xmx{self.heap}",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dquarkus.http.host={_HOST}",
            f"-Dquarkus.http.port={self.port}",
            # Short keep-alive: a client never writes into a connection the server is closing.
            "-Dquarkus.http.idle-timeout=5s",
            "-Dquarkus.log.console.enable=true",
            f"-Dheadwater.data.dir={self.data_dir}",
            "-jar",
            str(_runner_jar(app, self.version)),
        ]
        with self.log_file.open("ab") as log:
            try:
                proc = subprocess.Popen(  # fixed argv, no shell
                    cmd,
                    cwd=self.data_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                msg = f"Cannot start the registry JVM: {' '.join(cmd)}"
                raise FatalError(msg) from exc
        _children[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
        self.url_file.write_text(self.url + "\n", encoding="utf-8")
        self._echo(f"Started Apicurio Registry {self.version} (pid {proc.pid}); waiting for {self.url}...")
        self._wait_ready(proc)
        self._request("PUT", "/config", {"compatibility": "BACKWARD"})
        self._echo(f"The schema registry is ready at {self.url} after {time.monotonic() - started:.1f}s")
        return self.url

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the registry of this data dir (SIGTERM, then SIGKILL); True if one was running."""
        current = self.status()
        if not current.running or current.pid is None:
            self.pid_file.unlink(missing_ok=True)
            self.url_file.unlink(missing_ok=True)
            return False
        pid = current.pid
        self._echo(f"Stopping the schema registry (pid {pid})...")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        self.url_file.unlink(missing_ok=True)
        self._echo("The schema registry stopped.")
        return True

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return None

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            if _cmdline(pid) is None:
                _children.pop(pid, None)
                return True
            time.sleep(0.1)
        return False

    def _request(self, method: str, path: str, body: object | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read() or b"null")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if proc.poll() is not None:
                _children.pop(proc.pid, None)
                self.pid_file.unlink(missing_ok=True)
                self.url_file.unlink(missing_ok=True)
                msg = f"The schema registry exited with code {proc.returncode} while starting:\n{_tail(self.log_file)}"
                raise FatalError(msg)
            try:
                self._request("GET", "/subjects")
                return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                msg = (
                    f"The schema registry did not answer at {self.url} within {self.startup_timeout:.0f}s:\n"
                    f"{_tail(self.log_file)}"
                )
                raise FatalError(msg)
            time.sleep(0.3)
