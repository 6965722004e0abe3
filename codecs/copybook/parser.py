"""Parse COBOL copybook text into a :class:`~headwater.codecs.copybook.layout.Layout`.

Source formats:

* ``fixed``: columns 1-6 are the sequence area (ignored), column 7 the indicator (``*``
  and ``/`` comment lines, ``D`` debug lines are skipped, ``-`` continues the previous
  line's word or literal), code sits in columns 8-72 and anything past 72 is ignored.
  A digit in column 7 that starts a level number (``      01  R.``, as in hand-edited
  copybooks; Cobrix reads them too) is code, not an indicator: the line's code starts in
  column 7, and the layout's ``notes`` say so.
* ``free``: code anywhere; ``*>`` starts a comment, a line whose first non-blank is ``*``
  is a comment.
* ``auto`` (default): ``free`` if a line has a level number, or a comment, starting in
  columns 1-6; otherwise ``fixed``.

Tabs are expanded to 8-column stops before the columns are counted.

Entries: levels 01-49, 66 (RENAMES, kept as metadata), 77, 88 (condition names, kept as
metadata on the preceding item). Clauses decoded: PIC/PICTURE, USAGE (DISPLAY, COMP,
COMP-4, BINARY, COMP-5, COMP-3, PACKED-DECIMAL, COMP-3U, COMP-1, COMP-2, INDEX, POINTER),
SIGN LEADING/TRAILING [SEPARATE [CHARACTER]], OCCURS n [TO m] [TIMES] [DEPENDING ON x],
REDEFINES. Parsed and ignored: VALUE(S), INDEXED BY, ASCENDING/DESCENDING KEY, SYNC
(no slack bytes are inserted, as in Cobrix), JUSTIFIED, BLANK WHEN ZERO, EXTERNAL, GLOBAL.
``COPY member [OF|IN library] [REPLACING a BY b ...].`` includes a member through the
caller's ``include`` function (the CLI reads ``<copybook folder>/<member>[.cpy|.cbl|.cob]``);
REPLACING takes words, literals and ``==pseudo-text==``; a pseudo-text of one word that
starts with ``:`` or ``(`` (``==:TAG:==``), or the LEADING/TRAILING forms, replace part of a
word, as IBM COBOL does. Any other word is a :class:`CopybookSyntaxError` naming its line
and column.

Limits, checked before anything is expanded: a picture or item of at most
:data:`MAX_ITEM_BYTES` bytes, a record of at most :data:`MAX_RECORD_BYTES`, OCCURS counts
of at most :data:`MAX_OCCURS`, COPY nesting of at most :data:`MAX_COPY_DEPTH`. Level numbers
and counts must be ASCII digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from headwater.codecs.copybook.errors import CopybookSyntaxError
from headwater.codecs.copybook.layout import Condition, Field, Layout, Occurs, Renames
from headwater.codecs.copybook.picture import (
    MAX_ITEM_BYTES,
    PictureError,
    Usage,
    parse_picture,
    storage_length,
)

__all__ = ["MAX_COPY_DEPTH", "MAX_ITEM_BYTES", "MAX_OCCURS", "MAX_RECORD_BYTES", "SourceFormat", "parse_copybook"]

MAX_RECORD_BYTES = 16 * 1024 * 1024
MAX_OCCURS = 1_000_000
MAX_COPY_DEPTH = 10

SourceFormat = Literal["auto", "fixed", "free"]

_USAGE_WORDS: dict[str, Usage] = {
    "DISPLAY": Usage.DISPLAY,
    "COMP": Usage.BINARY,
    "COMPUTATIONAL": Usage.BINARY,
    "COMP-4": Usage.BINARY,
    "COMPUTATIONAL-4": Usage.BINARY,
    "COMP-0": Usage.BINARY,  # Cobrix: big-endian binary, as COMP
    "COMPUTATIONAL-0": Usage.BINARY,
    "COMP-9": Usage.BINARY_LE,  # Cobrix: little-endian binary
    "COMPUTATIONAL-9": Usage.BINARY_LE,
    "BINARY": Usage.BINARY,
    "COMP-5": Usage.NATIVE_BINARY,
    "COMPUTATIONAL-5": Usage.NATIVE_BINARY,
    "COMP-3": Usage.PACKED,
    "COMPUTATIONAL-3": Usage.PACKED,
    "PACKED-DECIMAL": Usage.PACKED,
    "COMP-3U": Usage.PACKED_UNSIGNED,
    "COMP-1": Usage.FLOAT,
    "COMPUTATIONAL-1": Usage.FLOAT,
    "COMP-2": Usage.DOUBLE,
    "COMPUTATIONAL-2": Usage.DOUBLE,
    "NATIONAL": Usage.NATIONAL,
    "INDEX": Usage.INDEX,
    "POINTER": Usage.POINTER,
}

# Words that start a clause: they end the name lists of INDEXED BY / KEY IS / VALUES.
_CLAUSE_WORDS = {
    "PIC", "PICTURE", "USAGE", "SIGN", "LEADING", "TRAILING", "OCCURS", "REDEFINES",
    "VALUE", "VALUES", "INDEXED", "ASCENDING", "DESCENDING", "SYNC", "SYNCHRONIZED",
    "JUST", "JUSTIFIED", "BLANK", "EXTERNAL", "GLOBAL", "IS", *_USAGE_WORDS,
}  # fmt: skip

_LEVEL_IN_SEQUENCE_AREA = re.compile(r"^\s{0,5}(\d{1,2}\s|\*)")


@dataclass(slots=True)
class _Token:
    text: str
    line: int
    column: int
    kind: Literal["word", "literal", "period"]
    open_literal: bool = False  # a literal that runs to the end of the line

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(slots=True)
class _Entry:
    level: int
    name: str
    line: int
    column: int
    picture_text: str | None = None
    picture_column: int = 0
    picture_line: int = 0
    usage: Usage | None = None
    occurs: Occurs | None = None
    occurs_token: _Token | None = None
    redefines: str | None = None
    sign_leading: bool | None = None
    sign_separate: bool | None = None
    children: list[_Entry] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)


# ----------------------------------------------------------------------------- lexing


def _detect_format(lines: list[str]) -> Literal["fixed", "free"]:
    for line in lines:
        if line.strip() and _LEVEL_IN_SEQUENCE_AREA.match(line):
            return "free"
    return "fixed"


def _lex_code(code: str, line: int, first_column: int, tokens: list[_Token]) -> None:
    """Append the tokens of one line's code area to ``tokens``."""
    position = 0
    length = len(code)
    while position < length:
        char = code[position]
        column = first_column + position
        at_separator_end = position + 1 == length or code[position + 1].isspace()
        if char.isspace() or (char in ",;" and at_separator_end):
            position += 1
            continue
        if char == "." and at_separator_end:
            tokens.append(_Token(".", line, column, "period"))
            position += 1
            continue
        quote_at = (
            position + 1 if char.upper() in "XNGZ" and code[position + 1 : position + 2] in {"'", '"'} else position
        )
        if code[quote_at] in {"'", '"'}:
            quote = code[quote_at]
            end = quote_at + 1
            while True:
                end = code.find(quote, end)
                if end < 0:
                    tokens.append(_Token(code[position:], line, column, "literal", open_literal=True))
                    return
                if code[end + 1 : end + 2] == quote:  # doubled quote inside the literal
                    end += 2
                    continue
                break
            tokens.append(_Token(code[position : end + 1], line, column, "literal"))
            position = end + 1
            continue
        end = position
        while end < length and not code[end].isspace():
            end += 1
        word = code[position:end]
        if word.endswith(".") and len(word) > 1:
            tokens.append(_Token(word[:-1].rstrip(",;"), line, column, "word"))
            tokens.append(_Token(".", line, column + len(word) - 1, "period"))
        else:
            tokens.append(_Token(word.rstrip(",;"), line, column, "word"))
        position = end


def _continue_line(code: str, line: int, first_column: int, tokens: list[_Token]) -> None:
    """Join a fixed-format continuation line (indicator ``-``) to the previous tokens."""
    stripped = code.lstrip()
    lead = len(code) - len(stripped)
    if not tokens:
        msg = "continuation line with nothing to continue"
        raise CopybookSyntaxError(msg, line=line, column=7)
    previous = tokens[-1]
    if previous.open_literal:
        if not stripped or stripped[0] not in {"'", '"'}:
            msg = "a continued literal must resume with a quote"
            raise CopybookSyntaxError(msg, line=line, column=first_column + lead)
        rest: list[_Token] = []
        _lex_code(stripped, line, first_column + lead, rest)
        head = rest[0]
        previous.text += head.text[1:]
        previous.open_literal = head.open_literal
        previous.kind = "literal"
        tokens.extend(rest[1:])
        return
    rest = []
    _lex_code(stripped, line, first_column + lead, rest)
    if rest and rest[0].kind == "word" and previous.kind == "word":
        previous.text += rest.pop(0).text
    tokens.extend(rest)


_LEVEL_IN_COLUMN_7 = re.compile(r"[0-9]{1,2}(\s|$)")


def _tokenize(text: str, source_format: SourceFormat, notes: list[str] | None = None) -> list[_Token]:
    lines = [line.expandtabs(8).rstrip("\r\n") for line in text.splitlines()]
    chosen = _detect_format(lines) if source_format == "auto" else source_format
    tokens: list[_Token] = []
    column_7_levels: list[int] = []
    for number, line in enumerate(lines, start=1):
        if chosen == "fixed":
            indicator = line[6:7]
            code = line[7:72]
            if indicator in {"*", "/", "D", "d"}:
                continue
            if indicator == "-":
                _continue_line(code, number, 8, tokens)
                continue
            if indicator.isascii() and indicator.isdigit() and _LEVEL_IN_COLUMN_7.match(line, 6):
                # A level number starting in column 7: code, not an indicator.
                column_7_levels.append(number)
                _lex_code(line[6:72], number, 7, tokens)
                continue
            if indicator not in {"", " "}:
                msg = (
                    f"unknown indicator {indicator!r} in column 7 (fixed format: '*' or '/' comment, "
                    "'-' continuation, 'D' debug line, blank, or a level number starting there)"
                )
                raise CopybookSyntaxError(msg, line=number, column=7)
            _lex_code(code, number, 8, tokens)
        else:
            code = line.split("*>", 1)[0]
            if code.lstrip().startswith("*"):
                continue
            _lex_code(code, number, 1, tokens)
    if tokens and tokens[-1].open_literal:
        last = tokens[-1]
        msg = "literal is not closed"
        raise CopybookSyntaxError(msg, line=last.line, column=last.column)
    if column_7_levels and notes is not None:
        shown = ", ".join(str(n) for n in column_7_levels[:5]) + (", ..." if len(column_7_levels) > 5 else "")
        notes.append(
            f"fixed format: level numbers start in column 7 on {len(column_7_levels)} line(s) ({shown}); "
            "read as code, not as indicators"
        )
    return tokens


# ---------------------------------------------------------------------------- parsing


class _Sentence:
    """The tokens of one entry (up to its period) with a cursor."""

    def __init__(self, tokens: list[_Token], end: _Token) -> None:
        self.tokens = tokens
        self.end = end
        self.position = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self, what: str) -> _Token:
        token = self.peek()
        if token is None:
            msg = f"expected {what} before the period"
            raise CopybookSyntaxError(msg, line=self.end.line, column=self.end.column)
        self.position += 1
        return token

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.upper in words:
            self.position += 1
            return True
        return False

    def integer(self, what: str, maximum: int) -> int:
        token = self.next(what)
        if not (token.text.isascii() and token.text.isdigit()):
            msg = f"expected {what}, found {token.text!r}"
            raise CopybookSyntaxError(msg, line=token.line, column=token.column)
        if len(token.text.lstrip("0")) > len(str(maximum)) or int(token.text) > maximum:
            msg = f"{what} {token.text} is more than the limit of {maximum:,}"
            raise CopybookSyntaxError(msg, line=token.line, column=token.column)
        return int(token.text)

    def name(self, what: str) -> str:
        token = self.next(what)
        if token.kind != "word" or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", token.text):
            msg = f"expected {what}, found {token.text!r}"
            raise CopybookSyntaxError(msg, line=token.line, column=token.column)
        return token.upper

    def skip_names(self) -> None:
        """Skip a list of names (INDEXED BY a b c) up to the next clause word."""
        while (token := self.peek()) is not None and token.upper not in _CLAUSE_WORDS:
            self.position += 1


def _sentences(tokens: list[_Token]) -> list[_Sentence]:
    sentences: list[_Sentence] = []
    current: list[_Token] = []
    for token in tokens:
        if token.kind == "period":
            if current:
                sentences.append(_Sentence(current, token))
            current = []
        else:
            current.append(token)
    if current:
        last = current[-1]
        msg = "entry is not terminated by a period"
        raise CopybookSyntaxError(msg, line=last.line, column=last.column + len(last.text))
    return sentences


def _skip_literal(sentence: _Sentence) -> str:
    sentence.accept("ALL")
    token = sentence.next("a literal")
    return token.text


def _parse_values(sentence: _Sentence) -> tuple[str, ...]:
    """The literals of an 88 VALUE clause (``lit [THRU lit]`` repeated)."""
    sentence.accept("IS", "ARE")
    values: list[str] = []
    while sentence.peek() is not None:
        first = _skip_literal(sentence)
        if sentence.accept("THRU", "THROUGH"):
            values.append(f"{first} THRU {_skip_literal(sentence)}")
        else:
            values.append(first)
    return tuple(values)


def _parse_clauses(sentence: _Sentence, entry: _Entry) -> None:
    while (token := sentence.peek()) is not None:
        sentence.position += 1
        word = token.upper
        if word in {"PIC", "PICTURE"}:
            sentence.accept("IS")
            picture = sentence.next("a picture string")
            entry.picture_text, entry.picture_column = picture.text, picture.column
            entry.picture_line = picture.line
        elif word == "USAGE":
            sentence.accept("IS")
            usage = sentence.next("a usage")
            if usage.upper not in _USAGE_WORDS:
                msg = f"unknown USAGE {usage.text!r}"
                raise CopybookSyntaxError(msg, line=usage.line, column=usage.column)
            entry.usage = _USAGE_WORDS[usage.upper]
        elif word in _USAGE_WORDS:
            entry.usage = _USAGE_WORDS[word]
        elif word == "SIGN":
            sentence.accept("IS")
            _parse_sign(sentence, entry, sentence.next("LEADING or TRAILING"))
        elif word in {"LEADING", "TRAILING"}:
            _parse_sign(sentence, entry, token)
        elif word == "REDEFINES":
            entry.redefines = sentence.name("the redefined item")
        elif word == "OCCURS":
            _parse_occurs(sentence, entry, token)
        elif word in {"VALUE", "VALUES"}:
            sentence.accept("IS", "ARE")
            _skip_literal(sentence)
        elif word == "INDEXED":
            sentence.accept("BY")
            sentence.skip_names()
        elif word in {"ASCENDING", "DESCENDING"}:
            sentence.accept("KEY")
            sentence.accept("IS")
            sentence.skip_names()
        elif word in {"SYNC", "SYNCHRONIZED"}:
            sentence.accept("LEFT", "RIGHT")
        elif word in {"JUST", "JUSTIFIED"}:
            sentence.accept("RIGHT")
        elif word == "BLANK":
            sentence.accept("WHEN")
            if not sentence.accept("ZERO", "ZEROS", "ZEROES"):
                nxt = sentence.next("ZERO")
                msg = f"expected ZERO after BLANK WHEN, found {nxt.text!r}"
                raise CopybookSyntaxError(msg, line=nxt.line, column=nxt.column)
        elif word in {"EXTERNAL", "GLOBAL", "IS"}:
            continue
        else:
            msg = f"unexpected {token.text!r} in the entry of {entry.name}"
            raise CopybookSyntaxError(msg, line=token.line, column=token.column)


def _parse_sign(sentence: _Sentence, entry: _Entry, where: _Token) -> None:
    if where.upper not in {"LEADING", "TRAILING"}:
        msg = f"expected LEADING or TRAILING, found {where.text!r}"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column)
    entry.sign_leading = where.upper == "LEADING"
    entry.sign_separate = sentence.accept("SEPARATE")
    if entry.sign_separate:
        sentence.accept("CHARACTER")


def _parse_occurs(sentence: _Sentence, entry: _Entry, where: _Token) -> None:
    first = sentence.integer("the OCCURS count", MAX_OCCURS)
    maximum = first
    minimum = first
    ranged = sentence.accept("TO")
    if ranged:
        maximum = sentence.integer("the OCCURS maximum", MAX_OCCURS)
    sentence.accept("TIMES")
    depending_on = None
    if sentence.accept("DEPENDING"):
        sentence.accept("ON")
        depending_on = sentence.name("the DEPENDING ON item")
        if not ranged:
            minimum = 0  # OCCURS n DEPENDING ON x: 0 to n, as IBM and Cobrix read it
    if maximum < minimum or maximum == 0:
        msg = f"OCCURS {minimum} TO {maximum} is not a valid range"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column)
    entry.occurs = Occurs(minimum, maximum, depending_on)
    entry.occurs_token = where


def _level(sentence: _Sentence) -> tuple[int, _Token]:
    token = sentence.next("a level number")
    text = token.text
    if not (text.isascii() and text.isdigit() and len(text) <= 2) or not (
        1 <= int(text) <= 49 or int(text) in {66, 77, 88}
    ):
        msg = f"expected a level number (01-49, 66, 77, 88), found {token.text!r}"
        raise CopybookSyntaxError(msg, line=token.line, column=token.column)
    return int(token.text), token


def _entry_name(sentence: _Sentence) -> str:
    token = sentence.peek()
    if token is None or token.upper in _CLAUSE_WORDS:
        return "FILLER"  # an unnamed item is a FILLER
    return sentence.name("a data name")


Include = Callable[[str], str]


def parse_copybook(
    text: str,
    *,
    source_format: SourceFormat = "auto",
    source: str | None = None,
    include: Include | None = None,
) -> Layout:
    """Parse copybook text into a layout with byte offsets.

    Args:
        text: the copybook source (the caller reads the file).
        source_format: ``fixed``, ``free`` or ``auto`` (see the module docstring).
        source: a name for messages (usually the copybook file name).
        include: returns the text of a COPY member by name (upper case, as written in
            the COPY statement); raises ``KeyError`` or ``OSError`` when there is none.
            Without it a COPY statement is an error.

    Raises:
        CopybookSyntaxError: naming the line and column of the first problem.
    """
    try:
        notes: list[str] = []
        tokens = _tokenize(text, source_format, notes)
        tokens = _expand_copies(tokens, include, source_format, (), notes)
        roots, renames = _build_tree(_sentences(tokens))
        layout = _place_layout(roots, renames)
        return Layout(layout.roots, layout.renames, layout.record_length, layout.variable, tuple(notes))
    except CopybookSyntaxError as exc:
        if source and exc.source is None:
            raise CopybookSyntaxError(exc.reason, line=exc.line, column=exc.column, source=source) from exc
        raise


# ------------------------------------------------------------------------------- COPY

_OPERAND = re.compile(r"""==(.*?)==|'[^']*'|"[^"]*"|\S+""", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Replacing:
    old: tuple[str, ...]  # upper-cased words of the operand
    new: str  # replacement text
    partial: Literal["", "LEADING", "TRAILING", "TAG"]


def _expand_copies(
    tokens: list[_Token],
    include: Include | None,
    source_format: SourceFormat,
    chain: tuple[str, ...],
    notes: list[str],
) -> list[_Token]:
    """Replace each ``COPY member ... .`` statement by the member's tokens."""
    if not any(token.kind == "word" and token.upper == "COPY" for token in tokens):
        return tokens
    out: list[_Token] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if not (token.kind == "word" and token.upper == "COPY"):
            out.append(token)
            position += 1
            continue
        end = position + 1
        while end < len(tokens) and tokens[end].kind != "period":
            end += 1
        if end >= len(tokens):
            msg = "COPY statement is not terminated by a period"
            raise CopybookSyntaxError(msg, line=token.line, column=token.column)
        statement = tokens[position + 1 : end]
        out.extend(_copy_member(token, statement, include, source_format, chain, notes))
        position = end + 1
    return out


def _copy_member(
    where: _Token,
    statement: list[_Token],
    include: Include | None,
    source_format: SourceFormat,
    chain: tuple[str, ...],
    notes: list[str],
) -> list[_Token]:
    if not statement:
        msg = "COPY needs a member name"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column)
    member = statement[0].text.strip("'\"").upper()
    rest = statement[1:]
    if rest and rest[0].upper in {"OF", "IN"}:
        rest = rest[2:]  # the library name: members are looked up by name alone
    if rest and rest[0].upper == "SUPPRESS":
        rest = rest[1:]
    replacing: list[_Replacing] = []
    if rest:
        if rest[0].upper != "REPLACING":
            msg = f"unexpected {rest[0].text!r} in COPY {member} (expected REPLACING or a period)"
            raise CopybookSyntaxError(msg, line=rest[0].line, column=rest[0].column)
        replacing = _parse_replacing(rest[0], " ".join(t.text for t in rest[1:]))
    if include is None:
        msg = f"COPY {member}: no copybook library given (the CLI's --copybook-dir, the source's copybook.dir)"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column)
    if member in chain or len(chain) >= MAX_COPY_DEPTH:
        path = " -> ".join([*chain, member])
        msg = f"COPY {member}: members include each other or nest too deep ({path})"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column)
    try:
        text = include(member)
    except (KeyError, OSError) as exc:
        msg = f"COPY {member}: member not found ({exc})"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column) from exc
    try:
        inner = _tokenize(text, source_format, None)
        inner = _expand_copies(inner, include, source_format, (*chain, member), notes)
    except CopybookSyntaxError as exc:
        msg = f"in COPY {member} line {exc.line}, column {exc.column}: {exc.reason}"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column) from exc
    notes.append(f"COPY {member} included at line {where.line}" + (" with REPLACING" if replacing else ""))
    for rule in replacing:
        inner = _apply_replacing(inner, rule, where)
    return inner


def _parse_replacing(where: _Token, text: str) -> list[_Replacing]:
    """``a BY b`` pairs of a REPLACING phrase (words, literals or ==pseudo-text==)."""
    operands = [m.group(0) for m in _OPERAND.finditer(text)]
    rules: list[_Replacing] = []
    index = 0
    while index < len(operands):
        partial: Literal["", "LEADING", "TRAILING", "TAG"] = ""
        if operands[index].upper() in {"LEADING", "TRAILING"}:
            partial = "LEADING" if operands[index].upper() == "LEADING" else "TRAILING"
            index += 1
        if index + 2 >= len(operands) or operands[index + 1].upper() != "BY":
            msg = f"REPLACING expects 'old BY new' pairs, found {' '.join(operands[index : index + 3])!r}"
            raise CopybookSyntaxError(msg, line=where.line, column=where.column)
        old, new = _operand(operands[index]), _operand(operands[index + 2])
        words = tuple(old.upper().split())
        if not words:
            msg = "REPLACING with empty pseudo-text to replace"
            raise CopybookSyntaxError(msg, line=where.line, column=where.column)
        if not partial and len(words) == 1 and words[0][0] in ":(":
            partial = "TAG"
        rules.append(_Replacing(words, new, partial))
        index += 3
    return rules


def _operand(text: str) -> str:
    return text[2:-2].strip() if text.startswith("==") and text.endswith("==") and len(text) >= 4 else text


def _apply_replacing(tokens: list[_Token], rule: _Replacing, where: _Token) -> list[_Token]:
    if rule.partial:
        old = rule.old[0]
        out = []
        for token in tokens:
            if token.kind == "word":
                upper = token.upper
                if rule.partial == "TAG" and old in upper:
                    token = _Token(_replace_ci(token.text, old, rule.new), token.line, token.column, "word")
                elif rule.partial == "LEADING" and upper.startswith(old):
                    token = _Token(rule.new + token.text[len(old) :], token.line, token.column, "word")
                elif rule.partial == "TRAILING" and upper.endswith(old):
                    token = _Token(
                        token.text[: len(token.text) - len(old)] + rule.new, token.line, token.column, "word"
                    )
            out.append(token)
        return out
    width = len(rule.old)
    out = []
    position = 0
    while position < len(tokens):
        window = tokens[position : position + width]
        if len(window) == width and tuple(t.upper for t in window) == rule.old:
            first = window[0]
            _lex_code(rule.new, first.line, first.column, out)
            position += width
        else:
            out.append(tokens[position])
            position += 1
    return out


def _replace_ci(text: str, old: str, new: str) -> str:
    return re.sub(re.escape(old), lambda _: new, text, flags=re.IGNORECASE)


def _build_tree(sentences: list[_Sentence]) -> tuple[list[_Entry], list[Renames]]:
    roots: list[_Entry] = []
    renames: list[Renames] = []
    stack: list[_Entry] = []
    last: _Entry | None = None
    for sentence in sentences:
        level, level_token = _level(sentence)
        if level == 88:
            name = sentence.name("a condition name")
            if not sentence.accept("VALUE", "VALUES"):
                token = sentence.next("VALUE")
                msg = f"expected VALUE in level-88 entry, found {token.text!r}"
                raise CopybookSyntaxError(msg, line=token.line, column=token.column)
            if last is None:
                msg = "a level-88 entry needs a preceding data item"
                raise CopybookSyntaxError(msg, line=level_token.line, column=level_token.column)
            last.conditions.append(Condition(name, _parse_values(sentence)))
            continue
        if level == 66:
            name = sentence.name("a RENAMES name")
            if not sentence.accept("RENAMES"):
                token = sentence.next("RENAMES")
                msg = f"expected RENAMES, found {token.text!r}"
                raise CopybookSyntaxError(msg, line=token.line, column=token.column)
            start = sentence.name("the first renamed item")
            through = sentence.name("the last renamed item") if sentence.accept("THRU", "THROUGH") else None
            renames.append(Renames(name, start, through, level_token.line))
            continue
        entry = _Entry(level, _entry_name(sentence), level_token.line, level_token.column)
        _parse_clauses(sentence, entry)
        if level in {1, 77}:
            stack = [entry]
            roots.append(entry)
        else:
            while stack and stack[-1].level >= level:
                stack.pop()
            if not stack:
                msg = f"level {level:02d} item {entry.name} has no level-01 record above it"
                raise CopybookSyntaxError(msg, line=entry.line, column=entry.column)
            if stack[-1].level == 77:
                msg = "a level-77 item cannot have subordinate items"
                raise CopybookSyntaxError(msg, line=entry.line, column=entry.column)
            if stack[-1].picture_text is not None:
                msg = f"{stack[-1].name} has a PICTURE, so it cannot contain {entry.name}"
                raise CopybookSyntaxError(msg, line=entry.line, column=entry.column)
            stack[-1].children.append(entry)
            stack.append(entry)
        last = entry
    if not roots:
        msg_0 = "the copybook defines no record"
        raise CopybookSyntaxError(msg_0, line=1, column=1)
    return roots, renames


def _place(
    entry: _Entry,
    offset: int,
    usage: Usage,
    sign: tuple[bool | None, bool | None],
) -> Field:
    """Turn an entry into a Field placed at ``offset`` (recursively for groups)."""
    usage = entry.usage or usage
    sign_leading = entry.sign_leading if entry.sign_leading is not None else sign[0]
    sign_separate = entry.sign_separate if entry.sign_separate is not None else sign[1]
    if entry.children:
        children: list[Field] = []
        position = offset
        seen: dict[str, _Entry] = {}
        for child in entry.children:
            if child.name != "FILLER":
                if child.name in seen:
                    msg = (
                        f"{entry.name} has two items named {child.name} (lines {seen[child.name].line} and "
                        f"{child.line}): their values would share one key; rename one"
                    )
                    raise CopybookSyntaxError(msg, line=child.line, column=child.column)
                seen[child.name] = child
            if child.redefines is not None:
                target = next((c for c in reversed(children) if c.name == child.redefines), None)
                if target is None:
                    msg = f"{child.name} REDEFINES {child.redefines}, which is not an earlier item at the same level"
                    raise CopybookSyntaxError(msg, line=child.line, column=child.column)
                placed = _place(child, target.offset, usage, (sign_leading, sign_separate))
            else:
                placed = _place(child, position, usage, (sign_leading, sign_separate))
            children.append(placed)
            position = max(position, placed.end)
            if position - offset > MAX_RECORD_BYTES:
                msg = f"{entry.name} is longer than the limit of {MAX_RECORD_BYTES:,} bytes"
                raise CopybookSyntaxError(msg, line=child.line, column=child.column)
        return Field(
            level=entry.level, name=entry.name, offset=offset, length=position - offset,
            usage=usage, occurs=entry.occurs, redefines=entry.redefines,
            children=tuple(children), conditions=tuple(entry.conditions), line=entry.line,
        )  # fmt: skip
    picture = None
    column = entry.picture_column
    try:
        if entry.picture_text is not None:
            picture = parse_picture(entry.picture_text)
        if usage in (Usage.FLOAT, Usage.DOUBLE):
            picture = None  # COMP-1/COMP-2 have no picture; one given is ignored
        elif picture is None and usage not in (Usage.INDEX, Usage.POINTER):
            msg = f"elementary item {entry.name} needs a PICTURE clause"
            raise CopybookSyntaxError(msg, line=entry.line, column=entry.column)
        length = storage_length(picture, usage, sign_separate=bool(sign_separate))
    except PictureError as exc:
        line = entry.picture_line or entry.line
        raise CopybookSyntaxError(str(exc), line=line, column=column + exc.column) from exc
    return Field(
        level=entry.level, name=entry.name, offset=offset, length=length, picture=picture,
        usage=usage, occurs=entry.occurs, redefines=entry.redefines,
        sign_leading=bool(sign_leading), sign_separate=bool(sign_separate),
        conditions=tuple(entry.conditions), line=entry.line,
    )  # fmt: skip


def _place_layout(roots: list[_Entry], renames: list[Renames]) -> Layout:
    if not any(root.level == 1 for root in roots):
        first = roots[0]
        msg = "the copybook defines no level-01 record (level-77 items are standalone, not record fields)"
        raise CopybookSyntaxError(msg, line=first.line, column=first.column)
    placed: list[Field] = []
    for root in roots:
        if root.redefines is not None and not any(p.name == root.redefines for p in placed):
            msg = f"{root.name} REDEFINES {root.redefines}, which is not an earlier record"
            raise CopybookSyntaxError(msg, line=root.line, column=root.column)
        placed.append(_place(root, 0, Usage.DISPLAY, (None, None)))
    names = {item.name for top in placed for item in top.walk()}
    variable = False
    for entry in _walk_entries(roots):
        if entry.occurs is not None and entry.occurs.depending_on is not None:
            variable = True
            if entry.occurs.depending_on not in names:
                token = entry.occurs_token
                msg = f"DEPENDING ON {entry.occurs.depending_on}: no such item"
                raise CopybookSyntaxError(
                    msg, line=token.line if token else entry.line, column=token.column if token else 1
                )
    for rename in renames:
        for name in (rename.start, rename.through):
            if name is not None and name not in names:
                msg = f"66 {rename.name} RENAMES {name}: no such item"
                raise CopybookSyntaxError(msg, line=rename.line, column=1)
    length = max((top.end for top in placed if top.level == 1), default=0)
    if length > MAX_RECORD_BYTES:
        msg = f"the record is {length:,} bytes, more than the limit of {MAX_RECORD_BYTES:,}"
        raise CopybookSyntaxError(msg, line=roots[0].line, column=roots[0].column)
    return Layout(tuple(placed), tuple(renames), length, variable)


def _walk_entries(entries: list[_Entry]) -> list[_Entry]:
    out: list[_Entry] = []
    for entry in entries:
        out.append(entry)
        out.extend(_walk_entries(entry.children))
    return out
