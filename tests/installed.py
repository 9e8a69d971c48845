"""storecheck as a user gets it: the sdist and wheel built from this tree, the wheel installed
into a fresh virtualenv that sees neither the source tree nor this project's own venv.

Built once per test run: under pytest-xdist the first worker builds while the others wait
on a file lock, then all of them use the same installation."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SOURCE_FOLDERS = ("conformance", "plugin", "fixtures", "reference_impl")
"""The folders installed as ``storecheck.<folder>`` (DESIGN.md's layout)."""

PACKAGED_KINDS = (".py", ".sql", ".json", "py.typed")
"""What a source folder may hold: each of these kinds is installed; any other kind is a
decision nobody made yet (the packaging test names the file)."""


@dataclass(frozen=True)
class Installed:
    sdist: Path
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def command(self, name: str) -> Path:
        return self.venv / "bin" / name

    def environment(self) -> dict[str, str]:
        """The caller's environment without anything that would put the source tree or this
        project's venv on the installed interpreter's path."""
        env = {key: value for key, value in os.environ.items()
               if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
        own_venv = str(Path(sys.prefix) / "bin") if sys.prefix != sys.base_prefix else None
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), *(
            entry for entry in env.get("PATH", "").split(os.pathsep) if entry != own_venv)])
        return env


def source_files() -> list[str]:
    """The files a clone of this tree would build from: tracked ones, and new ones git does
    not ignore (so a package added but not yet committed is held to the same rule)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    return sorted(name for name in listed if name and (ROOT / name).is_file())


def installed(shared_dir: Path) -> Installed:
    """Build and install once into ``shared_dir`` (a directory every worker sees)."""
    shared_dir.mkdir(parents=True, exist_ok=True)
    marker = shared_dir / "installed.json"
    with open(shared_dir / "installed.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            marker.write_text(json.dumps(asdict(_build_and_install(shared_dir)), default=str))
    return Installed(**{key: Path(value) for key, value in json.loads(marker.read_text()).items()})


def _run(*command: str | Path, cwd: Path | None = None) -> None:
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} exited {done.returncode}:\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def _build_and_install(shared_dir: Path) -> Installed:
    source = shared_dir / "source"
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    dist = shared_dir / "dist"
    # python -m build makes the sdist, then the wheel from the sdist: the wheel is what
    # installing the sdist gives, so both are proven by what the wheel holds and does.
    _run(sys.executable, "-m", "build", "--outdir", dist, source)
    (sdist,) = dist.glob("storecheck-*.tar.gz")
    (wheel,) = dist.glob("storecheck-*.whl")
    venv = shared_dir / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         f"{wheel}[postgres]")
    shutil.rmtree(source)
    return Installed(sdist=sdist, wheel=wheel, venv=venv)
