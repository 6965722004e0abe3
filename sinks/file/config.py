"""Configuration of the ``file`` sink."""

from __future__ import annotations

from pydantic import Field

from headwater.connectors.config import PluginConfig


class FileSinkConfig(PluginConfig):
    """Where the files go and what each line holds."""

    file_dir: str = Field(min_length=1)
    """Folder for the output; topic T is written to ``<file.dir>/T.jsonl``."""
    file_include_metadata: bool = True
    """Write ``topic``, ``partition``, ``offset`` and ``timestamp`` beside ``key`` and ``value``."""
    file_fsync: bool = True
    """fsync each file on flush, so flushed lines survive a power cut."""
