"""Cobrix's named code-page tables (``common``, ``common_extended``, ``cp037_extended``).

Cobrix decodes text with its own 256-entry tables, not with the IBM mappings. Users moving
from Cobrix name them in their options, so Headwater offers the same names with the same
characters (checked byte for byte against Cobrix 2.6.9 by ``tests/cobrix``):

* ``common`` (Cobrix's default): only the EBCDIC invariant characters (letters, digits and
  the punctuation common to all Latin EBCDIC pages); every other byte becomes a space, so
  trimming removes control bytes and national characters alike. 0x0D becomes LF and 0x25
  CR (Cobrix's swap of the IBM meaning).
* ``common_extended``: ``common`` plus the C0 control characters that have an EBCDIC
  position; the other control bytes become U+001A (SUB).
* ``cp037_extended``: cp037 with the C0 controls kept and the C1 controls as spaces.

Headwater's own ``cp037``/``cp1047``... keep every control character with its IBM meaning
(see :mod:`headwater.codecs.ebcdic`); that is the documented default.
"""

from __future__ import annotations

__all__ = ["COBRIX_TABLES"]

_COMMON = (
    "             \n  "  # 0x00
    "                "  # 0x10
    "     \r          "  # 0x20
    "                "  # 0x30
    "           .<(+|"  # 0x40
    "&         !$*); "  # 0x50
    "-/        \u00a6,%_>?"  # 0x60
    "         `:#@'=\""  # 0x70
    " abcdefghi      "  # 0x80
    " jklmnopqr      "  # 0x90
    " ~stuvwxyz      "  # 0xA0
    "^         []    "  # 0xB0
    "{ABCDEFGHI-     "  # 0xC0
    "}JKLMNOPQR      "  # 0xD0
    "\\ STUVWXYZ      "  # 0xE0
    "0123456789      "  # 0xF0
)

_COMMON_EXTENDED = (
    "\u0000\u0001\u0002\u0003\u001a\t\u001a \u001a\u001a\u001a\u000b\f\n\u000e\u000f"  # 0x00
    "\u0010\u0011\u0012\u0013\u001a\u001a\b\u001a\u0018\u0019\u001a\u001a\u001c\u001d\u001e\u001f"  # 0x10
    "     \r\u0017\u001b     \u0005\u0006\u0007"  # 0x20
    "  \u0016    \u0004    \u0014\u0015  "  # 0x30
    "           .<(+|"  # 0x40
    "&         !$*); "  # 0x50
    "-/        \u00a6,%_>?"  # 0x60
    "         `:#@'=\""  # 0x70
    " abcdefghi      "  # 0x80
    " jklmnopqr      "  # 0x90
    " ~stuvwxyz      "  # 0xA0
    "^         []    "  # 0xB0
    "{ABCDEFGHI-     "  # 0xC0
    "}JKLMNOPQR      "  # 0xD0
    "\\ STUVWXYZ      "  # 0xE0
    "0123456789      "  # 0xF0
)

_CP037_EXTENDED = (
    "\u0000\u0001\u0002\u0003 \t \u007f   \u000b\f\n\u000e\u000f"  # 0x00
    "\u0010\u0011\u0012\u0013 \u0085\b \u0018\u0019  \u001c\u001d\u001e\u001f"  # 0x10
    "     \r\u0017\u001b     \u0005\u0006\u0007"  # 0x20
    "  \u0016    \u0004    \u0014\u0015 \u001a"  # 0x30
    " \u00a0\u00e2\u00e4\u00e0\u00e1\u00e3\u00e5\u00e7\u00f1\u00a2.<(+|"  # 0x40
    "&\u00e9\u00ea\u00eb\u00e8\u00ed\u00ee\u00ef\u00ec\u00df!$*);\u00ac"  # 0x50
    "-/\u00c2\u00c4\u00c0\u00c1\u00c3\u00c5\u00c7\u00d1\u00a6,%_>?"  # 0x60
    "\u00f8\u00c9\u00ca\u00cb\u00c8\u00cd\u00ce\u00cf\u00cc`:#@'=\""  # 0x70
    "\u00d8abcdefghi\u00ab\u00bb\u00f0\u00fd\u00fe\u00b1"  # 0x80
    "\u00b0jklmnopqr\u00aa\u00ba\u00e6\u00b8\u00c6\u00a4"  # 0x90
    "\u00b5~stuvwxyz\u00a1\u00bf\u00d0\u00dd\u00de\u00ae"  # 0xA0
    "^\u00a3\u00a5\u00b7\u00a9\u00a7\u00b6\u00bc\u00bd\u00be[]\u00af\u00a8\u00b4\u00d7"  # 0xB0
    "{ABCDEFGHI\u00ad\u00f4\u00f6\u00f2\u00f3\u00f5"  # 0xC0
    "}JKLMNOPQR\u00b9\u00fb\u00fc\u00f9\u00fa\u00ff"  # 0xD0
    "\\\u00f7STUVWXYZ\u00b2\u00d4\u00d6\u00d2\u00d3\u00d5"  # 0xE0
    "0123456789\u00b3\u00db\u00dc\u00d9\u00da "  # 0xF0
)

COBRIX_TABLES: dict[str, str] = {
    "common": _COMMON,
    "common_extended": _COMMON_EXTENDED,
    "cp037_extended": _CP037_EXTENDED,
}
