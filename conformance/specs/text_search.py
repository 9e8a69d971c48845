"""The full-text search rule the specs share (``conversations``' learnings, ``extraction``'s
events): what a token is, and when a text matches a query.

Text is split into tokens: maximal runs of ASCII letters, ASCII digits and
non-ASCII characters (every other ASCII character separates them).  ASCII
letters compare case-insensitively, every other character exactly, with no
Unicode normalisation.  A text matches a query when each of the query's tokens
is a prefix of some token of the text; a query without tokens matches every
text.  This is SQLite's FTS5 ``ascii`` tokenizer with prefix queries.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[A-Za-z0-9\u0080-\U0010ffff]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def tokens(text: str) -> list[str]:
    """The search rule's tokens of ``text``: runs of ASCII letters, digits and non-ASCII
    characters; only ASCII letters are case-folded (``É`` stays ``É``)."""
    return [token.translate(_ASCII_LOWER) for token in _TOKEN.findall(text)]


def matches(query: str, content: str) -> bool:
    """Whether ``content`` matches a search for ``query`` (every query token a prefix)."""
    wanted = tokens(query)
    have = tokens(content)
    return all(any(token.startswith(term) for token in have) for term in wanted)
