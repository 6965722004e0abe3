"""The JVM side of the interop tests: Kafka Connect's and Apicurio's converters reading our bytes.

The jars (``org.apache.kafka:connect-json`` and ``io.apicurio:apicurio-registry-utils-converter``
with their runtime trees) come from Maven Central once, into
``$HEADWATER_CACHE_DIR/interop/<versions>/libs`` with a stamp file, and the tiny driver
``Interop.java`` is compiled with ``javac`` (cached by its hash), both through
:mod:`headwater.connectors.launch.maven`; the driver is started once per session.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import typing as t
from pathlib import Path

import pytest

from headwater.connectors.launch import maven

KAFKA_VERSION = "4.1.1"
APICURIO_VERSION = "2.6.13.Final"
DRIVER = Path(__file__).with_name("Interop.java")

POM = f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.headwater.local</groupId>
  <artifactId>interop-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-json</artifactId>
      <version>{KAFKA_VERSION}</version></dependency>
    <dependency><groupId>io.apicurio</groupId><artifactId>apicurio-registry-utils-converter</artifactId>
      <version>{APICURIO_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-nop</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
"""


def _libs() -> Path:
    """The interop jars, fetched once (skips the tests when Maven is not installed)."""
    root = maven.cache_root() / "interop" / f"kafka-{KAFKA_VERSION}-apicurio-{APICURIO_VERSION}"
    try:
        return maven.ensure_dependency_tree(root / "libs", POM, what="the interop jars", expect_jar="connect-json-")
    except maven.ToolMissing as exc:
        pytest.skip(str(exc))


def _compiled(libs: Path) -> Path:
    """The compiled ``Interop`` driver (skips the tests when javac is not installed)."""
    try:
        return maven.compile_driver(
            DRIVER.read_text(encoding="utf-8"), "Interop", f"{libs}/*", libs.parent, what="the interop driver"
        )
    except maven.ToolMissing as exc:
        pytest.skip(str(exc))


class Jvm:
    """The running driver: :meth:`read` hands it bytes and returns what the JVM converter read."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def read(self, kind: str, topic: str, data: bytes) -> dict[str, t.Any]:
        """``{"schema": ..., "payload": ...}`` as Kafka Connect's JsonConverter writes what was read.

        Raises:
            AssertionError: the JVM converter refused the bytes (its exception is the message).
        """
        from headwater.codecs.converters import loads_exact

        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{kind} {topic} {base64.b64encode(data).decode()}\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer.startswith("OK "), f"the JVM converter failed: {answer}"
        return t.cast(dict[str, t.Any], loads_exact(answer[3:]))


@pytest.fixture(scope="session")
def connect_jvm(schema_registry_url: str) -> t.Iterator[Jvm]:
    """Kafka Connect's JsonConverter and Apicurio's AvroConverter in one JVM for the session."""
    if shutil.which("java") is None:
        pytest.skip("java is needed for the interop tests")
    libs = _libs()
    classes = _compiled(libs)
    apicurio = schema_registry_url.replace("/apis/ccompat/v7", "/apis/registry/v2")
    process = maven.start_driver(classes, f"{libs}/*", "Interop", jvm_options=["-Xmx128m"], args=[apicurio], text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.strip() == "READY", f"the interop JVM did not start: {ready!r}"
        yield Jvm(process)
    finally:
        process.terminate()
        process.wait(timeout=30)
