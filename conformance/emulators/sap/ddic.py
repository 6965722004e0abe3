"""The emulated data dictionary: table definitions and SAP's internal text form of values.

A row is held with Python values by DDIC type: ``str`` for CHAR, CLNT, CUKY, UNIT, LANG
(without trailing blanks), NUMC (zero-padded to its length), DATS (``YYYYMMDD``,
``00000000`` when empty) and TIMS (``HHMMSS``); ``Decimal`` for DEC, CURR and QUAN;
``int`` for INT1/2/4/8; ``float`` for FLTP; ``bytes`` for RAW; ``str`` for STRG.
:func:`render` writes one into a fixed-width character field as RFC_READ_TABLE's generic
``MOVE`` does: packed numbers right-aligned with a trailing minus (``*`` in front when
they overflow), RAW as hex cut to the field length.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = ["INTTYPE", "Field", "Table", "render"]

INTTYPE: dict[str, str] = {
    "CHAR": "C",
    "CLNT": "C",
    "CUKY": "C",
    "UNIT": "C",
    "LANG": "C",
    "NUMC": "N",
    "DATS": "D",
    "TIMS": "T",
    "DEC": "P",
    "CURR": "P",
    "QUAN": "P",
    "INT1": "b",
    "INT2": "s",
    "INT4": "I",
    "INT8": "8",
    "FLTP": "F",
    "RAW": "X",
    "STRG": "g",
}
"""ABAP internal type (DFIES-INTTYPE) of each DDIC data type."""

_INTLEN = {"D": 8, "T": 6, "I": 4, "b": 1, "s": 2, "8": 8, "F": 8, "g": 8}


@dataclass(frozen=True, slots=True)
class Field:
    """One column: DDIC data type, length (characters or digits), decimals, key flag."""

    name: str
    datatype: str
    leng: int
    decimals: int = 0
    key: bool = False
    text: str = ""
    convexit: str = ""

    @property
    def inttype(self) -> str:
        return INTTYPE[self.datatype]

    @property
    def intlen(self) -> int:
        """Bytes in the ABAP structure (two per character in a Unicode system)."""
        if self.inttype == "P":
            return self.leng // 2 + 1
        if self.inttype == "X":
            return self.leng
        return _INTLEN.get(self.inttype, self.leng * 2)

    def initial(self) -> t.Any:
        """The initial value of the type (what an empty column holds)."""
        kind = self.inttype
        if kind == "N":
            return "0" * self.leng
        if kind == "D":
            return "00000000"
        if kind == "T":
            return "000000"
        if kind == "P":
            return Decimal(0).scaleb(-self.decimals)
        if kind in "Ibs8":
            return 0
        if kind == "F":
            return 0.0
        if kind == "X":
            return bytes(self.leng)
        return ""


@dataclass
class Table:
    """A transparent table: its fields in DDIC order and its rows keyed by the key values."""

    name: str
    fields: list[Field]
    text: str = ""
    client_dependent: bool = True
    rows: dict[tuple[t.Any, ...], dict[str, t.Any]] = field(default_factory=dict)
    auth_group: str = "&NC&"

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}

    @property
    def key_fields(self) -> list[Field]:
        return [f for f in self.fields if f.key]

    def key_of(self, row: t.Mapping[str, t.Any]) -> tuple[t.Any, ...]:
        return tuple(row[f.name] for f in self.key_fields)

    def complete(self, values: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """A full row: ``values`` plus initial values for the columns not given."""
        unknown = set(values) - set(self.by_name)
        if unknown:
            msg = f"{self.name} has no fields {sorted(unknown)}"
            raise KeyError(msg)
        return {f.name: values.get(f.name, f.initial()) for f in self.fields}

    def tabkey(self, row: t.Mapping[str, t.Any]) -> str:
        """CDPOS-TABKEY: the key fields' internal text, each at its full length."""
        return "".join(render(f, row[f.name]) for f in self.key_fields)

    def dfies(self) -> list[dict[str, t.Any]]:
        """DDIF_FIELDINFO_GET's DFIES_TAB, as pyrfc returns it (NUMC fields as strings)."""
        out = []
        offset = 0
        for position, f in enumerate(self.fields, start=1):
            out.append(
                {
                    "TABNAME": self.name,
                    "FIELDNAME": f.name,
                    "LANGU": "E",
                    "POSITION": f"{position:04d}",
                    "OFFSET": f"{offset:06d}",
                    "DOMNAME": "",
                    "ROLLNAME": f.name,
                    "CHECKTABLE": "",
                    "LENG": f"{f.leng:06d}",
                    "INTLEN": f"{f.intlen:06d}",
                    "OUTPUTLEN": f"{_outputlen(f):06d}",
                    "DECIMALS": f"{f.decimals:06d}",
                    "DATATYPE": f.datatype,
                    "INTTYPE": f.inttype,
                    "REFTABLE": "",
                    "REFFIELD": "",
                    "CONVEXIT": f.convexit,
                    "FIELDTEXT": f.text or f.name,
                    "KEYFLAG": "X" if f.key else "",
                    "LOWERCASE": "",
                    "MAC": "",
                    "NOTNULL": "X" if f.key else "",
                }
            )
            offset += f.intlen
        return out


def _outputlen(f: Field) -> int:
    if f.inttype == "P":
        return f.leng + (1 if f.decimals else 0) + 1 + (f.leng - f.decimals - 1) // 3
    if f.inttype == "D":
        return 10
    if f.inttype == "T":
        return 8
    return f.leng


def render(f: Field, value: t.Any) -> str:
    """``value`` as RFC_READ_TABLE writes it into ``WA+offset(LENG)``: exactly ``f.leng`` characters."""
    kind = f.inttype
    width = f.leng
    if kind in "CNDT":
        text = str(value)
        return text[:width].ljust(width)
    if kind in "PIbs8":
        number = Decimal(value)
        digits = f"{abs(number):.{f.decimals}f}" if kind == "P" else str(abs(int(number)))
        text = digits + ("-" if number < 0 else " ")
        if len(text) > width:
            return "*" + text[len(text) - width + 1 :]
        return text.rjust(width)
    if kind == "F":
        text = f"{float(value):.{max(1, width - 7)}E}"
        return text[:width].rjust(width)
    if kind == "X":
        return bytes(value).hex().upper()[:width].ljust(width)
    msg = f"field {f.name}: type {f.datatype} cannot be moved into a character field"
    raise TypeError(msg)
