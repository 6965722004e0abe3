"""Java ``SimpleDateFormat`` patterns, formatted and parsed in UTC (pure, no I/O).

Kafka Connect's TimestampConverter and TimestampRouter take their ``format`` settings
in Java's pattern language (``yyyy-MM-dd HH:mm:ss.SSS``); this module understands the
letters those settings use in practice: ``G y M d H h k K m s S a E D z Z X`` and
``'quoted'`` literals (``''`` is one quote). Unknown letters are refused when the
pattern is compiled, so a bad setting is a configuration error, not a bad record.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["JavaDateFormat"]

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LETTERS = frozenset("GyMdHhkKmsSaEDzZX")


@dataclass(frozen=True, slots=True)
class _Token:
    letter: str  # "" for a literal
    count: int
    text: str = ""


def _tokenize(pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            if pattern[i + 1 : i + 2] == "'":
                tokens.append(_Token("", 0, "'"))
                i += 2
                continue
            end = pattern.find("'", i + 1)
            while end != -1 and pattern[end + 1 : end + 2] == "'":
                end = pattern.find("'", end + 2)
            if end == -1:
                msg = f"unterminated quote in date pattern {pattern!r}"
                raise ValueError(msg)
            tokens.append(_Token("", 0, pattern[i + 1 : end].replace("''", "'")))
            i = end + 1
        elif char.isascii() and char.isalpha():
            if char not in _LETTERS:
                msg = f"unsupported letter {char!r} in date pattern {pattern!r}"
                raise ValueError(msg)
            j = i
            while j < len(pattern) and pattern[j] == char:
                j += 1
            tokens.append(_Token(char, j - i))
            i = j
        else:
            tokens.append(_Token("", 0, char))
            i += 1
    return tokens


class JavaDateFormat:
    """One compiled pattern; :meth:`format` and :meth:`parse` work in UTC.

    Raises:
        ValueError: from the constructor, for a pattern with unknown letters or an
            unterminated quote.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._tokens = _tokenize(pattern)
        pieces, index = [], 0
        for token in self._tokens:
            pieces.append(self._token_regex(token, index))
            index += bool(token.letter)
        self._regex = re.compile("".join(pieces), re.IGNORECASE)

    def format(self, moment: dt.datetime) -> str:
        """``moment`` (naive means UTC) in this pattern."""
        moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return "".join(self._format_token(token, moment) for token in self._tokens)

    def parse(self, text: str) -> dt.datetime:
        """A UTC datetime from ``text``; missing date parts default to 1970-01-01.

        Raises:
            ValueError: when ``text`` does not match the pattern.
        """
        match = self._regex.fullmatch(text.strip())
        if match is None:
            msg = f"{text!r} does not match the date pattern {self.pattern!r}"
            raise ValueError(msg)
        parts = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "micro": 0}
        pm: bool | None = None
        offset = dt.timedelta(0)
        day_of_year: int | None = None
        for index, token in enumerate(t for t in self._tokens if t.letter):
            value = match.group(f"g{index}")
            letter = token.letter
            if letter == "y":
                year = int(value)
                parts["year"] = year + 2000 if token.count == 2 and year < 100 else year
            elif letter == "M":
                parts["month"] = _month_number(value)
            elif letter == "d":
                parts["day"] = int(value)
            elif letter == "D":
                day_of_year = int(value)
            elif letter in "Hk":
                parts["hour"] = int(value) % 24
            elif letter in "hK":
                parts["hour"] = int(value) % 12
            elif letter == "m":
                parts["minute"] = int(value)
            elif letter == "s":
                parts["second"] = int(value)
            elif letter == "S":
                parts["micro"] = int(value) * 1000  # Java's S counts milliseconds
            elif letter == "a":
                pm = value.upper() == "PM"
            elif letter in "zZX":
                offset = _parse_offset(value)
        if pm is not None:
            parts["hour"] = parts["hour"] % 12 + (12 if pm else 0)
        moment = dt.datetime(parts["year"], parts["month"], parts["day"], parts["hour"], parts["minute"],
                             parts["second"], tzinfo=dt.UTC)  # fmt: skip
        if day_of_year is not None:
            moment = moment.replace(month=1, day=1) + dt.timedelta(days=day_of_year - 1)
        return moment + dt.timedelta(microseconds=parts["micro"]) - offset

    @staticmethod
    def _token_regex(token: _Token, index: int) -> str:
        if not token.letter:
            return re.escape(token.text)
        group = f"(?P<g{index}>"
        letter, count = token.letter, token.count
        if letter == "M" and count >= 3:
            return group + "|".join(name if count >= 4 else name[:3] for name in _MONTHS) + ")"
        if letter == "E":
            return group + "|".join(name if count >= 4 else name[:3] for name in _DAYS) + ")"
        if letter == "a":
            return group + "AM|PM)"
        if letter == "G":
            return group + "AD|BC)"
        if letter in "zZX":
            return group + r"Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)"
        if letter == "S":
            return group + r"\d{1,3})" if count <= 3 else group + rf"\d{{{count}}})"
        if letter == "y" and count == 2:
            return group + r"\d{2})"
        return group + (rf"\d{{{count}}})" if count > 1 else r"\d{1,9})")

    @staticmethod
    def _format_token(token: _Token, moment: dt.datetime) -> str:
        letter, count = token.letter, token.count
        if not letter:
            return token.text
        if letter == "y":
            return f"{moment.year % 100:02d}" if count == 2 else f"{moment.year:0{count}d}"
        if letter == "M":
            if count >= 3:
                name = _MONTHS[moment.month - 1]
                return name if count >= 4 else name[:3]
            return f"{moment.month:0{count}d}"
        if letter == "E":
            name = _DAYS[moment.weekday()]
            return name if count >= 4 else name[:3]
        numbers = {
            "d": moment.day,
            "D": moment.timetuple().tm_yday,
            "H": moment.hour,
            "k": moment.hour or 24,
            "K": moment.hour % 12,
            "h": moment.hour % 12 or 12,
            "m": moment.minute,
            "s": moment.second,
            "S": moment.microsecond // 1000,
        }
        if letter in numbers:
            return f"{numbers[letter]:0{count}d}"
        if letter == "a":
            return "PM" if moment.hour >= 12 else "AM"
        if letter == "G":
            return "AD"
        if letter == "z":
            return "UTC"
        if letter == "X":
            return "Z"
        return "+0000"  # Z


def _month_number(value: str) -> int:
    if value.isdigit():
        return int(value)
    lowered = value.lower()
    for number, name in enumerate(_MONTHS, 1):
        if name.lower().startswith(lowered[:3]):
            return number
    msg = f"unknown month {value!r}"
    raise ValueError(msg)


def _parse_offset(value: str) -> dt.timedelta:
    if value.upper() in ("Z", "UTC", "GMT"):
        return dt.timedelta(0)
    sign = -1 if value[0] == "-" else 1
    digits = value[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return sign * dt.timedelta(hours=hours, minutes=minutes)
