"""``model``: random operation sequences against the extraction model, every result compared.

The pools are small on purpose: four agents, four session ids, four patterns, a
few instants a microsecond apart at any offset, and a few code contents, so
that queries have ties, windows end on events, content is saved twice, and
sessions are created twice, completed twice and purged with their children.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from storecheck.conformance import reach
from storecheck.conformance.checks import SpecMismatch, every_page
from storecheck.conformance.errors import NotFound, StoreError
from storecheck.conformance.specs import extraction as spec_module
from storecheck.conformance.specs.extraction import (
    RISK_LEVELS,
    SPEC,
    STORE_ASSIGNED_IDS,
    EventCursor,
    EventFilter,
    NewCodeBlock,
    NewExtractionEvent,
    NewProcessSession,
    NewStateChange,
    ProcessSessionUpdate,
    SessionTotals,
)
from storecheck.conformance.specs.extraction_inputs import parse_export
from storecheck.conformance.specs.text_search import matches, tokens
from storecheck.conformance.stateful import ComparingMachine, after_changes, run_machine
from storecheck.fixtures.extraction import (
    AGENTS,
    EVENT_TYPES,
    LANGUAGES,
    MICRO,
    PATTERNS,
    SESSIONS,
    T0,
    additions,
    code_blocks,
    events,
    exit_codes,
    few_times,
    new_sessions,
    search_texts,
    session_totals,
    session_updates,
    speeds,
    state_changes,
)
from storecheck.fixtures.values import OFFSETS_MINUTES, in_offset
from storecheck.reference_impl.memory.extraction import MemoryExtraction

pytestmark = pytest.mark.model
agents = st.sampled_from((*AGENTS, ""))
session_ids = st.sampled_from((*SESSIONS, "sess_nobody"))
limits = st.integers(1, 3) | st.sampled_from((0, 1000, 1001))
filters = st.builds(EventFilter, st.none() | agents,
                    st.none() | st.sampled_from((*EVENT_TYPES, "")),
                    st.none() | st.sampled_from((*PATTERNS, "")),
                    st.none() | st.sampled_from((*RISK_LEVELS, "High", "")))


SITUATIONS = (
    *reach.derived(spec_module, compared={
        "session_history": ("now - days", lambda a: a["now"] - timedelta(days=a["days"]))}),
    *(reach.tie(operation, "timestamp") for operation in (
        "events_by_agent", "events_by_type", "events_by_pattern", "events_by_risk",
        "events_by_session",
        "timeline", "code_blocks", "state_changes")),
    *(reach.tie(operation, "started_at")
      for operation in ("sessions_by_agent", "session_history", "active_sessions")),
    reach.tie("query_events", "timestamp", within=lambda page: page.items),
    reach.tie("search_events", "timestamp"),
    reach.sometimes("search_events: a hit by words of its value and its line together",
                    "search_events", lambda c: c.succeeded and any(
                        len(tokens(c.arguments["text"])) > 1 and not matches(
                            c.arguments["text"], e.matched_value or "") and not matches(
                            c.arguments["text"], e.original_line or "") for e in c.result)),
    reach.tie_across_pages("query_events", "timestamp", items=lambda page: page.items),
    reach.sometimes("query_events: a filter naming every field", "query_events",
                    lambda c: None not in dataclasses.astuple(c.arguments["where"])),
    reach.sometimes("query_events: a page that is not the first and not the last",
                    "query_events", lambda c: c.succeeded and c.arguments.get("after") is not None
                    and c.result.next_cursor is not None),
    reach.sometimes("replay: two events at one instant (a zero delay after the first)",
                    "replay", lambda c: c.succeeded and any(
                        not step.delay for step in c.result[1:])),
    reach.sometimes("replay: a delay of an odd number of half microseconds (halves to even)",
                    "replay", lambda c: c.succeeded and any(
                        _exact_delay(before, after, c.arguments["speed"]).denominator == 2
                        for before, after in zip(c.result, c.result[1:], strict=False))),
    reach.sometimes("replay: skipped to an event's own instant", "replay",
                    lambda c: c.succeeded and c.arguments.get("start") is not None
                    and bool(c.result) and c.result[0].event.timestamp == c.arguments["start"]),
    reach.sometimes("save_code_block: content already stored (the stored block back)",
                    "save_code_block", lambda c: c.succeeded and not c.result.created),
)
"""Beyond what the spec module tells (:func:`reach.derived`): a window starting at
``now - days``, every order's ties, the replay's zero and half-microsecond delays, a
deduplicated block."""


def _exact_delay(before: Any, after: Any, speed: float) -> Fraction:
    gap = after.event.timestamp - before.event.timestamp
    return Fraction(gap // timedelta(microseconds=1)) / Fraction(speed)


def build_machine(backend: Any, workdir: Path) -> type[ComparingMachine]:
    class ExtractionMachine(ComparingMachine):
        spec = SPEC
        assigned = STORE_ASSIGNED_IDS
        make_model = MemoryExtraction

        @initialize()
        def start(self) -> None:
            """Two sessions started at one instant (ids break the tie), one completed, with
            events a microsecond apart and a code block, so that every query, the replay and
            retention have rows to work on in every example."""
            for agent, session_id in (("codex", "sess_abc123"), ("codex", "sess_def456")):
                self.both("create_session", partial(
                    _create, new=NewProcessSession(agent, session_id, T0, "dev")))
            batch = [NewExtractionEvent("codex", "sess_abc123", T0 + step * MICRO, "error",
                                        "error_detection", risk_level="high")
                     for step in (0, 1, 1, 999, 1_999_999)]
            self.both("save_events", lambda s, _: s.save_events(batch))
            for content in ("print(1)", "fmt.Println(1)"):
                self.both("save_code_block", partial(
                    _save_block, new=NewCodeBlock("codex", "sess_abc123", T0, content, "python")))
            # The older content again, from another session: the first block, not the
            # newest, is what comes back.
            self.both("save_code_block", partial(_save_block, new=NewCodeBlock(
                "codex", "sess_def456", T0 + MICRO, "print(1)", "python")))
            # Completed after every instant a purge is drawn with: it keeps its rows.
            self.both("complete_session", lambda s, _: s.complete_session(
                "sess_abc123", 0, T0 + timedelta(days=2)))
            # Edges every example starts from, since a drawn rule may never reach them: a
            # second completion, a replay that is not at speed 1, an update naming one field.
            self.both("complete_session", lambda s, _: s.complete_session(
                "sess_abc123", 1, T0 + timedelta(days=3)))
            self.both("replay", lambda s, _: s.replay("sess_abc123", 4.0))
            # Skipping to the two events tied at T0 + 1us: from exactly there and a
            # microsecond either side (a microsecond later skips both).
            for edge in (-MICRO, timedelta(0), MICRO):
                self.both("replay", partial(_replay_from, start=T0 + MICRO + edge))
            self.both("update_session", lambda s, _: s.update_session(
                "sess_def456", ProcessSessionUpdate(extraction_config_version="v2")))
            # Windows that start exactly where both sessions started and a microsecond
            # earlier (they are in), and a microsecond later (they are out).
            for edge in (timedelta(0), -MICRO, MICRO):
                self.both("session_history", partial(
                    _codex_day, now=T0 + timedelta(days=1) + edge))
            # A third session started at the same instant, running beside sess_def456 (the
            # active list ties), and the batch's tied events by type and by pattern.
            self.both("create_session", partial(
                _create, new=NewProcessSession("codex", "sess_tied", T0, "dev")))
            self.both("active_sessions", lambda s, _: s.active_sessions())
            self.both("events_by_type", lambda s, _: s.events_by_type("codex", "error", 1000))
            self.both("events_by_risk", lambda s, _: s.events_by_risk("codex", "low", 1000))
            self.both("events_by_pattern",
                      lambda s, _: s.events_by_pattern("codex", "error_detection", 1000))
            # Every other write once, so that the rules doing each write again find one: an
            # event tied with the batch's first, progress, a state change, a purge of nothing.
            self.both("save_event", lambda s, _: s.save_event(NewExtractionEvent(
                "codex", "sess_def456", T0, "error", "error_detection", risk_level="low")))
            # A second low-risk event at the same instant (the level's list ties), and a
            # level in another case than the stored one, which finds nothing.
            self.both("save_event", lambda s, _: s.save_event(NewExtractionEvent(
                "codex", "sess_def456", T0, "warning", "error_detection", risk_level="low")))
            self.both("events_by_risk", lambda s, _: s.events_by_risk("codex", "low", 1000))
            self.both("events_by_risk", lambda s, _: s.events_by_risk("codex", "Low", 1000))
            self.both("record_progress", lambda s, _: s.record_progress("sess_def456", 3, 1, 0))
            self.both("record_state_change", lambda s, _: s.record_state_change(
                NewStateChange("sess_def456", T0, "paused")))
            self.both("state_changes", lambda s, _: s.state_changes("sess_def456"))
            # Windows whose ends fall on stored instants and a microsecond either side (the
            # first holds the two events at T0).
            for start, end in ((T0, T0 + MICRO), (T0 - MICRO, T0 + 2 * MICRO),
                               (T0 + MICRO, T0 + 998 * MICRO)):
                self.both("timeline", partial(_codex_window, start=start, end=end))
            # Every agent's events, and the batch's by every field, in pages of one to three:
            # pages of three end between the two events tied at T0 + 1us; a cursor a
            # microsecond either side of a stored event's place, and exactly on it.
            for where, limit in ((EventFilter(), 1), (EventFilter(), 2), (EventFilter(), 3),
                                 (EventFilter("codex", "error", "error_detection", "high"), 3)):
                self.both("query_events", partial(_every_query_page, where=where, limit=limit,
                                                  offset=-300))
            tied = self.model.events_by_type("codex", "error", 1000)[-2]
            for shift in (-MICRO, timedelta(0), MICRO):
                self.both("query_events", partial(self._query_after, where=EventFilter(),
                                                  limit=2, event=tied, shift=shift))
            self._search_edges()
            self.both("purge_sessions", lambda s, _: s.purge_sessions(T0))
            self.both("vacuum", lambda s, _: s.vacuum(), normalise=lambda report: None)
            # After the purge, so that the ids the export holds have gaps an import must keep.
            self.both("export_data", lambda s, _: s.export_data(), normalise=_exported_rows)
            self.both("import_data", partial(_round_trip, machine=self))

        def _search_edges(self) -> None:
            """Text in the value and in the line of one event, a non-ASCII letter in one case,
            and an event saved last at an older instant than the first's (by another agent, at
            a level codex's events have), then the searches
            that tell each rule from its near miss: words from both fields together, another
            ASCII case, an infix, an accent left off, a letter in another case, no tokens,
            a filter beside the text, newest first against saved last, and the word after an
            underscore (which separates tokens, as every ASCII character but letters and
            digits does)."""
            self.both("save_events", lambda s, _: s.save_events([
                NewExtractionEvent("codex", "sess_def456", T0 + MICRO, "error", "error_detection",
                                   matched_value="TypeError: Caf\u00e9 in load_config",
                                   original_line='  File "main.py", line 9'),
                NewExtractionEvent("claude", "sess_def456", T0 - MICRO, "file_op", "file_write",
                                   matched_value="\u00c9t\u00e9 main", risk_level="high")]))
            # Another agent's event at codex's level: an agent's list by level leaves it out.
            self.both("events_by_risk", lambda s, _: s.events_by_risk("codex", "high", 1000))
            for text, where, limit in (
                    ("typeerror MAIN", EventFilter(), 1000), ("main", EventFilter(), 1000),
                    ("main", EventFilter(), 1), ("rror", EventFilter(), 1000),
                    ("cafe", EventFilter(), 1000), ("\u00e9t\u00e9", EventFilter(), 1000),
                    ("\u00c9T", EventFilter(), 1000), ("", EventFilter("codex"), 1000),
                    ("!!", EventFilter(risk_level="low"), 1000), ("main", EventFilter("claude"), 1000),
                    ("LINE 9", EventFilter("codex", "error", "error_detection"), 1000),
                    ("config", EventFilter(), 1000), ("load_c", EventFilter(), 1000)):
                self.both("search_events", partial(_search, text=text, where=where, limit=limit))

        @rule(new=events)
        def save_event(self, new: NewExtractionEvent) -> None:
            self.both("save_event", lambda s, _: s.save_event(new))

        @rule(batch=st.lists(events, max_size=4))
        def save_events(self, batch: list[NewExtractionEvent]) -> None:
            self.both("save_events", lambda s, _: s.save_events(batch))

        @rule(agent=agents, limit=limits)
        def events_by_agent(self, agent: str, limit: int) -> None:
            self.both("events_by_agent", lambda s, _: s.events_by_agent(agent, limit))

        @rule(agent=agents, event_type=st.sampled_from((*EVENT_TYPES, "")), limit=limits)
        def events_by_type(self, agent: str, event_type: str, limit: int) -> None:
            self.both("events_by_type", lambda s, _: s.events_by_type(agent, event_type, limit))

        @rule(agent=agents, risk_level=st.sampled_from((*RISK_LEVELS, "High", "")),
              limit=limits)
        def events_by_risk(self, agent: str, risk_level: str, limit: int) -> None:
            self.both("events_by_risk", lambda s, _: s.events_by_risk(agent, risk_level, limit))

        @rule(agent=agents, pattern=st.sampled_from((*PATTERNS, "")), limit=limits)
        def events_by_pattern(self, agent: str, pattern: str, limit: int) -> None:
            self.both("events_by_pattern",
                      lambda s, _: s.events_by_pattern(agent, pattern, limit))

        @rule(where=filters, limit=limits, offset=st.sampled_from(OFFSETS_MINUTES))
        def query_events(self, where: EventFilter, limit: int, offset: int) -> None:
            """Every page; each cursor handed back at another UTC offset (the same instant)."""
            self.both("query_events", partial(_every_query_page, where=where, limit=limit,
                                              offset=offset))

        @rule(data=st.data(), where=filters, limit=limits,
              shift=st.sampled_from((-MICRO, timedelta(0), MICRO)))
        def query_after_a_held_event(self, data: st.DataObject, where: EventFilter, limit: int,
                                     shift: timedelta) -> None:
            """A cursor made from a held event's place, at its instant or a microsecond
            either side: the page after it holds only what is older in the order."""
            held = self.model.query_events(EventFilter(), 1000).items
            if held:
                event = data.draw(st.sampled_from(held), label="event of the cursor")
                self.both("query_events", partial(self._query_after, where=where, limit=limit,
                                                  event=event, shift=shift))

        def _query_after(self, store: Any, backend_side: bool, where: EventFilter, limit: int,
                         event: Any, shift: timedelta) -> Any:
            return store.query_events(where, limit, EventCursor(
                event.timestamp + shift, self.backend_id("event", event.id, backend_side)))

        @rule(text=search_texts, where=filters, limit=limits)
        def search_events(self, text: str, where: EventFilter, limit: int) -> None:
            self.both("search_events", partial(_search, text=text, where=where, limit=limit))

        @rule(data=st.data(), limit=limits)
        def search_what_an_event_holds(self, data: st.DataObject, limit: int) -> None:
            """A prefix of a word of a held event's value or line, in either case, with or
            without the event's own agent or type: a search that finds it and its likes."""
            held = [e for e in self.model.query_events(EventFilter(), 1000).items
                    if tokens(e.matched_value or "") or tokens(e.original_line or "")]
            if not held:
                return
            event = data.draw(st.sampled_from(held), label="event searched for")
            words = tokens(event.matched_value or "") + tokens(event.original_line or "")
            word = data.draw(st.sampled_from(words), label="word")
            prefix = word[:data.draw(st.integers(1, len(word)), label="prefix length")]
            text = data.draw(st.sampled_from((prefix, prefix.upper(), f"{prefix} {words[-1]}")),
                             label="text")
            where = data.draw(st.sampled_from((EventFilter(), EventFilter(event.agent_name),
                                               EventFilter(event_type=event.event_type))),
                              label="filter")
            self.both("search_events", partial(_search, text=text, where=where, limit=limit))

        @rule(session_id=session_ids)
        def events_by_session(self, session_id: str) -> None:
            self.both("events_by_session", lambda s, _: s.events_by_session(session_id))

        @rule(agent=agents)
        def agent_stats(self, agent: str) -> None:
            self.both("agent_stats", lambda s, _: s.agent_stats(agent))

        @rule(pattern=st.sampled_from((*PATTERNS, "", "nothing")))
        def pattern_stats(self, pattern: str) -> None:
            self.both("pattern_stats", lambda s, _: s.pattern_stats(pattern))

        @rule(agent=agents, start=few_times, end=few_times)
        def timeline(self, agent: str, start: datetime, end: datetime) -> None:
            self.both("timeline", lambda s, _: s.timeline(agent, start, end))

        @rule(data=st.data(), offset=st.sampled_from(OFFSETS_MINUTES))
        def timeline_ending_on_an_event(self, data: st.DataObject, offset: int) -> None:
            """A window that ends (or starts) exactly on a held event's instant."""
            held = [event for session_id in SESSIONS
                    for event in self.model.events_by_session(session_id)]
            if not held:
                return
            event = data.draw(st.sampled_from(held), label="event on the edge")
            edge = in_offset(event.timestamp, offset)
            start, end = data.draw(st.sampled_from(((edge - timedelta(seconds=1), edge),
                                                    (edge, edge + MICRO), (edge, edge))),
                                   label="window")
            self.both("timeline", lambda s, _: s.timeline(event.agent_name, start, end))

        @rule(new=code_blocks)
        def save_code_block(self, new: NewCodeBlock) -> None:
            self.both("save_code_block", lambda s, _: s.save_code_block(new))

        @rule(data=st.data(), new=code_blocks)
        def save_held_content_again(self, data: st.DataObject, new: NewCodeBlock) -> None:
            """Content the store holds, saved again by another agent, session and time: the
            stored block comes back, whichever block was saved last."""
            held = [block for agent in AGENTS for block in self.model.code_blocks(agent, None, 1000)]
            if held:
                block = data.draw(st.sampled_from(held), label="held block")
                again = replace(new, content=block.content)
                self.both("save_code_block", lambda s, _: s.save_code_block(again))

        @rule(agent=agents, language=st.none() | st.sampled_from(LANGUAGES), limit=limits)
        def code_blocks(self, agent: str, language: str | None, limit: int) -> None:
            self.both("code_blocks", lambda s, _: s.code_blocks(agent, language, limit))

        @rule(new=new_sessions)
        def create_session(self, new: NewProcessSession) -> None:
            self.both("create_session", lambda s, _: s.create_session(new))

        @rule(session_id=session_ids, update=session_updates)
        def update_session(self, session_id: str, update: ProcessSessionUpdate) -> None:
            self.both("update_session", lambda s, _: s.update_session(session_id, update))

        @rule(session_id=session_ids, lines=additions, found=additions, feedback=additions)
        def record_progress(self, session_id: str, lines: int, found: int, feedback: int) -> None:
            self.both("record_progress",
                      lambda s, _: s.record_progress(session_id, lines, found, feedback))

        @rule(session_id=session_ids, exit_code=exit_codes, at=few_times, totals=session_totals)
        def complete_session(self, session_id: str, exit_code: int, at: datetime,
                             totals: SessionTotals | None) -> None:
            self.both("complete_session",
                      lambda s, _: s.complete_session(session_id, exit_code, at, totals))

        @rule(session_id=session_ids)
        def get_session(self, session_id: str) -> None:
            self.both("get_session", lambda s, _: s.get_session(session_id))

        @rule(agent=agents, limit=limits)
        def sessions_by_agent(self, agent: str, limit: int) -> None:
            self.both("sessions_by_agent", lambda s, _: s.sessions_by_agent(agent, limit))

        @rule(agent=agents, days=st.sampled_from((0, 1, 2, -1)), now=few_times)
        def session_history(self, agent: str, days: int, now: datetime) -> None:
            """``now`` a day or two after the instants, so the window's edge falls on them."""
            self.both("session_history", lambda s, _: s.session_history(
                agent, days, now + timedelta(days=days)))

        @rule(data=st.data(), days=st.sampled_from((0, 1, 30)),
              offset=st.sampled_from(OFFSETS_MINUTES))
        def history_from_a_session_start(self, data: st.DataObject, days: int,
                                         offset: int) -> None:
            """``now - days`` exactly on a held session's start: that session is in."""
            held = [session for agent in AGENTS
                    for session in self.model.sessions_by_agent(agent, 1000)]
            session = data.draw(st.sampled_from(held), label="session on the edge")
            now = in_offset(session.started_at + timedelta(days=days), offset)
            self.both("session_history",
                      lambda s, _: s.session_history(session.agent_name, days, now))

        @rule()
        def active_sessions(self) -> None:
            self.both("active_sessions", lambda s, _: s.active_sessions())

        @rule(new=state_changes)
        def record_state_change(self, new: NewStateChange) -> None:
            self.both("record_state_change", lambda s, _: s.record_state_change(new))

        @rule(session_id=session_ids)
        def state_changes(self, session_id: str) -> None:
            self.both("state_changes", lambda s, _: s.state_changes(session_id))

        @rule(session_id=session_ids, speed=speeds, start=st.none() | few_times)
        def replay(self, session_id: str, speed: float, start: datetime | None) -> None:
            self.both("replay", lambda s, _: s.replay(session_id, speed, start))

        @rule(data=st.data(), speed=speeds, offset=st.sampled_from(OFFSETS_MINUTES),
              edge=st.sampled_from((-MICRO, timedelta(0), MICRO)))
        def replay_from_a_held_event(self, data: st.DataObject, speed: float, offset: int,
                                     edge: timedelta) -> None:
            """A replay that skips to a held event's instant, or a microsecond either side."""
            held = [event for session_id in SESSIONS
                    for event in self.model.events_by_session(session_id)]
            if held:
                event = data.draw(st.sampled_from(held), label="event to skip to")
                start = in_offset(event.timestamp, offset) + edge
                self.both("replay", lambda s, _: s.replay(event.session_id, speed, start))

        @rule(ended_before=few_times)
        def purge_sessions(self, ended_before: datetime) -> None:
            self.both("purge_sessions", lambda s, _: s.purge_sessions(ended_before))

        @rule()
        def vacuum(self) -> None:
            """What vacuum reclaims is the backend's; what it keeps must read back the same."""
            self.both("vacuum", lambda s, _: s.vacuum(), normalise=lambda report: None)

        @rule()
        def export_data(self) -> None:
            self.both("export_data", lambda s, _: s.export_data(), normalise=_exported_rows)

        @rule()
        def import_the_export_into_a_fresh_store(self) -> None:
            """The export imported by an empty store of the same backend, which then exports
            the same text byte for byte (the model imports its own export)."""
            self.both("import_data", partial(_round_trip, machine=self))

        @invariant()
        @after_changes
        def everything_reads_back_the_same(self) -> None:
            self.both("active_sessions", lambda s, _: s.active_sessions())
            for agent in AGENTS[:2]:
                self.both("read agent", partial(_read_agent, agent=agent))
            for session_id in SESSIONS:
                self.both("read session", partial(_read_session, session_id=session_id))

    ExtractionMachine.backend = backend
    ExtractionMachine.workdir = workdir
    return ExtractionMachine


def _codex_window(store: Any, backend_side: bool, start: datetime, end: datetime) -> Any:
    return store.timeline("codex", start, end)

def _replay_from(store: Any, backend_side: bool, start: datetime) -> Any:
    return store.replay("sess_abc123", 4.0, start)


def _codex_day(store: Any, backend_side: bool, now: datetime) -> Any:
    return store.session_history("codex", 1, now)


def _search(store: Any, backend_side: bool, text: str, where: EventFilter, limit: int) -> Any:
    return store.search_events(text, where, limit)


def _every_query_page(store: Any, backend_side: bool, where: EventFilter, limit: int,
                      offset: int) -> Any:
    return every_page(partial(store.query_events, where, limit), offset_minutes=offset,
                      limit=50)


def _create(store: Any, backend_side: bool, new: NewProcessSession) -> Any:
    return store.create_session(new)


def _save_block(store: Any, backend_side: bool, new: NewCodeBlock) -> Any:
    return store.save_code_block(new)


def _exported_rows(data: Any) -> Any:
    """An export's rows as records, whose store-assigned ids the comparison maps (a store may
    number its rows with gaps the model's have not)."""
    return parse_export(data) if isinstance(data, bytes) else data


def _round_trip(store: Any, backend_side: bool, machine: ComparingMachine) -> Any:
    """The export's lines imported in reverse order (the spec allows any) by an empty store,
    then again: rows an import numbered afresh, in the order it met them, would come back
    in another order; the second import finds the store full (Conflict)."""
    data = store.export_data()
    lines = b"".join(reversed(data.splitlines(keepends=True)))
    if not backend_side:
        fresh_model = MemoryExtraction()
        observed = (fresh_model if machine.reach is None
                    else reach.ObservedModel(fresh_model, machine.reach, machine.history))
        return observed.import_data(lines), _again(observed, lines)
    location = machine.backend.new_location(SPEC, machine.workdir / uuid.uuid4().hex)
    fresh = machine.backend.open(SPEC, location)
    try:
        counts = fresh.import_data(lines)
        again = fresh.export_data()
        refusal = _again(fresh, lines)
        if fresh.export_data() != again:
            raise SpecMismatch(f"{SPEC}.import_data: expected a refused second import to leave "
                               "the store as the first import filled it")
        _ids_follow_the_imported(fresh, parse_export(data))
    finally:
        fresh.close()
        machine.backend.discard(location)
    if again != data:
        raise SpecMismatch(f"{SPEC}.import_data: expected the imported store to export the "
                           f"text it imported; the first line that differs: "
                           f"{_first_differing_line(data, again)}")
    return counts, refusal


def _again(store: Any, lines: bytes) -> str:
    """The name of the error a second import of ``lines`` raises ("none" if it succeeds)."""
    try:
        store.import_data(lines)
    except StoreError as error:
        return type(error).__name__
    return "none"


def _ids_follow_the_imported(store: Any, imported: list[Any]) -> None:
    """A session, a state change, an event and a code block written after an import each
    get an id greater than every imported row's of its table."""
    session = store.create_session(NewProcessSession("codex", f"after-{uuid.uuid4().hex}", T0))
    written = [session, *store.state_changes(session.session_id),
               store.save_event(NewExtractionEvent("codex", session.session_id, T0, "error",
                                                   "error_detection")),
               store.save_code_block(NewCodeBlock("codex", session.session_id, T0,
                                                  uuid.uuid4().hex)).block]
    for row in written:
        before = [r.id for r in imported if type(r) is type(row)]
        if before and row.id <= max(before):
            raise SpecMismatch(f"{SPEC}.import_data: expected a {type(row).__name__} written "
                               f"after the import to get an id above the imported "
                               f"{max(before)}; it got {row.id}")


def _first_differing_line(before: bytes, after: bytes) -> str:
    pairs = zip(before.splitlines() + [b""] * 9, after.splitlines() + [b""] * 9, strict=False)
    return next((f"{old[:200]!r} became {new[:200]!r}" for old, new in pairs if old != new),
                "none (the texts differ in their ends)")


def _read_agent(store: Any, backend_side: bool, agent: str) -> Any:
    return (store.events_by_agent(agent, 1000), store.query_events(EventFilter(agent), 1000),
            store.code_blocks(agent, None, 1000),
            store.sessions_by_agent(agent, 1000), store.agent_stats(agent))


def _read_session(store: Any, backend_side: bool, session_id: str) -> Any:
    """Everything stored under one session id, the process session and its history included
    when it exists (the outcome, an error or not, is compared too)."""
    held = store.events_by_session(session_id)
    try:
        return held, store.get_session(session_id), store.state_changes(session_id)
    except NotFound:
        return held, None, None


@pytest.mark.operation("every operation")
def test_random_operation_sequences_match_the_model(backend: Any, store_profile: Any,
                                                    tmp_path: Path) -> None:
    run_machine(build_machine(backend.backend, tmp_path), store_profile)
