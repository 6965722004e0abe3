"""Deterministic workloads: the changes a scenario makes, step by step, from a seed.

Scenarios (``SCENARIOS``):

* ``erp`` - step 0 loads materials (MARA), customers (KNA1), sales orders (VBAK) and
  wide documents (ZWIDE) created over 2025; steps 1..N (seven minutes apart from
  2026-01-05 08:00:00) create, change and delete customers and sales orders and change
  materials, several changes sharing one second. About one step in six also commits a
  change stamped 20 seconds before the *previous* step (a late commit from the update
  task): a reader whose watermark already passed that stamp must look back to see it.
* ``large`` - a material master of ``count`` rows (default 20 000) loaded by a legacy
  migration (no change documents), and nothing else.

The same scenario and seed always give the same steps.
"""

from __future__ import annotations

import datetime as dt
import random
import typing as t
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["SCENARIOS", "Change", "generate_history"]

SCENARIOS = ("erp", "large")
_DEFAULT_COUNT = {"erp": 30, "large": 20_000}
_USERS = ("MMUELLER", "JSMITH", "BATCH_SD", "AKOWALSKI", "LDUBOIS", "RFC_SYNC")
_CITIES = (("DE", "Walldorf", "69190"), ("DE", "Berlin", "10115"), ("FR", "Paris", "75001"),
           ("US", "Newtown Square", "19073"), ("PL", "Warszawa", "00-001"), ("JP", "Tokyo", "100-0001"))  # fmt: skip
_NAMES = ("Becker Maschinenbau", "Nordlicht Handel", "Lumière SARL", "Keystone Supply", "Wisła Logistyka",
          "Sakura Trading", "Alpen Bau AG", "O'Brien & Sons")  # fmt: skip
_CURRENCIES = ("EUR", "USD", "JPY", "PLN")
_BASE = dt.datetime(2026, 1, 5, 8, 0, 0)


@dataclass(frozen=True, slots=True)
class Change:
    """One committed change: ``row`` is the full row after it (the old row for a delete)."""

    table: str
    op: str  # "I", "U" or "D"
    row: dict[str, t.Any]
    udate: str
    utime: str
    user: str


def _stamp(moment: dt.datetime) -> tuple[str, str]:
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


class _Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.state: dict[str, dict[str, dict[str, t.Any]]] = {"MARA": {}, "KNA1": {}, "VBAK": {}, "ZWIDE": {}}
        self.next_number = {"MARA": 100_001, "KNA1": 10_001, "VBAK": 4_000_001, "ZWIDE": 1}

    def new_key(self, table: str) -> str:
        number = self.next_number[table]
        self.next_number[table] += 1
        width = {"MARA": 18, "KNA1": 10, "VBAK": 10, "ZWIDE": 10}[table]
        return f"{number:0{width}d}"

    def material(self, when: dt.datetime) -> dict[str, t.Any]:
        rng = self.rng
        weight = Decimal(rng.randint(1, 250_000)).scaleb(-3)
        return {
            "MANDT": "100",
            "MATNR": self.new_key("MARA"),
            "ERSDA": when.strftime("%Y%m%d"),
            "ERNAM": rng.choice(_USERS),
            "LAEDA": "00000000",
            "AENAM": "",
            "LVORM": "",
            "MTART": rng.choice(("FERT", "HALB", "ROH", "HAWA")),
            "MATKL": rng.choice(("001", "YBPM01", "L001", "P100")),
            "MEINS": rng.choice(("ST", "KG", "L")),
            "BRGEW": weight,
            "NTGEW": (weight * Decimal("0.9")).quantize(Decimal("0.001")),
            "GEWEI": "KG",
        }

    def customer(self, when: dt.datetime) -> dict[str, t.Any]:
        rng = self.rng
        land, city, postcode = rng.choice(_CITIES)
        return {
            "MANDT": "100",
            "KUNNR": self.new_key("KNA1"),
            "LAND1": land,
            "NAME1": rng.choice(_NAMES),
            "ORT01": city,
            "PSTLZ": postcode,
            "STRAS": f"{rng.choice(('Hauptstr.', 'Rue de Rivoli', 'Market St', 'ul. Prosta'))} {rng.randint(1, 200)}",
            "ERDAT": when.strftime("%Y%m%d"),
            "ERNAM": rng.choice(_USERS),
            "KTOKD": rng.choice(("0001", "0002", "CPD")),
            "LOEVM": "",
        }

    def order(self, when: dt.datetime) -> dict[str, t.Any]:
        rng = self.rng
        customers = sorted(self.state["KNA1"])
        currency = rng.choice(_CURRENCIES)
        value = Decimal(rng.randint(1, 5_000_000) * (-1 if rng.random() < 0.1 else 1)).scaleb(-2)
        return {
            "MANDT": "100",
            "VBELN": self.new_key("VBAK"),
            "ERDAT": when.strftime("%Y%m%d"),
            "ERZET": when.strftime("%H%M%S"),
            "ERNAM": rng.choice(_USERS),
            "AEDAT": "00000000",
            "ZZAEZET": "000000",
            "AUART": "RE" if value < 0 else rng.choice(("OR", "ZOR", "SO")),
            "VKORG": rng.choice(("1000", "1710", "2000")),
            "NETWR": value,
            "WAERK": currency,
            "KUNNR": rng.choice(customers) if customers else "",
            "ZZPRIO": f"{rng.randint(0, 99):02d}",
            "ZZITEMS": rng.randint(1, 40),
        }

    def wide(self, when: dt.datetime) -> dict[str, t.Any]:
        rng = self.rng
        return {
            "MANDT": "100",
            "DOCID": self.new_key("ZWIDE"),
            "TITLE": f"Quality notification {rng.randint(1, 9999)}",
            "NOTE1": ("Inspection lot released; " * rng.randint(1, 10))[:254].rstrip(),
            "NOTE2": ("Usage decision pending, see long text. " * rng.randint(0, 7))[:254].rstrip(),
            "AMOUNT": Decimal(rng.randint(-99_999, 999_999)).scaleb(-2),
            "CREATED": "00000000" if rng.random() < 0.2 else when.strftime("%Y%m%d"),
            "CTIME": when.strftime("%H%M%S"),
            "ZZGUID": rng.randbytes(16),
        }

    def update(self, table: str, row: dict[str, t.Any], when: dt.datetime, user: str) -> dict[str, t.Any]:
        rng = self.rng
        new = dict(row)
        date, time = _stamp(when)
        if table == "MARA":
            new["MATKL"] = rng.choice(("001", "YBPM01", "L001", "P100", "P200"))
            new["BRGEW"] = Decimal(rng.randint(1, 250_000)).scaleb(-3)
            new["NTGEW"] = (new["BRGEW"] * Decimal("0.85")).quantize(Decimal("0.001"))
            new["LVORM"] = "X" if rng.random() < 0.1 else ""
            new["LAEDA"], new["AENAM"] = date, user
        elif table == "KNA1":
            land, city, postcode = rng.choice(_CITIES)
            new.update({"LAND1": land, "ORT01": city, "PSTLZ": postcode})
            if rng.random() < 0.3:
                new["NAME1"] = rng.choice(_NAMES)
        else:
            sign = -1 if new["AUART"] == "RE" else 1
            new["NETWR"] = Decimal(sign * rng.randint(1, 5_000_000)).scaleb(-2)
            new["ZZPRIO"] = f"{rng.randint(0, 99):02d}"
            new["ZZITEMS"] = rng.randint(1, 40)
            new["AEDAT"], new["ZZAEZET"] = date, time
        return new


def generate_history(scenario: str, seed: int, count: int | None = None) -> list[list[Change]]:
    """The steps of ``scenario``: step 0 is the initial load, each later step one batch of changes.

    ``count`` is the number of change steps (``erp``) or of materials (``large``).
    """
    if scenario not in SCENARIOS:
        msg = f"unknown SAP scenario {scenario!r}; choose from {', '.join(SCENARIOS)}"
        raise ValueError(msg)
    count = _DEFAULT_COUNT[scenario] if count is None else count
    gen = _Generator(seed)
    rng = gen.rng
    steps: list[list[Change]] = []
    initial: list[Change] = []
    if scenario == "large":
        for _ in range(count):
            row = gen.material(dt.datetime(2019, 3, 1))
            gen.state["MARA"][row["MATNR"]] = row
            initial.append(Change("MARA", "I", row, "", "", "MIGRATION"))
        return [initial]
    created = dt.datetime(2025, 1, 2, 7, 30)
    makers = {"MARA": (gen.material, 80), "KNA1": (gen.customer, 40), "VBAK": (gen.order, 120), "ZWIDE": (gen.wide, 30)}
    for table, (make, number) in makers.items():
        for _ in range(number):
            created += dt.timedelta(minutes=rng.randint(30, 900))
            row = make(created)
            key = _key(table, row)
            gen.state[table][key] = row
            date, time = _stamp(created)
            initial.append(Change(table, "I", row, date, time, row.get("ERNAM", "MIGRATION")))
    steps.append(initial)
    previous: dt.datetime | None = None
    for number in range(1, count + 1):
        moment = _BASE + dt.timedelta(minutes=7 * number)
        step: list[Change] = []
        if previous is not None and rng.random() < 1 / 6:
            step.append(_random_change(gen, previous - dt.timedelta(seconds=20)))
        for index in range(rng.randint(3, 8)):
            step.append(_random_change(gen, moment + dt.timedelta(seconds=index // 3)))
        steps.append(step)
        previous = moment
    return steps


def _key(table: str, row: t.Mapping[str, t.Any]) -> str:
    return str(row[{"MARA": "MATNR", "KNA1": "KUNNR", "VBAK": "VBELN", "ZWIDE": "DOCID"}[table]])


def _random_change(gen: _Generator, when: dt.datetime) -> Change:
    rng = gen.rng
    table = rng.choices(("MARA", "KNA1", "VBAK"), weights=(2, 2, 5))[0]
    rows = gen.state[table]
    user = rng.choice(_USERS)
    date, time = _stamp(when)
    roll = rng.random()
    if table != "MARA" and (roll < 0.3 or not rows):
        row = gen.customer(when) if table == "KNA1" else gen.order(when)
        rows[_key(table, row)] = row
        return Change(table, "I", row, date, time, user)
    key = rng.choice(sorted(rows))
    if table != "MARA" and roll > 0.85:
        return Change(table, "D", rows.pop(key), date, time, user)
    rows[key] = gen.update(table, rows[key], when, user)
    return Change(table, "U", rows[key], date, time, user)
