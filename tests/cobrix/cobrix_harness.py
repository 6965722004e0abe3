"""Cobrix as a differential oracle: fetch its jars, compile the driver, run one JVM for many cases.

Used by the differential tests in this folder (through the session fixture in
``conftest.py``) and by ``bench/bench_cobrix.py``. Nothing here is part of the Headwater
package.

* :func:`ensure_cobrix_libs` fetches ``za.co.absa.cobrix:cobol-parser_2.12`` and its runtime
  dependencies from Maven Central once into ``<cache>/cobrix/<version>/libs`` (cache root as
  for the Kafka jars: ``$HEADWATER_CACHE_DIR`` or ``~/.cache/headwater``); a stamp file marks
  a finished download, so later runs are offline.
* :func:`ensure_driver` compiles ``CobrixDecode.java`` with ``javac`` into a folder named by
  the hash of the source and the jar list, so an edited driver is recompiled and an
  unchanged one never is.
* :class:`CobrixOracle` keeps one JVM running the driver; :meth:`CobrixOracle.decode` writes a
  case folder (copybook, data, Cobrix options) and reads back the JSON lines or the error.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from headwater.connectors.errors import FatalError
from headwater.connectors.launch import maven

COBRIX_VERSION = "2.6.9"
DRIVER_SOURCE = Path(__file__).with_name("CobrixDecode.java")
_STAMP = ".complete"
_MAVEN_TIMEOUT_S = 600.0


class CobrixUnavailable(RuntimeError):
    """Java, javac or Maven is missing, or the jars could not be fetched."""


def _pom(version: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.headwater.local</groupId>
  <artifactId>cobrix-oracle-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>za.co.absa.cobrix</groupId>
      <artifactId>cobol-parser_2.12</artifactId>
      <version>{version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.25</version>
    </dependency>
  </dependencies>
</project>
"""


def ensure_cobrix_libs(version: str = COBRIX_VERSION, cache_dir: Path | None = None) -> Path:
    """Return the folder of Cobrix's jars, fetching them with Maven the first time.

    Raises:
        CobrixUnavailable: ``mvn`` is missing or Maven failed.
    """
    try:
        return maven.ensure_dependency_tree(
            (cache_dir or maven.cache_root()) / "cobrix" / version / "libs",
            _pom(version),
            what=f"Cobrix {version}",
            expect_jar="cobol-parser_2.12-",
            stamp_name=_STAMP,
            timeout=_MAVEN_TIMEOUT_S,
        )
    except FatalError as exc:
        raise CobrixUnavailable(str(exc)) from exc


def classpath(libs: Path) -> str:
    """Cobrix's jars as an explicit, sorted classpath."""
    return maven.jar_classpath(libs)


def ensure_driver(libs: Path) -> Path:
    """Compile the driver (once per source and jar set); return the classes folder.

    Raises:
        CobrixUnavailable: ``javac`` is missing or the driver does not compile.
    """
    try:
        return maven.compile_driver(
            DRIVER_SOURCE.read_text(encoding="utf-8"),
            "CobrixDecode",
            classpath(libs),
            libs.parent,
            what=str(DRIVER_SOURCE),
        )
    except FatalError as exc:
        raise CobrixUnavailable(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class CobrixResult:
    """What Cobrix made of one case: the records, or the exception text."""

    records: list[dict[str, Any]] | None
    error: str | None


class CobrixOracle:
    """One JVM running the Cobrix driver; decode cases one at a time (not thread-safe)."""

    def __init__(self, work_dir: Path, libs: Path | None = None) -> None:
        if shutil.which("java") is None:
            msg = "java is not on PATH"
            raise CobrixUnavailable(msg)
        self.libs = libs or ensure_cobrix_libs()
        classes = ensure_driver(self.libs)
        self.work_dir = work_dir
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._cases = 0
        self._proc = maven.start_driver(
            classes, classpath(self.libs), "CobrixDecode", jvm_options=["-Xss8m"], text=True
        )

    def decode(self, copybook: str, data: bytes, options: dict[str, Any]) -> CobrixResult:
        """Decode ``data`` with Cobrix; ``options`` are Cobrix option names and values."""
        self._cases += 1
        case = self.work_dir / f"case-{self._cases:05d}"
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir()
        (case / "copybook.cpy").write_text(copybook, encoding="utf-8")
        (case / "data.bin").write_bytes(data)
        lines = [f"{_key(key)}={_property(value)}" for key, value in options.items()]
        (case / "options.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._ask(case)
        error = case / "cobrix.error"
        if error.is_file():
            return CobrixResult(None, error.read_text(encoding="utf-8"))
        text = (case / "cobrix.jsonl").read_text(encoding="utf-8")
        records = [json.loads(line, parse_float=_exact) for line in text.splitlines() if line]
        shutil.rmtree(case, ignore_errors=True)
        return CobrixResult(records, None)

    def bench(self, copybook: str, data: bytes, options: dict[str, Any], rounds: int) -> list[tuple[int, float, float]]:
        """Decode ``data`` ``rounds`` times in the warm JVM; (records, seconds, CPU seconds of the
        decoding thread) per round."""
        self._cases += 1
        case = self.work_dir / f"bench-{self._cases:05d}"
        case.mkdir(exist_ok=True)
        (case / "copybook.cpy").write_text(copybook, encoding="utf-8")
        (case / "data.bin").write_bytes(data)
        lines = [f"{key}={_property(value)}" for key, value in {**options, "bench_repeat": rounds}.items()]
        (case / "options.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._ask(case)
        if (case / "cobrix.error").is_file():
            raise RuntimeError((case / "cobrix.error").read_text(encoding="utf-8"))
        rows = (case / "cobrix.bench").read_text(encoding="utf-8").split("\n")
        shutil.rmtree(case, ignore_errors=True)
        return [(int(row.split()[0]), float(row.split()[1]), float(row.split()[2])) for row in rows if row]

    def _ask(self, case: Path) -> None:
        stdin: IO[str] | None = self._proc.stdin
        stdout: IO[str] | None = self._proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(f"{case}\n")
        stdin.flush()
        answer = stdout.readline().strip()
        if answer != f"done {case}":
            msg = f"the Cobrix driver stopped (exit {self._proc.poll()}) on {case}: {answer!r}"
            raise RuntimeError(msg)

    def close(self) -> None:
        """Stop the JVM (end of input), waiting briefly; kill it if it does not stop."""
        if self._proc.stdin is not None:
            try:
                self._proc.stdin.write("\n")
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _property(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\\", "\\\\")


def _exact(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def _key(key: str) -> str:
    # java.util.Properties reads ':' and '=' in a key as the separator unless escaped.
    return key.replace(":", "\\:").replace("=", "\\=")
