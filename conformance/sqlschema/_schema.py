"""Schemas as sqlglot trees: foreign-key graphs, orphan scans, schema drift."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from storecheck.conformance.specs.common import ForeignKey


@dataclass(frozen=True)
class TableShape:
    columns: tuple[tuple[str, str], ...]
    """(column name, type and column constraints), in declaration order."""
    constraints: frozenset[str]
    """Table-level constraints (FOREIGN KEY, UNIQUE, CHECK, PRIMARY KEY)."""
    properties: frozenset[str]
    """Table options such as STRICT."""


_CREATE_KIND = re.compile(r"^\s*CREATE\s+(?:TEMP\w*\s+)?(VIRTUAL\s+TABLE|TABLE|INDEX|UNIQUE\s+INDEX"
                          r"|VIEW|TRIGGER)\b", re.IGNORECASE)


def parse(ddl: str, dialect: str) -> exp.Expr:
    tree = sqlglot.parse_one(ddl, read=dialect)
    if tree is None:
        raise ValueError(f"not a statement: {ddl!r}")
    return tree


def _try_parse(ddl: str, dialect: str) -> exp.Expr | None:
    """The tree, or None for statements sqlglot does not model (virtual tables, triggers)."""
    if _kind_from_text(ddl) in {"virtual table", "trigger"}:
        return None
    try:
        tree = parse(ddl, dialect)
    except sqlglot.errors.ParseError:
        return None
    if isinstance(tree, exp.Command):
        return None  # sqlglot fell back to raw text (e.g. WITHOUT ROWID tables of FTS5)
    return tree


def _kind_from_text(ddl: str) -> str:
    match = _CREATE_KIND.match(ddl)
    return " ".join(match.group(1).lower().split()) if match else "object"


def _squeeze(ddl: str) -> str:
    return " ".join(ddl.replace("(", " ( ").replace(")", " ) ").split())


def foreign_keys(ddl: Iterable[str], dialect: str = "sqlite") -> list[ForeignKey]:
    """Every foreign key declared in the CREATE TABLE statements of ``ddl``.

    Both forms count: ``FOREIGN KEY (col) REFERENCES parent(col)`` and a column's
    own ``REFERENCES parent(col)``.
    """
    found: list[ForeignKey] = []
    for statement in ddl:
        tree = _try_parse(statement, dialect)
        if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
            continue
        table = tree.find(exp.Table)
        assert table is not None
        for key in tree.find_all(exp.ForeignKey):
            reference = key.args["reference"]
            for child_col, parent_col in zip(key.expressions, reference.this.expressions, strict=True):
                found.append(_edge(table.name, child_col.name, reference, parent_col.name))
        for column in tree.find_all(exp.ColumnDef):
            for constraint in column.args.get("constraints") or ():
                reference = constraint.args.get("kind")
                if isinstance(reference, exp.Reference):
                    (parent_col,) = reference.this.expressions
                    found.append(_edge(table.name, column.name, reference, parent_col.name))
    return found


def _edge(child: str, child_column: str, reference: exp.Reference, parent_column: str) -> ForeignKey:
    options = " ".join(str(option) for option in reference.args.get("options") or ()).upper()
    on_delete = "NO ACTION"
    if "ON DELETE" in options:
        on_delete = options.split("ON DELETE", 1)[1].split(" ON ")[0].strip()
    return ForeignKey(child, child_column, reference.this.this.name, parent_column, on_delete)


def orphan_scan(key: ForeignKey, dialect: str = "sqlite") -> str:
    """``SELECT COUNT(*)`` of child rows whose parent is missing, in ``dialect``."""
    child_column = exp.column(key.child_column, table="c", quoted=True)
    parent_match = (
        exp.select("1")
        .from_(exp.to_table(key.parent_table, quoted=True).as_("p"))
        .where(exp.EQ(this=exp.column(key.parent_column, table="p", quoted=True),
                      expression=child_column.copy()))
    )
    query = (
        exp.select(exp.Count(this=exp.Star()))
        .from_(exp.to_table(key.child_table, quoted=True).as_("c"))
        .where(exp.not_(exp.Is(this=child_column, expression=exp.Null())))
        .where(exp.not_(exp.Exists(this=parent_match)))
    )
    return query.sql(dialect=dialect)


def table_shape(ddl: str, dialect: str = "sqlite") -> TableShape:
    tree = parse(ddl, dialect)
    schema = tree.this
    columns: list[tuple[str, str]] = []
    constraints: set[str] = set()
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            kind = item.args.get("kind")
            parts = [kind.sql(dialect) if kind is not None else ""]
            parts += [c.sql(dialect) for c in item.args.get("constraints") or ()]
            columns.append((item.name.lower(), " ".join(parts).strip()))
        else:
            constraints.add(item.sql(dialect, normalize=True))
    properties = tree.args.get("properties")
    names = {repr(p).split("(")[0] for p in properties.expressions} if properties else set()
    return TableShape(tuple(columns), frozenset(constraints), frozenset(names))


def normalise(ddl: str, dialect: str = "sqlite") -> str:
    """One canonical text for an index or view definition."""
    tree = parse(ddl, dialect)
    if isinstance(tree, exp.Create):
        tree.set("exists", False)
    return tree.sql(dialect, normalize=True)


def schema_drift(
    expected: Mapping[str, str], actual: Mapping[str, str], dialect: str = "sqlite"
) -> list[str]:
    """Differences between two schemas (name -> CREATE statement), named object by object."""
    problems: list[str] = []
    for name in sorted(set(expected) - set(actual)):
        problems.append(f"{name}: missing (expected {_kind(expected[name], dialect)})")
    for name in sorted(set(actual) - set(expected)):
        problems.append(f"{name}: unexpected {_kind(actual[name], dialect)}")
    for name in sorted(set(expected) & set(actual)):
        problems.extend(f"{name}: {p}" for p in _object_drift(expected[name], actual[name], dialect))
    return problems


def _kind(ddl: str, dialect: str) -> str:
    tree = _try_parse(ddl, dialect)
    return str(tree.kind).lower() if isinstance(tree, exp.Create) else _kind_from_text(ddl)


def _object_drift(expected: str, actual: str, dialect: str) -> list[str]:
    if _try_parse(expected, dialect) is None or _try_parse(actual, dialect) is None:
        same = _squeeze(expected) == _squeeze(actual)
        return [] if same else [f"definition differs: expected {_squeeze(expected)!r}, "
                                f"got {_squeeze(actual)!r}"]
    if _kind(expected, dialect) != "table" or _kind(actual, dialect) != "table":
        want, got = normalise(expected, dialect), normalise(actual, dialect)
        return [] if want == got else [f"definition differs: expected {want!r}, got {got!r}"]
    want_shape, got_shape = table_shape(expected, dialect), table_shape(actual, dialect)
    problems = []
    want_cols, got_cols = dict(want_shape.columns), dict(got_shape.columns)
    for column in want_cols.keys() - got_cols.keys():
        problems.append(f"column {column} missing")
    for column in got_cols.keys() - want_cols.keys():
        problems.append(f"unexpected column {column}")
    for column in want_cols.keys() & got_cols.keys():
        if want_cols[column] != got_cols[column]:
            problems.append(f"column {column} is {got_cols[column]!r}, expected {want_cols[column]!r}")
    for constraint in sorted(want_shape.constraints - got_shape.constraints):
        problems.append(f"constraint missing: {constraint}")
    for constraint in sorted(got_shape.constraints - want_shape.constraints):
        problems.append(f"unexpected constraint: {constraint}")
    if want_shape.properties != got_shape.properties:
        problems.append(f"table options {sorted(got_shape.properties)}, "
                        f"expected {sorted(want_shape.properties)}")
    return problems


@dataclass(frozen=True)
class CheckConstraint:
    table: str
    columns: tuple[str, ...]
    """The columns the condition reads, in order of first mention."""
    condition: str


def check_constraints(ddl: Iterable[str], dialect: str = "sqlite") -> list[CheckConstraint]:
    """Every CHECK constraint of the CREATE TABLE statements in ``ddl``, column and table
    constraints alike."""
    found: list[CheckConstraint] = []
    for statement in ddl:
        tree = _try_parse(statement, dialect)
        if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
            continue
        table = tree.find(exp.Table)
        assert table is not None
        for check in tree.find_all(exp.CheckColumnConstraint):
            columns = [column.name for column in check.find_all(exp.Column)]
            owner = check.parent.parent if isinstance(check.parent, exp.ColumnConstraint) else None
            if isinstance(owner, exp.ColumnDef):
                columns.insert(0, owner.name)
            found.append(CheckConstraint(table.name, tuple(dict.fromkeys(columns)),
                                         check.this.sql(dialect)))
    return found
