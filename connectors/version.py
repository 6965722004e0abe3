"""The installed Headwater version, as change events carry it in ``source.version``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["HEADWATER_VERSION"]

try:
    HEADWATER_VERSION = version("headwater")
except PackageNotFoundError:  # running from a source tree that was never installed
    HEADWATER_VERSION = "0+unknown"
