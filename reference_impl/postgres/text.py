"""Text with NUL in it, on a server whose ``text`` cannot hold NUL.

The specs store text verbatim, NUL included; PostgreSQL refuses the NUL
byte.  Stored text therefore goes through an escape that keeps everything
the checks rely on: ``\\x00`` becomes ``\\x01\\x01`` and ``\\x01`` becomes
``\\x01\\x02``, every other character stays.  The mapping is reversible,
keeps code point (byte) order, keeps equality, and the search token rule
sees the same tokens (both escape characters are separators).  Substring
search needs care for needles starting with ``\\x01`` or ``\\x02``: see
:func:`aligned_substring_pattern`.
"""

from __future__ import annotations

import re
from typing import Any

from psycopg import adapt
from psycopg.types.string import StrDumperUnknown, TextLoader

_ESCAPE = str.maketrans({"\x00": "\x01\x01", "\x01": "\x01\x02"})
_UNESCAPE = re.compile("\x01([\x01\x02])")


def escape(text: str) -> str:
    return text.translate(_ESCAPE) if "\x00" in text or "\x01" in text else text


def unescape(stored: str) -> str:
    if "\x01" not in stored:
        return stored
    return _UNESCAPE.sub(lambda m: "\x00" if m.group(1) == "\x01" else "\x01", stored)


def needs_alignment(needle: str) -> bool:
    """Whether a substring match of ``needle`` could start inside an escape pair."""
    return escape(needle)[:1] in ("\x01", "\x02")


def aligned_substring_pattern(needle: str) -> str:
    """A POSIX regex matching the escaped ``needle`` only where an escaped character
    starts: after an even run of ``\\x01`` (each pair is one escaped character)."""
    # \uXXXX takes exactly four digits (\x would swallow a following hex letter).
    escaped = "".join(f"\\u{ord(c):04x}" if c in "\x01\x02" else re.escape(c) for c in escape(needle))
    return "(^|[^\\u0001])(\\u0001\\u0001)*" + escaped


class EscapingDumper(StrDumperUnknown):
    def dump(self, obj: str) -> Any:
        return super().dump(escape(obj))


class UnescapingLoader(TextLoader):
    def load(self, data: Any) -> str:
        loaded = super().load(data)
        return unescape(loaded if isinstance(loaded, str) else loaded.decode())


def install(adapters: adapt.AdaptersMap) -> None:
    """Make a connection's str parameters and text results use the escape."""
    adapters.register_dumper(str, EscapingDumper)
    for type_name in ("text", "varchar", "bpchar", "name"):
        adapters.register_loader(type_name, UnescapingLoader)
