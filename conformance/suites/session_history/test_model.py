"""``model``: random operation sequences, every result compared with the model.

A failure is shrunk by hypothesis to a minimal sequence of operations and
printed as a script of ``state.<rule>(...)`` calls; the plugin's rerun command
replays the saved example exactly (``--store-replay``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    invariant,
    precondition,
    rule,
)
from storecheck.conformance import capabilities as caps, reach
from storecheck.conformance.checks import every_page, expect, outcome
from storecheck.conformance.result_diff import IdMap, outcome_differences
from storecheck.conformance.specs import session_history as spec_module
from storecheck.conformance.specs.session_history import (
    SESSION_STATUSES,
    SPEC,
    STORE_ASSIGNED_IDS,
    InstanceUpdate,
    LegacySession,
    SessionQuery,
    SessionUpdate,
)
from storecheck.conformance.stateful import ComparingMachine, after_changes, run_machine
from storecheck.fixtures.session_history import (
    SessionFactory,
    ids,
    instance_updates,
    legacy_document,
    legacy_sessions,
    new_instances,
    new_messages,
    new_sessions,
    session_updates,
)
from storecheck.fixtures.values import OFFSETS_MINUTES, tied_instants
from storecheck.reference_impl.memory import MemorySessionHistory

pytestmark = pytest.mark.model

T0 = datetime(2025, 1, 13, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
FEW_TIMES = tied_instants([T0, T0, T0 + MICRO, T0 + 999 * MICRO, T0 + timedelta(minutes=1),
                           T0 + timedelta(days=1) - MICRO])
"""Few distinct instants, given at any offset, so ties in created_at and timestamp order
really occur, and instants a microsecond apart must stay apart."""
PATHS = st.sampled_from(["/w/one", "/w/two", "/w/One", "/w/one ", "/w/caf\u00e9", "/w/cafe\u0301",
                         "/w/%", "/w/'; DROP TABLE workspaces; --", ""])
"""Paths that differ only by case, trailing space or Unicode normalisation are different
workspaces."""
SEARCH_TEXT = st.sampled_from(("a", "A", "'", "%", "_", "\x00", "e ", "\u00e9", "e\u0301", "*"))
MISSING_WORKSPACE = 987_654_321
STATS = st.integers(0, 50) | st.sampled_from((-1, 2**31 - 1, 2**31))


SITUATIONS = (
    *reach.derived(spec_module),
    reach.tie("list_messages", "timestamp"),
    reach.tie("search_sessions", "created_at", within=lambda page: page.items),
    reach.tie_across_pages("search_sessions", "created_at", items=lambda page: page.items),
)
"""Beyond what the spec module tells (:func:`reach.derived`): ties in the message order and
in the sessions' keyset pages, within a page and across its boundary."""


def build_machine(backend: Any, workdir: Path, transactional: bool) -> type[ComparingMachine]:
    class SessionHistoryMachine(ComparingMachine):
        spec = SPEC
        assigned = STORE_ASSIGNED_IDS
        make_model = MemorySessionHistory

        def __init__(self) -> None:
            super().__init__()
            self.workspaces: list[int] = []  # model ids
            self.sessions: list[str] = []

        def workspace_id(self, model_id: int, backend_side: bool) -> int:
            return int(self.backend_id("workspace", model_id, backend_side))

        def read_workspace(self, store: Any, backend_side: bool, model_id: int) -> Any:
            return store.get_workspace(self.workspace_id(model_id, backend_side))

        def pick_workspace(self, data: st.DataObject) -> int:
            if not self.workspaces or data.draw(st.integers(0, 9), label="missing?") == 0:
                return MISSING_WORKSPACE
            return data.draw(st.sampled_from(self.workspaces), label="workspace (model id)")

        def pick_session(self, data: st.DataObject) -> str:
            if self.sessions and data.draw(st.integers(0, 4), label="unknown?") > 0:
                return data.draw(st.sampled_from(self.sessions), label="session")
            return data.draw(ids, label="session id")

        @initialize(seed=st.integers(0, 3))
        def start(self, seed: int) -> None:
            """Workspaces whose paths differ only by case or Unicode normalisation (so every
            run, not a lucky one, meets a store that folds them), and sessions whose
            created_at (sub-second) and message timestamps tie."""
            factory = SessionFactory(seed=seed)
            for path in ("/w/one", "/w/two", "/w/One", "/w/caf\u00e9", "/w/cafe\u0301"):
                workspace = self.both("get_or_create_workspace",
                                      partial(_get_or_create, path=path))
                self.workspaces.append(workspace.id)
            for n, status in enumerate(("running", "paused", "completed", "running")):
                template = factory.session(
                    self.workspaces[n % 2], status=status,
                    created_at=T0 + timedelta(minutes=n // 2) + 999 * MICRO, messages=0)
                messages = tuple(factory.message(id=f"init-{n}-{9 - k}", timestamp=T0)
                                 for k in range(3))
                template = replace(template, messages=messages)

                def create(s: Any, b: bool, t: Any = template) -> Any:
                    return s.create_session(
                        replace(t, workspace_id=self.workspace_id(t.workspace_id, b)))

                self.sessions.append(self.both("create_session", create).id)
            self.do_each_other_write_once(factory)
            # Every session in one page: the start's sessions are created in pairs at one
            # instant.
            self.both("search_sessions",
                      lambda s, _: s.search_sessions(SessionQuery(), 1000).items)

        def do_each_other_write_once(self, factory: SessionFactory) -> None:
            """Every write the start has not done, once, so that the rules doing each write
            again find one; the deletions on a workspace and a session made for them."""
            first, second, at = self.sessions[0], self.sessions[1], T0 + MICRO
            workspace = self.workspaces[0]
            self.both("touch_workspace",
                      lambda s, b: s.touch_workspace(self.workspace_id(workspace, b), at))
            instance = factory.instance(3)
            self.both("add_instance", lambda s, _: s.add_instance(first, instance))
            self.both("update_instance", lambda s, _: s.update_instance(
                first, 0, InstanceUpdate(output="ok")))
            message = factory.message(id="init-extra", timestamp=T0)
            self.both("append_message", lambda s, _: s.append_message(first, message))
            self.both("record_instance_stats",
                      lambda s, _: s.record_instance_stats(first, 1, 2, 3))
            self.both("update_session", lambda s, _: s.update_session(
                first, SessionUpdate(at, task="renamed")))
            self.both("complete_session",
                      lambda s, _: s.complete_session(second, "completed", at))
            gone = self.both("get_or_create_workspace", partial(_get_or_create, path="/w/gone"))
            self.both("delete_workspace",
                      lambda s, b: s.delete_workspace(self.workspace_id(gone.id, b)))
            doomed = factory.session(workspace, messages=0, created_at=at)
            self.both("create_session", lambda s, b: s.create_session(
                replace(doomed, workspace_id=self.workspace_id(workspace, b))))
            self.both("delete_session", lambda s, _: s.delete_session(doomed.id))
            legacy = factory.session(workspace, messages=0, instances=0, created_at=at,
                                     id="legacy-1")
            document = legacy_document([LegacySession("/w/legacy", legacy, at)])
            self.both("import_legacy",
                      lambda s, _: s.import_legacy(document, "/backups/sessions.json", at))
            self.sessions.append(legacy.id)

        @rule(path=PATHS, at=FEW_TIMES)
        def get_or_create_workspace(self, path: str, at: datetime) -> None:
            result = self.both("get_or_create_workspace",
                               lambda s, _: s.get_or_create_workspace(path, at))
            if result is not None and result.id not in self.workspaces:
                self.workspaces.append(result.id)

        @rule(data=st.data(), at=FEW_TIMES)
        def touch_workspace(self, data: st.DataObject, at: datetime) -> None:
            chosen = self.pick_workspace(data)
            self.both("touch_workspace",
                      lambda s, b: s.touch_workspace(self.workspace_id(chosen, b), at))

        @precondition(lambda self: len(self.workspaces) > 1)
        @rule(data=st.data())
        def delete_workspace(self, data: st.DataObject) -> None:
            chosen = self.pick_workspace(data)
            self.both("delete_workspace",
                      lambda s, b: s.delete_workspace(self.workspace_id(chosen, b)))
            if chosen in self.workspaces:
                self.workspaces.remove(chosen)

        @rule(data=st.data())
        def create_session(self, data: st.DataObject) -> None:
            chosen = self.pick_workspace(data)
            template = data.draw(new_sessions(st.just(0)), label="new session")
            template = replace(template, created_at=data.draw(FEW_TIMES, label="created_at"))
            if self.sessions and data.draw(st.integers(0, 9), label="reuse id?") == 0:
                template = replace(template, id=data.draw(st.sampled_from(self.sessions)))

            def create(s: Any, b: bool) -> Any:
                return s.create_session(replace(template, workspace_id=self.workspace_id(chosen, b)))

            result = self.both("create_session", create)
            if result is not None:
                self.sessions.append(result.id)

        @rule(data=st.data())
        def get_session(self, data: st.DataObject) -> None:
            session_id = self.pick_session(data)
            self.both("get_session", lambda s, _: s.get_session(session_id))

        @rule(data=st.data(), update=session_updates(FEW_TIMES))
        def update_session(self, data: st.DataObject, update: SessionUpdate) -> None:
            session_id = self.pick_session(data)
            self.both("update_session", lambda s, _: s.update_session(session_id, update))

        @rule(data=st.data(), at=FEW_TIMES, status=st.sampled_from(("completed", "failed", "x")))
        def complete_session(self, data: st.DataObject, at: datetime, status: str) -> None:
            session_id = self.pick_session(data)
            self.both("complete_session", lambda s, _: s.complete_session(session_id, status, at))

        @rule(data=st.data(), numbers=st.tuples(STATS, STATS, STATS))
        def record_instance_stats(self, data: st.DataObject, numbers: tuple[int, int, int]) -> None:
            session_id = self.pick_session(data)
            self.both("record_instance_stats",
                      lambda s, _: s.record_instance_stats(session_id, *numbers))

        @rule(data=st.data())
        def delete_session(self, data: st.DataObject) -> None:
            session_id = self.pick_session(data)
            self.both("delete_session", lambda s, _: s.delete_session(session_id))
            if session_id in self.sessions:
                self.sessions.remove(session_id)

        @rule(data=st.data(), limit=st.integers(1, 3) | st.sampled_from((0, 1000, 1001)),
              offset=st.sampled_from(OFFSETS_MINUTES))
        def search_sessions(self, data: st.DataObject, limit: int, offset: int) -> None:
            """Every page; each cursor handed back at another UTC offset (the same instant)."""
            def maybe(strategy: st.SearchStrategy[Any], label: str) -> Any:
                """Each filter in one search of four, so unfiltered pages are common."""
                if data.draw(st.integers(0, 3), label=f"use {label}?") == 0:
                    return data.draw(strategy, label=label)
                return None

            workspace = maybe(st.sampled_from([*self.workspaces, 0]), "workspace")
            query = SessionQuery(
                workspace_id=workspace,
                status=maybe(st.sampled_from(SESSION_STATUSES), "status"),
                type=maybe(st.sampled_from(("debate", "ensemble")), "type"),
                created_from=maybe(FEW_TIMES, "from"),
                created_to=maybe(FEW_TIMES, "to"),
                text=maybe(SEARCH_TEXT, "text"),
            )

            def search_all(s: Any, b: bool) -> Any:
                wanted = query if workspace is None else replace(
                    query, workspace_id=self.workspace_id(workspace, b))
                return every_page(partial(s.search_sessions, wanted, limit),
                                  offset_minutes=offset, limit=100)

            self.both("search_sessions", search_all)

        @rule(data=st.data(), new=new_instances(st.integers(-1, 4)))
        def add_instance(self, data: st.DataObject, new: Any) -> None:
            session_id = self.pick_session(data)
            self.both("add_instance", lambda s, _: s.add_instance(session_id, new))

        @rule(data=st.data(), instance_id=st.integers(-1, 4), update=instance_updates())
        def update_instance(self, data: st.DataObject, instance_id: int,
                            update: InstanceUpdate) -> None:
            session_id = self.pick_session(data)
            self.both("update_instance",
                      lambda s, _: s.update_instance(session_id, instance_id, update))

        @rule(data=st.data())
        def list_instances(self, data: st.DataObject) -> None:
            session_id = self.pick_session(data)
            self.both("list_instances", lambda s, _: s.list_instances(session_id))

        @rule(data=st.data(), new=new_messages(), at=st.none() | FEW_TIMES)
        def append_message(self, data: st.DataObject, new: Any, at: datetime | None) -> None:
            session_id = self.pick_session(data)
            message = new if at is None else replace(new, timestamp=at)
            self.both("append_message", lambda s, _: s.append_message(session_id, message))

        @rule(data=st.data())
        def get_workspace(self, data: st.DataObject) -> None:
            chosen = self.pick_workspace(data)
            self.both("get_workspace", partial(self.read_workspace, model_id=chosen))

        @rule(data=st.data(), at=FEW_TIMES,
              backup_path=st.sampled_from(("/backups/sessions.json", "C:\\b\\s.json", "")))
        def import_legacy(self, data: st.DataObject, at: datetime, backup_path: str) -> None:
            """A legacy document of drawn sessions, sometimes reusing ids the store has."""
            entries = data.draw(st.lists(legacy_sessions(PATHS, FEW_TIMES), max_size=3),
                                label="legacy sessions")
            if self.sessions and entries and data.draw(st.booleans(), label="reuse an id?"):
                entries[0] = replace(entries[0], session=replace(
                    entries[0].session, id=data.draw(st.sampled_from(self.sessions))))
            document = legacy_document(entries)
            self.both("import_legacy", lambda s, _: s.import_legacy(document, backup_path, at))
            self.sessions.extend(e.session.id for e in entries if e.session.id not in self.sessions)

        @rule(data=st.data())
        def list_messages(self, data: st.DataObject) -> None:
            session_id = self.pick_session(data)
            self.both("list_messages", lambda s, _: s.list_messages(session_id))

        @rule(data=st.data())
        def session_summary(self, data: st.DataObject) -> None:
            session_id = self.pick_session(data)
            self.both("session_summary", lambda s, _: s.session_summary(session_id))

        @precondition(lambda self: transactional)
        @rule(data=st.data(), first=new_messages(), second=new_messages())
        def atomic_pair_then_failure(self, data: st.DataObject, first: Any, second: Any) -> None:
            """Two appends in one atomic block that then fails: neither may remain."""
            session_id = self.pick_session(data)

            def run(s: Any, _: bool) -> Any:
                try:
                    with s.atomic():
                        s.append_message(session_id, first)
                        s.append_message(session_id, second)
                        raise _Abort
                except _Abort:
                    return "rolled back"

            self.both("atomic", run)

        @invariant()
        @after_changes
        def stored_state_agrees(self) -> None:
            """After every step, every record the model knows reads back the same."""
            self.both("migration_metadata", lambda s, _: s.migration_metadata())
            # Sessions first: their workspace_id pairs the ids of workspaces an import made.
            # Every session the model holds, those a write done again made included.
            self.sessions += [known for known in self.model.state.sessions
                              if known not in self.sessions]
            for session_id in self.sessions:
                self.both("get_session", partial(_read_session, session_id=session_id))
            self.workspaces = sorted(self.model.state.workspaces)
            for model_id in self.workspaces:
                self.both("get_workspace", partial(self.read_workspace, model_id=model_id))
            self.both("search_sessions", _every_page_one_by_one)

    SessionHistoryMachine.backend = backend
    SessionHistoryMachine.workdir = workdir
    return SessionHistoryMachine


class _Abort(Exception):
    pass


def _every_page_one_by_one(store: Any, backend_side: bool) -> Any:
    """All sessions, one per page, each cursor handed back at +05:30 (the same instant)."""
    return every_page(partial(store.search_sessions, SessionQuery(), 1), offset_minutes=330)


def _read_session(store: Any, backend_side: bool, session_id: str) -> Any:
    return (store.get_session(session_id), store.list_instances(session_id),
            store.list_messages(session_id))


def _get_or_create(store: Any, backend_side: bool, path: str) -> Any:
    return store.get_or_create_workspace(path, T0)


@pytest.mark.operation("every operation")
def test_random_operation_sequences_match_the_model(backend: Any, store_profile: Any,
                                                    tmp_path: Path) -> None:
    machine = build_machine(backend.backend, tmp_path, caps.TRANSACTIONS in backend.capabilities)
    run_machine(machine, store_profile)


@pytest.mark.operation("update_session")
def test_update_keeps_child_identity(store: Any) -> None:
    factory = SessionFactory()
    workspace = store.get_or_create_workspace(factory.workspace_path(), T0)
    created = store.create_session(factory.session(workspace.id, instances=4))
    before = {i.instance_id: i.row_id for i in store.list_instances(created.id)}
    store.update_session(created.id, SessionUpdate(
        updated_at=T0 + timedelta(hours=1), status="paused", runtime_mix=("sandbox",),
        instance_statuses=((1, "done"), (3, "failed"))))
    after = {i.instance_id: i.row_id for i in store.list_instances(created.id)}
    expect(before == after, SPEC, "update_session",
           "every instance to keep its row_id (no delete-and-reinsert)", after)
    statuses = {i.instance_id: i.status for i in store.list_instances(created.id)}
    expect(statuses[1] == "done" and statuses[3] == "failed", SPEC, "update_session",
           "instance statuses 1=done and 3=failed", statuses)


@pytest.mark.operation("import_legacy")
def test_legacy_import_is_idempotent_and_recorded(store: Any) -> None:
    document = _legacy_document()
    first = store.import_legacy(document, "/backups/sessions.json", T0)
    expect((first.imported, first.skipped) == (2, 0), SPEC, "import_legacy",
           "2 imported, 0 skipped on the first run", first)
    again = store.import_legacy(document, "/backups/sessions.json", T0 + timedelta(days=1))
    expect((again.imported, again.skipped) == (0, 2), SPEC, "import_legacy",
           "0 imported, 2 skipped when re-run", again)
    meta = store.migration_metadata()
    expect(meta.migration_status == "completed" and meta.json_backup_path == "/backups/sessions.json",
           SPEC, "import_legacy", "metadata status completed with the backup path", meta)
    imported = store.get_session("legacy-1")
    expect(imported.status == "completed" and imported.total_lines_added == 42, SPEC,
           "import_legacy", "the legacy session's status and totals verbatim", imported)
    expect(len(store.list_messages("legacy-1")) == 2 and len(store.list_instances("legacy-1")) == 1,
           SPEC, "import_legacy", "the legacy session's 2 messages and 1 instance")


def _legacy_document() -> str:
    session = {
        "id": "legacy-1", "type": "competition", "task": "port the parser", "status": "completed",
        "created_at": "2025-01-01T10:00:00+00:00", "updated_at": "2025-01-01T11:00:00+00:00",
        "completed_at": "2025-01-01T11:00:00+00:00", "total_lines_added": 42,
        "runtime_mix": ["local"],
        "instances": [{"instance_id": 0, "worktree_path": "/wt/0", "branch": "b0",
                       "agent_name": "alpha", "status": "done", "tmux_session_id": "t0"}],
        "chat_history": [
            {"id": "lm-1", "role": "user", "content": "go", "timestamp": "2025-01-01T10:00:00Z"},
            {"id": "lm-2", "role": "assistant", "content": "done",
             "timestamp": "2025-01-01T10:30:00+01:00"},
        ],
    }
    other = {"id": "legacy-2", "type": "debate", "task": "argue", "status": "running",
             "created_at": "2025-01-02T10:00:00Z", "updated_at": "2025-01-02T10:00:00Z"}
    return json.dumps({"workspaces": [{"path": "/legacy/a", "sessions": [session]},
                                      {"path": "/legacy/b", "sessions": [other]}]})



def _seed_both(store: Any) -> tuple[MemorySessionHistory, IdMap]:
    """The same dataset in the store and in a fresh model: ties in created_at included."""
    model, ids = MemorySessionHistory(), IdMap()
    for target in (store, model):
        factory = SessionFactory(seed=21)
        spaces = [target.get_or_create_workspace(p, T0).id for p in ("/f/one", "/f/two")]
        for n in range(12):
            target.create_session(factory.session(
                spaces[n % 2], status=SESSION_STATUSES[n % 4],
                type=("competition", "ensemble", "debate")[n % 3],
                task=("alpha task", "beta 'quoted' task", "gamma 100% task")[n % 3],
                created_at=T0 + timedelta(minutes=n // 3), messages=0))
    return model, ids


@pytest.mark.operation("search_sessions")
def test_each_filter_and_page_size_matches_the_model(store: Any) -> None:
    model, ids = _seed_both(store)
    queries = [
        SessionQuery(),
        SessionQuery(workspace_id=1),
        *(SessionQuery(status=status) for status in SESSION_STATUSES),
        SessionQuery(type="debate"),
        SessionQuery(created_from=T0 + timedelta(minutes=1)),
        SessionQuery(created_to=T0 + timedelta(minutes=2)),
        SessionQuery(text="'quoted'"),
        SessionQuery(text="100%"),
        SessionQuery(text="TASK"),
    ]
    for query in queries:
        for limit in (1, 2, 5, 100):
            mine = outcome(partial(every_page, partial(store.search_sessions,
                                                         _backend_query(query, ids), limit)))
            theirs = outcome(partial(every_page, partial(model.search_sessions, query, limit)))
            problems = outcome_differences(mine, theirs, ids, STORE_ASSIGNED_IDS)
            expect(not problems, SPEC, "search_sessions",
                   f"the model's pages for {query} with limit {limit}", problems[:3])


def _backend_query(query: SessionQuery, ids: IdMap) -> SessionQuery:
    if query.workspace_id is None:
        return query
    return replace(query, workspace_id=ids.to_backend("workspace", query.workspace_id))


@pytest.mark.operation("list_messages")
def test_messages_list_by_timestamp_then_append_order(store: Any) -> None:
    factory = SessionFactory(seed=5)
    workspace = store.get_or_create_workspace("/order", T0)
    session = store.create_session(factory.session(workspace.id, messages=0))
    plan = [("m-c", 2), ("m-a", 1), ("m-b", 1), ("m-0", 3), ("m-z", 1)]
    for message_id, minute in plan:
        store.append_message(session.id, factory.message(
            id=message_id, timestamp=T0 + timedelta(minutes=minute)))
    got = [m.id for m in store.list_messages(session.id)]
    expect(got == ["m-a", "m-b", "m-z", "m-c", "m-0"], SPEC, "list_messages",
           "timestamp order with ties in append order: m-a, m-b, m-z, m-c, m-0", got)


@pytest.mark.operation("update_session")
def test_a_partial_update_changes_only_what_it_names(store: Any) -> None:
    factory = SessionFactory(seed=8)
    workspace = store.get_or_create_workspace("/partial", T0)
    created = store.create_session(factory.session(
        workspace.id, model="opus", timeout_seconds=600, preserve_worktrees=True, instances=1))
    store.update_instance(created.id, 0, InstanceUpdate(files_changed=3, end_time=T0 + MICRO))
    updated = store.update_session(created.id, SessionUpdate(updated_at=T0 + MICRO, winner_id=0))
    expected = replace(created, updated_at=T0 + MICRO, winner_id=0)
    expect(updated == expected, SPEC, "update_session",
           "only updated_at and winner_id changed by an update naming winner_id", updated)
    instance = store.list_instances(created.id)[0]
    expect((instance.files_changed, instance.end_time) == (3, T0 + MICRO), SPEC, "update_instance",
           "files_changed and end_time set by the instance update", instance)
