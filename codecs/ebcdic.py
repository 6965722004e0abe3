"""Single-byte code pages for mainframe data, as 256-entry decode tables.

Every code page is reduced to a :class:`CodePage`: a 256-character string that maps each byte
to one character, plus the inverse map for encoding. A table is what the decoders need: it
feeds :func:`codecs.charmap_decode` (fast, whole-buffer) and it lets one record batch be
decoded in a single call.

Contract:

* Names: ``common``, ``common_extended`` and ``cp037_extended`` are Cobrix's tables
  (:mod:`headwater.codecs.ebcdic_cobrix`, for files moved from Cobrix); ``cp037`` (the
  default used by the copybook decoder), ``cp273``, ``cp500``,
  ``cp875``, ``cp1047``, ``cp1140`` to ``cp1148``, any other single-byte page known to
  Python's ``codecs`` or to the ``ebcdic`` package (imported lazily, only when the
  standard library lacks the page), and ``ascii``.
* Control characters follow IBM, not Cobrix: in every EBCDIC page 0x0D is CR, 0x25 is LF
  and 0x15 is NEL (U+0085). Some tables (``ebcdic``'s cp1047) swap LF and NEL the way
  z/OS UNIX does; we undo that so that all pages agree.
* Non-printable bytes are kept as their Unicode control characters (never replaced by
  spaces): dropping them silently would hide copybook/data mismatches. Trimming (see
  :mod:`headwater.codecs.copybook.options`) removes them only at the ends of a field.
* ``ascii`` maps 0x00-0x7F to themselves and 0x80-0xFF to U+FFFD, because bytes above
  0x7F have no meaning in ASCII and guessing Latin-1 would invent characters.
* A custom page is a 256-character string (or its UTF-8 bytes) given by the caller; this
  module never reads files.
"""

from __future__ import annotations

import functools

# `_codecs` is the C module behind `codecs`; importing it directly keeps mypy (run from the
# repo root, where the folder `codecs/` is this package) from resolving the wrong module.
from _codecs import charmap_decode, lookup
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CodePage", "UnknownCodePageError", "code_page", "custom_code_page"]

Family = Literal["ebcdic", "ascii"]

DEFAULT_CODE_PAGE = "cp037"

# Pages the standard library lacks; the `ebcdic` package provides them.
_FROM_EBCDIC_PACKAGE_HINT = "install the 'ebcdic' package (pip install headwater[mainframe])"


class UnknownCodePageError(ValueError):
    """The code page name is unknown, or a custom table is not 256 characters."""


@dataclass(frozen=True, slots=True)
class CodePage:
    """A single-byte code page as a decode table and its inverse.

    Attributes:
        name: the name the page was requested by (lower case).
        table: 256 characters; ``table[b]`` is the character of byte ``b``.
        family: ``"ebcdic"`` or ``"ascii"``; selects the zoned-decimal digit zone
            (0xF vs 0x3) and the overpunch convention.
    """

    name: str
    table: str
    family: Family
    _encode_map: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.table) != 256:
            msg = f"code page {self.name!r} has {len(self.table)} entries, expected 256"
            raise UnknownCodePageError(msg)
        # First occurrence wins so that duplicated characters encode to the lowest byte.
        for byte, char in reversed(list(enumerate(self.table))):
            self._encode_map[char] = byte

    @property
    def space(self) -> int:
        """The byte of the space character."""
        return self._encode_map[" "]

    def decode(self, data: bytes | bytearray | memoryview) -> str:
        """Decode ``data`` byte by byte through the table (never fails)."""
        return charmap_decode(data, "strict", self.table)[0]

    def encode(self, text: str) -> bytes:
        """Encode ``text``; raises ``ValueError`` naming a character the page lacks."""
        try:
            return bytes(self._encode_map[char] for char in text)
        except KeyError as exc:
            msg = f"character {exc.args[0]!r} has no byte in code page {self.name}"
            raise ValueError(msg) from exc


def _family_of(table: str) -> Family:
    if table[0xF0:0xFA] == "0123456789":
        return "ebcdic"
    if table[0x30:0x3A] == "0123456789":
        return "ascii"
    msg = "a code page must place the digits 0-9 at 0xF0-0xF9 (EBCDIC) or 0x30-0x39 (ASCII)"
    raise UnknownCodePageError(msg)


def _with_ibm_controls(table: str) -> str:
    # IBM: 0x0D = CR, 0x15 = NEL, 0x25 = LF (Cobrix swaps CR/LF; z/OS UNIX swaps NEL/LF).
    chars = list(table)
    chars[0x0D], chars[0x15], chars[0x25] = "\r", "\x85", "\n"
    return "".join(chars)


def _table_from_codec(name: str) -> str:
    try:
        lookup(name)
    except LookupError:
        try:
            import ebcdic  # noqa: F401  # registers its codecs on import
        except ImportError as exc:
            msg = f"unknown code page {name!r}; {_FROM_EBCDIC_PACKAGE_HINT}"
            raise UnknownCodePageError(msg) from exc
        try:
            lookup(name)
        except LookupError as exc:
            msg = f"unknown code page {name!r}"
            raise UnknownCodePageError(msg) from exc
    chars = []
    for byte in range(256):
        try:
            chars.append(bytes([byte]).decode(name))
        except UnicodeDecodeError:
            chars.append("\ufffd")
    table = "".join(chars)
    if len(table) != 256:
        msg = f"code page {name!r} is not a single-byte code page"
        raise UnknownCodePageError(msg)
    return table


# Cobrix's own tables, by the names Cobrix users give (see headwater.codecs.ebcdic_cobrix).
_COBRIX_NAMES = {"common": "common", "commonextended": "common_extended", "cp037extended": "cp037_extended"}


@functools.cache
def code_page(name: str = DEFAULT_CODE_PAGE) -> CodePage:
    """Return the code page called ``name`` (cached).

    Args:
        name: ``cp037``, ``cp1047``, ``cp1140``..., ``ascii``; ``037`` or ``ibm037``
            spellings are accepted too. ``common``, ``common_extended`` and
            ``cp037_extended`` are Cobrix's tables (control bytes become spaces).

    Raises:
        UnknownCodePageError: the page is unknown or not single-byte.
    """
    key = name.strip().lower().replace("_", "").replace("-", "")
    cobrix = _COBRIX_NAMES.get(key)
    if cobrix is not None:
        from headwater.codecs.ebcdic_cobrix import COBRIX_TABLES

        return CodePage(cobrix, COBRIX_TABLES[cobrix], "ebcdic")
    if key in {"ascii", "usascii"}:
        table = "".join(chr(b) if b < 0x80 else "\ufffd" for b in range(256))
        return CodePage("ascii", table, "ascii")
    if key.startswith("ibm"):
        key = key[3:]
    if key.isdigit():
        key = f"cp{int(key):03d}"
    table = _table_from_codec(key)
    family = _family_of(table)
    if family == "ebcdic":
        table = _with_ibm_controls(table)
    return CodePage(key, table, family)


def custom_code_page(table: str | bytes, *, name: str = "custom") -> CodePage:
    """Build a code page from a caller-supplied 256-entry table.

    Args:
        table: 256 characters, or their UTF-8 encoding (as read from a file by the caller).
            Entry ``i`` is the character of byte ``i``. Control characters are taken as given.
        name: a label used in messages.

    Raises:
        UnknownCodePageError: the table does not have 256 entries or places no digits.
    """
    text = table.decode("utf-8") if isinstance(table, bytes | bytearray) else table
    # A table file commonly ends with a newline that is not an entry.
    if len(text) in {257, 258} and text.endswith("\n"):
        text = text.rstrip("\r\n") if len(text.rstrip("\r\n")) == 256 else text
    if len(text) != 256:
        msg = f"custom code page {name!r} has {len(text)} entries, expected 256"
        raise UnknownCodePageError(msg)
    return CodePage(name, text, _family_of(text))
