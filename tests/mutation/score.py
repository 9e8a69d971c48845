"""The automated mutation score: cosmic-ray mutates the reference modules, the conformance
suite must fail on each mutant.

    python -m tests.mutation.score                       # every module below, quick profile
    python -m tests.mutation.score --module reference_impl/session_history/store.py --sample 40

cosmic-ray (not mutmut) because it mutates a module file in place and runs any command
as the test: the suite runs as a user runs it (``pytest --store=sqlite``), through the
installed ``storecheck.*`` names.  mutmut 3 copies sources into its own tree and runs
the project's tests against that tree's import path, which this layout (root folders
installed under one namespace) does not give it.

Nothing in the work tree is touched: the four code folders are copied into a scratch
``storecheck/`` directory that comes first on ``PYTHONPATH``, and the copies are
mutated.  Survivors listed in ``equivalent.toml`` (beside this file, each with its
reason) do not count against the score.  Needs ``pip install cosmic-ray``.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("conformance", "plugin", "fixtures", "reference_impl")
EQUIVALENT = Path(__file__).with_name("equivalent.toml")

MODULES: dict[str, tuple[str, ...]] = {
    "reference_impl/session_history/store.py": ("session_history",),
    "reference_impl/session_history/rows.py": ("session_history",),
    "reference_impl/session_history/queries.py": ("session_history",),
    "reference_impl/conversations/store.py": ("conversations",),
    "reference_impl/conversations/rows.py": ("conversations",),
    "reference_impl/conversations/queries.py": ("conversations",),
    "reference_impl/conversations/learning_search.py": ("conversations",),
    "reference_impl/extraction/store.py": ("extraction",),
    "reference_impl/extraction/rows.py": ("extraction",),
    "reference_impl/telemetry/store.py": ("telemetry",),
    "reference_impl/telemetry/ml.py": ("telemetry",),
    "reference_impl/telemetry/rows.py": ("telemetry",),
    "reference_impl/telemetry/similarity.py": ("telemetry",),
    "reference_impl/app_meta/catalog.py": ("app_meta",),
    "reference_impl/app_meta/pipelines.py": ("app_meta",),
    "reference_impl/app_meta/events.py": ("app_meta",),
    "reference_impl/app_meta/maintenance.py": ("app_meta",),
    "reference_impl/app_meta/rows.py": ("app_meta",),
    "reference_impl/app_meta/store.py": ("app_meta",),
    "reference_impl/engine/connection.py": ("session_history", "conversations"),
    "reference_impl/engine/migrator.py": ("session_history", "conversations"),
    "reference_impl/engine/store.py": ("session_history", "conversations"),
    "reference_impl/engine/timestamps.py": ("session_history", "conversations"),
    "reference_impl/engine/pages.py": ("extraction",),
    "reference_impl/engine/text_index.py": ("extraction",),
    "reference_impl/engine/backups.py": ("app_meta", "extraction"),
    "reference_impl/extraction/backups.py": ("extraction",),
    "reference_impl/extraction/export.py": ("extraction",),
    "conformance/specs/common.py": ("session_history", "conversations"),
}
"""Module -> the specs whose suite must catch its mutants."""


@dataclass
class Tally:
    killed: int = 0
    timed_out: int = 0
    survived: int = 0
    equivalent: int = 0
    incompetent: int = 0

    def score(self) -> float:
        judged = self.killed + self.timed_out + self.survived
        return 100.0 * (self.killed + self.timed_out) / judged if judged else 100.0


def cosmic_ray() -> str:
    """The cosmic-ray command of this interpreter's environment, activated or not."""
    beside = Path(sys.executable).with_name("cosmic-ray")
    return str(beside) if beside.exists() else shutil.which("cosmic-ray") or ""


def scratch_copy(into: Path) -> Path:
    package = into / "storecheck"
    for name in PACKAGES:
        shutil.copytree(ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    return package


def test_command(specs: tuple[str, ...], profile: str) -> str:
    return shlex.join([sys.executable, "-m", "pytest", "--store=sqlite",
                       f"--store-spec={','.join(specs)}", f"--store-profile={profile}",
                       "--latency=off", "-x", "-q", "-p", "no:cacheprovider",
                       "--hypothesis-seed=0"])


def annotation_lines(path: Path) -> set[int]:
    """Lines inside type annotations: with ``from __future__ import annotations`` they are
    never evaluated, so a mutant there is equivalent by construction."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        annotations = []
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            annotations.append(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            annotations.append(node.returns)
        for annotation in annotations:
            lines.update(range(annotation.lineno, (annotation.end_lineno or annotation.lineno) + 1))
    return lines


def equivalents() -> dict[tuple[str, str, int], str]:
    if not EQUIVALENT.exists():
        return {}
    entries = tomllib.loads(EQUIVALENT.read_text())["equivalent"]
    return {(e["module"], e["operator"], int(e["occurrence"])): e["reason"] for e in entries}


def run_module(module: str, specs: tuple[str, ...], work: Path, args: argparse.Namespace,
               known: dict[tuple[str, str, int], str]) -> Tally:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    config = work / (module.replace("/", "_") + ".toml")
    session = config.with_suffix(".sqlite")
    target = work / "storecheck" / module
    config.write_text(
        "[cosmic-ray]\n"
        f"module-path = {str(target)!r}\n"
        f"timeout = {args.timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {test_command(specs, args.profile)!r}\n"
        "[cosmic-ray.distributor]\nname = \"local\"\n")
    subprocess.run([cosmic_ray(), "init", str(config), str(session)], check=True, cwd=work)
    if args.sample:
        with use_db(str(session), WorkDB.Mode.open) as db:
            # By what the mutation is, not by job id (random per session): the same seed
            # picks the same mutants in every run, so two versions of the suite compare.
            items = sorted(db.work_items, key=lambda item: (item.mutations[0].operator_name,
                                                            item.mutations[0].occurrence))
            keep = {item.job_id for item in random.Random(args.seed).sample(
                items, min(args.sample, len(items)))}
            db.set_multiple_results([i.job_id for i in items if i.job_id not in keep],
                                    WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
    subprocess.run([cosmic_ray(), "exec", str(config), str(session)], check=True, cwd=work)
    tally = Tally()
    in_annotations = annotation_lines(ROOT / module)
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome is WorkerOutcome.SKIPPED:
                continue
            mutation = item.mutations[0]
            where = f"{module}:{mutation.start_pos[0]} {mutation.operator_name} #{mutation.occurrence}"
            if result.test_outcome is TestOutcome.INCOMPETENT or result.test_outcome is None:
                tally.incompetent += 1
            elif result.test_outcome is TestOutcome.KILLED:
                if result.output == "timeout":
                    tally.timed_out += 1
                else:
                    tally.killed += 1
            elif (module, mutation.operator_name, mutation.occurrence) in known or (
                    mutation.start_pos[0] in in_annotations):
                tally.equivalent += 1
            else:
                tally.survived += 1
                print(f"SURVIVED {where}\n{result.diff or ''}", flush=True)
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation.score",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", choices=sorted(MODULES),
                        help="a module to mutate (repeatable; default: every module listed)")
    parser.add_argument("--profile", default="quick", choices=("quick", "default"),
                        help="the conformance profile each mutant is run under (default quick)")
    parser.add_argument("--sample", type=int, default=0,
                        help="run only this many mutants per module, drawn with --seed (0: all)")
    parser.add_argument("--seed", type=int, default=0, help="the sampling seed (default 0)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before a mutant's run counts as timed out (default 600)")
    args = parser.parse_args(argv)
    if not cosmic_ray():
        parser.error("cosmic-ray is not installed: pip install cosmic-ray")
    known = equivalents()
    rows = []
    with tempfile.TemporaryDirectory(prefix="storecheck-mutation-") as scratch:
        work = Path(scratch)
        scratch_copy(work)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [scratch, os.environ.get("PYTHONPATH")]))
        for module in args.module or list(MODULES):
            rows.append((module, run_module(module, MODULES[module], work, args, known)))
    print(f"\n{'module':50} {'killed':>7} {'timeout':>8} {'survived':>9} {'equiv':>6} "
          f"{'incomp':>7} {'score':>7}")
    for module, tally in rows:
        print(f"{module:50} {tally.killed:7} {tally.timed_out:8} {tally.survived:9} "
              f"{tally.equivalent:6} {tally.incompetent:7} {tally.score():6.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
