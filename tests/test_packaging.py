"""The wheel installs only the storecheck namespace, with its SQL files and py.typed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_holds_only_the_storecheck_namespace(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("storecheck-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"storecheck"}
    packages = {name.split("/")[1] for name in names if name.startswith("storecheck/")}
    assert packages == {"conformance", "plugin", "fixtures", "reference_impl"}
    assert "storecheck/reference_impl/session_history/migrations/0001_initial_schema.up.sql" in names
    assert "storecheck/conformance/suites/session_history/test_acid.py" in names
    for package in packages:
        assert f"storecheck/{package}/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]" in text and "storecheck = storecheck.plugin.main" in text
    assert "sqlite = storecheck.reference_impl.backend:SQLITE_BACKEND" in text
