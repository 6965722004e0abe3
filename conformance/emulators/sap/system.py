"""An emulated SAP system: tables, change documents, history and the RFC function modules.

:class:`SapSystem` holds the tables of a scenario (:mod:`.history`), serves RFC_READ_TABLE
(and its drop-in BBP_RFC_READ_TABLE), DDIF_FIELDINFO_GET, EM_GET_NUMBER_OF_ENTRIES,
RFC_SYSTEM_INFO and RFC_PING, and writes CDHDR/CDPOS for every change of MARA, KNA1 and
VBAK as the change document objects MATERIAL, DEBI and VERKBELEG would.

History is revealed as the connector polls: with ``history="progressive"`` step 0 (the
initial load) is committed when the system is built and each RFC_READ_TABLE call commits
the next step before it reads; with ``"committed"`` every step is committed at once.
Either way the state after ``n`` calls is a function of scenario, seed and ``n`` only.

Durability: with a ``state_file`` the system outlives the process that runs it, as a real
SAP system outlives its RFC clients. The file records the system's clock (the steps of
history committed), its RFC call counters and the next change document number; it is
rewritten atomically before any RFC_READ_TABLE answer leaves the system, so a client that
saw a row can never meet a system that has not committed it yet. A new ``SapSystem`` on
the same file replays the committed steps (the tables and change documents are a function
of scenario, seed and steps, checked against the stored change number) and goes on from
there: a worker restarted after a ``kill -9`` finds the history where it left it, never
earlier. One process at a time may open a state file; within a process, share the system
(:func:`open_shared`).

Faults (:class:`Faults`): RFC_READ_TABLE calls that break with a CommunicationError (by
call number), a logon that fails, tables the user is not authorized for, and the
memory dump of an unbounded read above a row limit. All methods are thread-safe.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import threading
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from headwater.conformance.emulators.sap import pyrfc
from headwater.conformance.emulators.sap.ddic import Field, Table, render
from headwater.conformance.emulators.sap.history import Change, generate_history
from headwater.conformance.emulators.sap.tables import CHANGE_OBJECTS, define_tables, logged_fields
from headwater.conformance.emulators.sap.where import OptionNotValid, parse_where

__all__ = ["Faults", "SapSystem", "StateFileError", "open_shared", "release_shared"]

_READ_TABLE_PARAMS = frozenset(
    {"QUERY_TABLE", "DELIMITER", "NO_DATA", "ROWSKIPS", "ROWCOUNT", "OPTIONS", "FIELDS", "DATA"}
)
_WIDTH = 512
_FIRST_CHANGENR = 512_340


@dataclass(frozen=True)
class Faults:
    """What goes wrong on purpose.

    Attributes:
        communication_calls: RFC_READ_TABLE call numbers (1-based, counted over the whole
            system) that fail with a CommunicationError instead of returning.
        logon_failure: every logon fails with a LogonError.
        denied_tables: tables the RFC user lacks S_TABU_DIS/S_TABU_NAM for (NOT_AUTHORIZED).
        unbounded_row_limit: an RFC_READ_TABLE with ROWCOUNT 0 that selects more rows dumps
            with TSV_TNEW_PAGE_ALLOC_FAILED.
    """

    communication_calls: frozenset[int] = frozenset()
    logon_failure: bool = False
    denied_tables: frozenset[str] = frozenset()
    unbounded_row_limit: int = 50_000


class StateFileError(Exception):
    """A state file that cannot be read, or that belongs to another system (scenario, seed
    or count differ, or the replayed history no longer matches it)."""


@dataclass
class _Counters:
    read_table_calls: int = 0
    rows_returned: int = 0
    revealed: int = 0
    changenr: int = _FIRST_CHANGENR
    calls: dict[str, int] = field(default_factory=dict)


class SapSystem:
    """One emulated SAP system (system id ``EMU``, client ``100``)."""

    sysid = "EMU"
    client = "100"

    def __init__(
        self,
        scenario: str = "erp",
        seed: int = 1,
        *,
        count: int | None = None,
        history: t.Literal["progressive", "committed"] = "progressive",
        faults: Faults | None = None,
        users: t.Mapping[str, str] | None = None,
        state_file: Path | str | None = None,
    ) -> None:
        """Build the system; with ``state_file``, resume the one that file records (see the
        module docstring). Raises :class:`StateFileError` for a file of another system."""
        self.scenario = scenario
        self.seed = seed
        self.count = count
        self.history = history
        self.faults = faults or Faults()
        self.users = dict(users or {"RFC_READER": "Welcome1!"})
        self.tables = define_tables()
        self.steps = generate_history(scenario, seed, count)
        self.counters = _Counters()
        self.state_file = Path(state_file) if state_file is not None else None
        self._saved: tuple[int, int] | None = None
        self._lock = threading.RLock()
        self._reveal(len(self.steps) if history == "committed" else 1)
        if self.state_file is not None:
            self._load(self.state_file)
            self._save()

    # -- durability ----------------------------------------------------------------

    def _identity(self) -> dict[str, t.Any]:
        return {"scenario": self.scenario, "seed": self.seed, "count": self.count, "history": self.history}

    def _load(self, path: Path) -> None:
        try:
            stored = json.loads(path.read_text())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            msg = f"{path}: not a readable SAP emulator state file: {exc}"
            raise StateFileError(msg) from exc
        if not isinstance(stored, dict) or stored.get("system") != self._identity():
            found = stored.get("system") if isinstance(stored, dict) else None
            msg = f"{path} holds the state of another emulated system ({found}), not of {self._identity()}"
            raise StateFileError(msg)
        try:
            self._reveal(int(stored["revealed"]))
            expected_changenr = int(stored["changenr"])
            self.counters.read_table_calls = int(stored["read_table_calls"])
            self.counters.rows_returned = int(stored["rows_returned"])
            self.counters.calls = {str(k): int(v) for k, v in dict(stored["calls"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"{path}: incomplete SAP emulator state file: {exc!r}"
            raise StateFileError(msg) from exc
        if self.counters.changenr != expected_changenr:
            msg = (
                f"{path}: replaying {self.counters.revealed} steps gives change number {self.counters.changenr}, "
                f"the file says {expected_changenr}: the history generator changed; delete the file"
            )
            raise StateFileError(msg)

    def _save(self) -> None:
        """Write the state file if the clock or the call count moved (caller holds the lock)."""
        if self.state_file is None:
            return
        mark = (self.counters.revealed, self.counters.read_table_calls)
        if mark == self._saved:
            return
        state = {
            "system": self._identity(),
            "revealed": self.counters.revealed,
            "changenr": self.counters.changenr,
            "read_table_calls": self.counters.read_table_calls,
            "rows_returned": self.counters.rows_returned,
            "calls": self.counters.calls,
        }
        scratch = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}.tmp")
        scratch.write_text(json.dumps(state))
        os.replace(scratch, self.state_file)
        self._saved = mark

    # -- history -------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once every step of the history is committed."""
        return self.counters.revealed >= len(self.steps)

    def reveal_all(self) -> None:
        """Commit every remaining step now."""
        with self._lock:
            self._reveal(len(self.steps))
            self._save()

    def _reveal(self, upto: int) -> None:
        while self.counters.revealed < min(upto, len(self.steps)):
            for change in self.steps[self.counters.revealed]:
                self._apply(change)
            self.counters.revealed += 1

    def _apply(self, change: Change) -> None:
        table = self.tables[change.table]
        key = table.key_of(change.row)
        old = table.rows.get(key)
        if change.op == "D":
            table.rows.pop(key, None)
        else:
            table.rows[key] = table.complete(change.row)
        if change.table in CHANGE_OBJECTS and change.udate:
            self._change_document(table, change, old)

    def _change_document(self, table: Table, change: Change, old: dict[str, t.Any] | None) -> None:
        objectclas, tcodes = CHANGE_OBJECTS[table.name]
        objectid = "".join(render(f, change.row[f.name]) for f in table.key_fields if f.name != "MANDT").rstrip()
        changenr = f"{self.counters.changenr:010d}"
        self.counters.changenr += 1
        tabkey = table.tabkey(change.row)
        base = {"MANDANT": change.row["MANDT"], "OBJECTCLAS": objectclas, "OBJECTID": objectid, "CHANGENR": changenr}
        items: list[dict[str, t.Any]] = []
        if change.op in ("I", "D"):
            items.append({"TABNAME": table.name, "TABKEY": tabkey, "FNAME": "KEY", "CHNGIND": change.op})
        else:
            assert old is not None
            for name in logged_fields(table):
                if old[name] != change.row[name]:
                    f = table.by_name[name]
                    items.append(
                        {
                            "TABNAME": table.name,
                            "TABKEY": tabkey,
                            "FNAME": name,
                            "CHNGIND": "U",
                            "VALUE_NEW": render(f, change.row[name]).strip(),
                            "VALUE_OLD": render(f, old[name]).strip(),
                        }
                    )
            if not items:
                return  # nothing logged changed: SAP writes no document
        header = {
            **base,
            "USERNAME": change.user,
            "UDATE": change.udate,
            "UTIME": change.utime,
            "TCODE": tcodes["IUD".index(change.op)],
            "CHANGE_IND": change.op,
            "LANGU": "E",
        }
        cdhdr = self.tables["CDHDR"]
        cdhdr.rows[cdhdr.key_of(header)] = cdhdr.complete(header)
        cdpos = self.tables["CDPOS"]
        for item in items:
            row = cdpos.complete(base | item)
            cdpos.rows[cdpos.key_of(row)] = row

    # -- RFC -----------------------------------------------------------------------

    def logon(self, params: t.Mapping[str, str]) -> None:
        """Check the logon parameters of a new connection (LogonError as SAP gives it)."""
        user = params.get("user", "").upper()
        ok = (
            not self.faults.logon_failure
            and params.get("client", self.client) == self.client
            and user in self.users
            and self.users[user] == params.get("passwd")
        )
        if not ok:
            msg = "Name or password is incorrect (repeat logon)"
            raise pyrfc.LogonError(msg, 2, "RFC_LOGON_FAILURE", "00", "E", "152")

    def call(self, function: str, logon: t.Mapping[str, str], **params: t.Any) -> dict[str, t.Any]:
        """Run one function module for a connection logged on with ``logon``."""
        handlers: dict[str, t.Callable[..., dict[str, t.Any]]] = {
            "RFC_READ_TABLE": self._read_table,
            "BBP_RFC_READ_TABLE": self._read_table,
            "DDIF_FIELDINFO_GET": self._fieldinfo,
            "EM_GET_NUMBER_OF_ENTRIES": self._number_of_entries,
            "RFC_SYSTEM_INFO": self._system_info,
            "RFC_PING": lambda **_: {},
        }
        handler = handlers.get(function)
        if handler is None:
            msg = f"ID:FL Type:E Number:046 {function}"
            raise pyrfc.ABAPApplicationError(msg, 5, "FU_NOT_FOUND", "FL", "E", "046", function)
        with self._lock:
            self.counters.calls[function] = self.counters.calls.get(function, 0) + 1
            try:
                return handler(client=logon.get("client", self.client), **params)
            finally:
                self._save()

    def _check_params(self, params: t.Mapping[str, t.Any], allowed: t.AbstractSet[str]) -> None:
        for name in params:
            if name not in allowed:
                msg = f"field '{name}' not found"
                raise pyrfc.ExternalRuntimeError(msg, 20, "RFC_INVALID_PARAMETER")

    def _system_info(self, client: str, **params: t.Any) -> dict[str, t.Any]:
        self._check_params(params, frozenset())
        return {
            "RFCSI_EXPORT": {
                "RFCPROTO": "011",
                "RFCCHARTYP": "4103",
                "RFCINTTYP": "LIT",
                "RFCFLOTYP": "IE3",
                "RFCDEST": "emulator_EMU_00",
                "RFCHOST": "emulator",
                "RFCSYSID": self.sysid,
                "RFCDATABS": self.sysid,
                "RFCDBHOST": "emulator",
                "RFCDBSYS": "HDB",
                "RFCSAPRL": "750",
                "RFCMACH": "390",
                "RFCOPSYS": "Linux",
                "RFCTZONE": "3600",
                "RFCDAYST": "",
                "RFCKERNRL": "753",
            },
            "CURRENT_RESOURCES": 4,
            "MAXIMAL_RESOURCES": 10,
            "RECOMMENDED_DELAY": 0,
        }

    def _fieldinfo(self, client: str, **params: t.Any) -> dict[str, t.Any]:
        self._check_params(params, frozenset({"TABNAME", "FIELDNAME", "LANGU", "LFIELDNAME", "ALL_TYPES"}))
        name = str(params.get("TABNAME", "")).upper()
        table = self.tables.get(name)
        if table is None:
            msg = f"ID:00 Type:E Number:000 {name}"
            raise pyrfc.ABAPApplicationError(msg, 5, "NOT_FOUND", "00", "E", "000", name)
        dfies = table.dfies()
        field_name = str(params.get("FIELDNAME", "")).upper()
        if field_name:
            dfies = [row for row in dfies if row["FIELDNAME"] == field_name]
            if not dfies:
                msg = f"ID:00 Type:E Number:000 {name}-{field_name}"
                raise pyrfc.ABAPApplicationError(msg, 5, "NOT_FOUND", "00", "E", "000", name)
        return {
            "DDOBJTYPE": "TRANSP",
            "DFIES_TAB": dfies,
            "DFIES_WA": {},
            "FIXED_VALUES": [],
            "LINES_DESCR": [],
            "X030L_WA": {"TABNAME": name, "TABTYPE": "T", "TABLEN": sum(f.intlen for f in table.fields)},
        }

    def _number_of_entries(self, client: str, **params: t.Any) -> dict[str, t.Any]:
        self._check_params(params, frozenset({"IT_TABLES"}))
        out = []
        for entry in params.get("IT_TABLES", []):
            name = str(entry.get("TABNAME", "")).upper()
            table = self.tables.get(name)
            out.append({"TABNAME": name, "TABROWS": len(table.rows) if table is not None else 0})
        return {"IT_TABLES": out}

    def _read_table(self, client: str, **params: t.Any) -> dict[str, t.Any]:
        self._check_params(params, _READ_TABLE_PARAMS)
        self.counters.read_table_calls += 1
        call_number = self.counters.read_table_calls
        if call_number in self.faults.communication_calls:
            msg = "connection closed by peer (CPIC-CALL: 'ThSAPCMRCV', communication rc: CM_DEALLOCATED_ABEND)"
            raise pyrfc.CommunicationError(msg, 1, "RFC_COMMUNICATION_FAILURE")
        self._reveal(self.counters.revealed + 1)
        name = str(params.get("QUERY_TABLE", "")).upper().strip()
        if name in self.faults.denied_tables:
            msg = "ID: Type:E Number:000"
            raise pyrfc.ABAPApplicationError(msg, 5, "NOT_AUTHORIZED", "", "E", "000")
        table = self.tables.get(name)
        if table is None:
            msg = f"ID:SV Type:E Number:029 {name}"
            raise pyrfc.ABAPApplicationError(msg, 5, "TABLE_NOT_AVAILABLE", "SV", "E", "029", name)
        if any(f.inttype in "gy" for f in table.fields):
            msg = "Error with ASSIGN ... CASTING in program SAPLSDTX ."
            raise pyrfc.ABAPRuntimeError(msg, 3, "ASSIGN_CASTING_ILLEGAL_CAST")
        delimiter = str(params.get("DELIMITER", ""))[:1].rstrip()
        no_data = str(params.get("NO_DATA", "")).strip().upper() == "X"
        requested = [str(row.get("FIELDNAME", "")).strip().upper() for row in params.get("FIELDS", [])]
        selected: list[Field] = []
        for fieldname in requested or [f.name for f in table.fields]:
            if fieldname not in table.by_name:
                msg = "ID: Type:E Number:000"
                raise pyrfc.ABAPApplicationError(msg, 5, "FIELD_NOT_VALID", "", "E", "000")
            selected.append(table.by_name[fieldname])
        fields_out = []
        cursor = 0
        for index, f in enumerate(selected):
            if index and not no_data:
                cursor += len(delimiter)
            fields_out.append(
                {
                    "FIELDNAME": f.name,
                    "OFFSET": f"{cursor:06d}",
                    "LENGTH": f"{f.leng:06d}",
                    "TYPE": f.inttype,
                    "FIELDTEXT": f.text,
                }
            )
            cursor += f.leng
            if cursor > _WIDTH and not no_data:
                msg = "ID: Type:E Number:000"
                raise pyrfc.ABAPApplicationError(msg, 5, "DATA_BUFFER_EXCEEDED", "", "E", "000")
        options = [{"TEXT": str(row.get("TEXT", ""))} for row in params.get("OPTIONS", [])]
        if no_data:
            return {"DATA": [], "FIELDS": fields_out, "OPTIONS": options}
        try:
            predicate = parse_where([row["TEXT"] for row in options], table.by_name)
        except OptionNotValid as exc:
            msg = "ID:SAIS Type:E Number:000"
            raise pyrfc.ABAPApplicationError(msg, 5, "OPTION_NOT_VALID", "SAIS", "E", "000", str(exc)[:50]) from exc
        rowskips = int(params.get("ROWSKIPS", 0) or 0)
        rowcount = int(params.get("ROWCOUNT", 0) or 0)
        client_field = table.fields[0] if table.fields[0].datatype == "CLNT" else None
        rows = [
            row
            for row in table.rows.values()
            if (client_field is None or row[client_field.name] == client) and (predicate is None or predicate(row))
        ]
        if rowcount == 0 and len(rows) > self.faults.unbounded_row_limit:
            msg = "No more memory available to add rows to an internal table."
            raise pyrfc.ABAPRuntimeError(msg, 3, "TSV_TNEW_PAGE_ALLOC_FAILED")
        # No ORDER BY: the database returns rows in an order of its own.
        random.Random(f"{self.seed}:{name}:{call_number}").shuffle(rows)
        rows = rows[rowskips : rowskips + rowcount] if rowcount > 0 else rows[rowskips:]
        data = []
        for row in rows:
            wa = delimiter.join(render(f, row[f.name]) for f in selected)
            data.append({"WA": wa.rstrip()})
        self.counters.rows_returned += len(data)
        return {"DATA": data, "FIELDS": fields_out, "OPTIONS": options}

    # -- expected results ----------------------------------------------------------

    def rows(self, table: str) -> list[dict[str, t.Any]]:
        """The committed rows of ``table`` in key order (a copy)."""
        with self._lock:
            target = self.tables[table]
            return [dict(target.rows[key]) for key in sorted(target.rows)]


def decode_value(f: Field, value: t.Any) -> t.Any:
    """A column value as the ``sap-rfc-table`` source emits it (the documented mapping)."""
    kind = f.inttype
    if kind == "D":
        return None if value in ("00000000", "") else dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    if kind == "T":
        return dt.time(int(value[:2]), int(value[2:4]), int(value[4:]))
    if kind == "P":
        return Decimal(value).quantize(Decimal(1).scaleb(-f.decimals))
    if kind in "Ibs8":
        return int(value)
    if kind == "X":
        return bytes(value)
    return str(value).rstrip()


_shared: dict[Path, tuple[SapSystem, int]] = {}
_shared_lock = threading.Lock()


def open_shared(state_file: Path | str, **kwargs: t.Any) -> SapSystem:
    """The process's one system on ``state_file``: built (or resumed from the file) by the
    first caller, the same object for the others until each has called
    :func:`release_shared`. ``kwargs`` are :class:`SapSystem`'s; the first caller's win.
    Thread-safe."""
    path = Path(state_file).resolve()
    with _shared_lock:
        system, users = _shared.get(path, (None, 0))
        if system is None:
            system = SapSystem(state_file=path, **kwargs)
        _shared[path] = (system, users + 1)
        return system


def release_shared(system: SapSystem) -> None:
    """One user of an :func:`open_shared` system is done; the last one forgets it (its
    state file stays, for the next process)."""
    if system.state_file is None:
        return
    path = system.state_file
    with _shared_lock:
        current, users = _shared.get(path, (None, 0))
        if current is system:
            if users <= 1:
                del _shared[path]
            else:
                _shared[path] = (system, users - 1)
