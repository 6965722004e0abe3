"""A real, local, single-node Apache Kafka 4.x broker (KRaft), managed from Python.

This is what ``headwater kafka start`` and the ``kafka_bootstrap_servers`` test fixture
run: the genuine Apache Kafka broker jars from Maven Central on the local JVM, never a
fake. The flow is:

1. :func:`ensure_kafka_libs` fetches ``org.apache.kafka:kafka_2.13`` and its runtime
   dependency tree once with Maven into a cache folder
   (``$HEADWATER_CACHE_DIR/kafka/<version>/libs``, default ``~/.cache/headwater``). A
   stamp file marks a finished download, so later starts are offline and never run Maven,
   and a half-finished download is redone.
2. :class:`LocalKafka` writes ``server.properties`` and a log4j2 configuration into its
   data dir, formats the KRaft storage once (``kafka.tools.StorageTool format``), and
   starts ``java -cp 'libs/*' kafka.Kafka server.properties`` detached in its own session,
   so that Ctrl-C in the caller does not take the broker down with it.
3. It waits until the broker answers a metadata request, then records the pid and the
   bootstrap address in the data dir, where a later ``status`` or ``stop`` (from another
   process and any folder too) finds them. The default data dir is per port in the cache
   folder (``$HEADWATER_CACHE_DIR/brokers/<port>``, see :func:`default_data_dir`).

Data dir layout (all of it owned by this module)::

    server.properties   log4j2.xml   kafka.pid   bootstrap.servers
    kraft/              the broker's log.dirs (topics and the KRaft metadata log)
    logs/server.log     the broker's own log (log4j2), never our stdout
    logs/jvm.log        the JVM's stdout/stderr (crashes, log4j2 status messages)

POSIX only: it relies on sessions, signals and ``/proc`` or ``ps``.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass
from pathlib import Path

from headwater.connectors.errors import FatalError
from headwater.connectors.launch import maven
from headwater.connectors.launch.maven import cache_root

__all__ = [
    "DEFAULT_DATA_DIR",
    "DEFAULT_KAFKA_VERSION",
    "DEFAULT_PORT",
    "BrokerStatus",
    "LocalKafka",
    "brokers_root",
    "cache_root",
    "default_data_dir",
    "ensure_kafka_libs",
    "find_free_port",
    "kafka_libs_dir",
    "running_brokers",
]

#: The Kafka release fetched when none is named. 4.1.1's whole runtime tree resolves from
#: Maven Central, and it runs on Java 17.
DEFAULT_KAFKA_VERSION = "4.1.1"
DEFAULT_PORT = 9092
#: The old per-folder default; kept for callers that name it. The default is now
#: :func:`default_data_dir` (per port, in the cache folder).
DEFAULT_DATA_DIR = Path(".headwater") / "kafka"


def brokers_root() -> Path:
    """Where the local brokers keep their state, one folder per port:
    ``$HEADWATER_CACHE_DIR/brokers`` (default ``~/.cache/headwater/brokers``)."""
    return cache_root() / "brokers"


def default_data_dir(port: int) -> Path:
    """The data dir of the local broker on ``port`` when none is given:
    ``<brokers_root()>/<port>``, so ``headwater kafka status`` and ``stop`` find it from
    any folder."""
    return brokers_root() / str(port)


def running_brokers() -> list[BrokerStatus]:
    """The local brokers started with the default data dirs that are running now."""
    root = brokers_root()
    if not root.is_dir():
        return []
    found = [
        LocalKafka(folder, port=int(folder.name)).status() for folder in sorted(root.iterdir()) if folder.name.isdigit()
    ]
    return [state for state in found if state.running]


#: Kafka 4.x ships log4j-slf4j-impl in its distribution but not in kafka_2.13's pom;
#: without it slf4j binds to nothing and the broker logs nowhere.
_LOG4J_SLF4J_VERSION = "2.24.3"
_STAMP_NAME = ".headwater-complete"
_PID_FILE = "kafka.pid"
_BOOTSTRAP_FILE = "bootstrap.servers"
_HOST = "127.0.0.1"
_MIN_JAVA = 17

_log = logging.getLogger(__name__)

# The readiness probe is expected to see "connection refused" until the broker listens;
# librdkafka would print each of those to stderr, so its log goes to a silent logger.
_probe_log = logging.getLogger(__name__ + ".probe")
_probe_log.addHandler(logging.NullHandler())
_probe_log.propagate = False

# Popen objects of brokers started by this process, kept so that they are reaped on stop
# (a zombie would look alive to kill(pid, 0)) and not garbage-collected with a warning.
_children: dict[int, subprocess.Popen[bytes]] = {}

Echo = t.Callable[[str], None]


def _default_echo(message: str) -> None:
    _log.info("%s", message)


# --------------------------------------------------------------------------- jars cache


def kafka_libs_dir(version: str = DEFAULT_KAFKA_VERSION, cache_dir: Path | None = None) -> Path:
    """Return where the jars of Kafka ``version`` live (or will): ``<cache>/kafka/<v>/libs``."""
    return (cache_dir or cache_root()) / "kafka" / version / "libs"


def _pom(version: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.headwater.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{_LOG4J_SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""


def _run_maven(mvn: str, pom_dir: Path, output_dir: Path) -> None:
    """Run Maven to copy the runtime dependency tree of the pom in ``pom_dir``.

    A separate function so that tests can prove it is not called on a cached start.

    Raises:
        FatalError: Maven failed or hung; the message carries the tail of its output.
    """
    maven.run_maven(mvn, maven.copy_dependencies_goals(output_dir), cwd=pom_dir, what="the Kafka jars")


def ensure_kafka_libs(
    version: str = DEFAULT_KAFKA_VERSION,
    *,
    cache_dir: Path | None = None,
    echo: Echo | None = None,
) -> Path:
    """Make sure the broker jars of Kafka ``version`` are in the cache; return their folder.

    Called by :meth:`LocalKafka.start` before every start. When the stamp file of a
    finished download is there it returns at once, offline, without running Maven.
    Otherwise it writes a small pom into a temp dir and runs ``mvn dependency:
    copy-dependencies`` into a scratch folder, then swaps that in and writes the stamp,
    so an interrupted download is never mistaken for a finished one. An exclusive file
    lock makes concurrent callers (parallel test workers) download only once.

    Args:
        version: an Apache Kafka 4.x release, e.g. ``"4.1.1"``.
        cache_dir: the cache root; :func:`cache_root` when None.
        echo: receives progress lines (the first download takes a while).

    Returns:
        The folder holding the jars, to be put on the classpath as ``<folder>/*``.

    Raises:
        FatalError: ``mvn`` is not installed, or Maven failed.
    """
    say = echo or _default_echo
    libs = kafka_libs_dir(version, cache_dir)

    def fill(scratch: Path) -> str:
        mvn = maven.require_tool(
            "mvn",
            f"Apache Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka "
            f"{version} broker jars into {libs}. Install Maven (e.g. 'apt-get install maven').",
        )
        say(f"Fetching Apache Kafka {version} broker jars with Maven into {libs} (first time only)...")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="headwater-kafka-pom-") as pom_dir:
            (Path(pom_dir) / "pom.xml").write_text(_pom(version), encoding="utf-8")
            _run_maven(mvn, Path(pom_dir), scratch)
        jars = maven.jar_names(scratch)
        if not any(name.startswith(f"kafka_2.13-{version}") for name in jars):
            msg = f"Maven finished but {scratch} holds no kafka_2.13-{version} jar"
            raise FatalError(msg)
        say(f"Fetched {len(jars)} jars in {time.monotonic() - started:.1f}s.")
        return "\n".join(jars) + "\n"

    return maven.cached_folder(libs, fill, stamp_name=_STAMP_NAME)


# --------------------------------------------------------------------------- java


def _find_java() -> str:
    """Return the java executable ($JAVA_HOME first), checked to be Java 17 or newer.

    Raises:
        FatalError: no java, or one too old for Kafka 4.x.
    """
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.is_file() else shutil.which("java")
    if java is None:
        msg = (
            "Java is not installed (no 'java' on PATH and no $JAVA_HOME/bin/java); the local "
            "Kafka 4.x broker needs Java 17 or newer (e.g. 'apt-get install openjdk-17-jre-headless')."
        )
        raise FatalError(msg)
    try:
        out = subprocess.run(  # fixed argv, no shell
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"Cannot run {java} -version"
        raise FatalError(msg) from exc
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0_x" style
            major = int(match.group(2))
        if major < _MIN_JAVA:
            msg = f"{java} is Java {major}; the Kafka 4.x broker needs Java 17 or newer"
            raise FatalError(msg)
    return java


# --------------------------------------------------------------------------- processes


def find_free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (racy, but fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT after a clean stop would look busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
        return True


def _cmdline(pid: int) -> str | None:
    """Return the command line of ``pid``, or None if it is gone or a zombie."""
    proc = Path("/proc") / str(pid)
    if proc.is_dir():
        try:
            stat = (proc / "stat").read_text()
            # The state letter follows the parenthesised command name.
            if stat[stat.rindex(")") + 2 :].startswith(("Z", "X")):
                return None
            return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            return None
    try:  # No /proc (macOS): ask ps.
        out = subprocess.run(  # fixed argv, no shell
            ["ps", "-p", str(pid), "-o", "stat=,command="],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = out.stdout.strip()
    if out.returncode != 0 or not line or line.startswith("Z"):
        return None
    return line.split(None, 1)[1] if " " in line else ""


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so it does not linger as a zombie."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            _children.pop(pid, None)
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _read_pid(pid_file: Path) -> int | None:
    """The pid written in ``pid_file``, or None when it is missing or not a number."""
    try:
        return int(pid_file.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end (reaping it); True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if _cmdline(pid) is None:
            _children.pop(pid, None)
            return True
        time.sleep(0.1)
    return False


def _terminate(pid: int, timeout: float, on_kill: t.Callable[[], None] | None = None) -> None:
    """SIGTERM ``pid`` and wait ``timeout`` s; then ``on_kill()`` and SIGKILL (waiting 10 s more)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        if on_kill is not None:
            on_kill()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 10.0)


def _spawn_detached(cmd: list[str], cwd: Path, log_file: Path, what: str) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session with stdout and stderr appended to ``log_file``.

    Own session: Ctrl-C or a closed terminal of the caller must not reach the server; only a
    signal from ``stop()`` ends it. The child is remembered so that it is reaped on stop.

    Raises:
        FatalError: the process could not be started (``what`` names it).
    """
    with log_file.open("ab") as log:
        try:
            proc = subprocess.Popen(  # fixed argv, no shell
                cmd,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            msg = f"Cannot start {what}: {' '.join(cmd)}"
            raise FatalError(msg) from exc
    _children[proc.pid] = proc
    return proc


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def _random_cluster_id() -> str:
    # Kafka's Uuid.randomUuid: URL-safe base64 without padding, never starting with '-'.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


# --------------------------------------------------------------------------- broker


@dataclass(frozen=True)
class BrokerStatus:
    """What :meth:`LocalKafka.status` found.

    Attributes:
        running: a broker started from this data dir is alive.
        pid: its process id when running.
        bootstrap: its ``127.0.0.1:PORT`` address when running (written at launch, so
            it is there while the broker is still starting too).
        data_dir: the data dir that was looked at.
    """

    running: bool
    pid: int | None
    bootstrap: str | None
    data_dir: Path


class LocalKafka:
    """A single-node combined broker+controller Kafka (KRaft) living in one data dir.

    The data dir is the identity: any process that builds a ``LocalKafka`` on the same
    folder sees (and can stop) the broker another process started there. Not thread-safe;
    concurrent ``start`` calls on one data dir from different processes are not guarded.

    Args:
        data_dir: where config, storage, logs, pid and address go;
            :func:`default_data_dir` of ``port`` (in the cache folder, so any folder finds
            it) when None.
        port: the PLAINTEXT client port on 127.0.0.1.
        controller_port: the KRaft controller port on 127.0.0.1; ``port + 1`` when None.
        version: the Apache Kafka 4.x release to run.
        cache_dir: the jar cache root; :func:`cache_root` when None.
        heap: the JVM max heap (``-Xmx``), small by default for laptops and CI.
        startup_timeout: seconds :meth:`start` waits for the broker to answer metadata.
        echo: receives progress lines; the module logger at INFO when None.
        sasl_port: also listen with ``SASL_PLAINTEXT`` (mechanism ``PLAIN``) on this port,
            for tests of client security; the broker's own traffic stays ``PLAINTEXT``.
        sasl_users: ``user -> password`` the SASL listener accepts.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        port: int = DEFAULT_PORT,
        controller_port: int | None = None,
        version: str = DEFAULT_KAFKA_VERSION,
        cache_dir: Path | None = None,
        heap: str = "512m",
        startup_timeout: float = 90.0,
        echo: Echo | None = None,
        sasl_port: int | None = None,
        sasl_users: t.Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir if data_dir is not None else default_data_dir(port)).expanduser().resolve()
        self.port = port
        self.controller_port = controller_port if controller_port is not None else port + 1
        self.version = version
        self.cache_dir = cache_dir
        self.heap = heap
        self.startup_timeout = startup_timeout
        self._echo = echo or _default_echo
        self.sasl_port = sasl_port
        self.sasl_users = dict(sasl_users or {})

    # Paths -----------------------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        """The file holding the running broker's pid."""
        return self.data_dir / _PID_FILE

    @property
    def bootstrap_file(self) -> Path:
        """The file holding the running broker's ``127.0.0.1:PORT``."""
        return self.data_dir / _BOOTSTRAP_FILE

    @property
    def log_file(self) -> Path:
        """The broker's log4j2 log."""
        return self.data_dir / "logs" / "server.log"

    @property
    def jvm_log_file(self) -> Path:
        """The JVM's stdout and stderr."""
        return self.data_dir / "logs" / "jvm.log"

    @property
    def bootstrap(self) -> str:
        """The address this instance starts the broker on (see :meth:`status` for the live one)."""
        return f"{_HOST}:{self.port}"

    # Public API ------------------------------------------------------------------------

    def status(self) -> BrokerStatus:
        """Report whether a broker started from this data dir is running.

        Safe to call from any process at any time; it only reads the pid file and checks
        that the process is alive and really is a ``kafka.Kafka`` of this data dir (a
        recycled pid is not mistaken for the broker).
        """
        pid = _read_pid(self.pid_file)
        if pid is None:
            return BrokerStatus(running=False, pid=None, bootstrap=None, data_dir=self.data_dir)
        _reap(pid)
        if not self._is_our_broker(pid):
            return BrokerStatus(running=False, pid=None, bootstrap=None, data_dir=self.data_dir)
        try:
            bootstrap: str | None = self.bootstrap_file.read_text(encoding="utf-8").strip() or None
        except OSError:
            bootstrap = None
        return BrokerStatus(running=True, pid=pid, bootstrap=bootstrap, data_dir=self.data_dir)

    def start(self) -> str:
        """Start the broker if it is not running, and return its bootstrap address.

        Fetches the jars on first use (:func:`ensure_kafka_libs`), writes the config,
        formats the storage once, launches the JVM detached in a new session and waits
        until it answers a metadata request. If a broker from this data dir is already
        running it returns that broker's address and does nothing else (even when it
        listens on another port than asked). On return the broker is ready for clients.

        Returns:
            ``"127.0.0.1:PORT"``.

        Raises:
            FatalError: java or mvn missing, a port taken, or the broker died or did not
                answer within ``startup_timeout`` (its log tail is in the message; a broker
                that timed out is stopped).
        """
        current = self.status()
        if current.running:
            address = current.bootstrap or self.bootstrap
            self._echo(f"Kafka is already running from {self.data_dir} (pid {current.pid}) on {address}")
            return address
        # A stale pid file from a crashed broker must not confuse a later status().
        self.pid_file.unlink(missing_ok=True)
        self.bootstrap_file.unlink(missing_ok=True)

        java = _find_java()
        libs = ensure_kafka_libs(self.version, cache_dir=self.cache_dir, echo=self._echo)
        for port in (self.port, self.controller_port, *([self.sasl_port] if self.sasl_port else [])):
            if not _port_is_free(port):
                msg = f"Port {_HOST}:{port} is already in use; pick another with --port"
                raise FatalError(msg)

        started = time.monotonic()
        self._write_config()
        self._format_storage(java, libs)
        proc = self._launch(java, libs)
        # Written before the wait: a caller interrupted while waiting (Ctrl-C) leaves a
        # broker that status() and stop() must still find.
        self.pid_file.write_text(f"{proc.pid}\n", encoding="utf-8")
        self.bootstrap_file.write_text(self.bootstrap + "\n", encoding="utf-8")
        self._echo(f"Started Kafka {self.version} (pid {proc.pid}); waiting for {self.bootstrap}...")
        self._wait_ready(proc)
        self._echo(f"Kafka is ready on {self.bootstrap} after {time.monotonic() - started:.1f}s")
        return self.bootstrap

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker of this data dir, cleanly if it can.

        Sends SIGTERM (Kafka then shuts down in order and flushes its logs) and waits up to
        ``timeout`` seconds; a broker still alive then gets SIGKILL. Removes the pid and
        address files either way.

        Returns:
            True if a running broker was stopped, False if none was running.
        """
        current = self.status()
        if not current.running or current.pid is None:
            self.pid_file.unlink(missing_ok=True)
            self.bootstrap_file.unlink(missing_ok=True)
            return False
        pid = current.pid
        self._echo(f"Stopping Kafka (pid {pid})...")
        _terminate(
            pid, timeout, lambda: self._echo(f"Kafka (pid {pid}) did not exit within {timeout:.0f}s; killing it")
        )
        self.pid_file.unlink(missing_ok=True)
        self.bootstrap_file.unlink(missing_ok=True)
        self._echo("Kafka stopped.")
        return True

    # Internals -------------------------------------------------------------------------

    def _is_our_broker(self, pid: int) -> bool:
        cmdline = _cmdline(pid)
        config = str(self.data_dir / "server.properties")
        return cmdline is not None and "kafka.Kafka" in cmdline and config in cmdline

    def _write_config(self) -> None:
        """Write server.properties and log4j2.xml; rewritten each start so ports may change."""
        kraft = self.data_dir / "kraft"
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        kraft.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            # A static one-voter quorum: simplest for one node, and the controller port may
            # change between starts since it is not written into the storage.
            "controller.quorum.voters": f"1@{_HOST}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{_HOST}:{self.port},CONTROLLER://{_HOST}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{_HOST}:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(kraft),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # 50 partitions each (the defaults) make the first group join or transaction
            # take seconds on a 2-core machine; one node gains nothing from them.
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.num.partitions": "4",
            # The log cleaner's default 128 MiB buffer is a quarter of our small heap.
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "num.recovery.threads.per.data.dir": "1",
        }
        if self.sasl_port:
            sasl = f"SASL_PLAINTEXT://{_HOST}:{self.sasl_port}"
            users = " ".join(f'user_{user}="{password}"' for user, password in self.sasl_users.items())
            props["listeners"] += f",{sasl}"
            props["advertised.listeners"] += f",{sasl}"
            props["listener.security.protocol.map"] += ",SASL_PLAINTEXT:SASL_PLAINTEXT"
            props["listener.name.sasl_plaintext.sasl.enabled.mechanisms"] = "PLAIN"
            props["listener.name.sasl_plaintext.plain.sasl.jaas.config"] = (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"
            )
        text = "# Written by headwater on every start; edits are lost.\n"
        text += "".join(f"{key}={value}\n" for key, value in props.items())
        (self.data_dir / "server.properties").write_text(text, encoding="utf-8")
        log4j2 = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by headwater: the broker logs to a file, never to the caller's terminal. -->
<Configuration status="warn" shutdownHook="disable">
  <Appenders>
    <RollingFile name="file" fileName="{self.log_file}" filePattern="{self.log_file}.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="warn"/>
    <Logger name="state.change.logger" level="warn"/>
    <Logger name="org.apache.kafka.controller" level="info"/>
    <Root level="info"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""
        (self.data_dir / "log4j2.xml").write_text(log4j2, encoding="utf-8")

    def _jvm_args(self, java: str, libs: Path) -> list[str]:
        return [
            java,
            "-Xms128m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp",
            f"{libs}/*",
        ]

    def _format_storage(self, java: str, libs: Path) -> None:
        """Format the KRaft storage once; a formatted data dir is left untouched."""
        if (self.data_dir / "kraft" / "meta.properties").is_file():
            return
        cmd = [
            *self._jvm_args(java, libs),
            "kafka.tools.StorageTool",
            "format",
            "--ignore-formatted",
            "-t",
            _random_cluster_id(),
            "-c",
            str(self.data_dir / "server.properties"),
        ]
        self._echo(f"Formatting KRaft storage in {self.data_dir / 'kraft'}")
        try:
            proc = subprocess.run(  # fixed argv, no shell
                cmd, capture_output=True, text=True, timeout=120, check=False
            )
        except subprocess.TimeoutExpired as exc:
            msg = f"Formatting the Kafka storage hung: {' '.join(cmd)}"
            raise FatalError(msg) from exc
        if proc.returncode != 0:
            msg = (
                f"Formatting the Kafka storage failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                f"{proc.stdout}{proc.stderr}\n{_tail(self.log_file)}"
            )
            raise FatalError(msg)

    def _launch(self, java: str, libs: Path) -> subprocess.Popen[bytes]:
        cmd = [
            *self._jvm_args(java, libs),
            "kafka.Kafka",
            str(self.data_dir / "server.properties"),
        ]
        return _spawn_detached(cmd, self.data_dir, self.jvm_log_file, "the Kafka JVM")

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        """Block until the broker answers metadata; on death or timeout raise with its log."""
        # Imported here so that status/stop (and the CLI's help) work without librdkafka.
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        # A dict[str, Any]: the stubs type config values as scalars, but "logger" takes
        # a logging.Logger.
        config: dict[str, t.Any] = {
            "bootstrap.servers": self.bootstrap,
            "logger": _probe_log,
            "socket.timeout.ms": 2000,
        }
        admin = AdminClient(config)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = proc.poll()
            if code is not None:
                _children.pop(proc.pid, None)
                self.pid_file.unlink(missing_ok=True)
                self.bootstrap_file.unlink(missing_ok=True)
                msg = (
                    f"Kafka exited with code {code} while starting. JVM output "
                    f"({self.jvm_log_file}):\n{_tail(self.jvm_log_file, 20)}\n"
                    f"Broker log ({self.log_file}):\n{_tail(self.log_file)}"
                )
                raise FatalError(msg)
            try:
                metadata = admin.list_topics(timeout=2.0)
            except KafkaException:
                metadata = None
            if metadata is not None and metadata.brokers:
                return
            if time.monotonic() > deadline:
                log_tail = _tail(self.log_file)
                self.stop(timeout=15.0)
                msg = (
                    f"Kafka did not answer on {self.bootstrap} within {self.startup_timeout:.0f}s; "
                    f"stopped it. Broker log ({self.log_file}):\n{log_tail}"
                )
                raise FatalError(msg)
            time.sleep(0.25)
