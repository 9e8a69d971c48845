"""Golden tests of the SQLite -> PostgreSQL translation, each statement also run on a server.

In the manner of sqlglot's own ``validate_all``: the SQLite text, the exact
PostgreSQL text expected, and then the translation executed for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storecheck.conformance import sqlschema
from storecheck.conformance.specs.conversations import tokens

psycopg = pytest.importorskip("psycopg")

FTS = sqlschema.fts_tables([
    "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content = 'notes', content_rowid = 'id', "
    "tokenize = 'ascii')"])

# (rewrite or construct, SQLite, expected PostgreSQL statements)
GOLDEN: list[tuple[str, str, tuple[str, ...]]] = [
    ("strict_tables", "CREATE TABLE plain (a TEXT) STRICT",
     ('CREATE TABLE plain (a TEXT COLLATE "C", rowid BIGINT GENERATED ALWAYS AS IDENTITY)',)),
    ("integers_are_64_bit", "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
     ("CREATE TABLE counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",)),
    ("text_compares_as_bytes", "CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
     ('CREATE TABLE names (id BIGINT PRIMARY KEY, name TEXT COLLATE "C" NOT NULL)',)),
    ("implicit_rowid", "CREATE TABLE tagged (tag TEXT PRIMARY KEY, n INTEGER)",
     ('CREATE TABLE tagged (tag TEXT COLLATE "C" PRIMARY KEY, n BIGINT, '
      "rowid BIGINT GENERATED ALWAYS AS IDENTITY)",)),
    ("sqlite_now", "CREATE TABLE stamps (id INTEGER PRIMARY KEY, "
     "at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), "
     "day TEXT DEFAULT (datetime('now')))",
     ("CREATE TABLE stamps (id BIGINT PRIMARY KEY, at TEXT COLLATE \"C\" NOT NULL DEFAULT "
      "(TO_CHAR(TIMEZONE('UTC', NOW()), 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')), day TEXT COLLATE \"C\" "
      "DEFAULT (TO_CHAR(TIMEZONE('UTC', NOW()), 'YYYY-MM-DD HH24:MI:SS')))",)),
    ("insert_or_ignore", "INSERT OR IGNORE INTO counters (id, n) VALUES (1, 1)",
     ("INSERT INTO counters (id, n) VALUES (1, 1) ON CONFLICT DO NOTHING",)),
    ("glob_as_regex", "SELECT 'ab12' GLOB '*[^0-9a-f]*', 'a.b' GLOB 'a?b'",
     ("SELECT 'ab12' ~ '^.*[^0-9a-f].*$', 'a.b' ~ '^a.b$'",)),
    ("json_object", "SELECT json_object('n', n, 'id', id) FROM counters",
     ("SELECT JSON_BUILD_OBJECT('n', n, 'id', id) FROM counters",)),
    ("bare_columns_grouped", "SELECT c.id, c.n, count(*) AS k FROM counters AS c "
     "JOIN names AS m ON m.id = c.id GROUP BY c.id",
     ("SELECT c.id, c.n, COUNT(*) AS k FROM counters AS c JOIN names AS m ON m.id = c.id "
      "GROUP BY c.id, c.n",)),
    ("view_if_not_exists", "CREATE VIEW IF NOT EXISTS counter_view AS SELECT id FROM counters",
     ("CREATE OR REPLACE VIEW counter_view AS SELECT id FROM counters",)),
    ("integer_conditions", "SELECT id FROM counters WHERE 1 AND n > 0",
     ("SELECT id FROM counters WHERE TRUE AND n > 0",)),
    ("derived_tables_named", "SELECT * FROM (SELECT id FROM counters LIMIT 1) "
     "UNION ALL SELECT * FROM (SELECT id FROM names LIMIT 1)",
     ("SELECT * FROM (SELECT id FROM counters LIMIT 1) AS derived_0 "
      "UNION ALL SELECT * FROM (SELECT id FROM names LIMIT 1) AS derived_1",)),
    ("conflict_target_plain", "INSERT INTO names (id, name) VALUES (?, ?) ON CONFLICT (id) "
     "DO UPDATE SET name = excluded.name RETURNING id",
     ("INSERT INTO names (id, name) VALUES (%s, %s) ON CONFLICT(id) "
      "DO UPDATE SET name = excluded.name RETURNING id",)),
    ("parameters", "SELECT id FROM names WHERE name LIKE 'a%' AND id = :id AND instr(name, :part) > 0",
     ("SELECT id FROM names WHERE name LIKE 'a%%' AND id = %(id)s AND POSITION(%(part)s IN name) > 0",)),
    ("fts5_table", "CREATE VIRTUAL TABLE notes_fts USING fts5(body, content = 'notes', "
     "content_rowid = 'id', tokenize = 'ascii')",
     ('CREATE TABLE "notes_fts" (rowid BIGINT PRIMARY KEY, tokens TSVECTOR NOT NULL)',
      'CREATE INDEX "notes_fts_tokens" ON "notes_fts" USING GIN (tokens)')),
    ("fts5_insert", "INSERT INTO notes_fts (rowid, body) VALUES (7, 'Hello wörld')",
     ("INSERT INTO \"notes_fts\" (rowid, tokens) VALUES (7, fts_ascii_tokens('Hello wörld'))",)),
    ("fts5_delete_command", "INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', 7, 'x')",
     ('DELETE FROM "notes_fts" WHERE rowid = 7',)),
    ("fts5_optimize_command", "INSERT INTO notes_fts (notes_fts) VALUES ('optimize')", ()),
    ("trigger", "CREATE TRIGGER names_index AFTER UPDATE OF name ON names BEGIN "
     "INSERT INTO notes_fts (notes_fts, rowid, body) VALUES ('delete', old.id, old.name); "
     "INSERT INTO notes_fts (rowid, body) VALUES (new.id, new.name); END",
     ('CREATE FUNCTION "names_index"() RETURNS trigger LANGUAGE plpgsql AS $trigger$\nBEGIN\n'
      '  DELETE FROM "notes_fts" WHERE rowid = old.id;\n'
      '  INSERT INTO "notes_fts" (rowid, tokens) VALUES (new.id, fts_ascii_tokens(new.name));\n'
      "  RETURN NULL;\nEND\n$trigger$",
      'CREATE TRIGGER "names_index" AFTER UPDATE OF name ON "names" FOR EACH ROW '
      'EXECUTE FUNCTION "names_index"()')),
    ("drop_trigger", "DROP TRIGGER IF EXISTS names_index",
     ('DROP FUNCTION IF EXISTS "names_index"() CASCADE',)),
]
PARAMETERS: dict[str, Any] = {
    "conflict_target_plain": (1, "renamed"),
    "parameters": {"id": 1, "part": "a"},
}


# The tables a case runs against, made by other cases' CREATE statements; every case
# runs in its own rolled-back transaction, so none depends on which ran before it.
TABLES = {"counters": "integers_are_64_bit", "names": "text_compares_as_bytes",
          "notes_fts": "fts5_table", "stamps": "sqlite_now"}
NEEDS: dict[str, tuple[str, ...]] = {
    "insert_or_ignore": ("counters",), "json_object": ("counters",),
    "bare_columns_grouped": ("counters", "names"), "view_if_not_exists": ("counters",),
    "integer_conditions": ("counters",), "derived_tables_named": ("counters", "names"),
    "conflict_target_plain": ("names",), "parameters": ("names",),
    "fts5_insert": ("notes_fts",), "fts5_delete_command": ("notes_fts",),
    "trigger": ("names", "notes_fts"),
}


@pytest.fixture
def server_schema(pg_scratch: Any) -> Iterator[Any]:
    """The scratch schema inside a transaction that is rolled back after the test."""
    with pg_scratch.transaction(force_rollback=True):
        yield pg_scratch


def _create(conn: Any, *tables: str) -> None:
    for table in tables:
        case = next(sqlite for name, sqlite, _ in GOLDEN if name == TABLES[table])
        for statement in sqlschema.to_postgres(case, FTS):
            conn.execute(statement)


def test_every_rewrite_has_a_golden_case() -> None:
    assert set(sqlschema.REWRITES) <= {name for name, _, _ in GOLDEN}


@pytest.mark.parametrize(("name", "sqlite", "postgres"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_translation_is_golden_and_runs(server_schema: Any, name: str, sqlite: str,
                                        postgres: tuple[str, ...]) -> None:
    translated = sqlschema.to_postgres(sqlite, FTS)
    assert translated == postgres
    _create(server_schema, *NEEDS.get(name, ()))
    for statement in translated:
        server_schema.execute(statement, PARAMETERS.get(name))


def test_translated_defaults_and_glob_behave_like_sqlite(server_schema: Any) -> None:
    (matches_glob, single_char) = server_schema.execute(
        sqlschema.to_postgres("SELECT 'ab12' GLOB '*[^0-9a-f]*', 'a.b' GLOB 'a?b'")[0]).fetchone()
    assert (matches_glob, single_char) == (False, True)
    _create(server_schema, "stamps")
    server_schema.execute("INSERT INTO stamps (id) VALUES (1)")
    at, day = server_schema.execute("SELECT at, day FROM stamps").fetchone()
    assert at.endswith("Z") and at[10] == "T" and len(at) == 24
    assert len(day) == 19 and day[10] == " "


def test_the_fts_triggers_keep_the_tokens(server_schema: Any) -> None:
    _create(server_schema, "names", "notes_fts")
    trigger = next(sqlite for name, sqlite, _ in GOLDEN if name == "trigger")
    for statement in sqlschema.to_postgres(trigger, FTS):
        server_schema.execute(statement)
    server_schema.execute("INSERT INTO names (id, name) VALUES (42, 'Zebra crossing')")
    server_schema.execute("INSERT INTO notes_fts (rowid, tokens) VALUES (42, fts_ascii_tokens('x'))")
    server_schema.execute("UPDATE names SET name = 'Café-Bar 9' WHERE id = 42")
    (lexemes,) = server_schema.execute(
        "SELECT tsvector_to_array(tokens) FROM notes_fts WHERE rowid = 42").fetchone()
    assert sorted(lexemes) == sorted(tokens("Café-Bar 9"))


def test_unsupported_constructs_are_named() -> None:
    with pytest.raises(sqlschema.UnsupportedSql, match="tokenize"):
        sqlschema.to_postgres("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'porter')")
    with pytest.raises(sqlschema.UnsupportedSql, match="pg_dump"):
        sqlschema.to_postgres("VACUUM INTO '/tmp/copy.db'")
    with pytest.raises(sqlschema.UnsupportedSql, match="PRAGMA foreign_keys"):
        sqlschema.to_postgres("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlschema.UnsupportedSql, match="AFTER"):
        sqlschema.to_postgres("CREATE TRIGGER b BEFORE INSERT ON t BEGIN SELECT 1; END")


@settings(max_examples=150, deadline=None)
@given(text=st.text())
def test_the_token_function_is_the_spec_rule(pg_scratch: Any, text: str) -> None:
    from storecheck.reference_impl.postgres.text import escape

    (lexemes,) = pg_scratch.execute(
        "SELECT tsvector_to_array(fts_ascii_tokens(%s::text))", (escape(text),)).fetchone()
    assert sorted(lexemes) == sorted(set(tokens(text)))
