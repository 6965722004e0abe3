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

import subprocess
import time
import typing as t
from pathlib import Path

import orjson

from headwater.connectors.errors import FatalError
from headwater.connectors.launch import maven

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
                if (request.has("bench")) {
                    // Timing: parse every statement of "bench" per round; reply each round's seconds.
                    Table table = editor.create();
                    String[] sqls = new String[request.get("bench").size()];
                    for (int i = 0; i < sqls.length; i++) sqls[i] = request.get("bench").get(i).asText();
                    ArrayNode seconds = mapper.createArrayNode();
                    long sink = 0;
                    for (int round = 0; round < request.path("rounds").asInt(1); round++) {
                        long started = System.nanoTime();
                        for (String sql : sqls) sink += parser.parse(sql, table).getNewValues().length;
                        seconds.add((System.nanoTime() - started) / 1e9);
                    }
                    reply.set("seconds", seconds);
                    reply.put("values", sink);
                    out.println(mapper.writeValueAsString(reply));
                    continue;
                }
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


def ensure_debezium_libs(version: str = DEBEZIUM_VERSION, *, cache_dir: Path | None = None) -> Path:
    """Make sure Debezium's Oracle connector jars are cached; return their folder.

    Returns at once, offline, when the stamp of a finished download exists. Otherwise
    runs ``mvn dependency:copy-dependencies`` (Maven Central only) once
    (:func:`headwater.connectors.launch.maven.ensure_dependency_tree`).

    Raises:
        FatalError: ``mvn`` is missing, or Maven failed (the message has its output tail).
    """
    return maven.ensure_dependency_tree(
        (cache_dir or maven.cache_root()) / "debezium-oracle" / version / "libs",
        _POM.format(version=version, connect=_CONNECT_VERSION),
        what=f"Debezium {version}",
        expect_jar=f"debezium-connector-oracle-{version}.jar",
        settings=_SETTINGS,
        stamp_name=_STAMP_NAME,
        timeout=_MAVEN_TIMEOUT_S,
    )


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
        classpath = f"{libs}/*"
        classes = maven.compile_driver(
            DRIVER_SOURCE, "RedoDriver", classpath, libs.parent, what="the Debezium parser driver"
        )
        self._proc = maven.start_driver(classes, classpath, "RedoDriver", jvm_options=["-Xmx256m", "-XX:+UseSerialGC"])
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

    def time_parse(
        self, schema: str, table: str, columns: t.Sequence[str], sqls: t.Sequence[str], *, rounds: int = 5
    ) -> list[float]:
        """Parse every statement of ``sqls`` ``rounds`` times inside the JVM; return each
        round's seconds (the first rounds include the JIT's warm-up). For benchmarks."""
        if self._proc is None or self._proc.stdin is None or self._proc.stdout is None:
            msg = "DebeziumRedoParser.start() was not called"
            raise FatalError(msg)
        request = {"schema": schema, "table": table, "columns": list(columns), "bench": list(sqls), "rounds": rounds}
        self._proc.stdin.write(orjson.dumps(request) + b"\n")
        self._proc.stdin.flush()
        reply = orjson.loads(self._proc.stdout.readline() or b'{"error": "the Debezium parser driver exited"}')
        if "error" in reply:
            msg = f"Debezium parser benchmark failed: {reply['error']}"
            raise FatalError(msg)
        return [float(x) for x in reply["seconds"]]

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
