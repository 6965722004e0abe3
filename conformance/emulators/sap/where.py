"""The dynamic Open SQL WHERE clause of RFC_READ_TABLE's OPTIONS, parsed into a row predicate.

Grammar (what SAP's dynamic WHERE accepts for one table, minus subqueries)::

    condition := term { OR term }
    term      := factor { AND factor }
    factor    := NOT factor | ( condition ) | predicate
    predicate := field op operand | field [NOT] LIKE 'pattern' [ESCAPE 'c']
               | field [NOT] IN ( operand { , operand } ) | field [NOT] BETWEEN operand AND operand
               | field IS [NOT] NULL
    op        := = | EQ | <> | NE | < | LT | > | GT | <= | LE | >= | GE
    operand   := 'literal' | number | field

As in SAP, tokens are separated by blanks: ``(A = 'X')`` and ``A='X'`` are refused, a
literal is quoted with ``'`` (``''`` inside it is one quote), field names are the table's
columns, and character comparisons ignore trailing blanks. Every problem raises
:class:`OptionNotValid`, which the emulator turns into RFC_READ_TABLE's
``OPTION_NOT_VALID`` exception.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from headwater.conformance.emulators.sap.ddic import Field

__all__ = ["OptionNotValid", "Predicate", "parse_where"]

Row: t.TypeAlias = t.Mapping[str, t.Any]
Predicate: t.TypeAlias = t.Callable[[Row], bool]

_OPS = {"=": "EQ", "EQ": "EQ", "<>": "NE", "NE": "NE", "<": "LT", "LT": "LT", ">": "GT", "GT": "GT"}
_OPS |= {"<=": "LE", "LE": "LE", ">=": "GE", "GE": "GE"}
_WORD = re.compile(r"[A-Za-z0-9_/%.+\-<>=!*]+")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")
_IDENT = re.compile(r"[A-Z/][A-Z0-9_/]*")


class OptionNotValid(Exception):
    """The WHERE clause is not valid Open SQL for this table."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "literal", "(", ")", ","
    text: str
    pos: int


def tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens, refusing the adjacency SAP refuses (``(A``, ``A='X'``)."""
    tokens: list[_Token] = []
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == "'":
            j = i + 1
            chunk = []
            while True:
                if j >= n:
                    msg = f"unterminated literal at position {i}"
                    raise OptionNotValid(msg)
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        chunk.append("'")
                        j += 2
                        continue
                    break
                chunk.append(text[j])
                j += 1
            if tokens and tokens[-1].kind == "word" and tokens[-1].pos + len(tokens[-1].text) == i:
                msg = f"a blank is needed before the literal at position {i}"
                raise OptionNotValid(msg)
            tokens.append(_Token("literal", "".join(chunk), i))
            i = j + 1
            if i < n and (text[i].isalnum() or text[i] in "_'"):
                msg = f"a blank is needed after the literal ending at position {i}"
                raise OptionNotValid(msg)
            continue
        if char in "(),":
            if char == "(" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] == "_"):
                msg = f"'(' must be followed by a blank (position {i})"
                raise OptionNotValid(msg)
            if char == ")" and i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                msg = f"')' must be preceded by a blank (position {i})"
                raise OptionNotValid(msg)
            tokens.append(_Token(char, char, i))
            i += 1
            continue
        match = _WORD.match(text, i)
        if match is None:
            msg = f"unexpected character {char!r} at position {i}"
            raise OptionNotValid(msg)
        tokens.append(_Token("word", match.group(), i))
        i = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], fields: t.Mapping[str, Field]) -> None:
        self.tokens = tokens
        self.i = 0
        self.fields = fields

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.upper() in words:
            self.i += 1
            return token.text.upper()
        return None

    def expect(self, kind: str, what: str) -> _Token:
        token = self.peek()
        if token is None or token.kind != kind:
            found = "the end" if token is None else repr(token.text)
            msg = f"expected {what}, found {found}"
            raise OptionNotValid(msg)
        self.i += 1
        return token

    def condition(self) -> Predicate:
        parts = [self.term()]
        while self.keyword("OR"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self.keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def factor(self) -> Predicate:
        if self.keyword("NOT"):
            inner = self.factor()
            return lambda row: not inner(row)
        token = self.peek()
        if token is not None and token.kind == "(":
            self.i += 1
            inner = self.condition()
            self.expect(")", "')'")
            return inner
        return self.predicate()

    def field(self) -> Field:
        token = self.expect("word", "a field name")
        name = token.text.upper()
        if not _IDENT.fullmatch(name) or name not in self.fields:
            msg = f"unknown field {token.text!r}"
            raise OptionNotValid(msg)
        return self.fields[name]

    def operand(self, target: Field) -> t.Callable[[Row], t.Any]:
        token = self.peek()
        if token is None:
            msg = "expected a value, found the end"
            raise OptionNotValid(msg)
        if token.kind == "literal":
            self.i += 1
            value = _coerce(target, token.text)
            return lambda row: value
        if token.kind == "word" and _NUMBER.fullmatch(token.text):
            self.i += 1
            value = _coerce(target, token.text)
            return lambda row: value
        other = self.field()
        return lambda row: _normal(other, row[other.name])

    def predicate(self) -> Predicate:
        f = self.field()
        name = f.name
        if self.keyword("IS"):
            negate = self.keyword("NOT") is not None
            if not self.keyword("NULL"):
                msg = "expected NULL after IS"
                raise OptionNotValid(msg)
            return lambda row: negate  # SAP columns are never NULL in the emulator
        negate = self.keyword("NOT") is not None
        if self.keyword("LIKE"):
            pattern = self.expect("literal", "a LIKE pattern").text
            escape = self.expect("literal", "an ESCAPE character").text if self.keyword("ESCAPE") else None
            if escape is not None and len(escape) != 1:
                msg = "ESCAPE needs one character"
                raise OptionNotValid(msg)
            regex = _like_regex(pattern, escape)
            return lambda row: negate != bool(regex.fullmatch(str(_normal(f, row[name]))))
        if self.keyword("IN"):
            self.expect("(", "'(' after IN")
            values = [self.operand(f)]
            while self.peek() is not None and t.cast(_Token, self.peek()).kind == ",":
                self.i += 1
                values.append(self.operand(f))
            self.expect(")", "')' closing the IN list")
            return lambda row: negate != any(_normal(f, row[name]) == v(row) for v in values)
        if self.keyword("BETWEEN"):
            low = self.operand(f)
            if not self.keyword("AND"):
                msg = "expected AND in BETWEEN"
                raise OptionNotValid(msg)
            high = self.operand(f)
            return lambda row: negate != (low(row) <= _normal(f, row[name]) <= high(row))
        if negate:
            msg = "NOT must be followed by LIKE, IN or BETWEEN here"
            raise OptionNotValid(msg)
        token = self.expect("word", "a comparison operator")
        op = _OPS.get(token.text.upper())
        if op is None:
            msg = f"unknown operator {token.text!r}"
            raise OptionNotValid(msg)
        right = self.operand(f)
        compare = _COMPARE[op]
        return lambda row: compare(_normal(f, row[name]), right(row))


_COMPARE: dict[str, t.Callable[[t.Any, t.Any], bool]] = {
    "EQ": lambda a, b: a == b,
    "NE": lambda a, b: a != b,
    "LT": lambda a, b: a < b,
    "GT": lambda a, b: a > b,
    "LE": lambda a, b: a <= b,
    "GE": lambda a, b: a >= b,
}


def _normal(f: Field, value: t.Any) -> t.Any:
    """A column value in the form comparisons use (character data without trailing blanks)."""
    kind = f.inttype
    if kind in "CNDTg":
        return str(value).rstrip()
    if kind in "PIbs8":
        return Decimal(value)
    if kind == "F":
        return float(value)
    return bytes(value).hex().upper()


def _coerce(f: Field, text: str) -> t.Any:
    kind = f.inttype
    if kind in "CNDTg":
        return text.rstrip()
    if kind == "X":
        return text.upper()
    try:
        return Decimal(text.strip()) if kind != "F" else float(text)
    except (InvalidOperation, ValueError) as exc:
        msg = f"{text!r} is not a number for field {f.name}"
        raise OptionNotValid(msg) from exc


def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if escape is not None and char == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out).rstrip() if pattern.endswith(" ") else "".join(out), re.S)


def parse_where(lines: t.Sequence[str], fields: t.Mapping[str, Field]) -> Predicate | None:
    """The predicate of OPTIONS ``lines`` (each at most 72 characters), or None when empty.

    Lines are joined with a blank: a token never continues on the next line.
    """
    for number, line in enumerate(lines, start=1):
        if len(line) > 72:
            msg = f"OPTIONS line {number} is longer than 72 characters"
            raise OptionNotValid(msg)
    tokens = tokenize(" ".join(lines))
    if not tokens:
        return None
    parser = _Parser(tokens, fields)
    predicate = parser.condition()
    if parser.peek() is not None:
        msg = f"unexpected {t.cast(_Token, parser.peek()).text!r} after the condition"
        raise OptionNotValid(msg)
    return predicate
