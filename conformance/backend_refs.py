"""Finding a backend from how a user names it: a registered name or ``module:attr``.

Kept apart from the pytest plugin so that a process serving a backend over the wire
(:mod:`storecheck.conformance.wire`) resolves it the same way without loading pytest.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

BACKEND_ATTRIBUTES: Final = ("name", "specs", "capabilities", "new_location", "open", "discard")


class BackendRefError(ValueError):
    """A name that is no backend: unknown, not importable, or not shaped like one."""


def importable_from(directories: Sequence[Path]) -> None:
    """Put ``directories`` on the import path, first, as ``python -m pytest`` puts its own.

    A ``module:attr`` backend then imports from the directory pytest runs in
    whether pytest was started as ``pytest`` or as ``python -m pytest``; worker
    processes started with spawn inherit the path.
    """
    for directory in reversed(list(dict.fromkeys(str(d) for d in directories))):
        if directory not in sys.path:
            sys.path.insert(0, directory)


def _import(module_name: str, directories: Sequence[Path]) -> Any:
    importable_from(directories)
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        searched = ", ".join(dict.fromkeys(str(d) for d in directories))
        top = module_name.partition(".")[0]
        hint = "" if getattr(exc, "name", None) not in (top, module_name) else (
            f"; searched {searched} and the installed packages. Run pytest from the directory "
            f"that holds {top!r} (or its rootdir), install the package, or add its directory "
            "to PYTHONPATH")
        raise BackendRefError(f"cannot import {module_name!r}: {exc}{hint}") from exc
    except Exception as exc:
        raise BackendRefError(f"importing {module_name!r} raised {type(exc).__name__}: "
                              f"{exc}") from exc


def resolve_backend(ref: str, known: dict[str, Any], directories: Sequence[Path] = ()) -> Any:
    """A backend from a name in ``known`` (entry points are loaded) or ``module:attr`` (a
    backend or a factory), ``module`` imported from ``directories`` or the installed
    packages."""
    if ref in known:
        candidate = known[ref]
        if hasattr(candidate, "load") and hasattr(candidate, "group"):
            candidate = candidate.load()
    elif ":" in ref:
        module_name, _, attr = ref.partition(":")
        module = _import(module_name, directories)
        try:
            candidate = getattr(module, attr)
        except AttributeError:
            raise BackendRefError(f"{module_name!r} has no attribute {attr!r}") from None
    else:
        names = ", ".join(sorted(known)) or "none"
        raise BackendRefError(
            f"unknown backend. Registered backends: {names}; or name one as module:attr")
    if not looks_like_backend(candidate) and callable(candidate):
        try:
            candidate = candidate()
        except Exception as exc:
            # A factory reads its settings (a URL, a password) and raises when one is
            # missing: the user's fix is in the message, not in a traceback.
            raise BackendRefError(f"the backend factory raised {type(exc).__name__}: "
                                  f"{exc}") from exc
    if not looks_like_backend(candidate):
        missing = [a for a in BACKEND_ATTRIBUTES if not hasattr(candidate, a)]
        raise BackendRefError(f"{candidate!r} is not a backend (missing {', '.join(missing)}); "
                              "see storecheck.conformance.backend.Backend")
    return candidate


def looks_like_backend(obj: Any) -> bool:
    return all(hasattr(obj, attribute) for attribute in BACKEND_ATTRIBUTES)
