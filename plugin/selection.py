"""Turning ``--store``, ``--store-spec`` and ``--store-profile`` into a run plan."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from storecheck.conformance.backend import unknown_capabilities
from storecheck.conformance.backend_refs import BackendRefError, resolve_backend
from storecheck.conformance.specs import SPECS
from storecheck.conformance.wire.client import DEFAULT_TIMEOUT_S, exec_backend
from storecheck.conformance.wire.faults import ProtocolFailure
from storecheck.plugin.profiles import PROFILES, Profile

ENTRY_POINT_GROUP = "storecheck.backends"
EXEC_PREFIX = "exec:"


@dataclass(frozen=True)
class Selected:
    """One backend chosen for this run, with the specs it will be checked against."""

    ref: str
    backend: Any
    specs: tuple[str, ...]
    capabilities: frozenset[str]


@dataclass(frozen=True)
class Plan:
    selected: tuple[Selected, ...]
    profile: Profile

    @property
    def specs(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for item in self.selected:
            seen.update(dict.fromkeys(item.specs))
        return tuple(seen)

    def backends_for(self, spec: str) -> list[Selected]:
        return [item for item in self.selected if spec in item.specs]


def registered_backends(config: pytest.Config) -> dict[str, Any]:
    """Entry-point backends, overridden by those returned from the register hook."""
    found: dict[str, Any] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found[entry.name] = entry
    for batch in config.hook.pytest_storecheck_register_backends():
        for backend in batch or ():
            found[backend.name] = backend
    return found


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def split_store_refs(value: str | None) -> list[str]:
    """``--store``'s backends: comma-separated, except that ``exec:COMMAND`` runs to the end
    of the value (a command may hold commas)."""
    head, found, command = (value or "").partition(EXEC_PREFIX)
    return _split(head) + ([EXEC_PREFIX + command.strip()] if found else [])


@dataclass(frozen=True)
class ExecCommand:
    """A backend named in the ``storecheck_exec`` ini setting: ``NAME = COMMAND``."""

    name: str
    command: str


def exec_commands(config: pytest.Config) -> dict[str, ExecCommand]:
    found = {}
    for line in config.getini("storecheck_exec"):
        name, equals, command = str(line).partition("=")
        if not equals or not name.strip() or not command.strip():
            raise pytest.UsageError(
                f"storecheck_exec: {line!r} is not NAME = COMMAND (one backend per line)")
        found[name.strip()] = ExecCommand(name.strip(), command.strip())
    return found


def load_backend(ref: str, known: dict[str, Any], directories: Sequence[Path] = (),
                 exec_timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    """A backend from a registered name, ``module:attr`` (a backend or a factory), or
    ``exec:COMMAND`` (a program speaking the wire protocol); a bad one is a usage error
    naming the flag."""
    if ref.startswith(EXEC_PREFIX) or isinstance(known.get(ref), ExecCommand):
        named = known.get(ref)
        command = named.command if isinstance(named, ExecCommand) else ref[len(EXEC_PREFIX):]
        try:
            return exec_backend(command, name=named.name if isinstance(named, ExecCommand)
                                else None, timeout_s=exec_timeout_s)
        except ProtocolFailure as exc:
            raise pytest.UsageError(f"--store={ref}: the handshake failed: {exc}") from None
    try:
        return resolve_backend(ref, known, directories)
    except BackendRefError as exc:
        raise pytest.UsageError(f"--store={ref}: {exc}") from exc.__cause__


def make_plan(config: pytest.Config) -> Plan | None:
    """The run plan, or ``None`` when ``--store`` is absent (the plugin stays out of the way)."""
    value = config.getoption("store")
    refs = split_store_refs(value)
    if value is not None and not refs:
        raise pytest.UsageError(f"--store={value}: names no backend; name one (sqlite, "
                                "memory, module:attr or exec:COMMAND)")
    if not refs:
        for flag in ("store_spec", "store_report"):
            if config.getoption(flag):
                raise pytest.UsageError(f"--{flag.replace('_', '-')} needs --store=NAME")
        return None
    timeout = config.getoption("store_exec_timeout")
    if not timeout > 0:
        raise pytest.UsageError(f"--store-exec-timeout={timeout:g}: must be a positive number "
                                "of seconds")
    profile_name = config.getoption("store_profile")
    if profile_name not in PROFILES:
        raise pytest.UsageError(
            f"--store-profile={profile_name}: unknown profile; choose one of "
            f"{', '.join(PROFILES)}"
        )
    spec_option = config.getoption("store_spec")
    wanted_specs = _split(spec_option)
    if spec_option is not None and not wanted_specs:
        raise pytest.UsageError(f"--store-spec={spec_option}: names no spec; name one or more "
                                f"of {', '.join(sorted(SPECS))}, or leave the flag out for all")
    for spec in wanted_specs:
        if spec not in SPECS:
            raise pytest.UsageError(
                f"--store-spec={spec}: unknown spec; known specs: {', '.join(sorted(SPECS))}"
            )
    known = {**registered_backends(config), **exec_commands(config)}
    selected = []
    for ref in dict.fromkeys(refs):
        backend = load_backend(ref, known, (config.invocation_params.dir, config.rootpath),
                               config.getoption("store_exec_timeout"))
        bad = list(unknown_capabilities(backend))
        if bad:
            raise pytest.UsageError(
                f"--store={ref}: backend {backend.name!r} declares unknown capabilities "
                f"{', '.join(bad)}; see storecheck.conformance.capabilities"
            )
        capabilities = set(backend.capabilities)
        config.hook.pytest_storecheck_modify_capabilities(backend=backend, capabilities=capabilities)
        offered = [spec for spec in sorted(backend.specs) if spec in SPECS]
        specs = [spec for spec in offered if not wanted_specs or spec in wanted_specs]
        if not specs:
            raise pytest.UsageError(
                f"--store={ref}: backend {backend.name!r} implements "
                f"{', '.join(offered) or 'no known spec'}, none of --store-spec="
                f"{','.join(wanted_specs)}"
            )
        selected.append(Selected(ref, backend, tuple(specs), frozenset(capabilities)))
    names = [item.backend.name for item in selected]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise pytest.UsageError(f"--store: several backends are named {', '.join(duplicates)}")
    profile = PROFILES[profile_name]
    shrink_seconds = config.getoption("store_shrink_seconds")
    if shrink_seconds is not None:
        if not 0 < shrink_seconds < math.inf:
            raise pytest.UsageError(f"--store-shrink-seconds={shrink_seconds:g}: must be a "
                                    "positive number of seconds")
        profile = replace(profile, shrink_seconds=shrink_seconds)
    if config.getoption("store_replay"):
        profile = replace(profile, shrink=False)
    return Plan(tuple(selected), profile)

