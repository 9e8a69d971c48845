"""The learnings search statement: FTS5 for text, plain indexes for the filters."""

from __future__ import annotations

from typing import Any

from storecheck.conformance.specs.conversations import LearningQuery, tokens

_WITH_TEXT = (
    "SELECT l.id, -bm25(learnings_fts) AS score FROM learnings_fts "
    "JOIN learnings AS l ON l.id = learnings_fts.rowid WHERE learnings_fts MATCH :match"
)
_WITHOUT_TEXT = "SELECT l.id, 0.0 AS score FROM learnings AS l WHERE 1"
_TAG = ("EXISTS (SELECT 1 FROM learning_tags AS t WHERE t.learning_id = l.id "
        "AND t.tag = :tag{n})")


def fts_match(text: str) -> str | None:
    """The FTS5 query for the spec's rule: every token, as a quoted prefix term."""
    terms = tokens(text)
    # Tokens hold only letters, digits and non-ASCII characters, never a quote.
    return " ".join(f'"{term}"*' for term in terms) if terms else None


def search_statement(query: LearningQuery, limit: int) -> tuple[str, dict[str, Any]]:
    """SQL and parameters; the SQL varies only in which fixed fragments it uses."""
    params: dict[str, Any] = {"limit": limit}
    match = None if query.text is None else fts_match(query.text)
    parts = [_WITH_TEXT if match else _WITHOUT_TEXT]
    if match:
        params["match"] = match
    if query.category is not None:
        parts.append("l.category = :category")
        params["category"] = query.category
    if query.min_confidence is not None:
        parts.append("l.confidence >= :min_confidence")
        params["min_confidence"] = query.min_confidence
    for n, tag in enumerate(query.tags):
        parts.append(_TAG.format(n=n))
        params[f"tag{n}"] = tag
    order = "ORDER BY bm25(learnings_fts), l.id" if match else "ORDER BY l.created_at DESC, l.id DESC"
    return " AND ".join(parts) + f" {order} LIMIT :limit", params
