"""The learnings search statement: a full-text index for text, plain indexes for the filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storecheck.conformance.specs.conversations import LearningQuery, tokens
from storecheck.reference_impl.conversations.rows import LEARNING_COLUMNS
from storecheck.reference_impl.engine.sql import qualified
from storecheck.reference_impl.engine.text_index import FTS5_TOKENS, TokenMatch


@dataclass(frozen=True)
class TextIndex:
    """How one engine's full-text index answers the text part of a search."""

    select: str
    """``SELECT {columns}, <score> AS score FROM ... learnings AS l ... WHERE <the :match
    parameter matches>``; ``{columns}`` becomes the learning's columns."""
    order: str
    tokens: TokenMatch
    """The ``:match`` parameter, and how much of a token the index holds."""


FTS5_INDEX = TextIndex(
    select=("SELECT {columns}, -bm25(learnings_fts) AS score FROM learnings_fts "
            "JOIN learnings AS l ON l.id = learnings_fts.rowid WHERE learnings_fts MATCH :match"),
    order="ORDER BY bm25(learnings_fts), l.id",
    tokens=FTS5_TOKENS,
)
_WITHOUT_TEXT = "SELECT {columns}, 0.0 AS score FROM learnings AS l WHERE 1"
# The hit's learning comes with it: the score is the last column.
_COLUMNS = qualified(LEARNING_COLUMNS, "l")
# Driven from the tag index, a search costs what the tag's hits cost; a correlated
# EXISTS would walk every learning in created order looking for a rare tag.
_TAG = "l.id IN (SELECT t.learning_id FROM learning_tags AS t WHERE t.tag = :tag{n})"


def needs_recheck(query: LearningQuery, index: TextIndex) -> bool:
    """Whether a query token is longer than what ``index`` holds of a token."""
    return index.tokens.needs_recheck(tokens(query.text or ""))


def search_statement(query: LearningQuery, limit: int,
                     index: TextIndex = FTS5_INDEX) -> tuple[str, dict[str, Any]]:
    """SQL and parameters; the SQL varies only in which fixed fragments it uses."""
    params: dict[str, Any] = {"limit": limit}
    terms = [] if query.text is None else tokens(query.text)
    parts = [(index.select if terms else _WITHOUT_TEXT).format(columns=_COLUMNS)]
    if terms:
        params["match"] = index.tokens.match(terms)
    if query.category is not None:
        parts.append("l.category = :category")
        params["category"] = query.category
    if query.min_confidence is not None:
        parts.append("l.confidence >= :min_confidence")
        params["min_confidence"] = query.min_confidence
    for n, tag in enumerate(query.tags):
        parts.append(_TAG.format(n=n))
        params[f"tag{n}"] = tag
    order = index.order if terms else "ORDER BY l.created_at DESC, l.id DESC"
    return " AND ".join(parts) + f" {order} LIMIT :limit", params
