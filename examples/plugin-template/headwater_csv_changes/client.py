"""The external system behind a narrow protocol: a folder of CSV change logs.

The task only talks to :class:`ChangeLogReader`, so a test (or an emulator) can give it
any implementation; :class:`LocalChangeLogReader` reads a local folder.
"""

from __future__ import annotations

import csv
import typing as t
from pathlib import Path

__all__ = ["ChangeLogReader", "LocalChangeLogReader", "Row"]

Row: t.TypeAlias = dict[str, str]


class ChangeLogReader(t.Protocol):
    """What the task needs from the system it reads."""

    def files(self) -> list[str]:
        """The change-log names, sorted."""
        ...

    def rows(self, name: str, after_line: int) -> t.Iterator[tuple[int, Row]]:
        """``(line number, row)`` of the rows of ``name`` after line ``after_line`` (1 is the header)."""
        ...

    def modified_ms(self, name: str) -> int:
        """When ``name`` last changed (the events' ``ts_ms``: the same on every read)."""
        ...


class LocalChangeLogReader:
    """``*.csv`` files in one folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def files(self) -> list[str]:
        return sorted(path.name for path in self.folder.glob("*.csv"))

    def modified_ms(self, name: str) -> int:
        return (self.folder / name).stat().st_mtime_ns // 1_000_000

    def rows(self, name: str, after_line: int) -> t.Iterator[tuple[int, Row]]:
        with (self.folder / name).open(newline="", encoding="utf-8") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                if line > after_line:
                    yield line, row
