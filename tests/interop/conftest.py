"""The JVM side of the interop tests: Kafka Connect's and Apicurio's converters reading our bytes.

The jars (``org.apache.kafka:connect-json`` and ``io.apicurio:apicurio-registry-utils-converter``
with their runtime trees) come from Maven Central once, into
``$HEADWATER_CACHE_DIR/interop/<versions>/libs`` with a stamp file, like the Kafka jars; the
tiny driver ``Interop.java`` is compiled with ``javac`` at test time (cached by its hash)
and started once per session.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

import pytest

from headwater.connectors.launch.broker import cache_root

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
    root = cache_root() / "interop" / f"kafka-{KAFKA_VERSION}-apicurio-{APICURIO_VERSION}"
    libs, stamp = root / "libs", root / ".headwater-complete"
    if stamp.is_file():
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            pytest.skip("Maven is needed once to fetch the interop jars")
        scratch = root / "libs.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        with tempfile.TemporaryDirectory() as pom_dir:
            (Path(pom_dir) / "pom.xml").write_text(POM)
            done = subprocess.run(  # fixed argv, no shell
                [mvn, "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime",
                 f"-DoutputDirectory={scratch}"],
                cwd=pom_dir, capture_output=True, text=True, timeout=1800, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"Maven could not fetch the interop jars:\n{done.stdout}{done.stderr}")
        shutil.rmtree(libs, ignore_errors=True)
        scratch.rename(libs)
        stamp.write_text("\n".join(sorted(p.name for p in libs.glob("*.jar"))))
    return libs


def _compiled(libs: Path) -> Path:
    source = DRIVER.read_bytes()
    classes = libs.parent / "classes" / hashlib.sha256(source).hexdigest()[:16]
    if (classes / "Interop.class").is_file():
        return classes
    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("javac (a JDK 17+) is needed to compile the interop driver")
    scratch = Path(tempfile.mkdtemp(prefix="interop-", dir=libs.parent))
    done = subprocess.run(  # fixed argv, no shell
        [javac, "-d", str(scratch), "-cp", f"{libs}/*", str(DRIVER)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"javac failed:\n{done.stdout}{done.stderr}")
    classes.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(classes, ignore_errors=True)
    scratch.rename(classes)
    return classes


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
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is needed for the interop tests")
    libs = _libs()
    classes = _compiled(libs)
    apicurio = schema_registry_url.replace("/apis/ccompat/v7", "/apis/registry/v2")
    process = subprocess.Popen(  # fixed argv, no shell
        [java, "-Xmx128m", "-cp", f"{classes}:{libs}/*", "Interop", apicurio],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.strip() == "READY", f"the interop JVM did not start: {ready!r}"
        yield Jvm(process)
    finally:
        process.terminate()
        process.wait(timeout=30)
