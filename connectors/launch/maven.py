"""Jars from Maven Central in Headwater's download cache, and small Java drivers run against them.

Tooling, not runtime: the Kafka and registry launchers, the Debezium and Cobrix oracles and
the interop tests fetch with it. The contract every caller relies on:

- :func:`cached_folder` fills ``<cache>/<name>/<version>/<folder>`` once. A stamp file next
  to the folder marks a finished fill, so later calls return at once, offline; a fill runs
  into a scratch folder that is swapped in before the stamp is written, so an interrupted
  one is redone, never mistaken for finished; an exclusive file lock makes concurrent
  callers (parallel test workers) fill only once.
- :func:`fetch_dependencies` runs ``mvn dependency:copy-dependencies`` (runtime scope) for a
  small pom into a folder; :func:`ensure_dependency_tree` is the two together.
- :func:`compile_driver` compiles one small Java class with ``javac`` into a folder named by
  the hash of its source and classpath (an edited driver is recompiled, an unchanged one
  never is); :func:`start_driver` runs it in one JVM with piped stdin/stdout.

Errors are :class:`~headwater.connectors.errors.FatalError`; a missing ``mvn``, ``javac`` or
``java`` is the subclass :class:`ToolMissing`, so a test harness can skip on it. POSIX only
(``fcntl``). Not thread-safe within one process beyond what the file lock gives.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import typing as t
from pathlib import Path

from headwater.connectors.errors import FatalError

__all__ = [
    "MAVEN_TIMEOUT_S",
    "ToolMissing",
    "cache_root",
    "cached_folder",
    "compile_driver",
    "copy_dependencies_goals",
    "ensure_dependency_tree",
    "fetch_dependencies",
    "jar_classpath",
    "jar_names",
    "require_tool",
    "run_maven",
    "start_driver",
]

MAVEN_TIMEOUT_S = 1800.0
_STAMP_NAME = ".headwater-complete"


class ToolMissing(FatalError):
    """``mvn``, ``javac`` or ``java`` is not on PATH; the message says what it was needed for."""


def cache_root() -> Path:
    """Return the root of Headwater's download cache.

    ``$HEADWATER_CACHE_DIR`` when set, else ``~/.cache/headwater``. Nothing is created.
    """
    env = os.environ.get("HEADWATER_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "headwater"


def require_tool(name: str, why: str) -> str:
    """Return the path of executable ``name`` on PATH.

    Raises:
        ToolMissing: it is not there; ``why`` is the message (say what it is needed for).
    """
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(why)
    return found


def jar_names(folder: Path) -> list[str]:
    """The sorted names of the jars directly in ``folder``."""
    return sorted(p.name for p in folder.glob("*.jar"))


def jar_classpath(folder: Path) -> str:
    """The jars of ``folder`` as an explicit, sorted classpath (a deterministic load order)."""
    return ":".join(str(folder / name) for name in jar_names(folder))


def cached_folder(
    folder: Path,
    fill: t.Callable[[Path], str],
    *,
    stamp_name: str = _STAMP_NAME,
    ready: t.Callable[[Path], bool] = Path.is_dir,
) -> Path:
    """Return ``folder``, filling it once through ``fill`` if its stamp is not there.

    ``fill(scratch)`` populates the (absent) scratch folder ``<folder>.partial`` and returns
    the stamp's text; whatever it raises propagates, and the stamp is then not written.
    ``ready(folder)`` must hold as well as the stamp for a cached folder to count.
    """
    stamp = folder.parent / stamp_name
    if stamp.is_file() and ready(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Another process may have finished while we waited for the lock.
        if stamp.is_file() and ready(folder):
            return folder
        scratch = folder.parent / f"{folder.name}.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        text = fill(scratch)
        shutil.rmtree(folder, ignore_errors=True)
        scratch.rename(folder)
        stamp.write_text(text, encoding="utf-8")
        return folder


def run_maven(
    mvn: str,
    goals: t.Sequence[str],
    *,
    cwd: Path,
    what: str,
    timeout: float = MAVEN_TIMEOUT_S,
    tail_lines: int = 40,
) -> None:
    """Run ``mvn -q -B <goals>`` in ``cwd`` (stdin closed, output captured).

    Raises:
        FatalError: Maven failed or did not finish within ``timeout``; the message names
            ``what`` was being fetched and carries the tail of Maven's output.
    """
    cmd = [mvn, "-q", "-B", *goals]
    try:
        proc = subprocess.run(  # fixed argv, no shell
            cmd,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"Maven did not finish fetching {what} within {timeout:.0f}s"
        raise FatalError(msg) from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-tail_lines:])
        msg = f"Maven failed (exit {proc.returncode}) fetching {what}: {' '.join(cmd)}\n{tail}"
        raise FatalError(msg)


def copy_dependencies_goals(output_dir: Path) -> list[str]:
    """The Maven goal and flags that copy a pom's runtime dependency tree into ``output_dir``."""
    return ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={output_dir}"]


def fetch_dependencies(
    mvn: str,
    pom: str,
    output_dir: Path,
    *,
    what: str,
    settings: str | None = None,
    timeout: float = MAVEN_TIMEOUT_S,
) -> None:
    """Copy the runtime dependency tree of ``pom`` (a pom.xml's text) into ``output_dir``.

    ``settings`` is a Maven settings.xml's text (e.g. to pin the repositories), used when given.

    Raises:
        FatalError: Maven failed or hung.
    """
    with tempfile.TemporaryDirectory(prefix="headwater-pom-") as pom_dir:
        (Path(pom_dir) / "pom.xml").write_text(pom, encoding="utf-8")
        goals = copy_dependencies_goals(output_dir)
        if settings is not None:
            (Path(pom_dir) / "settings.xml").write_text(settings, encoding="utf-8")
            goals = ["-s", "settings.xml", *goals]
        run_maven(mvn, goals, cwd=Path(pom_dir), what=what, timeout=timeout)


def ensure_dependency_tree(
    libs: Path,
    pom: str,
    *,
    what: str,
    expect_jar: str,
    settings: str | None = None,
    stamp_name: str = _STAMP_NAME,
    timeout: float = MAVEN_TIMEOUT_S,
) -> Path:
    """Make sure the runtime jars of ``pom`` are in ``libs``; return ``libs``.

    Offline when cached (see :func:`cached_folder`); otherwise Maven fetches them once.

    Args:
        libs: the jar folder, ``<cache>/<name>/<version>/libs``.
        pom: the pom.xml text whose dependencies are fetched.
        what: names the download in messages (``"Debezium 3.6.1.Final"``).
        expect_jar: a jar name prefix that must be among the fetched jars.
        settings: a Maven settings.xml text, when the default repositories will not do.
        stamp_name: the stamp file's name next to ``libs``.
        timeout: how long Maven may take.

    Raises:
        ToolMissing: ``mvn`` is not on PATH.
        FatalError: Maven failed, or fetched no ``expect_jar``.
    """

    def fill(scratch: Path) -> str:
        mvn = require_tool("mvn", f"Apache Maven ('mvn') is not on PATH; it is needed once to fetch {what} into {libs}")
        fetch_dependencies(mvn, pom, scratch, what=what, settings=settings, timeout=timeout)
        jars = jar_names(scratch)
        if not any(name.startswith(expect_jar) for name in jars):
            msg = f"Maven finished but {scratch} holds no {expect_jar}* jar"
            raise FatalError(msg)
        return "\n".join(jars) + "\n"

    return cached_folder(libs, fill, stamp_name=stamp_name)


def compile_driver(source: str, class_name: str, classpath: str, cache_dir: Path, *, what: str) -> Path:
    """Compile the Java ``source`` of public class ``class_name``; return its classes folder.

    The folder is ``<cache_dir>/driver-<hash>``, the hash over the source and the classpath,
    so it is compiled once per source and jar set. Safe against a concurrent compile (the
    first finished one wins).

    Raises:
        ToolMissing: ``javac`` is not on PATH.
        FatalError: javac failed (its error output is in the message, ``what`` names the driver).
    """
    digest = hashlib.sha256(f"{source}\0{classpath}".encode()).hexdigest()[:16]
    classes = cache_dir / f"driver-{digest}"
    if (classes / f"{class_name}.class").is_file():
        return classes
    javac = require_tool("javac", f"javac (a JDK 17+) is not on PATH; it compiles {what}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="driver-", dir=cache_dir))
    java_file = scratch / f"{class_name}.java"
    java_file.write_text(source, encoding="utf-8")
    proc = subprocess.run(  # fixed argv, no shell
        [javac, "-nowarn", "-cp", classpath, "-d", str(scratch), str(java_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        msg = f"javac failed compiling {what}:\n{(proc.stdout + proc.stderr)[-4000:]}"
        raise FatalError(msg)
    java_file.unlink()
    try:
        scratch.rename(classes)
    except OSError:  # another process compiled it first
        shutil.rmtree(scratch, ignore_errors=True)
    return classes


@t.overload
def start_driver(
    classes: Path, classpath: str, class_name: str, *, jvm_options: t.Sequence[str] = (),
    args: t.Sequence[str] = (), text: t.Literal[True],
) -> subprocess.Popen[str]: ...  # fmt: skip
@t.overload
def start_driver(
    classes: Path, classpath: str, class_name: str, *, jvm_options: t.Sequence[str] = (),
    args: t.Sequence[str] = (), text: t.Literal[False] = False,
) -> subprocess.Popen[bytes]: ...  # fmt: skip
def start_driver(
    classes: Path,
    classpath: str,
    class_name: str,
    *,
    jvm_options: t.Sequence[str] = (),
    args: t.Sequence[str] = (),
    text: bool = False,
) -> subprocess.Popen[str] | subprocess.Popen[bytes]:
    """Start ``java <jvm_options> -cp <classes>:<classpath> <class_name> <args>``.

    Its stdin and stdout are pipes (text or bytes), its stderr is discarded. The caller owns
    the process: it reads the driver's ready line and ends it.

    Raises:
        ToolMissing: ``java`` is not on PATH.
    """
    java = require_tool("java", f"java (17+) is not on PATH; it runs {class_name}")
    return subprocess.Popen(  # fixed argv, no shell
        [java, *jvm_options, "-cp", f"{classes}:{classpath}", class_name, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=text,
    )
