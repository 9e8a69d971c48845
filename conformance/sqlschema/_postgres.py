"""SQLite statements translated for PostgreSQL: sqlglot plus named rewrites.

sqlglot's sqlite -> postgres generation is right for most of the reference's
SQL; where it is wrong or has no answer, a named rewrite below changes the
SQLite tree first.  Each rewrite has a golden test and runs on a real server
in the project's tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Final

import sqlglot
from sqlglot import exp
from storecheck.conformance.sqlschema._schema import parse


class UnsupportedSql(ValueError):
    """A SQLite construct with no PostgreSQL translation here."""


@dataclass(frozen=True)
class FtsTable:
    """An FTS5 table of the source schema: its name and indexed columns, and for an
    external-content table the table and rowid column its ``'rebuild'`` reads."""

    name: str
    columns: tuple[str, ...]
    content: str | None = None
    content_rowid: str = "rowid"


FTS_TOKENS_FUNCTION = "fts_ascii_tokens"
"""Runtime function (shipped with the PostgreSQL engine) turning text into a tsvector
of the spec's tokens, the ``ascii`` FTS5 tokenizer's rule."""

_FTS5 = re.compile(r"^\s*CREATE\s+VIRTUAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+USING\s+fts5\s*"
                   r"\((.*)\)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_TRIGGER = re.compile(
    r"^\s*CREATE\s+TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)\s+(?P<when>AFTER|BEFORE)\s+"
    r"(?P<event>INSERT|DELETE|UPDATE(?:\s+OF\s+[\w\s,]+?)?)\s+ON\s+(?P<table>\w+)\s+"
    r"(?:FOR\s+EACH\s+ROW\s+)?(?:WHEN\s+(?P<condition>.+?)\s+)?BEGIN\s+(?P<body>.*)\bEND\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)
_SQLITE_ONLY = re.compile(r"^\s*(PRAGMA\b|VACUUM\s+INTO\b|ATTACH\b|DETACH\b)", re.IGNORECASE)
_DROP_TRIGGER = re.compile(r"^\s*DROP\s+TRIGGER\s+(IF\s+EXISTS\s+)?(\w+)\s*;?\s*$", re.IGNORECASE)
_PG_DATE_FIELDS = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS",
                   "%f": "SS.MS", "%j": "DDD", "%%": "%"}


def _fts_options(args: str) -> dict[str, str]:
    """An FTS5 table's ``name = 'value'`` options (``tokenize``, ``content``, ...)."""
    return dict(re.findall(r"(\w+)\s*=\s*'([^']*)'", args))


def fts_tables(statements: Iterable[str]) -> frozenset[FtsTable]:
    """The FTS5 tables declared in ``statements`` (their CREATE VIRTUAL TABLE)."""
    found = set()
    for statement in statements:
        match = _FTS5.match(statement)
        if match:
            columns = tuple(arg.strip() for arg in match.group(2).split(",") if "=" not in arg)
            options = _fts_options(match.group(2))
            found.add(FtsTable(match.group(1), columns, options.get("content") or None,
                               options.get("content_rowid", "rowid")))
    return frozenset(found)


@cache
def to_postgres(statement: str, fts: frozenset[FtsTable] = frozenset()) -> tuple[str, ...]:
    """The PostgreSQL statements doing what the SQLite ``statement`` does.

    ``?`` and ``:name`` parameters become ``%s`` and ``%(name)s`` (psycopg's
    styles, with literal ``%`` doubled); ``fts`` names the FTS5 tables the
    statement may touch.  Cached: each statement is translated once per process.
    """
    if _SQLITE_ONLY.match(statement):
        raise UnsupportedSql(
            f"{' '.join(statement.split()[:2])}: SQLite file and connection commands have no "
            "statement twin on PostgreSQL (connection settings belong to the engine; copy a "
            "database with pg_dump)")
    virtual = _FTS5.match(statement)
    if virtual:
        return _fts_table(virtual)
    trigger = _TRIGGER.match(statement)
    if trigger:
        return _trigger(trigger, fts)
    dropped = _DROP_TRIGGER.match(statement)
    if dropped:
        # PostgreSQL's DROP TRIGGER needs the table; dropping the trigger's function
        # (named after it) takes the trigger along.
        exists = "IF EXISTS " if dropped.group(1) else ""
        return (f"DROP FUNCTION {exists}{_quoted(dropped.group(2))}() CASCADE",)
    tree = parse(statement, "sqlite")
    command = _fts_command(tree, fts)
    if command is not None:
        return command
    for rewrite in REWRITES.values():
        tree = rewrite(tree)
    return (_with_psycopg_parameters(tree),)


def _quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("postgres")


# Each rewrite takes and returns a SQLite tree; their names are used by the tests.

def _strict_tables(tree: exp.Expr) -> exp.Expr:
    """STRICT: PostgreSQL columns are always strictly typed."""
    for prop in list(tree.find_all(exp.StrictProperty)):
        prop.pop()
    properties = tree.args.get("properties")
    if isinstance(properties, exp.Properties) and not properties.expressions:
        properties.pop()
    return tree


def _integers_are_64_bit(tree: exp.Expr) -> exp.Expr:
    """SQLite INTEGER holds 64 bits; PostgreSQL's INTEGER only 32."""
    for data_type in tree.find_all(exp.DataType):
        if data_type.this == exp.DType.INT:
            data_type.set("this", exp.DType.BIGINT)
    return tree


def _text_compares_as_bytes(tree: exp.Expr) -> exp.Expr:
    """SQLite compares text with BINARY (code point order); PostgreSQL's "C" collation
    does the same whatever the database's locale, so ORDER BY and keyset cursors agree."""
    if not (isinstance(tree, exp.Create) and tree.kind == "TABLE"):
        return tree
    for column in tree.find_all(exp.ColumnDef):
        kind = column.args.get("kind")
        constraints = column.args.get("constraints") or []
        if (isinstance(kind, exp.DataType) and kind.this == exp.DType.TEXT
                and not any(isinstance(c.args.get("kind"), exp.CollateColumnConstraint)
                            for c in constraints)):
            collate = exp.CollateColumnConstraint(this=exp.to_identifier("C", quoted=True))
            column.set("constraints", [exp.ColumnConstraint(kind=collate), *constraints])
    return tree


def _implicit_rowid(tree: exp.Expr) -> exp.Expr:
    """Every SQLite table without an INTEGER PRIMARY KEY has a hidden ``rowid`` in insertion
    order (ORDER BY ..., rowid relies on it); PostgreSQL gets it as an identity column."""
    if not (isinstance(tree, exp.Create) and tree.kind == "TABLE"):
        return tree
    schema = tree.this
    if not isinstance(schema, exp.Schema) or any(
            column.name.lower() == "rowid" or _is_rowid_alias(column)
            for column in schema.expressions if isinstance(column, exp.ColumnDef)):
        return tree
    identity = exp.ColumnConstraint(kind=exp.GeneratedAsIdentityColumnConstraint(this=True))
    rowid = exp.ColumnDef(this=exp.to_identifier("rowid"),
                          kind=exp.DataType.build("BIGINT"), constraints=[identity])
    columns = [e for e in schema.expressions if isinstance(e, exp.ColumnDef)]
    schema.set("expressions", [*columns, rowid,
                               *(e for e in schema.expressions if not isinstance(e, exp.ColumnDef))])
    return tree


def _rowid_alias_generated(tree: exp.Expr) -> exp.Expr:
    """An ``INTEGER PRIMARY KEY`` is SQLite's rowid: an insert without it gets the next
    number, with or without AUTOINCREMENT (which only forbids reusing a deleted row's)."""
    if not (isinstance(tree, exp.Create) and tree.kind == "TABLE"):
        return tree
    for column in tree.find_all(exp.ColumnDef):
        constraints = column.args.get("constraints") or []
        if _is_rowid_alias(column) and not any(
                isinstance(c.args.get("kind"), (exp.AutoIncrementColumnConstraint,
                                                exp.GeneratedAsIdentityColumnConstraint))
                for c in constraints):
            generated = exp.GeneratedAsIdentityColumnConstraint(this=False)
            column.set("constraints", [exp.ColumnConstraint(kind=generated), *constraints])
    return tree


def _is_rowid_alias(column: exp.ColumnDef) -> bool:
    kind = column.args.get("kind")
    return (isinstance(kind, exp.DataType) and kind.this in (exp.DType.INT, exp.DType.BIGINT)
            and any(isinstance(c.args.get("kind"), exp.PrimaryKeyColumnConstraint)
                    for c in column.args.get("constraints") or ()))


def _sqlite_now(tree: exp.Expr) -> exp.Expr:
    """``datetime('now')`` and ``strftime(format, 'now')``: the UTC time as SQLite formats it
    (sqlglot would read 'now' as local time and mistranslate ``%f``)."""

    def utc_text(pg_format: str) -> exp.Expr:
        utc_now = exp.Anonymous(this="timezone", expressions=[
            exp.Literal.string("UTC"), exp.Anonymous(this="now", expressions=[])])
        return exp.Anonymous(this="to_char", expressions=[utc_now, exp.Literal.string(pg_format)])

    def replace(node: exp.Expr) -> exp.Expr:
        if (isinstance(node, exp.Anonymous) and str(node.this).lower() == "datetime"
                and [a.name for a in node.expressions] == ["now"]):
            return utc_text("YYYY-MM-DD HH24:MI:SS")
        if (isinstance(node, exp.TimeToStr) and isinstance(node.this, exp.TsOrDsToTimestamp)
                and node.this.this.name == "now"):
            return utc_text(_pg_time_format(node.args["format"].name))
        return node

    return tree.transform(replace)


def _pg_time_format(sqlite_format: str) -> str:
    out = []
    for piece in re.split(r"(%.)", sqlite_format):
        if piece.startswith("%"):
            if piece not in _PG_DATE_FIELDS:
                raise UnsupportedSql(f"strftime field {piece!r} has no PostgreSQL translation")
            out.append(_PG_DATE_FIELDS[piece])
        elif any(char.isalpha() for char in piece):
            out.append('"' + piece + '"')  # to_char would read letters as fields
        else:
            out.append(piece)
    return "".join(out)


def _insert_or_ignore(tree: exp.Expr) -> exp.Expr:
    """``INSERT OR IGNORE`` is PostgreSQL's ``ON CONFLICT DO NOTHING``."""
    if isinstance(tree, exp.Insert) and str(tree.args.get("alternative") or "").upper() == "IGNORE":
        tree.set("alternative", None)
        tree.set("conflict", exp.OnConflict(action=exp.var("DO NOTHING")))
    return tree


def _glob_as_regex(tree: exp.Expr) -> exp.Expr:
    """GLOB (case-sensitive wildcard match) becomes an anchored POSIX regex."""

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Glob):
            pattern = node.expression
            if not (isinstance(pattern, exp.Literal) and pattern.is_string):
                raise UnsupportedSql("GLOB with a non-literal pattern")
            return exp.RegexpLike(this=node.this, expression=exp.Literal.string(
                _glob_regex(pattern.name)))
        return node

    return tree.transform(replace)


def _glob_regex(glob: str) -> str:
    out, i = ["^"], 0
    while i < len(glob):
        char = glob[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                raise UnsupportedSql(f"unterminated [ in GLOB pattern {glob!r}")
            out.append(glob[i:end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + "$"


def _json_object(tree: exp.Expr) -> exp.Expr:
    """``json_object(k, v, ...)`` is ``json_build_object`` (sqlglot emits invalid syntax)."""

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.JSONObject):
            args: list[exp.Expr] = []
            for pair in node.expressions:
                args += [pair.this, pair.expression]
            return exp.Anonymous(this="json_build_object", expressions=args)
        return node

    return tree.transform(replace)


def _bare_columns_grouped(tree: exp.Expr) -> exp.Expr:
    """SQLite lets a grouped query select columns it does not group by; PostgreSQL
    only when they depend on the grouped table's key.  Grouping by them too changes
    nothing where SQLite's answer was well defined."""
    for select in tree.find_all(exp.Select):
        group = select.args.get("group")
        if group is None:
            continue
        grouped = {g.sql() for g in group.expressions}
        for projection in select.expressions:
            value = projection.this if isinstance(projection, exp.Alias) else projection
            if isinstance(value, exp.Column) and value.sql() not in grouped:
                group.append("expressions", value.copy())
                grouped.add(value.sql())
    return tree


def _view_if_not_exists(tree: exp.Expr) -> exp.Expr:
    """PostgreSQL has no CREATE VIEW IF NOT EXISTS; CREATE OR REPLACE is idempotent too."""
    if isinstance(tree, exp.Create) and tree.kind == "VIEW" and tree.args.get("exists"):
        tree.set("exists", False)
        tree.set("replace", True)
    return tree


def _integer_conditions(tree: exp.Expr) -> exp.Expr:
    """``WHERE 1`` (any integer as a condition) is a boolean in PostgreSQL."""

    def as_boolean(node: exp.Expr | None) -> None:
        if isinstance(node, exp.Literal) and not node.is_string:
            node.replace(exp.Boolean(this=node.name not in ("0", "0.0")))
        elif isinstance(node, exp.And | exp.Or):
            as_boolean(node.this)
            as_boolean(node.expression)

    for where in tree.find_all(exp.Where):
        as_boolean(where.this)
    return tree


def _derived_tables_named(tree: exp.Expr) -> exp.Expr:
    """PostgreSQL 15 wants an alias on every subquery in FROM."""
    for number, subquery in enumerate(tree.find_all(exp.Subquery)):
        if not subquery.alias and isinstance(subquery.parent, exp.From | exp.Join | exp.Union):
            subquery.set("alias", exp.TableAlias(this=exp.to_identifier(f"derived_{number}")))
    return tree


def _conflict_target_plain(tree: exp.Expr) -> exp.Expr:
    """An upsert's conflict target lists bare columns (sqlglot adds NULLS FIRST)."""
    conflict = tree.args.get("conflict") if isinstance(tree, exp.Insert) else None
    if isinstance(conflict, exp.OnConflict):
        keys = conflict.args.get("conflict_keys") or []
        conflict.set("conflict_keys", [k.this if isinstance(k, exp.Ordered) else k for k in keys])
    return tree


REWRITES: Final[dict[str, Callable[[exp.Expr], exp.Expr]]] = {
    "strict_tables": _strict_tables,
    "integers_are_64_bit": _integers_are_64_bit,
    "text_compares_as_bytes": _text_compares_as_bytes,
    "implicit_rowid": _implicit_rowid,
    "rowid_alias_generated": _rowid_alias_generated,
    "sqlite_now": _sqlite_now,
    "insert_or_ignore": _insert_or_ignore,
    "glob_as_regex": _glob_as_regex,
    "json_object": _json_object,
    "bare_columns_grouped": _bare_columns_grouped,
    "view_if_not_exists": _view_if_not_exists,
    "integer_conditions": _integer_conditions,
    "derived_tables_named": _derived_tables_named,
    "conflict_target_plain": _conflict_target_plain,
}


def _with_psycopg_parameters(tree: exp.Expr) -> str:
    placeholders = list(tree.find_all(exp.Placeholder))
    if not placeholders:
        return tree.sql("postgres")
    styles = []
    for number, placeholder in enumerate(placeholders):
        name = placeholder.name
        styles.append(f"%({name})s" if name and name != "?" else "%s")
        placeholder.replace(exp.var(f"__storecheck_parameter_{number}__"))
    text = tree.sql("postgres").replace("%", "%%")
    for number, style in enumerate(styles):
        text = text.replace(f"__storecheck_parameter_{number}__", style, 1)
    return text


def _fts_table(match: re.Match[str]) -> tuple[str, ...]:
    """An FTS5 table becomes a table of (rowid, tsvector of the spec's tokens) with a GIN
    index; ``tokenize = 'ascii'`` is the only tokenizer with a PostgreSQL twin here."""
    name, args = match.group(1), match.group(2)
    options = _fts_options(args)
    if options.get("tokenize", "unicode61") != "ascii":
        raise UnsupportedSql(f"FTS5 table {name}: only tokenize = 'ascii' is translated")
    table = exp.to_identifier(name, quoted=True).sql("postgres")
    index = exp.to_identifier(f"{name}_tokens", quoted=True).sql("postgres")
    return (f"CREATE TABLE {table} (rowid BIGINT PRIMARY KEY, tokens TSVECTOR NOT NULL)",
            f"CREATE INDEX {index} ON {table} USING GIN (tokens)")


def _fts_command(tree: exp.Expr, fts: frozenset[FtsTable]) -> tuple[str, ...] | None:
    """Writes into an FTS5 table: the row form indexes the row's tokens, the
    ``(table, rowid, ...) VALUES ('delete', ...)`` form removes them, and the
    maintenance commands ('optimize', 'integrity-check') have nothing to do."""
    if not isinstance(tree, exp.Insert):
        return None
    target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
    table = next((t for t in fts if isinstance(target, exp.Table) and t.name == target.name), None)
    if table is None:
        return None
    names = [c.name for c in tree.this.expressions] if isinstance(tree.this, exp.Schema) else []
    values = tree.expression
    row = values.expressions[0].expressions if isinstance(values, exp.Values) else []
    quoted = exp.to_identifier(table.name, quoted=True).sql("postgres")
    if names and names[0] == table.name:
        command = row[0].name if row else ""
        if command == "delete":
            rowid = row[names.index("rowid")].sql("postgres")
            return (f"DELETE FROM {quoted} WHERE rowid = {rowid}",)
        if command in ("optimize", "integrity-check", "merge", "automerge"):
            return ()
        if command == "rebuild":
            return _fts_rebuild(table)
        raise UnsupportedSql(f"FTS5 command {command!r} on {table.name} is not translated")
    if names[:1] != ["rowid"] or not row:
        raise UnsupportedSql(f"insert into FTS5 table {table.name} must name rowid first")
    text = [row[names.index(column)].sql("postgres") for column in table.columns]
    return (f"INSERT INTO {quoted} (rowid, tokens) "
            f"VALUES ({row[0].sql('postgres')}, {_tokens_of(text)})",)


def _tokens_of(columns: list[str]) -> str:
    """The tokens of a row's indexed columns: FTS5 matches a query token in any of them."""
    joined = columns[0] if len(columns) == 1 else f"concat_ws(' ', {', '.join(columns)})"
    return f"{FTS_TOKENS_FUNCTION}({joined})"


def _fts_rebuild(table: FtsTable) -> tuple[str, ...]:
    """``'rebuild'`` indexes an external-content table's rows anew (a migration adding an
    index over rows already stored)."""
    if table.content is None:
        raise UnsupportedSql(f"FTS5 'rebuild' on {table.name}: only an external-content "
                             "table (content = '...') is translated")
    quoted = exp.to_identifier(table.name, quoted=True).sql("postgres")
    columns = [exp.to_identifier(c, quoted=True).sql("postgres") for c in table.columns]
    rowid = exp.to_identifier(table.content_rowid, quoted=True).sql("postgres")
    source = exp.to_identifier(table.content, quoted=True).sql("postgres")
    return (f"DELETE FROM {quoted}",
            f"INSERT INTO {quoted} (rowid, tokens) SELECT {rowid}, {_tokens_of(columns)} "
            f"FROM {source}")


def _trigger(match: re.Match[str], fts: frozenset[FtsTable]) -> tuple[str, ...]:
    """A SQLite trigger becomes a PL/pgSQL function (named after it) running the
    translated body, and a row trigger calling it."""
    if match["when"].upper() != "AFTER":
        raise UnsupportedSql(f"trigger {match['name']}: only AFTER triggers are translated")
    body = []
    for statement in _body_statements(match["body"]):
        body += [part + ";" for part in to_postgres(statement, fts)]
    name = _quoted(match["name"])
    event = re.sub(r"^(\w+)(\s+OF\s+)?", lambda m: m.group(1).upper() + (" OF " if m.group(2) else ""),
                   " ".join(match["event"].split()), flags=re.IGNORECASE)
    condition = ""
    if match["condition"]:
        condition = f" WHEN ({parse(match['condition'], 'sqlite').sql('postgres')})"
    function = (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $trigger$\n"
                f"BEGIN\n  " + "\n  ".join(body) + "\n  RETURN NULL;\nEND\n$trigger$")
    trigger = (f"CREATE TRIGGER {name} AFTER {event} ON {_quoted(match['table'])} "
               f"FOR EACH ROW{condition} EXECUTE FUNCTION {name}()")
    return function, trigger


def _body_statements(body: str) -> list[str]:
    parts = sqlglot.parse(body, read="sqlite")
    return [part.sql("sqlite") for part in parts if part is not None]
