"""Running the conformance suite in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tests.installed import Installed

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SuiteRun:
    returncode: int
    output: str
    report: dict[str, Any]

    def failed_categories(self) -> set[str]:
        return {row["category"] for row in self.report.get("results", []) if row["failed"]}


def run_suite(workdir: Path, store: str, *args: str, profile: str = "quick",
              installed: Installed | None = None) -> SuiteRun:
    """The suite in a subprocess in ``workdir``: by the installed wheel's interpreter when
    ``installed`` is given (nothing of this tree on its path), else by this interpreter with
    the tree on ``PYTHONPATH`` (so ``tests.mutants`` can be named as backends)."""
    report = workdir / "report.json"
    if installed is None:
        python, env = sys.executable, dict(os.environ, PYTHONPATH=str(ROOT))
    else:
        python, env = str(installed.python), installed.environment()
    completed = subprocess.run(
        [python, "-m", "pytest", f"--store={store}", f"--store-profile={profile}",
         f"--store-report={report}", "-p", "no:cacheprovider", "-q", "--hypothesis-seed=0",
         *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, data)


def report_schema() -> dict[str, Any]:
    """The JSON schema every ``--store-report`` file must follow."""
    text = resources.files("storecheck.plugin").joinpath("report.schema.json").read_text()
    return dict(json.loads(text))
