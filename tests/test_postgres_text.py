"""The NUL escape of the PostgreSQL stores, checked on a real server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

psycopg = pytest.importorskip("psycopg")

from storecheck.reference_impl.postgres import text  # noqa: E402

# Few characters, so collisions, shared prefixes and escape pairs are frequent.
TEXTS = st.text(alphabet=st.sampled_from(["\x00", "\x01", "\x02", "a", "é"]), max_size=6)


@pytest.fixture(scope="module")
def conn(pg_scratch: Any) -> Any:
    text.install(pg_scratch.adapters)
    pg_scratch.execute('CREATE TABLE words (word TEXT COLLATE "C" NOT NULL)')
    return pg_scratch


@settings(max_examples=100, deadline=None)
@given(words=st.lists(TEXTS, min_size=1, max_size=8))
def test_text_round_trips_and_sorts_in_code_point_order(conn: Any, words: list[str]) -> None:
    conn.execute("DELETE FROM words")
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO words (word) VALUES (%s)", [(w,) for w in words])
    stored = [word for (word,) in conn.execute("SELECT word FROM words ORDER BY word")]
    assert stored == sorted(words)


@settings(max_examples=200, deadline=None)
@given(haystack=TEXTS, needle=TEXTS.filter(bool))
def test_aligned_substring_match_is_python_in(conn: Any, haystack: str, needle: str) -> None:
    if text.needs_alignment(needle):
        sql, argument = "SELECT %s::text ~ %s", text.aligned_substring_pattern(needle)
    else:
        sql, argument = "SELECT position(%s::text IN %s::text) > 0", needle
        sql = "SELECT position(%s::text IN %s::text) > 0"
        (found,) = conn.execute(sql, (argument, haystack)).fetchone()
        assert found == (needle in haystack)
        return
    (found,) = conn.execute(sql, (haystack, argument)).fetchone()
    assert found == (needle in haystack)
