"""Copybooks shared by the codec tests (imported by module name: tests/codecs is on sys.path)."""

from __future__ import annotations

from pathlib import Path

# The same copybook the golden data file was written with.
CUSTOMER = (Path(__file__).resolve().parents[1] / "fixtures" / "mainframe" / "customer.cpy").read_text()
