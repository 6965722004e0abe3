"""An emulated SAP system reached over a pyrfc-compatible API (see :mod:`.pyrfc`).

Use :class:`SapSystem` for a system built from a scenario and a seed, register it with
:func:`pyrfc.register` under a host name and connect with
``pyrfc.Connection(ashost=host, sysnr="00", client="100", user="RFC_READER", passwd=...)``.
With ``state_file`` (or :func:`open_shared`) the system and its history survive the
process, as a real system survives its clients' restarts. :func:`final_state` gives the
rows a consumer must hold after folding the ``sap-rfc-table`` change stream of a scenario.
"""

from __future__ import annotations

import typing as t

from headwater.conformance.emulators.sap.ddic import Field, Table, render
from headwater.conformance.emulators.sap.history import SCENARIOS, Change, generate_history
from headwater.conformance.emulators.sap.system import (
    Faults,
    SapSystem,
    StateFileError,
    decode_value,
    open_shared,
    release_shared,
)

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USER",
    "SCENARIOS",
    "Change",
    "Faults",
    "Field",
    "SapSystem",
    "StateFileError",
    "Table",
    "decode_value",
    "final_state",
    "generate_history",
    "open_shared",
    "release_shared",
    "render",
]

DEFAULT_USER = "RFC_READER"
DEFAULT_PASSWORD = "Welcome1!"


def final_state(
    scenario: str, seed: int, *, count: int | None = None, tables: t.Sequence[str] | None = None
) -> list[dict[str, t.Any]]:
    """The rows of ``tables`` (default: every data table) after the whole history.

    One ``{"table", "key", "row"}`` dict per row, in table and key order, with the values
    decoded as the source emits them; RAW columns are left out, as the source leaves them
    out (RFC_READ_TABLE cuts their hex text in half).
    """
    system = SapSystem(scenario, seed, count=count, history="committed")
    names = list(tables) if tables is not None else ["MARA", "KNA1", "VBAK", "ZWIDE"]
    out = []
    for name in names:
        table = system.tables[name]
        fields = [f for f in table.fields if f.inttype != "X"]
        for row in system.rows(name):
            decoded = {f.name: decode_value(f, row[f.name]) for f in fields}
            key = {f.name: decoded[f.name] for f in table.key_fields}
            out.append({"table": name, "key": key, "row": decoded})
    return out
