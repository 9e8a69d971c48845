"""Data export and import (the seed's "data export/import"): every value spelled as the spec
spells it, every refused import leaving the store empty, and an import only into an empty
store.  The ``model`` check compares exports with the model's and round-trips them through
an empty store."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import (
    Conflict,
    ConstraintKind,
    ConstraintViolation,
    StoreError,
    ValidationError,
)
from storecheck.conformance.hostile_arguments import check_operation
from storecheck.conformance.specs.extraction import (
    SPEC,
    ExtractionStore,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
    NewStateChange,
    ProcessSession,
    SessionTotals,
)
from storecheck.conformance.specs.extraction_export import export_lines
from storecheck.conformance.specs.extraction_inputs import parse_export
from storecheck.fixtures.extraction import BINARY_LOOKING, MOJIBAKE, T0
from storecheck.fixtures.values import AWKWARD_STRINGS, INJECTION_STRINGS

HOSTILE = (*AWKWARD_STRINGS, *INJECTION_STRINGS, *MOJIBAKE, *BINARY_LOOKING,
           "line\u2028separator\u2029paragraph\u0085next", "quote \" back \\ slash",
           "{\"looks\": \"like json\"}")
INSTANTS = (datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
            T0, datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
ROWS_BEFORE_THE_BAD_ONE = 600


def _hostile_world(store: Any) -> None:
    """Sessions, state changes, events and code blocks whose every text field holds a
    hostile value, at the first and last instants, with flags and empty optionals."""
    for n, text in enumerate(HOSTILE):
        at = INSTANTS[n % len(INSTANTS)]
        session_id = f"s{n}-{text}"
        store.create_session(NewProcessSession(f"agent {text}", session_id, at, text, text,
                                               None, text, text))
        store.record_state_change(NewStateChange(session_id, at, "running", -n,
                                                 json.dumps({"note": text})))
        store.save_event(NewExtractionEvent(f"agent {text}", session_id, at, f"type {text}",
                                            f"pattern {text}", text, text, n + 1,
                                            json.dumps([text]), text, "high", n % 2 == 0))
        store.save_code_block(NewCodeBlock(f"agent {text}", session_id, at, f"{n}: {text}",
                                           text, 1, n + 1, json.dumps({"k": text}), n % 3 == 0))
        if n % 2:
            store.complete_session(session_id, n, at, SessionTotals(n, 2 * n, 3 * n))


def _export(store: Any) -> bytes:
    data = store.export_data()
    expect(isinstance(data, bytes), SPEC, "export_data", "bytes", type(data).__name__)
    return bytes(data)


@pytest.mark.badinput
@pytest.mark.operation("export_data")
def test_an_export_spells_every_value_as_the_spec_does(store: Any) -> None:
    """Hostile text in every field (NUL, U+2028, quotes, mis-encoded text), instants in years
    1 and 9999: the export parses, holds what the reads return, and is the spec's own
    rendering of its rows byte for byte."""
    expect(_export(store) == b"", SPEC, "export_data", "nothing from an empty store")
    _hostile_world(store)
    data = _export(store)
    rows = parse_export(data)
    expect(export_lines(rows) == data, SPEC, "export_data", "every line spelled as the spec "
           "renders its row (keys in the record's order, no spaces, U+2028 escaped)",
           data[:300])
    sessions = [row for row in rows if isinstance(row, ProcessSession)]
    expect(len(sessions) == len(HOSTILE), SPEC, "export_data", f"{len(HOSTILE)} sessions",
           len(sessions))
    for session in sessions:
        expect(store.get_session(session.session_id) == session, SPEC, "export_data",
               "each session as get_session reads it", session)
        held = {*store.state_changes(session.session_id),
                *store.events_by_session(session.session_id),
                *store.code_blocks(session.agent_name, None, 1000)}
        exported = {row for row in rows if getattr(row, "session_id", None) == session.session_id
                    and row is not session}
        expect(held == exported, SPEC, "export_data", "each session's state changes, events "
               "and code blocks as the reads return them", sorted(map(repr, held ^ exported))[:3])


@contextmanager
def _other_store(backend: Any, workdir: Path) -> Iterator[Any]:
    """A store of the backend under test at a location of its own, discarded afterwards."""
    location = backend.backend.new_location(SPEC, workdir / uuid.uuid4().hex)
    other = backend.backend.open(SPEC, location)
    try:
        yield other
    finally:
        other.close()
        backend.backend.discard(location)


def _good_export(backend: Any, workdir: Path) -> bytes:
    """An export of many rows (sessions with their changes, events, blocks) from a store of
    the backend under test."""
    with _other_store(backend, workdir) as source:
        for n in range(ROWS_BEFORE_THE_BAD_ONE // 4):
            session_id = f"sess-{n}"
            source.create_session(NewProcessSession("codex", session_id, T0))
            source.save_event(NewExtractionEvent("codex", session_id, T0, "error", "panic",
                                                 f"{n}"))
            source.save_code_block(NewCodeBlock("codex", session_id, T0, f"block {n}"))
        return _export(source)


def _line(table: str, **fields: Any) -> bytes:
    return (json.dumps({"table": table, **fields}, separators=(",", ":"), ensure_ascii=False)
            + "\n").encode()


def _session(n: int, **changes: Any) -> dict[str, Any]:
    fields = {"id": n, "agent_name": "codex", "session_id": f"late-{n}",
              "started_at": "2026-02-10T10:30:00.000000Z", "environment": None,
              "ended_at": None, "exit_code": None, "total_lines_processed": 0,
              "total_extraction_events": 0, "total_feedback_outcomes": 0,
              "stdout_log_path": None, "stderr_log_path": None,
              "extraction_config_version": None, "environment_config_version": None}
    return {**fields, **changes}


BAD_LINES: dict[str, bytes] = {
    "not JSON": b"{\"table\": \"process_sessions\",\n",
    "an array": b"[1, 2]\n",
    "an unknown table": _line("sessions", **_session(9_000)),
    "a missing field": _line("process_sessions", **{
        k: v for k, v in _session(9_000).items() if k != "exit_code"}),
    "an unknown field": _line("process_sessions", **_session(9_000, color="red")),
    "a field twice": b"{\"table\":\"process_sessions\",\"id\":9000,\"id\":9001}\n",
    "an id as text": _line("process_sessions", **_session(9_000, id="9000")),
    "a total as a float": _line("process_sessions", **_session(9_000, total_lines_processed=1.0)),
    "an id past 64 bits": _line("process_sessions", **_session(2**63)),
    "an instant without microseconds": _line("process_sessions", **_session(
        9_000, started_at="2026-02-10T10:30:00Z")),
    "an instant with an offset": _line("process_sessions", **_session(
        9_000, started_at="2026-02-10T10:30:00.000000+01:00")),
    "a flag of 2": _line("code_blocks", id=9_000, agent_name="codex", session_id="s",
                         timestamp="2026-02-10T10:30:00.000000Z", content="x",
                         digest="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
                         language=None, line_start=None, line_end=None, context_json=None,
                         parseable=2),
    "a digest that is not its content's": _line(
        "code_blocks", id=9_000, agent_name="codex", session_id="s",
        timestamp="2026-02-10T10:30:00.000000Z", content="y",
        digest="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        language=None, line_start=None, line_end=None, context_json=None, parseable=None),
    "JSON text that does not parse": _line(
        "process_state_changes", id=9_000, session_id="sess-0",
        timestamp="2026-02-10T10:30:00.000000Z", state="running", exit_code=None,
        metadata_json="{not json"),
    "no line feed at the end": _line("process_sessions", **_session(9_000)).rstrip(b"\n"),
    "a byte that is not UTF-8": _line("process_sessions", **_session(
        9_000, environment="caf\u00e9")).replace(b"\xc3\xa9", b"\xe9"),
}
"""A line appended to a good export, each refused as a ValidationError."""

STORAGE_BREAKS: dict[str, tuple[bytes, ConstraintKind]] = {
    "an empty agent name": (_line("process_sessions", **_session(9_000, agent_name="")),
                            ConstraintKind.CHECK),
    "negative totals": (_line("process_sessions", **_session(9_000, total_lines_processed=-1)),
                        ConstraintKind.CHECK),
    "a session id held by another row": (
        _line("process_sessions", **_session(9_000, session_id="sess-0")), ConstraintKind.UNIQUE),
    "an id held by another row": (_line("process_sessions", **_session(1)),
                                  ConstraintKind.UNIQUE),
    "a state change of a session the data lacks": (_line(
        "process_state_changes", id=9_000, session_id="nowhere",
        timestamp="2026-02-10T10:30:00.000000Z", state="running", exit_code=None,
        metadata_json=None), ConstraintKind.FOREIGN_KEY),
}
"""A line appended to a good export, sound as a line but breaking a storage rule."""


def _refused_leaves_it_empty(store: Any, data: bytes, error: type[StoreError],
                             what: str) -> StoreError | None:
    found = expect_error(SPEC, "import_data", partial(store.import_data, data), error)
    expect(_export(store) == b"", SPEC, "import_data",
           f"nothing stored by the refused import of {what}")
    return found


@pytest.mark.badinput
@pytest.mark.operation("import_data")
@pytest.mark.parametrize("bad", list(BAD_LINES), ids=list(BAD_LINES))
def test_an_import_with_a_bad_line_is_refused_whole(store: Any, backend: Any, tmp_path: Path,
                                                     bad: str) -> None:
    """The bad line after 600 good ones: a store that stored lines as it read them kept
    those."""
    good = _good_export(backend, tmp_path)
    _refused_leaves_it_empty(store, good + BAD_LINES[bad], ValidationError, f"{bad}")
    store.import_data(good)
    expect(_export(store) == good, SPEC, "import_data", "the good export, imported after the "
           "refusal, exported again unchanged")


@pytest.mark.acid
@pytest.mark.operation("import_data")
@pytest.mark.parametrize("bad", list(STORAGE_BREAKS), ids=list(STORAGE_BREAKS))
def test_an_import_breaking_a_storage_rule_stores_none_of_its_rows(
        store: Any, backend: Any, tmp_path: Path, bad: str) -> None:
    good = _good_export(backend, tmp_path)
    line, kind = STORAGE_BREAKS[bad]
    error = _refused_leaves_it_empty(store, good + line, ConstraintViolation, bad)
    expect(isinstance(error, ConstraintViolation) and error.kind is kind, SPEC, "import_data",
           f"ConstraintViolation({kind.name}) for {bad}", error)


@pytest.mark.badinput
@pytest.mark.operation("import_data")
def test_an_import_goes_only_into_an_empty_store(store: Any, backend: Any,
                                                 tmp_path: Path) -> None:
    """A store holding one session refuses an import (Conflict) and keeps what it held; the
    lines of an export in reverse order import as the export did."""
    good = _good_export(backend, tmp_path)
    store.create_session(NewProcessSession("claude", "mine", T0))
    before = _export(store)
    expect_error(SPEC, "import_data", partial(store.import_data, good), Conflict)
    expect(_export(store) == before, SPEC, "import_data", "the store's own rows, unchanged")
    reversed_order = b"".join(reversed(good.splitlines(keepends=True)))
    with _other_store(backend, tmp_path) as fresh:
        counts = fresh.import_data(reversed_order)
        expect(_export(fresh) == good, SPEC, "import_data", "the export's rows, whatever the "
               "order of its lines", counts)


@pytest.mark.badinput
@pytest.mark.operation("import_data")
def test_no_raw_exception_from_any_import_argument(store: Any, backend: Any,
                                                   tmp_path: Path) -> None:
    """The import's argument of the wrong kind, on a store it has filled: ValidationError
    before the Conflict an import into a full store meets."""
    good = _good_export(backend, tmp_path)
    check_operation(SPEC, store, ExtractionStore, "import_data", lambda n: {"data": good},
                    _export)
