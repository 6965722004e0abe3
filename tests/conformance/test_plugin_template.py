"""A third-party plugin under the conformance suite, as its author would run it.

``examples/plugin-template`` is a separate package (its own pyproject, tests and pytest
settings). Its conformance tests must pass through Headwater's pytest plugin, and the
suite must catch the classic source bug: a task that ignores its stored offsets.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka]

TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "plugin-template"
OPTIONAL_HOOK_SKIPS = (
    "ends no partition with an OffsetMarker",
    "does not declare transaction_boundaries",
    "defines no plugin metrics",
    "harness gives no bad offsets",
)


def _run_template_suite(folder: Path, bootstrap: str, basetemp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(folder), "HEADWATER_BOOTSTRAP_SERVERS": bootstrap}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(folder / "tests"),
            "-q",
            "-rfEs",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(basetemp),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_template_plugin_passes_the_suite(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    result = _run_template_suite(TEMPLATE, kafka_bootstrap_servers, tmp_path / "run")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    # The template uses no optional hook: only the tests of those hooks may skip.
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    unexpected = [line for line in skipped if not any(reason in line for reason in OPTIONAL_HOOK_SKIPS)]
    assert not unexpected, unexpected


def test_the_suite_catches_a_source_that_ignores_its_offsets(tmp_path: Path, kafka_bootstrap_servers: str) -> None:
    broken = tmp_path / "plugin"
    shutil.copytree(TEMPLATE, broken, ignore=shutil.ignore_patterns("__pycache__"))
    task = broken / "headwater_csv_changes" / "task.py"
    source = task.read_text()
    resume = 'self._done[name] = int(t.cast(int, stored["line"])) if stored else 1'
    assert resume in source
    task.write_text(source.replace(resume, "self._done[name] = 1  # bug: starts over after a restart"))

    result = _run_template_suite(broken, kafka_bootstrap_servers, tmp_path / "run")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "FAILED tests/test_conformance.py::TestCsvChanges::test_resume_after_abort_loses_nothing" in result.stdout
