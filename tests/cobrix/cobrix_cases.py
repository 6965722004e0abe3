"""Random copybooks and data files for the Cobrix differential tests.

Every case is built from a seed, so a failure names a reproducible case. The bytes are
written here from the COBOL rules (zoned, packed, binary, floats, descriptors), not with
Headwater's encoder, so that the two decoders share no assumption but the copybook.

What is generated: text (PIC X/A, code pages common, common_extended, cp037), zoned
numbers (unsigned, overpunched trailing or leading, separate leading or trailing sign,
implied decimals), explicit-point numbers with leading spaces, packed (signed, unsigned),
binary (COMP, COMP-4, BINARY, COMP-5, COMP-0, COMP-9 little-endian), COMP-2 (IBM) and
COMP-1/COMP-2 (IEEE 754), national text, groups, FILLER values and groups, OCCURS, OCCURS
DEPENDING ON (with and without ``m TO``, max-size and shifting), REDEFINES, and the record
formats F, FB (BDW), V and VB with both endiannesses and both descriptor conventions.
Some fields get invalid bytes (a letter among zoned digits, a bad packed nibble), which
Cobrix turns into null and Headwater into null plus an ``_errors`` entry.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["Case", "make_case"]

_TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-+*/()&$#@%"


@dataclass
class Case:
    """One differential case: a copybook, a data file and Cobrix's options."""

    seed: int
    copybook: str
    data: bytes
    options: dict[str, Any]
    description: list[str] = field(default_factory=list)


@dataclass
class _Field:
    """An elementary field: its clause text and a function writing one value's bytes."""

    name: str
    clause: str
    write: Callable[[random.Random, bool], bytes]  # (rng, invalid) -> bytes
    length: int
    can_be_invalid: bool = False


def _zoned_digits(rng: random.Random, count: int) -> list[int]:
    return [rng.randrange(10) for _ in range(count)]


def _zoned_field(rng: random.Random, name: str) -> _Field:
    integer = rng.randint(1, 9)
    fraction = rng.choice([0, 0, 1, 2, 4])
    signed = rng.random() < 0.7
    form = rng.choice(["trailing", "leading", "separate-trailing", "separate-leading"]) if signed else "none"
    picture = ("S" if signed else "") + f"9({integer})" + (f"V9({fraction})" if fraction else "")
    clause = f"PIC {picture}"
    if form == "leading":
        clause += " SIGN LEADING"
    elif form == "separate-trailing":
        clause += " SIGN TRAILING SEPARATE"
    elif form == "separate-leading":
        clause += " SIGN LEADING SEPARATE"
    width = integer + fraction
    length = width + (1 if form.startswith("separate") else 0)

    def write(rng: random.Random, invalid: bool) -> bytes:
        digits = _zoned_digits(rng, width)
        out = bytearray(0xF0 | d for d in digits)
        negative = signed and rng.random() < 0.5
        if form in ("trailing", "leading"):
            index = -1 if form == "trailing" else 0
            zone = 0xD0 if negative else rng.choice([0xC0, 0xF0])
            out[index] = zone | digits[index]
        elif form.startswith("separate"):
            sign = 0x60 if negative else 0x4E
            out = bytearray([sign]) + out if form == "separate-leading" else out + bytearray([sign])
        if invalid:
            position = rng.randrange(len(out))
            if not (form.startswith("separate") and position in (0, len(out) - 1)):
                out[position] = 0x81  # 'a': no digit, no sign
        return bytes(out)

    return _Field(name, clause, write, length, can_be_invalid=True)


def _explicit_point_field(rng: random.Random, name: str) -> _Field:
    integer = rng.randint(2, 8)
    fraction = rng.randint(1, 3)
    length = integer + 1 + fraction

    def write(rng: random.Random, invalid: bool) -> bytes:
        value = rng.randrange(10 ** rng.randint(1, integer + fraction))
        text = f"{Decimal(value).scaleb(-fraction):.{fraction}f}".rjust(length)
        return text.encode("cp037")

    return _Field(name, f"PIC 9({integer}).9({fraction})", write, length)


def _packed_field(rng: random.Random, name: str) -> _Field:
    integer = rng.randint(1, 12)
    fraction = rng.choice([0, 0, 2, 3])
    signed = rng.random() < 0.7
    picture = ("S" if signed else "") + f"9({integer})" + (f"V9({fraction})" if fraction else "")
    width = integer + fraction
    length = width // 2 + 1

    def write(rng: random.Random, invalid: bool) -> bytes:
        nibbles = [0] * (length * 2 - 1 - width) + _zoned_digits(rng, width)
        sign = (0xD if rng.random() < 0.5 else 0xC) if signed else 0xF
        if invalid:
            nibbles[rng.randrange(len(nibbles))] = 0xA
        nibbles.append(sign)
        return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))

    usage = rng.choice(["COMP-3", "PACKED-DECIMAL"])
    return _Field(name, f"PIC {picture} {usage}", write, length, can_be_invalid=True)


def _binary_field(rng: random.Random, name: str) -> _Field:
    usage = rng.choice(["COMP", "COMP-4", "BINARY", "COMP-5", "COMP-0", "COMP-9"])
    digits = rng.randint(1, 18)
    signed = rng.random() < 0.6
    fraction = rng.choice([0, 0, 0, 2]) if digits > 2 else 0
    integer = digits - fraction
    picture = ("S" if signed else "") + f"9({integer})" + (f"V9({fraction})" if fraction else "")
    length = 1 if usage == "COMP-9" and digits <= 2 else 2 if digits <= 4 else 4 if digits <= 9 else 8
    order = "little" if usage == "COMP-9" else "big"

    def write(rng: random.Random, invalid: bool) -> bytes:
        limit = 10**digits - 1
        if length == 1:
            limit = min(limit, 127 if signed else 255)
        value = rng.randint(-limit if signed else 0, limit)
        return value.to_bytes(length, order, signed=signed)

    return _Field(name, f"PIC {picture} {usage}", write, length)


def _ibm_double(value: float) -> bytes:
    if value == 0:
        return bytes(8)
    sign = 0x80 if value < 0 else 0
    mantissa, exponent2 = math.frexp(abs(value))
    exponent16 = math.ceil(exponent2 / 4)
    fraction = int(math.ldexp(mantissa, 56 + exponent2 - 4 * exponent16))
    return ((sign | (exponent16 + 64)) << 56 | fraction).to_bytes(8, "big")


def _float_field(rng: random.Random, name: str, ieee: bool) -> _Field:
    usage = rng.choice(["COMP-1", "COMP-2"]) if ieee else "COMP-2"
    length = 4 if usage == "COMP-1" else 8

    def write(rng: random.Random, invalid: bool) -> bytes:
        value = rng.choice([0.0, 1.5, -3.75, 4.5, 100.25, rng.uniform(-1e6, 1e6)])
        if ieee:
            return struct.pack(">f" if length == 4 else ">d", value)
        return _ibm_double(value)

    return _Field(name, usage, write, length)


def _text_field(rng: random.Random, name: str, code_page: str) -> _Field:
    size = rng.randint(1, 12)
    kind = rng.choice(["X", "X", "A"])

    def write(rng: random.Random, invalid: bool) -> bytes:
        if code_page in ("common", "common_extended") and rng.random() < 0.3:
            raw = bytes(rng.randrange(256) for _ in range(size))
            return raw if any(raw) else b"\x40" * size  # all-zero text is a documented difference
        letters = _TEXT if kind == "X" else "ABCDEFGHIJKLMNOPQRSTUVWXYZ "
        text = "".join(rng.choice(letters) for _ in range(rng.randint(0, size))).ljust(size)
        if rng.random() < 0.3:
            text = text.rjust(size)
        return text.encode("cp037")

    return _Field(name, f"PIC {kind}({size})", write, size)


def _national_field(rng: random.Random, name: str) -> _Field:
    size = rng.randint(1, 5)

    def write(rng: random.Random, invalid: bool) -> bytes:
        text = "".join(rng.choice("ABCxyz019 ") for _ in range(size))
        return text.encode("utf-16-be")

    return _Field(name, f"PIC N({size})", write, size * 2)


def _elementary(rng: random.Random, name: str, code_page: str, ieee: bool) -> _Field:
    maker = rng.choice(
        ["zoned", "zoned", "packed", "packed", "binary", "binary", "text", "text", "text", "float", "point", "nat"]
    )
    if maker == "zoned":
        return _zoned_field(rng, name)
    if maker == "packed":
        return _packed_field(rng, name)
    if maker == "binary":
        return _binary_field(rng, name)
    if maker == "float":
        return _float_field(rng, name, ieee)
    if maker == "point":
        return _explicit_point_field(rng, name)
    if maker == "nat":
        return _national_field(rng, name)
    return _text_field(rng, name, code_page)


# A node of the generated record: ("field", _Field, occurs) or ("group", name, children, occurs).
_Node = tuple[Any, ...]


def _wrap(indent: int, text: str) -> list[str]:
    """Fixed-format lines (code within columns 8-72) holding ``text`` at ``indent``."""
    lines: list[str] = []
    current = " " * indent
    for word in text.split():
        if len(current) + 1 + len(word) > 72 and current.strip():
            lines.append(current)
            current = " " * 15
        current += ("" if not current.strip() else " ") + word
    lines.append(current)
    return lines


class _Builder:
    def __init__(self, rng: random.Random, code_page: str, ieee: bool) -> None:
        self.rng = rng
        self.code_page = code_page
        self.ieee = ieee
        self.counter = 0
        self.lines: list[str] = []
        self.odo: tuple[str, int, bool] | None = None  # (count field, maximum, with TO)

    def name(self) -> str:
        self.counter += 1
        return f"F{self.counter}-{self.rng.choice(['A', 'B', 'CD', 'X'])}"

    def children(self, level: int, depth: int, count: int) -> list[_Node]:
        nodes: list[_Node] = []
        for _ in range(count):
            roll = self.rng.random()
            if depth < 2 and roll < 0.15:
                name = "FILLER" if self.rng.random() < 0.3 else self.name()
                occurs = self.rng.choice([None, None, 2, 3])
                suffix = f" OCCURS {occurs} TIMES" if occurs else ""
                self.lines.extend(_wrap(4 + level, f"{level:02d}  {name}{suffix}."))
                inner = self.children(level + 5, depth + 1, self.rng.randint(1, 3))
                nodes.append(("group", name, inner, occurs))
            elif roll < 0.25:
                item = _text_field(self.rng, "FILLER", self.code_page)
                self.lines.extend(_wrap(4 + level, f"{level:02d}  FILLER {item.clause}."))
                nodes.append(("filler", item))
            elif (
                roll < 0.32
                and nodes
                and nodes[-1][0] == "field"
                and nodes[-1][2] is None
                # Cobrix's cp037 turns control bytes into spaces, Headwater's keeps them (a
                # documented difference): over binary bytes only the common tables agree.
                and (self.code_page != "cp037" or nodes[-1][1].clause.startswith(("PIC X", "PIC A")))
            ):
                # REDEFINES of the previous field by digits text of the same length.
                previous = nodes[-1][1]
                name = self.name()
                self.lines.extend(
                    _wrap(4 + level, f"{level:02d}  {name} REDEFINES {previous.name} PIC X({previous.length}).")
                )
                nodes.append(("redefines", name, previous))
            else:
                item = _elementary(self.rng, self.name(), self.code_page, self.ieee)
                occurs = self.rng.choice([None] * 6 + [2, 3])
                suffix = f" OCCURS {occurs} TIMES" if occurs else ""
                self.lines.extend(_wrap(4 + level, f"{level:02d}  {item.name} {item.clause}{suffix}."))
                nodes.append(("field", item, occurs))
        return nodes


def _write(rng: random.Random, nodes: list[_Node], out: bytearray, invalid_rate: float) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "field":
            item, occurs = node[1], node[2]
            for _ in range(occurs or 1):
                out += item.write(rng, item.can_be_invalid and rng.random() < invalid_rate)
        elif kind == "filler":
            out += node[1].write(rng, False)
        elif kind == "redefines":
            pass  # it overlays the previous field's bytes
        else:
            for _ in range(node[3] or 1):
                _write(rng, node[2], out, invalid_rate)


def _descriptor(value: int, big_endian: bool) -> bytes:
    # Cobrix's little-endian descriptor is the big-endian word reversed: 00 00 LL HH.
    return value.to_bytes(2, "big") + b"\x00\x00" if big_endian else b"\x00\x00" + value.to_bytes(2, "little")


def make_case(seed: int) -> Case:
    """The differential case of ``seed`` (deterministic)."""
    rng = random.Random(seed)
    code_page = rng.choice(["common", "common", "common_extended", "cp037"])
    ieee = rng.random() < 0.4
    builder = _Builder(rng, code_page, ieee)
    builder.lines.append("       01  REC.")
    nodes = builder.children(5, 0, rng.randint(2, 7))
    builder.lines.append("           05  LAST-F PIC X(2).")  # Cobrix refuses a record of only FILLERs
    nodes.append(("field", _Field("LAST-F", "PIC X(2)", lambda rng, invalid: "ZZ".encode("cp037"), 2), None))
    record_format = rng.choice(["F", "F", "FB", "V", "VB"])
    odo = rng.random() < 0.4
    variable = odo and record_format in ("V", "VB") and rng.random() < 0.6
    options: dict[str, Any] = {"record_format": record_format, "ebcdic_code_page": code_page}
    description = [f"seed {seed}", f"record_format {record_format}", f"code page {code_page}"]
    if ieee:
        options["floating_point_format"] = "IEEE754"
    if rng.random() < 0.3:
        options["drop_group_fillers"] = rng.random() < 0.5
        options["drop_value_fillers"] = rng.random() < 0.5
        options["filler_naming_policy"] = rng.choice(["sequence_numbers", "previous_field_name"])
        description.append("FILLER options")
    if rng.random() < 0.2:
        options["strict_sign_overpunching"] = False
        description.append("relaxed sign")
    odo_max = 0
    odo_item: _Field | None = None
    if odo:
        odo_max = rng.randint(1, 5)
        ranged = rng.random() < 0.5
        odo_item = _text_field(rng, "ODO-ITEM", code_page)
        counts = f"OCCURS 0 TO {odo_max} TIMES" if ranged else f"OCCURS {odo_max} TIMES"
        builder.lines.insert(1, "           05  ODO-CNT PIC 9(2).")
        builder.lines.append(f"           05  ODO-ITEM {odo_item.clause}")
        builder.lines.append(f"               {counts} DEPENDING ON ODO-CNT.")
        builder.lines.append("           05  AFTER-ODO PIC X(2).")
        if variable:
            options["variable_size_occurs"] = True
        description.append(f"ODO max {odo_max} {'shifting' if variable else 'max size'}")
    copybook = "\n".join(builder.lines) + "\n"
    invalid_rate = rng.choice([0.0, 0.0, 0.05])
    records: list[bytes] = []
    for _ in range(rng.randint(3, 12)):
        out = bytearray()
        if odo:
            count = rng.randint(0, odo_max)
            out += f"{count:02d}".encode("cp037")
        _write(rng, nodes, out, invalid_rate)
        if odo and odo_item is not None:
            for index in range(odo_max):
                if index < count:
                    out += odo_item.write(rng, False)
                elif not variable:
                    out += b"\x40" * odo_item.length
            out += "ZZ".encode("cp037")
        records.append(bytes(out))
    big = rng.random() < 0.5
    includes = rng.random() < 0.5
    if record_format == "F":
        data = b"".join(records)
    elif record_format == "FB":
        options["is_bdw_big_endian"] = big
        data = bytearray()
        for start in range(0, len(records), 3):
            block = b"".join(records[start : start + 3])
            data += _descriptor(len(block), big) + block
        data = bytes(data)
    else:
        options["is_rdw_big_endian"] = big
        if record_format == "V":
            options["is_rdw_part_of_record_length"] = includes
        elif includes:
            options["rdw_adjustment"] = -4  # Cobrix's VB reader ignores is_rdw_part_of_record_length
        framed = [_descriptor(len(r) + (4 if includes else 0), big) + r for r in records]
        if record_format == "V":
            data = b"".join(framed)
        else:
            options["is_bdw_big_endian"] = big
            data = bytearray()
            for start in range(0, len(framed), 4):
                block = b"".join(framed[start : start + 4])
                data += _descriptor(len(block), big) + block
            data = bytes(data)
        description.append(f"{'big' if big else 'little'}-endian, RDW {'includes' if includes else 'excludes'} header")
    return Case(seed, copybook, data, options, description)
