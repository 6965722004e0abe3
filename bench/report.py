"""What every benchmark writes into bench/RESULTS.md: the machine, and its own section."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

__all__ = ["RESULTS", "machine_description", "write_section"]

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine_description() -> str:
    """Cores, CPU model and Python version of this machine, for the results' context."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return f"{os.cpu_count()} cores ({model}), Python {python}, {platform.system()} {platform.release()}"


def write_section(report: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section whose ``## `` title is ``report``'s first line."""
    title = report.splitlines()[0]
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    body = report.rstrip("\n") + "\n\n"
    text = pattern.sub(lambda _m: body, text, count=1) if pattern.search(text) else text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n")
