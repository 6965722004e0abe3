"""Java ``.properties`` files, as Kafka Connect's worker and connector files are written.

Pure text handling (no I/O): :func:`parse_properties` follows ``java.util.Properties.load``:
``#`` and ``!`` comment lines, ``key=value``, ``key: value`` or ``key value``, a line that
ends in an odd number of backslashes continues on the next one (its leading blanks
dropped), and the escapes ``\\t \\n \\r \\f \\uXXXX``; any other escaped character stands
for itself (``\\=``, ``\\:``, ``\\ ``, ``\\\\``).
"""

from __future__ import annotations

__all__ = ["PropertiesError", "parse_properties"]

_BLANKS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class PropertiesError(ValueError):
    """A line that ``java.util.Properties`` would refuse too (a malformed ``\\u`` escape)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines; return ``(first physical line number, text)`` pairs,
    comments and blank lines left out."""
    result: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.lstrip(_BLANKS)
        if not pending:
            if not line or line[0] in "#!":
                continue
            start = number
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending.append(line[:-1])
            continue
        pending.append(line)
        result.append((start, "".join(pending)))
        pending = []
    if pending:
        result.append((start, "".join(pending)))
    return result


def _split_key(line: str) -> tuple[str, str]:
    """The raw (still escaped) key and value of one logical line."""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in "=:" or char in _BLANKS:
            break
        index += 1
    key, rest = line[:index], line[index:]
    rest = rest.lstrip(_BLANKS)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANKS)
    return key, rest


def _unescape(text: str, line: int) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\" or index + 1 >= len(text):
            out.append(char)
            index += 1
            continue
        code = text[index + 1]
        if code == "u":
            digits = text[index + 2 : index + 6]
            if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                msg = f"malformed \\uXXXX escape {text[index : index + 6]!r}"
                raise PropertiesError(line, msg)
            out.append(chr(int(digits, 16)))
            index += 6
            continue
        out.append(_ESCAPES.get(code, code))
        index += 2
    return "".join(out)


def parse_properties(text: str) -> dict[str, str]:
    """The keys and values of a ``.properties`` text, in file order; a repeated key keeps
    its last value, as in Java.

    Raises:
        PropertiesError: naming the line of a malformed ``\\uXXXX`` escape.
    """
    result: dict[str, str] = {}
    for number, line in _logical_lines(text):
        key, value = _split_key(line)
        result[_unescape(key, number)] = _unescape(value, number)
    return result
