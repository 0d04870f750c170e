"""The grammar of every kind of value the service reads from text, in one place.

Each is ASCII-only on purpose: Python's `str.isdigit`, `int()` and `Decimal()` also accept
other scripts' digits (`١`, `１`, `²`), underscores, signs, exponents and surrounding
whitespace, so a value two programs would read differently could otherwise get in.
docs/API.md states the same grammars.
"""

from __future__ import annotations

import re

# An amount: digits, optionally a point and more digits. No sign, exponent, underscore,
# whitespace, thousands separator, leading or trailing point, or non-ASCII digit.
AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]+)?")

# A user id as text (a token's `sub`): canonical decimal, no leading zero, no sign.
USER_ID = re.compile(r"[1-9][0-9]*")

# A key (idempotency key, transaction id, withdrawal address): visible ASCII, no whitespace.
KEY = re.compile(r"[\x21-\x7e]+")


def matches(grammar: re.Pattern[str], text: str) -> bool:
    return grammar.fullmatch(text) is not None
