"""Every check's power, shown on deliberately broken stores; and no false alarm on correct ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mutants import conversations, session_history
from tests.suite_runner import run_suite

CASES = [(module.__name__.rsplit(".", 1)[1], name, category)
         for module in (session_history, conversations)
         for name, (_, category) in module.MUTANTS.items()]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("spec", "name", "category"), CASES,
                         ids=[f"{spec}-{name}" for spec, name, _ in CASES])
def test_mutant_is_caught_in_its_category(
    tmp_path: Path, record_property: pytest.RecordProperty, spec: str, name: str, category: str
) -> None:
    record_property("mutant", f"{spec}/{name} [{category}]")
    run = run_suite(tmp_path, f"tests.mutants.{spec}:{name}", "-m", category)
    assert run.returncode == 1, run.output[-3000:]
    assert category in run.failed_categories(), run.output[-3000:]
    assert all(f["spec"] == spec for f in run.report["failures"])


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_correct_backends_pass_the_whole_suite(tmp_path: Path, backend: str) -> None:
    # Timings are the benchmark's business (the latency table prints them); here the
    # latency checks must run and report, but a noisy CI machine must not fail them.
    run = run_suite(tmp_path, backend, "--latency=warn")
    assert run.returncode == 0, run.output[-5000:]
    assert not run.failed_categories()
    for spec in ("session_history", "conversations"):
        ran = {row["category"] for row in run.report["results"]
               if row["passed"] and row["spec"] == spec}
        assert {"model", "acid", "fk", "badinput", "concurrency"} <= ran, (spec, ran)
