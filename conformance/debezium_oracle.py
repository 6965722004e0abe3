"""Debezium's own LogMiner DML parser as a differential oracle for Headwater's.

Test harness only (it needs Java 17 and, once, Maven and Maven Central). It fetches
``io.debezium:debezium-connector-oracle:3.6.1.Final`` and its runtime dependencies into
``<cache>/debezium-oracle/3.6.1.Final/libs`` (``<cache>`` is ``$HEADWATER_CACHE_DIR`` or
``~/.cache/headwater``) with a stamp file marking a finished download, the way the Kafka
broker jars are cached, so later runs are offline. A small Java driver (its source is
below) is compiled with ``javac`` into the same cache on first use; it reads one JSON
request per line (schema, table, column names, ``SQL_REDO``), runs Debezium's
``LogMinerDmlParser`` (Debezium's defaults, or with relaxed quote detection on request)
and prints the old and new column vectors as JSON.

Maven is pointed at Maven Central only (Debezium's pom also names Confluent's
repository, which is not reachable here), and the Oracle JDBC/XML jars and the
Infinispan/Ehcache buffer jars are left out: the parser does not load them.

:class:`DebeziumRedoParser` runs one JVM; it is not thread-safe (one caller at a time).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

import orjson

from headwater.connectors.errors import FatalError

__all__ = ["DEBEZIUM_VERSION", "DebeziumRedoParser", "DebeziumReply", "ensure_debezium_libs"]

DEBEZIUM_VERSION = "3.6.1.Final"
_CONNECT_VERSION = "4.1.1"
_STAMP_NAME = ".complete"
_MAVEN_TIMEOUT_S = 900.0

_POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.headwater.local</groupId>
  <artifactId>debezium-oracle-parser-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.debezium</groupId>
      <artifactId>debezium-connector-oracle</artifactId>
      <version>{version}</version>
      <exclusions>
        <exclusion><groupId>org.infinispan</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>org.ehcache</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.oracle.database.jdbc</groupId><artifactId>*</artifactId></exclusion>
        <exclusion><groupId>com.oracle.database.xml</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>connect-api</artifactId>
      <version>{connect}</version>
    </dependency>
  </dependencies>
</project>
"""

_SETTINGS = """<settings><mirrors><mirror><id>central-only</id><mirrorOf>*</mirrorOf>
<url>https://repo.maven.apache.org/maven2</url></mirror></mirrors></settings>
"""

DRIVER_SOURCE = r"""import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.debezium.config.Configuration;
import io.debezium.connector.oracle.OracleConnectorConfig;
import io.debezium.connector.oracle.logminer.parser.LogMinerDmlEntry;
import io.debezium.connector.oracle.logminer.parser.LogMinerDmlParser;
import io.debezium.relational.Column;
import io.debezium.relational.Table;
import io.debezium.relational.TableEditor;
import io.debezium.relational.TableId;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Reads {"schema","table","columns":[...],"sql","relaxed"} lines; prints {"op","old","new"} or {"error"} lines. */
public class RedoDriver {
    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        Configuration config = Configuration.create()
                .with("topic.prefix", "headwater").with("database.hostname", "localhost")
                .with("database.dbname", "ORCLCDB").with("database.user", "u").with("database.password", "p")
                .build();
        LogMinerDmlParser strict = new LogMinerDmlParser(new OracleConnectorConfig(config));
        LogMinerDmlParser relaxed = new LogMinerDmlParser(new OracleConnectorConfig(
                config.edit().with("internal.log.mining.sql.relaxed.quote.detection", "true").build()));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println("{\"ready\":true}");
        String line;
        while ((line = in.readLine()) != null) {
            JsonNode request = mapper.readTree(line);
            ObjectNode reply = mapper.createObjectNode();
            try {
                TableId id = new TableId("ORCLCDB", request.get("schema").asText(), request.get("table").asText());
                TableEditor editor = Table.editor().tableId(id);
                int position = 1;
                for (JsonNode name : request.get("columns")) {
                    editor.addColumn(Column.editor().name(name.asText()).type("VARCHAR2").jdbcType(java.sql.Types.VARCHAR).position(position++).create());
                }
                LogMinerDmlParser parser = request.path("relaxed").asBoolean(false) ? relaxed : strict;
                LogMinerDmlEntry entry = parser.parse(request.get("sql").asText(), editor.create());
                if (entry == null) {
                    reply.put("error", "parser returned null");
                } else {
                    reply.put("op", entry.getEventType().toString());
                    reply.set("old", values(mapper, entry.getOldValues()));
                    reply.set("new", values(mapper, entry.getNewValues()));
                }
            } catch (Throwable e) {
                reply.put("error", e.getClass().getName() + ": " + e.getMessage());
            }
            out.println(mapper.writeValueAsString(reply));
        }
    }

    private static ArrayNode values(ObjectMapper mapper, Object[] values) {
        ArrayNode array = mapper.createArrayNode();
        if (values == null) {
            return array;
        }
        for (Object value : values) {
            if (value == null) array.addNull();
            else if (value instanceof String) array.add((String) value);
            else array.add("<" + value.getClass().getName() + ">" + value);
        }
        return array;
    }
}
"""


def _cache_root() -> Path:
    env = os.environ.get("HEADWATER_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "headwater"


def ensure_debezium_libs(version: str = DEBEZIUM_VERSION, *, cache_dir: Path | None = None) -> Path:
    """Make sure Debezium's Oracle connector jars are cached; return their folder.

    Returns at once, offline, when the stamp of a finished download exists. Otherwise
    runs ``mvn dependency:copy-dependencies`` into a scratch folder, swaps it in and
    writes the stamp (an exclusive file lock serialises concurrent callers).

    Raises:
        FatalError: ``mvn`` is missing, or Maven failed (the message has its output tail).
    """
    libs = (cache_dir or _cache_root()) / "debezium-oracle" / version / "libs"
    stamp = libs.parent / _STAMP_NAME
    if stamp.is_file() and libs.is_dir():
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and libs.is_dir():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            msg = f"Apache Maven ('mvn') is needed once to fetch Debezium {version} into {libs}"
            raise FatalError(msg)
        scratch = libs.parent / "libs.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="headwater-debezium-pom-") as pom_dir:
            Path(pom_dir, "pom.xml").write_text(_POM.format(version=version, connect=_CONNECT_VERSION))
            Path(pom_dir, "settings.xml").write_text(_SETTINGS)
            cmd = [mvn, "-q", "-B", "-s", "settings.xml", "dependency:copy-dependencies"]
            cmd += ["-DincludeScope=runtime", f"-DoutputDirectory={scratch}"]
            try:
                proc = subprocess.run(
                    cmd, cwd=pom_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                    timeout=_MAVEN_TIMEOUT_S, check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired as exc:
                msg = f"Maven did not fetch Debezium {version} within {_MAVEN_TIMEOUT_S:.0f}s"
                raise FatalError(msg) from exc
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
            msg = f"Maven failed (exit {proc.returncode}) fetching Debezium {version}:\n{tail}"
            raise FatalError(msg)
        jars = sorted(p.name for p in scratch.glob("*.jar"))
        if f"debezium-connector-oracle-{version}.jar" not in jars:
            msg = f"Maven finished but {scratch} holds no debezium-connector-oracle-{version}.jar"
            raise FatalError(msg)
        shutil.rmtree(libs, ignore_errors=True)
        scratch.rename(libs)
        stamp.write_text("\n".join(jars) + "\n", encoding="utf-8")
        return libs


def _compile_driver(libs: Path) -> Path:
    digest = hashlib.sha256(DRIVER_SOURCE.encode()).hexdigest()[:16]
    classes = libs.parent / f"driver-{digest}"
    if (classes / "RedoDriver.class").is_file():
        return classes
    javac = shutil.which("javac")
    if javac is None:
        msg = "javac (a JDK 17) is needed to compile the Debezium parser driver"
        raise FatalError(msg)
    scratch = Path(tempfile.mkdtemp(prefix="driver-", dir=libs.parent))
    (scratch / "RedoDriver.java").write_text(DRIVER_SOURCE, encoding="utf-8")
    proc = subprocess.run(
        [javac, "-nowarn", "-cp", f"{libs}/*", "-d", str(scratch), str(scratch / "RedoDriver.java")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        msg = f"javac failed compiling the Debezium parser driver:\n{proc.stderr[-3000:]}"
        raise FatalError(msg)
    if classes.exists():
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        scratch.rename(classes)
    return classes


class DebeziumReply(t.TypedDict, total=False):
    """What the driver prints for one statement: Debezium's event type and value vectors."""

    op: str
    old: list[str | None]
    new: list[str | None]
    error: str


class DebeziumRedoParser:
    """One JVM running Debezium's ``LogMinerDmlParser`` behind a line protocol.

    Call :meth:`start` once (it fetches and compiles on first use), then :meth:`parse`
    from one thread at a time, then :meth:`close`.
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self._cache_dir = cache_dir
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        """Start the JVM and wait for its ready line.

        Raises:
            FatalError: Maven, javac or java are missing or failed, or the JVM did not start.
        """
        libs = ensure_debezium_libs(cache_dir=self._cache_dir)
        classes = _compile_driver(libs)
        java = shutil.which("java")
        if java is None:
            msg = "java (17) is needed to run Debezium's parser"
            raise FatalError(msg)
        self._proc = subprocess.Popen(
            [java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", f"{libs}/*:{classes}", "RedoDriver"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self._proc.stdout.readline()
        if b'"ready"' not in line or time.monotonic() > deadline:
            self.close()
            msg = f"Debezium parser driver did not start (got {line[:200]!r})"
            raise FatalError(msg)

    def parse(
        self, schema: str, table: str, columns: t.Sequence[str], sql: str, *, relaxed: bool = False
    ) -> DebeziumReply:
        """Parse ``sql`` against a table with ``columns`` (in order); return Debezium's reply.

        ``relaxed`` turns on Debezium's relaxed quote detection (its internal option for the
        apostrophes LogMiner sometimes leaves undoubled); off is Debezium's default."""
        if self._proc is None or self._proc.stdin is None or self._proc.stdout is None:
            msg = "DebeziumRedoParser.start() was not called"
            raise FatalError(msg)
        request = {"schema": schema, "table": table, "columns": list(columns), "sql": sql, "relaxed": relaxed}
        self._proc.stdin.write(orjson.dumps(request) + b"\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            msg = "the Debezium parser driver exited"
            raise FatalError(msg)
        return t.cast(DebeziumReply, orjson.loads(line))

    def close(self) -> None:
        """Stop the JVM (closing its stdin ends it; killed after 10 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
