"""``badinput``: the spec's error or the value verbatim; nothing stored before changes.

This store's own hostile input: the seed's mis-encoded text, 1 MB and binary-looking
code blocks, content whose digest a caller cannot choose, line numbers and risk
levels outside the schema's rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from storecheck.conformance.checks import expect, expect_error
from storecheck.conformance.errors import ConstraintKind, ConstraintViolation, ValidationError
from storecheck.conformance.hostile_arguments import ValidCall, check_operation, swept_operations
from storecheck.conformance.specs.extraction import (
    SPEC,
    EventCursor,
    EventFilter,
    ExtractionStore,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
    NewStateChange,
    ProcessSession,
    ProcessSessionUpdate,
    SessionTotals,
    StateChange,
    content_digest,
)
from storecheck.conformance.specs.extraction_export import export_lines
from storecheck.conformance.specs.text_search import matches
from storecheck.fixtures.extraction import BINARY_LOOKING, MOJIBAKE, T0, ExtractionFactory
from storecheck.fixtures.values import AWKWARD_STRINGS, INJECTION_STRINGS, hostile_text

pytestmark = pytest.mark.badinput
MEGABYTE = "\u00c3\u00a9" * (1024 * 1024 // 4) + "\n"
"""A 1 MB (UTF-8) code block of the seed's mis-encoded characters."""


def _seeded(store: Any) -> Any:
    factory = ExtractionFactory(seed=31)
    store.create_session(factory.session("codex", session_id="base"))
    store.save_events([factory.event("codex", "base") for _ in range(3)])
    store.save_code_block(factory.code_block("codex", "base"))
    return _everything(store)


def _everything(store: Any) -> Any:
    return (store.events_by_session("base"), store.code_blocks("codex", None, 100),
            store.sessions_by_agent("codex", 100), store.state_changes("base"))


def _event(**overrides: Any) -> NewExtractionEvent:
    return replace(NewExtractionEvent("codex", "base", T0, "error", "error_detection"),
                   **overrides)


def _block(**overrides: Any) -> NewCodeBlock:
    return replace(NewCodeBlock("codex", "base", T0, "print(2)"), **overrides)


CHECK_VIOLATIONS: dict[str, Callable[[Any], Any]] = {
    "negative-line-number": lambda s: s.save_event(_event(line_number=-1)),
    "line-number-zero": lambda s: s.save_event(_event(line_number=0)),
    "unknown-risk-level": lambda s: s.save_event(_event(risk_level="severe")),
    "risk-level-other-case": lambda s: s.save_event(_event(risk_level="High")),
    "empty-agent": lambda s: s.save_event(_event(agent_name="")),
    "empty-event-type": lambda s: s.save_event(_event(event_type="")),
    "batch-with-empty-session": lambda s: s.save_events([_event(), _event(session_id="")]),
    "block-line-start-zero": lambda s: s.save_code_block(_block(line_start=0)),
    "block-ends-before-start": lambda s: s.save_code_block(_block(line_start=5, line_end=4)),
    "block-empty-session": lambda s: s.save_code_block(_block(session_id="")),
    "session-empty-id": lambda s: s.create_session(NewProcessSession("codex", "", T0)),
    "session-empty-agent": lambda s: s.create_session(NewProcessSession("", "x", T0)),
    "unknown-state": lambda s: s.record_state_change(NewStateChange("base", T0, "crashed")),
    "state-other-case": lambda s: s.record_state_change(NewStateChange("base", T0, "Running")),
    "negative-final-totals": lambda s: s.complete_session("base", 0, T0, SessionTotals(1, -1, 0)),
}


@pytest.mark.parametrize("call", CHECK_VIOLATIONS.values(), ids=CHECK_VIOLATIONS.keys())
@pytest.mark.operation("schema rules")
def test_schema_rules_refuse_bad_values(store: Any, call: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "schema rules", lambda: call(store), ConstraintViolation,
                 ConstraintKind.CHECK)
    expect(_everything(store) == before, SPEC, "schema rules", "nothing stored changed")


VALIDATION_ERRORS: dict[str, Callable[[Any], Any]] = {
    "naive-timestamp": lambda s: s.save_event(_event(timestamp=datetime(2026, 2, 10))),
    "metadata-not-json": lambda s: s.save_event(_event(metadata_json="{oops")),
    "metadata-nan": lambda s: s.save_event(_event(metadata_json='{"c": NaN}')),
    "line-number-as-text": lambda s: s.save_event(_event(line_number=cast(Any, "12"))),
    "auto-confirmable-as-int": lambda s: s.save_event(_event(auto_confirmable=cast(Any, 1))),
    "batch-as-one-event": lambda s: s.save_events(cast(Any, _event())),
    "context-not-json": lambda s: s.save_code_block(_block(context_json="NaN")),
    "block-with-a-digest": lambda s: s.save_code_block(cast(Any, {
        "content": "print(2)", "digest": "0" * 64})),
    "surrogate-content": lambda s: s.save_code_block(_block(content="\ud800")),
    "limit-zero": lambda s: s.events_by_agent("codex", 0),
    "limit-above-1000": lambda s: s.code_blocks("codex", None, 1001),
    "negative-days": lambda s: s.session_history("codex", -1, T0),
    "speed-zero": lambda s: s.replay("base", 0),
    "speed-nan": lambda s: s.replay("base", float("nan")),
    "speed-above-100": lambda s: s.replay("base", 100.01),
    "addition-negative": lambda s: s.record_progress("base", -1, 0, 0),
    "addition-beyond-int32": lambda s: s.record_progress("base", 2**31, 0, 0),
    "naive-completion": lambda s: s.complete_session("base", 0, datetime(2026, 2, 10)),
    "update-as-mapping": lambda s: s.update_session("base", cast(Any, {"environment": "x"})),
}


@pytest.mark.parametrize("call", VALIDATION_ERRORS.values(), ids=VALIDATION_ERRORS.keys())
@pytest.mark.operation("input validation")
def test_invalid_arguments_raise_validation_error(store: Any, call: Any) -> None:
    before = _seeded(store)
    expect_error(SPEC, "input validation", lambda: call(store), ValidationError)
    expect(_everything(store) == before, SPEC, "input validation", "nothing stored changed")


@pytest.mark.operation("save_code_block")
def test_code_blocks_of_any_size_and_bytes_are_stored_verbatim_under_their_own_digest(
    store: Any,
) -> None:
    """1 MB, binary-looking, mis-encoded and near-duplicate content: each stored once, read
    back verbatim, under the SHA-256 of its UTF-8 bytes, whatever the caller believes."""
    contents = (MEGABYTE, MEGABYTE[:-1], *BINARY_LOOKING, *MOJIBAKE, "print(1)", "print(1) ",
                "print(1)\r\n", "\u00e9", "e\u0301", "\x00", *AWKWARD_STRINGS)
    seen: dict[str, int] = {}
    for n, content in enumerate(contents):
        saved = store.save_code_block(_block(content=content, timestamp=T0 + timedelta(
            microseconds=n), session_id=f"s{n}"))
        digest = content_digest(content)
        expect(saved.block.digest == digest and saved.block.content == content, SPEC,
               "save_code_block", f"content {n} verbatim under the SHA-256 of its UTF-8 bytes",
               (saved.block.digest, len(saved.block.content)))
        expect(saved.created == (digest not in seen), SPEC, "save_code_block",
               f"content {n} stored once: a new block only for new content", saved.created)
        seen.setdefault(digest, saved.block.id)
        expect(saved.block.id == seen[digest], SPEC, "save_code_block",
               "the stored block's id for content already held", saved.block.id)
    stored = {block.digest: block for block in store.code_blocks("codex", None, 1000)}
    expect(set(stored) == set(seen), SPEC, "code_blocks", f"{len(seen)} distinct blocks",
           len(stored))
    for digest, block in stored.items():
        expect(content_digest(block.content) == digest, SPEC, "code_blocks",
               "every stored digest to be its content's", block.id)


@pytest.mark.operation("save_event")
def test_mis_encoded_and_binary_looking_text_is_stored_verbatim(store: Any) -> None:
    """Text is never repaired, normalised, trimmed or re-encoded, in any field."""
    _seeded(store)
    for n, text in enumerate((*MOJIBAKE, *BINARY_LOOKING, *AWKWARD_STRINGS, *INJECTION_STRINGS)):
        event = store.save_event(_event(matched_value=text, original_line=text, pattern=text or "p",
                                        session_id=f"t{n}", code_block_language=text))
        (stored,) = store.events_by_session(f"t{n}")
        expect(stored == event and (stored.matched_value, stored.original_line,
                                    stored.code_block_language) == (text, text, text),
               SPEC, "save_event", f"text {n} back verbatim in every field", stored)
    session = store.create_session(NewProcessSession(
        "codex", MOJIBAKE[0], T0, MOJIBAKE[1], BINARY_LOOKING[0], MOJIBAKE[2], MOJIBAKE[3],
        MOJIBAKE[4]))
    expect(store.get_session(MOJIBAKE[0]) == session
           and session.environment == MOJIBAKE[1], SPEC, "create_session",
           "session fields verbatim", session)


@pytest.mark.operation("update_session")
def test_a_partial_update_changes_only_what_it_names(store: Any) -> None:
    _seeded(store)
    before = store.get_session("base")
    after = store.update_session("base", ProcessSessionUpdate(stderr_log_path="/logs/e"))
    expect(after == replace(before, stderr_log_path="/logs/e"), SPEC, "update_session",
           "only stderr_log_path changed", after)


LONG_TOKEN_LENGTHS = (500, 501, 2047, 3000, 70_000)
"""Around the limits full-text engines put on one indexed word (PostgreSQL: 2,046 bytes;
SQLite's FTS5 keeps a token's first 32 KiB)."""
WIDE_TOKEN_CHARACTERS = 8_192
"""Characters of four UTF-8 bytes that fill 32 KiB: the longest token FTS5 keeps whole."""


@pytest.mark.operation("search_events")
def test_tokens_of_any_length_are_searched_whole(store: Any) -> None:
    """A token is the whole run, however long: found by any prefix, and only by prefixes,
    in the matched value and in the original line alike."""
    _seeded(store)
    for length in LONG_TOKEN_LENGTHS:
        token = "a" * (length - 1) + "b"
        for field in ("matched_value", "original_line"):
            session_id = f"long-{length}-{field}"
            event = store.save_event(_event(session_id=session_id, **{field: f"x {token} y"}))
            for query, found in ((token, True), (token[:-1], True), (token[:600], True),
                                 ("a" * length, False), (token + "c", False),
                                 ("\u00e9" * length, False)):
                hits = store.search_events(query, EventFilter(event_type="error"), 1000)
                got = event in hits
                expect(got == found, SPEC, "search_events",
                       f"the event with a {length}-character token in its {field} "
                       f"{'found' if found else 'not found'} by a {len(query)}-character "
                       "query token", [e.id for e in hits])
    # Four bytes a character: an index that keeps a token's first 32 KiB keeps 8,192 of
    # them, and a query token one character longer must be checked whole.
    wide = "\U0001f600" * WIDE_TOKEN_CHARACTERS + "b"
    event = store.save_event(_event(session_id="long-wide", matched_value=wide))
    for query, found in ((wide, True), (wide[:-1], True), ("\U0001f600" * len(wide), False)):
        hits = store.search_events(query, EventFilter(event_type="error"), 1000)
        expect((event in hits) == found, SPEC, "search_events",
               f"the event with a {len(wide)}-character token of four-byte characters "
               f"{'found' if found else 'not found'} by a {len(query)}-character query token",
               [e.id for e in hits])


FTS_QUERY_SYNTAX = ('"unclosed', "a AND", "NOT b", "NEAR(a b)", "matched_value:x", "^start",
                    "a*", "-x", "(a", "+", "{original_line}: y", "OR")
"""What a full-text engine's query language would read as operators, columns and groups:
under the spec's rule each is plain text, its tokens searched like any other."""


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=20)
@given(text=hostile_text(min_size=1),
       probe=st.sampled_from(INJECTION_STRINGS + AWKWARD_STRINGS + FTS_QUERY_SYNTAX))
@pytest.mark.operation("save_events")
def test_hostile_text_in_every_key_and_query(
    backend: Any, open_store: Any, tmp_path_factory: pytest.TempPathFactory, text: str,
    probe: str,
) -> None:
    """Hostile text as agent, session, type, pattern and content: stored and found by each
    query, the full-text search with hostile queries among them."""
    store = open_store(location=backend.backend.new_location(SPEC, tmp_path_factory.mktemp("h")))
    _seeded(store)
    event = store.save_event(_event(agent_name=text, session_id=text, event_type=text,
                                    pattern=text, matched_value=text, original_line=probe))
    for query in (text, probe, f"{probe} {text}", text.upper(), f'"{probe}'):
        found = store.search_events(query, EventFilter(text), 10)
        wanted = [event] if matches(query, f"{text}\n{probe}") else []
        expect(found == wanted, SPEC, "search_events",
               f"the hostile event found exactly when the rule says so, searched for {query!r}",
               found)
    for operation, found in (
        ("events_by_agent", store.events_by_agent(text, 10)),
        ("events_by_type", store.events_by_type(text, text, 10)),
        ("events_by_pattern", store.events_by_pattern(text, text, 10)),
        ("events_by_session", store.events_by_session(text)),
        ("timeline", store.timeline(text, T0, T0 + timedelta(microseconds=1))),
    ):
        expect(found == [event], SPEC, operation, "the one hostile event, verbatim", found)
    stats = store.pattern_stats(text)
    expect(stats.events_by_agent == {text: 1} and stats.events_by_type == {text: 1}, SPEC,
           "pattern_stats", "counted under its own keys", stats)
    store.close()


def valid_calls(store: Any) -> tuple[dict[str, ValidCall], Callable[[Any], Any]]:
    """A call of each operation that succeeds, fresh ids from ``n``, every optional argument
    given; and what a refused call must leave unchanged."""
    factory = ExtractionFactory(seed=37)
    _seeded(store)
    later = T0 + timedelta(seconds=1)
    fresh = itertools.count()

    def session(n: int) -> str:
        session_id = f"fresh-{next(fresh)}"
        store.create_session(NewProcessSession("codex", session_id, T0))
        return session_id

    def state(store: Any) -> Any:
        return (store.sessions_by_agent("codex", 1000), store.code_blocks("codex", None, 1000),
                store.events_by_agent("codex", 1000))

    event = factory.event("codex", "base", code_block_language="python")
    newest = store.events_by_agent("codex", 1)[0]
    return {
        "save_event": lambda n: {"new": event},
        "save_events": lambda n: {"batch": [event, factory.event("codex", "base")]},
        "events_by_agent": lambda n: {"agent_name": "codex", "limit": 10},
        "events_by_type": lambda n: {"agent_name": "codex", "event_type": "error", "limit": 10},
        "events_by_risk": lambda n: {"agent_name": "codex", "risk_level": "high", "limit": 10},
        "events_by_pattern": lambda n: {"agent_name": "codex", "pattern": "file_write",
                                        "limit": 10},
        "query_events": lambda n: {"where": EventFilter("codex", "error", "file_write", "high"),
                                   "limit": 10, "after": EventCursor(newest.timestamp,
                                                                     newest.id)},
        "search_events": lambda n: {"text": "TypeError main", "where": EventFilter(
            "codex", "error", "file_write", "high"), "limit": 10},
        "events_by_session": lambda n: {"session_id": "base"},
        "agent_stats": lambda n: {"agent_name": "codex"},
        "pattern_stats": lambda n: {"pattern": "file_write"},
        "timeline": lambda n: {"agent_name": "codex", "start": T0, "end": later},
        "save_code_block": lambda n: {"new": factory.code_block(
            "codex", "base", content=f"block {n}", parseable=False)},
        "code_blocks": lambda n: {"agent_name": "codex", "language": "python", "limit": 10},
        "create_session": lambda n: {"new": factory.session(
            "codex", session_id=f"new-{n}", stderr_log_path="/e",
            environment_config_version="e1", environment="dev")},
        "update_session": lambda n: {"session_id": "base", "update": ProcessSessionUpdate(
            "prod", "/o", "/e", "v4", "e2")},
        "record_progress": lambda n: {"session_id": "base", "lines_processed": 3,
                                      "extraction_events": 2, "feedback_outcomes": 1},
        "complete_session": lambda n: {"session_id": session(n), "exit_code": 0, "at": later,
                                       "totals": SessionTotals(3, 2, 1)},
        "get_session": lambda n: {"session_id": "base"},
        "sessions_by_agent": lambda n: {"agent_name": "codex", "limit": 10},
        "session_history": lambda n: {"agent_name": "codex", "days": 7, "now": later},
        "record_state_change": lambda n: {"new": NewStateChange("base", later, "running", 0,
                                                                '{"pid": 7}')},
        "state_changes": lambda n: {"session_id": "base"},
        "replay": lambda n: {"session_id": "base", "speed": 2.0, "start": T0},
        "purge_sessions": lambda n: {"ended_before": T0},
        "vacuum": lambda n: {},
    }, state


EMPTY_STORE_CALLS: dict[str, ValidCall] = {
    "import_data": lambda n: {"data": export_lines([
        ProcessSession(n, "codex", f"imported-{n}", T0, None, None, None, 0, 0, 0, None, None,
                       None, None),
        StateChange(n, f"imported-{n}", T0, "started", None, None)])},
}
"""Valid calls that need a store holding nothing (an import goes only into an empty one)."""


@pytest.mark.parametrize("operation", [
    # import_data is swept on the empty store it needs (test_export.py).
    param for param in swept_operations(ExtractionStore) if param.values != ("import_data",)])
def test_no_raw_exception_from_any_argument(store: Any, operation: str) -> None:
    """Each argument and record field at its extremes and of the wrong kind, one at a time."""
    calls, state = valid_calls(store)
    check_operation(SPEC, store, ExtractionStore, operation, calls[operation], state)
