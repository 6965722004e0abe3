"""A mainframe dataset emulator: realistic files with their copybook, deterministic by seed.

Scenarios (``SCENARIOS``):

* ``customers-vb`` - customer master records in RECFM=VB (BDW + RDW), text, zoned, packed
  (COMP-3) and binary (COMP) fields; about 1 in 10 records updates an earlier customer.
  ``bad_records=N`` puts an invalid packed nibble into N records (they are not part of
  the final state: they belong in the dead-letter topic).
* ``customers-vbs`` - the same customer master in RECFM=VBS: blocks of 200 bytes, so
  records span blocks as first/middle/last segments.
* ``accounts-fb`` - account records in RECFM=FB with a BDW per block of 20 records.
* ``multisegment`` - RECFM=V customer ('C') and address ('A') segments sharing one
  record through REDEFINES, chosen by the segment field ``REC-TYPE``.
* ``growing`` - a RECFM=V transaction log written in parts: ``generate`` writes the
  first part; :meth:`ScenarioFiles.append_next` appends the rest (cut at arbitrary
  bytes, so a record may be half written for a while).
* ``generations`` - three successive full extracts (FB) of the accounts: rows change,
  disappear and appear between generations (for ``mode=snapshot-diff``).
* ``hierarchical`` - a RECFM=VB company register in parent/child segments: company roots
  ('C') with department ('D') and contact ('P') children, employees ('E') under the
  departments, read with ``segment.children`` into one nested event per company (some
  companies have no children: empty lists).

:func:`final_state` gives the rows a consumer must hold after folding the change stream
by key, computed from the generated values (not by decoding the files).
"""

from __future__ import annotations

import random
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

__all__ = ["SCENARIOS", "ScenarioFiles", "connector_config", "final_state", "generate"]

SCENARIOS = ("customers-vb", "customers-vbs", "accounts-fb", "multisegment", "growing", "generations", "hierarchical")

CUSTOMERS_CPY = """\
      * CUSTOMER MASTER - UNLOADED FROM VSAM KSDS CUST.MASTER
       01  CUSTOMER-RECORD.
           05  CUST-ID              PIC 9(8).
           05  CUST-NAME            PIC X(30).
           05  CUST-CITY            PIC X(20).
           05  CUST-STATUS          PIC X.
               88  CUST-ACTIVE      VALUE 'A'.
           05  BALANCE              PIC S9(9)V99 COMP-3.
           05  CREDIT-LIMIT         PIC S9(7)V99.
           05  ORDER-COUNT          PIC S9(4) COMP.
           05  OPENED-DATE          PIC 9(8).
           05  FILLER               PIC X(4).
"""

ACCOUNTS_CPY = """\
      * ACCOUNT EXTRACT - DAILY FULL UNLOAD
       01  ACCOUNT-RECORD.
           05  ACCT-ID              PIC 9(10).
           05  ACCT-TYPE            PIC X(2).
           05  OWNER-ID             PIC 9(8) COMP.
           05  ACCT-BALANCE         PIC S9(11)V99 COMP-3.
           05  INTEREST-RATE        PIC SV9(5) COMP-3.
           05  BRANCH-CODE          PIC X(4).
           05  LAST-TXN-DATE        PIC 9(8).
"""

MULTISEGMENT_CPY = """\
      * CUSTOMER FILE WITH CUSTOMER AND ADDRESS SEGMENTS
       01  CUST-SEGMENT.
           05  REC-TYPE             PIC X.
           05  CUST-ID              PIC 9(8).
           05  SEG-SEQ              PIC 9(2).
           05  SEG-DATA             PIC X(60).
           05  SEG-CUSTOMER REDEFINES SEG-DATA.
               10  CUST-NAME        PIC X(30).
               10  CUST-BALANCE     PIC S9(7)V99 COMP-3.
               10  FILLER           PIC X(25).
           05  SEG-ADDRESS REDEFINES SEG-DATA.
               10  STREET           PIC X(30).
               10  CITY             PIC X(20).
               10  ZIP-CODE         PIC 9(5).
               10  FILLER           PIC X(5).
"""

COMPANIES_CPY = """\
      * COMPANY REGISTER - COMPANY ROOT SEGMENTS WITH DEPARTMENT AND
      * CONTACT CHILDREN, EMPLOYEES UNDER EACH DEPARTMENT
       01  COMPANY-SEGMENT.
           05  SEGMENT-ID           PIC X.
           05  COMPANY-ID           PIC 9(8).
           05  SEGMENT-DATA         PIC X(50).
           05  COMPANY REDEFINES SEGMENT-DATA.
               10  COMPANY-NAME     PIC X(30).
               10  REGISTERED       PIC 9(8).
               10  FILLER           PIC X(12).
           05  DEPARTMENT REDEFINES SEGMENT-DATA.
               10  DEPT-CODE        PIC X(4).
               10  DEPT-NAME        PIC X(20).
               10  BUDGET           PIC S9(9)V99 COMP-3.
               10  FILLER           PIC X(20).
           05  EMPLOYEE REDEFINES SEGMENT-DATA.
               10  EMP-ID           PIC 9(6).
               10  EMP-NAME         PIC X(30).
               10  SALARY           PIC S9(7)V99 COMP-3.
               10  FILLER           PIC X(9).
           05  CONTACT REDEFINES SEGMENT-DATA.
               10  CONTACT-NAME     PIC X(30).
               10  PHONE            PIC X(15).
               10  FILLER           PIC X(5).
"""

TRANSACTIONS_CPY = """\
      * TRANSACTION LOG - APPENDED DURING THE DAY
       01  TXN-RECORD.
           05  TXN-ID               PIC 9(9) COMP.
           05  TXN-ACCOUNT          PIC 9(10).
           05  TXN-AMOUNT           PIC S9(9)V99 COMP-3.
           05  TXN-CODE             PIC X(3).
           05  TXN-MEMO             PIC X(20).
"""

_FIRST = ("ADA", "GRACE", "ALAN", "EDSGER", "BARBARA", "DONALD", "FRANCES", "KEN", "MARGARET", "NIKLAUS")
_LAST = ("LOVELACE", "HOPPER", "TURING", "DIJKSTRA", "LISKOV", "KNUTH", "ALLEN", "THOMPSON", "HAMILTON", "WIRTH")
_CITIES = ("ARMONK", "POUGHKEEPSIE", "ENDICOTT", "HURSLEY", "BOEBLINGEN", "MONTPELLIER", "TORONTO", "SAN JOSE")
_STREETS = ("MAIN ST", "ELM AVE", "OAK DR", "PINE RD", "HILL LN")
_COMPANY_KINDS = ("MACHINES", "DATA SYSTEMS", "SOFTWARE", "COMPUTING", "BUSINESS SERVICES")
_DEPARTMENTS = ("RESEARCH", "SALES", "FINANCE", "OPERATIONS", "SUPPORT", "LEGAL")
_DEFAULT_COUNT = {
    "customers-vb": 1000,
    "customers-vbs": 1000,
    "accounts-fb": 1000,
    "multisegment": 300,
    "growing": 600,
    "generations": 400,
    "hierarchical": 200,
}

Row: t.TypeAlias = dict[str, t.Any]


@dataclass
class ScenarioFiles:
    """What :func:`generate` wrote.

    Attributes:
        scenario: the scenario name.
        copybook: the copybook file.
        data: the data files written so far (in the order a reader should see them).
        config: the ``mainframe-copybook`` keys (record format, key fields, mode...) that read
            this scenario, without ``input.dir``, ``topic`` and the copybook.
        appends: for ``growing``: byte chunks still to be appended to ``data[0]``.
        table: the table name used in :func:`final_state`.
    """

    scenario: str
    copybook: Path
    data: list[Path]
    config: dict[str, str]
    table: str
    appends: list[bytes] = field(default_factory=list)

    def append_next(self) -> bool:
        """Append the next pending chunk to the growing file; False when none is left."""
        if not self.appends:
            return False
        with self.data[0].open("ab") as handle:
            handle.write(self.appends.pop(0))
        return True

    def append_all(self) -> None:
        """Append every pending chunk."""
        while self.append_next():
            pass


def _money(rnd: random.Random, low: int, high: int, scale: int = 2) -> Decimal:
    return Decimal(rnd.randrange(low, high)).scaleb(-scale)


def _customer(rnd: random.Random, cust_id: int) -> Row:
    return {
        "CUST_ID": cust_id,
        "CUST_NAME": f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}",
        "CUST_CITY": rnd.choice(_CITIES),
        "CUST_STATUS": rnd.choice("AAAIC"),
        "BALANCE": _money(rnd, -5_000_000, 900_000_000),
        "CREDIT_LIMIT": _money(rnd, 0, 99_999_999),
        "ORDER_COUNT": rnd.randrange(0, 9_999),
        "OPENED_DATE": rnd.randrange(1980, 2025) * 10_000 + rnd.randrange(1, 13) * 100 + rnd.randrange(1, 29),
    }


def _account(rnd: random.Random, acct_id: int) -> Row:
    return {
        "ACCT_ID": acct_id,
        "ACCT_TYPE": rnd.choice(("CK", "SV", "LN", "CD")),
        "OWNER_ID": rnd.randrange(1, 99_999_999),
        "ACCT_BALANCE": _money(rnd, -100_000_000, 10_000_000_000),
        "INTEREST_RATE": Decimal(rnd.randrange(0, 20_000)).scaleb(-5),
        "BRANCH_CODE": f"B{rnd.randrange(0, 999):03d}",
        "LAST_TXN_DATE": 20240000 + rnd.randrange(1, 13) * 100 + rnd.randrange(1, 29),
    }


def _customers(seed: int, count: int) -> list[Row]:
    rnd = random.Random(f"{seed}:customers")
    rows: list[Row] = []
    for index in range(count):
        if rows and rnd.random() < 0.1:
            rows.append(_customer(rnd, rnd.choice(rows)["CUST_ID"]))  # a later change of a customer
        else:
            rows.append(_customer(rnd, 10_000_000 + index))
    return rows


def _accounts(seed: int, count: int, tag: str = "accounts") -> list[Row]:
    rnd = random.Random(f"{seed}:{tag}")
    return [_account(rnd, 1_000_000_000 + index * 7) for index in range(count)]


def _multisegment(seed: int, count: int) -> list[Row]:
    """Decoded rows in file order: a customer segment, then 0-3 address segments."""
    rnd = random.Random(f"{seed}:multisegment")
    rows: list[Row] = []
    for index in range(count):
        cust_id = 20_000_000 + index
        customer = {
            "CUST_NAME": f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}",
            "CUST_BALANCE": _money(rnd, -99_999, 9_999_999),
        }
        rows.append({"REC_TYPE": "C", "CUST_ID": cust_id, "SEG_SEQ": 0, "SEG_DATA": None,
                     "SEG_CUSTOMER": customer, "SEG_ADDRESS": None})  # fmt: skip
        for seq in range(1, rnd.randrange(0, 4) + 1):
            address = {
                "STREET": f"{rnd.randrange(1, 9999)} {rnd.choice(_STREETS)}",
                "CITY": rnd.choice(_CITIES),
                "ZIP_CODE": rnd.randrange(10_000, 99_999),
            }
            rows.append({"REC_TYPE": "A", "CUST_ID": cust_id, "SEG_SEQ": seq, "SEG_DATA": None,
                         "SEG_CUSTOMER": None, "SEG_ADDRESS": address})  # fmt: skip
    return rows


def _hierarchical(seed: int, count: int) -> list[tuple[Row, list[Row]]]:
    """Per company: its nested row (as ``segment.children`` emits it) and its segment records in file order."""
    rnd = random.Random(f"{seed}:hierarchical")
    companies: list[tuple[Row, list[Row]]] = []
    next_employee = 100_000
    for index in range(count):
        company_id = 30_000_000 + index
        header = {"SEGMENT_ID": "C", "COMPANY_ID": company_id}
        company = {
            "COMPANY_NAME": f"{rnd.choice(_LAST)} {rnd.choice(_COMPANY_KINDS)}",
            "REGISTERED": rnd.randrange(1950, 2025) * 10_000 + rnd.randrange(1, 13) * 100 + rnd.randrange(1, 29),
        }
        department_records: list[Row] = []
        departments: list[Row] = []
        for number in range(1, rnd.randrange(0, 4) + 1):
            department = {
                "DEPT_CODE": f"D{number:03d}",
                "DEPT_NAME": rnd.choice(_DEPARTMENTS),
                "BUDGET": _money(rnd, 0, 90_000_000_000),
            }
            department_records.append({"SEGMENT_ID": "D", "COMPANY_ID": company_id, "DEPARTMENT": department})
            employees: list[Row] = []
            for _ in range(rnd.randrange(0, 4)):
                employee = {
                    "EMP_ID": next_employee,
                    "EMP_NAME": f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}",
                    "SALARY": _money(rnd, 2_000_000, 25_000_000),
                }
                next_employee += 1
                department_records.append({"SEGMENT_ID": "E", "COMPANY_ID": company_id, "EMPLOYEE": employee})
                employees.append(dict(employee))
            departments.append({**department, "EMPLOYEE": employees})
        contacts = [
            {"CONTACT_NAME": f"{rnd.choice(_FIRST)} {rnd.choice(_LAST)}", "PHONE": f"+1 555 {rnd.randrange(10**4):04d}"}
            for _ in range(rnd.randrange(0, 3))
        ]
        contact_records = [{"SEGMENT_ID": "P", "COMPANY_ID": company_id, "CONTACT": dict(c)} for c in contacts]
        # Contacts come before or after the departments: either order is a valid hierarchy.
        children = contact_records + department_records if rnd.random() < 0.5 else department_records + contact_records
        nested = {**header, "COMPANY": {**company, "DEPARTMENT": departments, "CONTACT": contacts}}
        companies.append((nested, [{**header, "COMPANY": company}, *children]))
    return companies


def _transactions(seed: int, count: int) -> list[Row]:
    rnd = random.Random(f"{seed}:transactions")
    return [
        {
            "TXN_ID": 500_000 + index,
            "TXN_ACCOUNT": 1_000_000_000 + rnd.randrange(0, 5000) * 7,
            "TXN_AMOUNT": _money(rnd, -1_000_000, 5_000_000),
            "TXN_CODE": rnd.choice(("DEP", "WDL", "FEE", "INT", "XFR")),
            "TXN_MEMO": rnd.choice(("ATM", "BRANCH", "ONLINE", "PAYROLL", "")),
        }
        for index in range(count)
    ]


def _generations(seed: int, count: int, generations: int = 3) -> list[list[Row]]:
    """Successive full extracts: updates, deletes and inserts between them, ordered by key."""
    rnd = random.Random(f"{seed}:generations")
    current = {row["ACCT_ID"]: row for row in _accounts(seed, count, tag="generations")}
    next_id = 1_000_000_000 + count * 7
    out = [sorted(current.values(), key=lambda row: row["ACCT_ID"])]
    for _ in range(generations - 1):
        for acct_id in list(current):
            draw = rnd.random()
            if draw < 0.1:
                del current[acct_id]
            elif draw < 0.3:
                changed = dict(current[acct_id])
                changed["ACCT_BALANCE"] = _money(rnd, -100_000_000, 10_000_000_000)
                changed["LAST_TXN_DATE"] = 20250000 + rnd.randrange(1, 13) * 100 + rnd.randrange(1, 29)
                current[acct_id] = changed
        for _ in range(max(1, count // 10)):
            current[next_id] = _account(rnd, next_id)
            next_id += 7
        out.append(sorted(current.values(), key=lambda row: row["ACCT_ID"]))
    return out


def _encode(copybook: str, rows: t.Iterable[Row]) -> list[bytes]:
    from headwater.codecs.copybook import encode_record, parse_copybook

    layout = parse_copybook(copybook)

    def present(row: Row) -> Row:
        # The encoder writes a REDEFINES alternative only when its key is present.
        return {key: value for key, value in row.items() if value is not None}

    return [encode_record(layout, present(row)) for row in rows]


def _corrupt(records: list[bytes], seed: int, count: int, offset: int) -> set[int]:
    """Put an invalid packed nibble (0xA) into ``count`` records at ``offset``; returns their indexes."""
    rnd = random.Random(f"{seed}:bad")
    bad = set(rnd.sample(range(len(records)), min(count, len(records))))
    for index in bad:
        data = bytearray(records[index])
        data[offset] = 0xAA
        records[index] = bytes(data)
    return bad


_CUSTOMERS_BALANCE_OFFSET = 8 + 30 + 20 + 1


def generate(
    scenario: str,
    seed: int,
    out_dir: str | Path,
    *,
    count: int | None = None,
    bad_records: int = 0,
) -> ScenarioFiles:
    """Write the scenario's copybook and data files into ``out_dir``.

    Args:
        scenario: one of :data:`SCENARIOS`.
        seed: the same seed always writes the same bytes.
        out_dir: folder to write to (created); data files go to ``out_dir/data``.
        count: records (customers for multisegment, rows per generation); a default per scenario.
        bad_records: ``customers-vb`` and ``customers-vbs`` only: records with invalid packed data.

    Raises:
        ValueError: unknown scenario.
    """
    from headwater.codecs.copybook import frame_fb, frame_v, frame_vb, frame_vbs

    if scenario not in SCENARIOS:
        msg = f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}"
        raise ValueError(msg)
    count = _DEFAULT_COUNT[scenario] if count is None else count
    out = Path(out_dir)
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    copybook_text, table = _COPYBOOKS[scenario]
    copybook = out / f"{table}.cpy"
    copybook.write_text(copybook_text)
    files = ScenarioFiles(scenario, copybook, [], dict(_CONFIGS[scenario]), table)
    if scenario in ("customers-vb", "customers-vbs"):
        records = _encode(copybook_text, _customers(seed, count))
        _corrupt(records, seed, bad_records, _CUSTOMERS_BALANCE_OFFSET)
        if scenario == "customers-vb":
            files.data.append(_write(data_dir / "CUST.MASTER.VB", frame_vb(records, records_per_block=25)))
        else:
            files.data.append(_write(data_dir / "CUST.MASTER.VBS", frame_vbs(records, block_length=200)))
    elif scenario == "accounts-fb":
        records = _encode(copybook_text, _accounts(seed, count))
        files.data.append(_write(data_dir / "ACCT.EXTRACT.FB", frame_fb(records, records_per_block=20)))
    elif scenario == "multisegment":
        records = _encode(copybook_text, _multisegment(seed, count))
        files.data.append(_write(data_dir / "CUST.SEGMENTS.V", frame_v(records)))
    elif scenario == "growing":
        data = frame_v(_encode(copybook_text, _transactions(seed, count)))
        rnd = random.Random(f"{seed}:cuts")
        cuts = sorted(rnd.sample(range(1, len(data)), 4)) if len(data) > 5 else []
        parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        files.data.append(_write(data_dir / "TXN.LOG.V", parts[0]))
        files.appends = parts[1:]
    elif scenario == "hierarchical":
        records = _encode(copybook_text, [record for _, segments in _hierarchical(seed, count) for record in segments])
        files.data.append(_write(data_dir / "COMPANY.REGISTER.VB", frame_vb(records, records_per_block=10)))
    else:
        for number, rows in enumerate(_generations(seed, count), start=1):
            data = frame_fb(_encode(copybook_text, rows), records_per_block=20)
            files.data.append(_write(data_dir / f"ACCT.FULL.G{number:04d}V00", data))
    return files


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


_COPYBOOKS = {
    "customers-vb": (CUSTOMERS_CPY, "customers"),
    "customers-vbs": (CUSTOMERS_CPY, "customers"),
    "accounts-fb": (ACCOUNTS_CPY, "accounts"),
    "multisegment": (MULTISEGMENT_CPY, "customer_segments"),
    "growing": (TRANSACTIONS_CPY, "transactions"),
    "generations": (ACCOUNTS_CPY, "accounts"),
    "hierarchical": (COMPANIES_CPY, "companies"),
}

_CONFIGS: dict[str, dict[str, str]] = {
    "customers-vb": {"record.format": "VB", "key.fields": "CUST_ID", "input.glob": "*.VB"},
    "customers-vbs": {"record.format": "VBS", "key.fields": "CUST_ID", "input.glob": "*.VBS"},
    "accounts-fb": {"record.format": "FB", "key.fields": "ACCT_ID", "input.glob": "*.FB"},
    "multisegment": {
        "record.format": "V",
        "key.fields": "REC_TYPE,CUST_ID,SEG_SEQ",
        "segment.field": "REC-TYPE",
        "segment.map": "C=SEG-CUSTOMER,A=SEG-ADDRESS",
        "input.glob": "*.V",
    },
    "growing": {"record.format": "V", "key.fields": "TXN_ID", "input.glob": "*.V"},
    "generations": {
        "record.format": "FB",
        "key.fields": "ACCT_ID",
        "mode": "snapshot-diff",
        "input.glob": "ACCT.FULL.*",
    },
    "hierarchical": {
        "record.format": "VB",
        "key.fields": "COMPANY_ID",
        "segment.field": "SEGMENT-ID",
        "segment.map": "C=COMPANY,D=DEPARTMENT,E=EMPLOYEE,P=CONTACT",
        "segment.children": "COMPANY=DEPARTMENT,CONTACT;DEPARTMENT=EMPLOYEE",
        # The file is complete when generated: its last company need not wait for more children.
        "file.quiet.ms": "0",
        "input.glob": "*.VB",
    },
}


def connector_config(files: ScenarioFiles, topic: str) -> dict[str, str]:
    """``mainframe-copybook`` keys that read ``files`` into ``topic``."""
    return {
        "copybook.path": str(files.copybook),
        "input.dir": str(files.data[0].parent),
        "topic": topic,
        **files.config,
    }


def _key_of(scenario: str, row: Row) -> dict[str, t.Any]:
    names = _CONFIGS[scenario]["key.fields"].split(",")
    return {name: row[name] for name in names}


def final_state(scenario: str, seed: int, *, count: int | None = None, bad_records: int = 0) -> list[dict[str, t.Any]]:
    """The keyed rows after the whole scenario, as ``{"table", "key", "row"}`` dicts in key order.

    Folding the connector's change stream by key must give exactly these rows (records
    made invalid by ``bad_records`` are left out: they go to the dead-letter topic).
    """
    if scenario not in SCENARIOS:
        msg = f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}"
        raise ValueError(msg)
    count = _DEFAULT_COUNT[scenario] if count is None else count
    table = _COPYBOOKS[scenario][1]
    if scenario in ("customers-vb", "customers-vbs"):
        rows = _customers(seed, count)
        if bad_records:
            bad = _corrupt([b"\x00" * 80] * len(rows), seed, bad_records, 0)
            rows = [row for index, row in enumerate(rows) if index not in bad]
    elif scenario == "accounts-fb":
        rows = _accounts(seed, count)
    elif scenario == "multisegment":
        rows = _multisegment(seed, count)
    elif scenario == "growing":
        rows = _transactions(seed, count)
    elif scenario == "hierarchical":
        rows = [nested for nested, _ in _hierarchical(seed, count)]
    else:
        rows = _generations(seed, count)[-1]
    state: dict[str, tuple[dict[str, t.Any], Row]] = {}
    for row in rows:
        key = _key_of(scenario, row)
        state[repr(sorted(key.items()))] = (key, row)
    return [
        {"table": table, "key": key, "row": row}
        for key, row in sorted(state.values(), key=lambda kr: repr(sorted(kr[0].items())))
    ]
