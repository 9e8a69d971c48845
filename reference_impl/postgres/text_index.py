"""The PostgreSQL twin of an FTS5 index: a tsvector of the spec's tokens per row.

The translated FTS5 tables (``conformance.sqlschema``) hold ``(rowid, tokens)``
with a GIN index; ``fts_matches`` is a runtime function (``runtime.sql``) small
enough for the planner to inline, so the GIN index serves the match.
"""

from __future__ import annotations

from typing import Final

from storecheck.reference_impl.engine.text_index import TokenMatch

LEXEME_CHARACTERS: Final = 500
"""The index holds each token's first 500 characters (a lexeme is at most 2,046 bytes:
longer ones wrap around in ``array_to_tsvector`` and are refused in a tsquery)."""

TSVECTOR_TOKENS: Final = TokenMatch(
    # Tokens hold only letters, digits and non-ASCII characters: nothing to quote.
    match=lambda terms: " & ".join(f"'{term[:LEXEME_CHARACTERS]}':*" for term in terms),
    exact_token_characters=LEXEME_CHARACTERS,
    condition="fts_matches({index}.tokens, ?)",
)
