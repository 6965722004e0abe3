"""Parse COBOL copybook text into a :class:`~headwater.codecs.copybook.layout.Layout`.

Source formats:

* ``fixed``: columns 1-6 are the sequence area (ignored), column 7 the indicator (``*``
  and ``/`` comment lines, ``D`` debug lines are skipped, ``-`` continues the previous
  line's word or literal), code sits in columns 8-72 and anything past 72 is ignored.
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
COPY/REPLACING is not supported. Any other word is a :class:`CopybookSyntaxError` naming
its line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from headwater.codecs.copybook.errors import CopybookSyntaxError
from headwater.codecs.copybook.layout import Condition, Field, Layout, Occurs, Renames
from headwater.codecs.copybook.picture import (
    PictureError,
    Usage,
    parse_picture,
    storage_length,
)

__all__ = ["SourceFormat", "parse_copybook"]

SourceFormat = Literal["auto", "fixed", "free"]

_USAGE_WORDS: dict[str, Usage] = {
    "DISPLAY": Usage.DISPLAY,
    "COMP": Usage.BINARY,
    "COMPUTATIONAL": Usage.BINARY,
    "COMP-4": Usage.BINARY,
    "COMPUTATIONAL-4": Usage.BINARY,
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


def _tokenize(text: str, source_format: SourceFormat) -> list[_Token]:
    lines = [line.expandtabs(8).rstrip("\r\n") for line in text.splitlines()]
    chosen = _detect_format(lines) if source_format == "auto" else source_format
    tokens: list[_Token] = []
    for number, line in enumerate(lines, start=1):
        if chosen == "fixed":
            indicator = line[6:7]
            code = line[7:72]
            if indicator in {"*", "/", "D", "d"}:
                continue
            if indicator == "-":
                _continue_line(code, number, 8, tokens)
                continue
            if indicator not in {"", " "}:
                msg = f"unknown indicator {indicator!r} in column 7"
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

    def integer(self, what: str) -> int:
        token = self.next(what)
        if not token.text.isdigit():
            msg = f"expected {what}, found {token.text!r}"
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
    first = sentence.integer("the OCCURS count")
    maximum = first
    minimum = first
    if sentence.accept("TO"):
        maximum = sentence.integer("the OCCURS maximum")
    sentence.accept("TIMES")
    depending_on = None
    if sentence.accept("DEPENDING"):
        sentence.accept("ON")
        depending_on = sentence.name("the DEPENDING ON item")
    if maximum < minimum or maximum == 0:
        msg = f"OCCURS {minimum} TO {maximum} is not a valid range"
        raise CopybookSyntaxError(msg, line=where.line, column=where.column)
    entry.occurs = Occurs(minimum, maximum, depending_on)
    entry.occurs_token = where


def _level(sentence: _Sentence) -> tuple[int, _Token]:
    token = sentence.next("a level number")
    if not token.text.isdigit() or not (1 <= int(token.text) <= 49 or int(token.text) in {66, 77, 88}):
        msg = f"expected a level number (01-49, 66, 77, 88), found {token.text!r}"
        raise CopybookSyntaxError(msg, line=token.line, column=token.column)
    return int(token.text), token


def _entry_name(sentence: _Sentence) -> str:
    token = sentence.peek()
    if token is None or token.upper in _CLAUSE_WORDS:
        return "FILLER"  # an unnamed item is a FILLER
    return sentence.name("a data name")


def parse_copybook(text: str, *, source_format: SourceFormat = "auto", source: str | None = None) -> Layout:
    """Parse copybook text into a layout with byte offsets.

    Args:
        text: the copybook source (the caller reads the file).
        source_format: ``fixed``, ``free`` or ``auto`` (see the module docstring).
        source: a name for messages (usually the copybook file name).

    Raises:
        CopybookSyntaxError: naming the line and column of the first problem.
    """
    try:
        tokens = _tokenize(text, source_format)
        roots, renames = _build_tree(_sentences(tokens))
        return _place_layout(roots, renames)
    except CopybookSyntaxError as exc:
        if source and exc.source is None:
            raise CopybookSyntaxError(exc.reason, line=exc.line, column=exc.column, source=source) from exc
        raise


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
        for child in entry.children:
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
    length = max((top.end for top in placed), default=0)
    return Layout(tuple(placed), tuple(renames), length, variable)


def _walk_entries(entries: list[_Entry]) -> list[_Entry]:
    out: list[_Entry] = []
    for entry in entries:
        out.append(entry)
        out.extend(_walk_entries(entry.children))
    return out
