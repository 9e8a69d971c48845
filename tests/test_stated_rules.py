"""Every CHECK constraint of a reference schema traces to a sentence of its spec.

A rule the reference's SQL enforces but the spec never states fails a store written from
the spec alone (an upload with an empty file name, a negative loss): a check that demands
it tests the reference, not the contract.  So each CHECK of every migration is listed here
with the words of the spec module's docstring that state it, or, for a value no caller
supplies, the reason no caller can break it.  A new CHECK without either fails this test,
and so does a phrase the spec no longer says.
"""

from __future__ import annotations

import importlib

import pytest
from storecheck.conformance.sqlschema import CheckConstraint, check_constraints
from storecheck.reference_impl.engine.migrator import load_migrations, split_statements

SPECS = ("session_history", "conversations", "extraction", "telemetry", "app_meta")

BOOLEAN = "kept by the store: a boolean stored as 0 or 1"

STATED: dict[str, dict[str, str]] = {
    "session_history": {
        "workspaces(workspace_path)": "content and workspace path",
        "sessions(type)": "session type",
        "sessions(status)": "session status",
        "sessions(id)": "non-empty ids",
        "sessions(task)": "non-empty ids, task",
        "instances(instance_id)": "``instance_id >= 0``",
        "chat_messages(role)": "message role",
        "chat_messages(id)": "non-empty ids",
        "chat_messages(content)": "task, content and workspace path",
        "migration_metadata(id)": "kept by the store: the one row of migration bookkeeping",
    },
    "conversations": {
        "conversations(id)": "an empty id",
        "conversations(metadata)": "metadata that is not a mapping of str to str",
        "messages(role)": "a message role outside :data:`ROLES`",
        "learnings(category)": "an empty id, category",
        "learnings(content)": "learning content",
        "learnings(confidence)": "a confidence outside [0, 1]",
        "learning_tags(tag)": "an empty tag (the seed's CHECK on tags is never reached)",
        "jobs(type)": "job type",
        "jobs(payload)": "a payload that is not JSON",
        "jobs(status)": "Claiming sets ``running``",
        "jobs(attempts)": "``attempts + 1``",
        "jobs(max_attempts)": "a job's ``max_attempts`` below 1",
        "uploads(file_name)": "upload file name",
        "uploads(size_bytes)": "a negative upload size",
        "uploads(checksum)": "a checksum that is not 64 lowercase hex digits",
        "audit_log(action)": "kept by the store: audit rows are written by updates and deletes",
        "audit_log(payload)": "kept by the store: audit rows are written by updates and deletes",
    },
    "extraction": {
        "extraction_events(agent_name)": "an empty agent name",
        "extraction_events(session_id)": "an empty agent name, session id",
        "extraction_events(event_type)": "event type",
        "extraction_events(pattern)": "pattern or state",
        "extraction_events(line_number)": "a line number below 1",
        "extraction_events(metadata_json)": "JSON text that does not parse",
        "extraction_events(risk_level)": "a risk level outside :data:`RISK_LEVELS`",
        "extraction_events(auto_confirmable)": BOOLEAN,
        "code_blocks(agent_name)": "an empty agent name",
        "code_blocks(session_id)": "an empty agent name, session id",
        "code_blocks(line_start)": "``line_number``, ``line_start`` and ``line_end`` alike",
        "code_blocks(line_end, line_start)": "``line_end < line_start``",
        "code_blocks(context_json)": "JSON text that does not parse",
        "code_blocks(parseable)": BOOLEAN,
        "code_blocks(digest)": "64 lowercase hex digits",
        "process_sessions(agent_name)": "an empty agent name",
        "process_sessions(session_id)": "an empty agent name, session id",
        "process_sessions(total_lines_processed)": "negative totals",
        "process_sessions(total_extraction_events)": "negative totals",
        "process_sessions(total_feedback_outcomes)": "negative totals",
        "process_state_changes(session_id)": "a state change's session id included",
        "process_state_changes(state)": "a state outside :data:`STATES`",
        "process_state_changes(metadata_json)": "JSON text that does not parse",
    },
    "telemetry": {
        "sessions(id)": "an empty id",
        "sessions(ended_at, started_at)": "an end before the start",
        "sessions(duration_ms)": "a negative loss, count or duration",
        "queries(id)": "an empty id",
        "queries(query_hash)": "The store keeps :func:`query_hash`",
        "queries(query_length)": "its length in characters",
        "queries(query_type)": ":data:`QUERY_TYPES`",
        "queries(latency_ms)": "a negative loss, count or duration",
        "queries(tool_calls)": "a negative loss, count",
        "queries(retrieval_count)": "a negative loss, count",
        "queries(result_count)": "a negative loss, count",
        "queries(result_quality_score)": "a quality, coherence, accuracy, F1 or confidence figure "
                                         "outside [0, 1]",
        "queries(error_category)": "or error category (``None`` is no error category",
        "feedback(id)": "an empty id",
        "feedback(feedback_type)": ":data:`FEEDBACK_TYPES`",
        "feedback(rating)": "a rating outside 1..5",
        "feedback(category)": ":data:`FEEDBACK_CATEGORIES`",
        "reasoning_traces(id)": "an empty id",
        "reasoning_traces(thinktool_name)": "thinktool name",
        "reasoning_traces(step_count)": "a negative loss, count",
        "reasoning_traces(total_ms)": "a negative loss, count or duration",
        "reasoning_traces(coherence_score)": "a quality, coherence",
        "reasoning_traces(depth_score)": "a negative ``depth_score``",
        "daily_aggregates(query_count)": "computes each UTC day's metrics",
        "daily_aggregates(feedback_count)": "computes each UTC day's metrics",
        "model_training_runs(id)": "an empty id",
        "model_training_runs(model_type)": "model type",
        "model_training_runs(model_version)": "model version",
        "model_training_runs(status)": "Training runs start ``running``",
        "model_training_runs(completed_at, started_at)": "an end before the start",
        "model_training_runs(accuracy)": "accuracy, F1 or confidence figure outside [0, 1]",
        "model_training_runs(loss)": "a negative loss",
        "model_training_runs(f1_score)": "accuracy, F1 or confidence figure outside [0, 1]",
        "model_training_runs(sample_count)": "a negative loss, count",
        "feature_vectors(feature_set)": "feature set",
        "feature_vectors(dimension)": "a vector has 1 to :data:`MAX_DIMENSION` components",
        "feature_vectors(embedding, dimension)": "stored as little-endian float32",
        "model_predictions(id)": "an empty id",
        "model_predictions(confidence)": "or confidence figure outside [0, 1]",
        "ab_tests(id)": "an empty id",
        "ab_tests(name)": "an empty id, name",
        "ab_tests(confidence)": "or confidence figure outside [0, 1]",
        "ab_tests(finalized_at, started_at)": "an end before the start",
        "ab_variants(position)": "A/B tests have exactly two distinct variants",
        "ab_variants(variant)": "variant or error category",
        "ab_variants(trials)": "counts one trial",
        "ab_variants(successes, trials)": "and one success when it succeeded",
    },
    "app_meta": {
        "settings(key)": "a setting's key",
        "settings(schema_version)": "a setting's schema version",
        "knowledge_bases(id)": "an empty id or name",
        "knowledge_bases(name)": "an empty id or name",
        "knowledge_bases(version)": "a knowledge base's version",
        "knowledge_bases(status)": ":data:`KB_STATUSES`",
        "knowledge_bases(embedder_model)": "a knowledge base's embedder model",
        "knowledge_bases(chunk_size)": "chunk size",
        "knowledge_bases(chunk_overlap, chunk_size)": "``0 <= chunk_overlap < chunk_size``",
        "knowledge_bases(health_score)": "``health_score`` in [0, 1]",
        "knowledge_bases(pinned_version)": "pinned version",
        "documents(id)": "an empty id or name",
        "documents(chunk_count)": "``chunk_count`` always equals the number of stored chunks",
        "documents(size_bytes)": "a size (bytes or MB)",
        "document_chunks(id)": "an empty id or name",
        "document_chunks(chunk_index)": "chunk ``i`` of the list gets ``chunk_index`` ``i``",
        "document_chunks(content_hash)": "``content_hash`` is :func:`content_hash` of its content",
        "document_chunks(token_count)": "a token count",
        "pipelines(id)": "an empty id or name",
        "pipelines(name)": "an empty id or name",
        "pipelines(status)": "a value outside an enum",
        "pipeline_runs(status, started_at)": "Moving to ``running`` sets ``started_at``",
        "pipeline_runs(status, completed_at)": "moving to an end status sets ``completed_at``",
        "pipeline_runs(id)": "an empty id or name",
        "pipeline_runs(status)": ":data:`RUN_TRANSITIONS` are the only legal moves",
        "pipeline_runs(completed_at, started_at)": "which may not come before ``started_at``",
        "pipeline_runs(error_message, status)": "``failed`` requires an error message and only "
                                                "``failed`` may carry one",
        "tools(id)": "an empty id or name",
        "tools(name)": "an empty id or name",
        "tools(type)": "a tool's type",
        "tools(enabled)": BOOLEAN,
        "schedules(id)": "an empty id or name",
        "schedules(name)": "an empty id or name",
        "schedules(enabled)": BOOLEAN,
        "flows(id)": "an empty id or name",
        "flows(name)": "an empty id or name",
        "flows(enabled)": BOOLEAN,
        "models(id)": "an empty id or name",
        "models(name)": "an empty id or name",
        "models(model_type)": ":data:`MODEL_TYPES`",
        "models(source_type)": ":data:`MODEL_SOURCES`",
        "models(size_mb)": "a size (bytes or MB)",
        "models(dimensions)": "a model's dimensions",
        "models(status)": "a value outside an enum",
        "models(download_progress)": "kept by the store: no operation sets it (the seed's "
                                     "column, at its default)",
    },
}
"""spec -> ``table(columns)`` of a CHECK -> the docstring's words, or ``kept by the store``
and why no caller's value reaches it."""


def _checks(spec: str) -> dict[str, CheckConstraint]:
    migrations = load_migrations(f"storecheck.reference_impl.{spec}.migrations")
    statements = [statement for migration in migrations
                  for statement in split_statements(migration.up)]
    found: dict[str, CheckConstraint] = {}
    for check in check_constraints(statements):
        found.setdefault(f"{check.table}({', '.join(check.columns)})", check)
    return found


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("spec", SPECS)
def test_every_check_of_the_reference_schema_is_stated_by_the_spec(spec: str) -> None:
    checks = _checks(spec)
    assert len(checks) >= 10, f"{spec}: too few CHECK constraints found: {sorted(checks)}"
    doc = _words(importlib.import_module(f"storecheck.conformance.specs.{spec}").__doc__ or "")
    stated = STATED[spec]
    unlisted = [f"{key}: CHECK ({checks[key].condition})" for key in checks if key not in stated]
    assert not unlisted, f"{spec}: CHECKs no sentence of the spec states:\n" + "\n".join(unlisted)
    stale = sorted(set(stated) - set(checks))
    assert not stale, f"{spec}: listed CHECKs the schema no longer has: {stale}"
    unspoken = [f"{key}: {phrase!r}" for key, phrase in stated.items()
                if not phrase.startswith("kept by the store") and _words(phrase) not in doc]
    assert not unspoken, f"{spec}: phrases its docstring does not say:\n" + "\n".join(unspoken)

