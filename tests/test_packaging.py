"""What users install is what these tests run: the sdist and the wheel hold every source file
and nothing else, carry the release metadata, and the installed wheel works from an empty
directory with no source tree on its path.

The expected files are enumerated from the tree (``git ls-files`` of the four source
folders), never named, so a package added later is held to the same rule.  The whole suite
of every spec then runs from the same installation on every correct backend
(``tests/test_mutants.py::test_correct_backends_pass_the_whole_suite``)."""

from __future__ import annotations

import configparser
import email
import json
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance.specs import SPECS
from storecheck.conformance.wire.openrpc import openrpc_document

from tests.installed import PACKAGED_KINDS, ROOT, SOURCE_FOLDERS, Installed, source_files

pytestmark = pytest.mark.slow

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
RELEASE_FILES = ("LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "setup.py", "MANIFEST.in")
"""What an sdist holds beside the source folders: the build's inputs and what a user reads."""


def packaged_sources() -> list[str]:
    return [name for name in source_files()
            if name.split("/", 1)[0] in SOURCE_FOLDERS and name.endswith(PACKAGED_KINDS)]


def _lacking(expected: set[str], found: set[str], what: str) -> str:
    missing = sorted(expected - found)
    return (f"{what} lacks {len(missing)} source file(s), first {missing[:10]}; setup.py finds "
            "packages by rule and pyproject.toml's package-data names the kinds, so look for "
            "an exclude there or a kind it does not list")


def test_the_source_folders_hold_only_kinds_that_are_installed() -> None:
    odd = [name for name in source_files()
           if name.split("/", 1)[0] in SOURCE_FOLDERS and not name.endswith(PACKAGED_KINDS)]
    assert not odd, (f"{odd} would not be installed: add the kind to pyproject.toml's "
                     "package-data and to tests/installed.py's PACKAGED_KINDS, or move the file")


def test_the_wheel_holds_every_source_file_and_nothing_else(installed_storecheck: Installed) -> None:
    names = set(zipfile.ZipFile(installed_storecheck.wheel).namelist())
    expected = {f"storecheck/{name}" for name in packaged_sources()}
    assert len(expected) > 200
    assert expected <= names, _lacking(expected, names, "the wheel")
    metadata_dir = f"storecheck-{VERSION}.dist-info/"
    stray = sorted(name for name in names - expected if not name.startswith(metadata_dir))
    assert not stray, f"the wheel holds files that are no tracked source: {stray[:10]}"


def test_the_sdist_holds_every_source_file_and_the_release_files(
    installed_storecheck: Installed,
) -> None:
    prefix = f"storecheck-{VERSION}/"
    with tarfile.open(installed_storecheck.sdist) as sdist:
        names = {member.name.removeprefix(prefix) for member in sdist.getmembers() if member.isfile()}
    expected = set(packaged_sources()) | set(RELEASE_FILES)
    assert expected <= names, _lacking(expected, names, "the sdist")
    outside = sorted(name for name in names - expected
                     if not name.startswith("storecheck.egg-info/") and name not in {"PKG-INFO", "setup.cfg"})
    assert not outside, f"the sdist holds files that are no tracked source: {outside[:10]}"


def _wheel_metadata(installed: Installed, name: str) -> str:
    with zipfile.ZipFile(installed.wheel) as wheel:
        return wheel.read(f"storecheck-{VERSION}.dist-info/{name}").decode()


def test_the_release_metadata_is_what_a_package_index_shows(installed_storecheck: Installed) -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict",
         str(installed_storecheck.sdist), str(installed_storecheck.wheel)],
        capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    metadata = email.message_from_string(_wheel_metadata(installed_storecheck, "METADATA"))
    assert metadata["Name"] == "storecheck" and metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "MIT" and metadata["License-File"] == "LICENSE"
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert str(metadata.get_payload()).strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    assert _wheel_metadata(installed_storecheck, "licenses/LICENSE") == (ROOT / "LICENSE").read_text()
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## {VERSION} " in changelog, "CHANGELOG.md has no section for the version released"
    entry_points = configparser.ConfigParser(delimiters=("=",))
    entry_points.optionxform = str  # type: ignore[assignment,method-assign]
    entry_points.read_string(_wheel_metadata(installed_storecheck, "entry_points.txt"))
    declared = {"console_scripts": PYPROJECT["project"]["scripts"],
                **PYPROJECT["project"]["entry-points"]}
    assert {group: dict(entry_points[group]) for group in entry_points.sections()} == declared


def _installed_run(installed: Installed, cwd: Path, *command: str | Path,
                   stdin: str | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=installed.environment(),
                          input=stdin, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_installed_package_runs_from_an_empty_directory(
    installed_storecheck: Installed, tmp_path: Path,
) -> None:
    python = installed_storecheck.python
    where = json.loads(_installed_run(installed_storecheck, tmp_path, python, "-c", (
        "import json, sys, storecheck.plugin, storecheck.conformance.specs as s; "
        "print(json.dumps([storecheck.plugin.__file__, sys.path, sorted(s.SPECS)]))")))
    plugin_file, path, specs = where
    assert Path(plugin_file).is_relative_to(installed_storecheck.venv)
    assert not [entry for entry in path if entry and Path(entry).resolve().is_relative_to(ROOT)]
    assert specs == sorted(SPECS)

    assert _installed_run(installed_storecheck, tmp_path, installed_storecheck.command("storecheck"),
                          "--version").strip() == f"storecheck {VERSION}"
    for spec in specs:
        printed = _installed_run(installed_storecheck, tmp_path,
                                 installed_storecheck.command("storecheck"), "protocol", spec)
        assert json.loads(printed) == json.loads(json.dumps(openrpc_document(spec))), spec


def test_the_installed_wire_server_answers_a_round_trip(
    installed_storecheck: Installed, tmp_path: Path,
) -> None:
    requests: list[dict[str, Any]] = [
        {"method": "storecheck.handshake"},
        {"method": "storecheck.open",
         "params": {"spec": "session_history", "location": str(tmp_path / "served.db")}},
        {"method": "session_history.get_session", "params": {"session_id": "nobody"}},
        {"method": "store.close"},
    ]
    lines = "".join(json.dumps({"jsonrpc": "2.0", "id": number, **request}) + "\n"
                    for number, request in enumerate(requests))
    answers: list[dict[str, Any]] = [json.loads(line) for line in _installed_run(
        installed_storecheck, tmp_path, installed_storecheck.python,
        "-m", "storecheck.conformance.wire", "serve", "sqlite", stdin=lines).splitlines()]
    handshake, opened, missing, closed = sorted(answers, key=lambda answer: answer["id"])
    assert set(handshake["result"]["specs"]) == set(SPECS)
    assert "result" in opened and closed["result"] is None
    assert missing["error"]["data"]["error"] == "NotFound", missing


def test_the_installed_suite_collects_every_check_of_the_tree(
    installed_storecheck: Installed, tmp_path: Path,
) -> None:
    """The same check ids from the wheel, in an empty directory, as from this tree: no
    suite module, spec or reference store left behind."""

    def collected(python: Path | str, cwd: Path, env: dict[str, str] | None) -> list[str]:
        done = subprocess.run(
            [str(python), "-m", "pytest", "--store=sqlite,memory", "--collect-only", "-q",
             "-p", "no:cacheprovider"],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return sorted(line for line in done.stdout.splitlines() if line.startswith("storecheck/"))

    from_wheel = collected(installed_storecheck.python, tmp_path, installed_storecheck.environment())
    from_tree_dir = tmp_path / "tree"
    from_tree_dir.mkdir()
    from_tree = collected(sys.executable, from_tree_dir, None)
    assert {line.split("/")[1] for line in from_wheel} == set(SPECS)
    assert from_wheel == from_tree
