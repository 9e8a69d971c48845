"""How an engine's full-text index answers the specs' shared search rule.

The rule (:mod:`storecheck.conformance.specs.text_search`) asks for the texts in
which every query token is a prefix of some token.  SQLite's FTS5 with the
``ascii`` tokenizer is that rule, up to the length of a token it keeps; the
PostgreSQL port has its own twin (``reference_impl.postgres.text_index``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TokenMatch:
    """One engine's way to find the rows of a full-text index that match a query."""

    match: Callable[[list[str]], str]
    """The match parameter for the query's tokens (every token a prefix)."""
    exact_token_characters: int
    """Tokens up to this many characters are indexed whole; of a longer one the index
    keeps a prefix, so its hits for a longer query token are candidates to check."""
    condition: str
    """The condition on the index's table (``{index}``) that its row matches the one ``?``
    parameter; the row's ``rowid`` is the indexed row's."""

    def needs_recheck(self, terms: Sequence[str]) -> bool:
        """Whether a query token is longer than what the index holds of a token."""
        return any(len(term) > self.exact_token_characters for term in terms)


def _fts5_match(terms: list[str]) -> str:
    # Tokens hold only letters, digits and non-ASCII characters, never a quote.
    return " ".join(f'"{term}"*' for term in terms)


FTS5_TOKENS = TokenMatch(
    match=_fts5_match,
    exact_token_characters=32_768 // 4,  # FTS5 keeps a token's first 32 KiB of UTF-8
    condition="{index} MATCH ?",
)
