"""The file system behind the ``mainframe-copybook`` source, as a narrow protocol.

The task only lists, stats, reads byte ranges, moves and deletes files, always by a name
relative to the watched folder; :class:`LocalDatasetReader` does that on a local (or
mounted) file system. Another store (S3, an SFTP drop, z/OS via FTP) fits behind the same
five methods.
"""

from __future__ import annotations

import os
import shutil
import typing as t
from dataclasses import dataclass
from pathlib import Path

from headwater.connectors.errors import RetriableError

__all__ = ["DatasetReader", "FileInfo", "LocalDatasetReader"]


@dataclass(frozen=True, slots=True)
class FileInfo:
    """A dataset file: its name relative to the folder, size in bytes, mtime in ms and identity.

    ``device`` and ``inode`` tell a file from another one later put under the same name
    (0 when the store has no such notion: the name is then the identity).
    """

    name: str
    size: int
    mtime_ms: int
    device: int = 0
    inode: int = 0

    @property
    def identity(self) -> tuple[int, int]:
        """``(device, inode)``: which file this is, whatever its name."""
        return self.device, self.inode


def _info(name: str, stat: os.stat_result) -> FileInfo:
    return FileInfo(name, stat.st_size, stat.st_mtime_ns // 1_000_000, stat.st_dev, stat.st_ino)


class DatasetReader(t.Protocol):
    """What the source needs from the place the datasets land."""

    def list(self, pattern: str) -> list[FileInfo]:
        """The regular files matching ``pattern`` (a glob relative to the folder), sorted by name."""
        ...

    def stat(self, name: str) -> FileInfo | None:
        """The file's current size and mtime, or None when it is gone."""
        ...

    def read(self, name: str, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer at the end of the file)."""
        ...

    def move(self, name: str, target_dir: str) -> None:
        """Move the file into ``target_dir`` (keeping its relative name)."""
        ...

    def delete(self, name: str) -> None:
        """Delete the file (no error when it is already gone)."""
        ...


class LocalDatasetReader:
    """:class:`DatasetReader` over a local folder.

    OS errors are wrapped as :class:`RetriableError` (a share that is briefly away, a
    file being replaced), except a vanished file, which ``stat`` reports as None.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._handles: dict[str, t.BinaryIO] = {}

    def _path(self, name: str) -> Path:
        return self.root / name

    def list(self, pattern: str) -> list[FileInfo]:
        """See :meth:`DatasetReader.list`."""
        if not self.root.is_dir():
            return []
        found = []
        try:
            for path in self.root.glob(pattern):
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # removed between glob and stat
                if path.is_file() and not path.name.startswith("."):
                    found.append(_info(path.relative_to(self.root).as_posix(), stat))
        except OSError as exc:
            msg = f"cannot list {self.root}: {exc}"
            raise RetriableError(msg) from exc
        return sorted(found, key=lambda info: info.name)

    def stat(self, name: str) -> FileInfo | None:
        """See :meth:`DatasetReader.stat`."""
        try:
            stat = self._path(name).stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            msg = f"cannot stat {name}: {exc}"
            raise RetriableError(msg) from exc
        return _info(name, stat)

    def opened(self, name: str) -> FileInfo | None:
        """The file the cached read handle of ``name`` is open on (None when none is open).

        After the name was replaced (a new file renamed over it) this is still the old
        file, whose remaining bytes ``read`` goes on returning until :meth:`forget`.
        """
        handle = self._handles.get(name)
        if handle is None:
            return None
        try:
            return _info(name, os.fstat(handle.fileno()))
        except OSError:
            return None

    def read(self, name: str, offset: int, length: int) -> bytes:
        """See :meth:`DatasetReader.read`; keeps one open handle per file for sequential reads."""
        handle = self._handles.get(name)
        try:
            if handle is None:
                handle = self._path(name).open("rb")
                self._handles[name] = handle
            handle.seek(offset)
            return handle.read(length)
        except OSError as exc:
            self._close(name)
            msg = f"cannot read {name} at {offset}: {exc}"
            raise RetriableError(msg) from exc

    def move(self, name: str, target_dir: str) -> None:
        """See :meth:`DatasetReader.move`."""
        self._close(name)
        target = Path(target_dir) / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(self._path(name)), str(target))
        except FileNotFoundError:
            return
        except OSError as exc:
            msg = f"cannot move {name} to {target_dir}: {exc}"
            raise RetriableError(msg) from exc

    def delete(self, name: str) -> None:
        """See :meth:`DatasetReader.delete`."""
        self._close(name)
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as exc:
            msg = f"cannot delete {name}: {exc}"
            raise RetriableError(msg) from exc

    def forget(self, name: str) -> None:
        """Close the cached handle of ``name`` (when the task is done with it)."""
        self._close(name)

    def close(self) -> None:
        """Close every cached handle."""
        for name in list(self._handles):
            self._close(name)

    def _close(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            handle.close()
