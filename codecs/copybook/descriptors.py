"""Record and block descriptor words (RDW/BDW): their byte forms, length conventions and a diagnosis.

Pure functions over the first bytes of a file, used by the record splitter
(:mod:`headwater.codecs.copybook.records`) and by ``headwater copybook decode``.

Byte forms of a 4-byte descriptor holding length ``L`` (``HH LL`` = L's high and low byte):

* big-endian (IBM, z/OS): ``HH LL 00 00``;
* little-endian as Cobrix reads it: the whole word reversed, ``00 00 LL HH``;
* little-endian with the length first: ``LL HH 00 00``.

:func:`descriptor_value` reads all three (little-endian accepts both of its forms; they
cannot be confused because a length of 0 is invalid).

Length conventions: IBM counts the 4 descriptor bytes in ``L``; many transferred files,
and Cobrix's default, give the payload length only. :func:`detect_conventions` walks the
first descriptors of a V or VB file under each convention and reports the ones that fit;
:func:`diagnose` names the record format, endianness and convention under which the first
bytes of a file parse cleanly, for error messages.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Convention", "descriptor_value", "detect_conventions", "diagnose"]

HEADER = 4

# Descriptors walked before a convention is taken as fitting without reading further.
_ENOUGH = 8
# Records a whole file must hold for its descriptors to tell the conventions apart.
_MINIMUM = 2


def descriptor_value(header: bytes | bytearray | memoryview, big_endian: bool) -> int | None:
    """The length held by a 4-byte descriptor, or None when the bytes are not that form.

    An extended BDW (high bit set) is not handled here.
    """
    b0, b1, b2, b3 = header[0], header[1], header[2], header[3]
    if big_endian:
        return (b0 << 8 | b1) if not (b2 or b3) else None
    if not (b0 or b1) and (b2 or b3):
        return b3 << 8 | b2  # Cobrix: the reversed word 00 00 LL HH
    if not (b2 or b3):
        return b1 << 8 | b0  # LL HH 00 00
    return None


@dataclass(frozen=True, slots=True)
class Convention:
    """One way of reading the descriptors: which lengths count the 4 header bytes."""

    rdw_includes_header: bool
    bdw_includes_header: bool | None  # None for V files (no BDW)


def _walk_records(
    data: bytes, start: int, end: int, big_endian: bool, adjustment: int, limit: int, *, exact_end: bool
) -> tuple[bool, int, int]:
    """Walk RDWs from ``start`` towards ``end``; (clean, position reached, records walked).

    Not clean: a descriptor of the wrong form or length, or (``exact_end``: ``end`` is a
    block's end) a record or header that runs past ``end``. Without ``exact_end`` a record
    cut by ``end`` (the end of the bytes at hand) just stops the walk.
    """
    position = start
    count = 0
    while position < end and count < limit:
        if position + HEADER > end:
            return not exact_end, position, count
        value = descriptor_value(data[position : position + HEADER], big_endian)
        if value is None or value == 0:
            return False, position, count
        payload = value + adjustment
        if payload < 0:
            return False, position, count
        if position + HEADER + payload > end:
            return not exact_end, position, count
        position += HEADER + payload
        count += 1
    return True, position, count


def detect_conventions(
    data: bytes,
    *,
    blocked: bool,
    rdw_big_endian: bool,
    bdw_big_endian: bool,
    rdw_adjustment: int = 0,
    bdw_adjustment: int = 0,
    rdw_includes_header: bool | None = None,
    bdw_includes_header: bool | None = None,
    final: bool,
    truncated: bool = False,
) -> list[tuple[Convention, bool]]:
    """The conventions under which the first descriptors of ``data`` parse cleanly.

    Each comes with ``complete``: True when enough descriptors were walked (or ``final``)
    that more bytes cannot rule it out.

    ``data`` is the start of a V (``blocked=False``) or VB file; a known convention
    (``*_includes_header`` not None) is not varied. A convention fits when every
    descriptor walked has a valid form and length, each block's records end exactly at
    the block's end, and (when ``final``: ``data`` is the whole file) the last record ends
    exactly at the end of the data. Without ``final``, a convention that runs out of
    bytes before a few descriptors are walked still counts as fitting, not complete.

    ``truncated``: ``data`` is a fixed-length prefix of a longer file (the caller cuts
    at a length that does not depend on how the bytes arrived): a convention that runs
    out of bytes without a contradiction fits, complete. ``complete`` is monotone: once
    True for some bytes it stays True, with the same verdict, for any longer bytes, so
    a decision taken on complete verdicts is the one the whole file gives.
    """
    if truncated:
        return _detect_truncated(
            data,
            blocked=blocked,
            rdw_big_endian=rdw_big_endian,
            bdw_big_endian=bdw_big_endian,
            rdw_adjustment=rdw_adjustment,
            bdw_adjustment=bdw_adjustment,
            rdw_includes_header=rdw_includes_header,
            bdw_includes_header=bdw_includes_header,
        )
    rdw_choices = [rdw_includes_header] if rdw_includes_header is not None else [True, False]
    bdw_choices: list[bool | None] = [None]
    if blocked:
        bdw_choices = [bdw_includes_header] if bdw_includes_header is not None else [True, False]
    fitting: list[tuple[Convention, bool]] = []
    for rdw_incl in rdw_choices:
        rdw_adj = rdw_adjustment - (HEADER if rdw_incl else 0)
        for bdw_incl in bdw_choices:
            if not blocked:
                clean, reached, count = _walk_records(
                    data, 0, len(data), rdw_big_endian, rdw_adj, _ENOUGH, exact_end=False
                )
                if not clean:
                    continue
                if count < _ENOUGH and final and (reached != len(data) or count < _MINIMUM):
                    continue
                # Complete only when no later byte can change the verdict: enough descriptors
                # walked, or the data is whole (or cut at a fixed point, ``truncated``). The
                # end of the bytes at hand is no evidence: it depends on how they were chunked.
                complete = final or count >= _ENOUGH
                fitting.append((Convention(rdw_incl, None), complete))
                continue
            bdw_adj = bdw_adjustment - (HEADER if bdw_incl else 0)
            outcome = _walk_blocks(data, bdw_big_endian, bdw_adj, rdw_big_endian, rdw_adj, final)
            if outcome is None or outcome:
                fitting.append((Convention(rdw_incl, bdw_incl), outcome is True))
    return fitting


def _walk_blocks(data: bytes, bdw_big: bool, bdw_adj: int, rdw_big: bool, rdw_adj: int, final: bool) -> bool | None:
    """True: the first blocks parse cleanly; False: they do not; None: need more bytes."""
    position = 0
    blocks = 0
    records = 0
    # Whole blocks walked are evidence no later byte changes: stop after enough blocks or
    # enough records in them (a short file with a few large blocks is settled too).
    while blocks < _ENOUGH and records < _ENOUGH:
        if position + HEADER > len(data):
            if not final:
                return None  # the end of the bytes at hand is not the end of the file
            return position == len(data) and records >= _MINIMUM
        header = data[position : position + HEADER]
        if header[0] & 0x80:
            value: int | None = int.from_bytes(header, "big") & 0x7FFFFFFF
        else:
            value = descriptor_value(header, bdw_big)
        if value is None or value == 0:
            return False
        payload = value + bdw_adj
        if payload <= 0:
            return False
        end = position + HEADER + payload
        if end > len(data):
            return None if not final else False
        clean, reached, count = _walk_records(data, position + HEADER, end, rdw_big, rdw_adj, 1 << 30, exact_end=True)
        if not clean or reached != end:
            return False
        records += count
        position = end
        blocks += 1
    return True


def _detect_truncated(
    data: bytes,
    *,
    blocked: bool,
    rdw_big_endian: bool,
    bdw_big_endian: bool,
    rdw_adjustment: int,
    bdw_adjustment: int,
    rdw_includes_header: bool | None,
    bdw_includes_header: bool | None,
) -> list[tuple[Convention, bool]]:
    """:func:`detect_conventions` over a fixed prefix: running out of bytes is no contradiction."""
    rdw_choices = [rdw_includes_header] if rdw_includes_header is not None else [True, False]
    bdw_choices: list[bool | None] = [None]
    if blocked:
        bdw_choices = [bdw_includes_header] if bdw_includes_header is not None else [True, False]
    fitting: list[tuple[Convention, bool]] = []
    for rdw_incl in rdw_choices:
        rdw_adj = rdw_adjustment - (HEADER if rdw_incl else 0)
        for bdw_incl in bdw_choices:
            if not blocked:
                clean, _reached, _count = _walk_records(
                    data, 0, len(data), rdw_big_endian, rdw_adj, _ENOUGH, exact_end=False
                )
            else:
                bdw_adj = bdw_adjustment - (HEADER if bdw_incl else 0)
                clean = _walk_blocks(data, bdw_big_endian, bdw_adj, rdw_big_endian, rdw_adj, False) is not False
            if clean:
                fitting.append((Convention(rdw_incl, bdw_incl), True))
    return fitting


def _describe(convention: Convention, blocked: bool, big_endian: bool) -> str:
    endian = "big" if big_endian else "little"
    includes = "true" if convention.rdw_includes_header else "false"
    text = f"--record-format {'VB' if blocked else 'V'} --rdw-endian {endian} --rdw-includes-header {includes}"
    if blocked:
        bdw = "true" if convention.bdw_includes_header else "false"
        text += f" --bdw-endian {endian} --bdw-includes-header {bdw}"
    return text


def diagnose(
    head: bytes, *, final: bool, current: tuple[str, bool, bool | None, bool | None] | None = None
) -> str | None:
    """Name the record formats under which ``head`` (the start of a file) parses cleanly.

    Tries V and VB, big- and little-endian, each length convention; returns a hint such as
    ``"the data looks like VB with big-endian descriptors: --record-format VB ..."``, or
    None when nothing fits. ``current`` (record format, big-endian, RDW and BDW
    conventions) is the reading that just failed: it is not suggested again. Used to
    explain framing errors.
    """
    hints: list[str] = []
    for blocked in (True, False):
        for big_endian in (True, False):
            conventions = detect_conventions(
                head, blocked=blocked, rdw_big_endian=big_endian, bdw_big_endian=big_endian, final=final
            )
            conventions = [
                (c, done)
                for c, done in conventions
                if current is None
                or current[:2] != ("VB" if blocked else "V", big_endian)
                or (current[2] is not False) != c.rdw_includes_header
                or (blocked and (current[3] is not False) != c.bdw_includes_header)
            ]
            if not conventions:
                continue
            convention = conventions[0][0]
            name = "VB (block and record descriptors)" if blocked else "V (record descriptors)"
            endian = "big" if big_endian else "little"
            hints.append(f"{name}, {endian}-endian: {_describe(convention, blocked, big_endian)}")
        if hints:
            break  # a VB reading explains more bytes than a V one
    if not hints:
        return None
    source_keys = "the source's keys are the same with dots: record.format, rdw.endian, rdw.includes.header..."
    return "the data looks like " + "; or ".join(hints) + f" ({source_keys})"
