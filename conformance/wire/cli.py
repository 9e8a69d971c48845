"""The wire's command line: ``serve BACKEND``, ``protocol SPEC`` and ``protocol --check
COMMAND``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from storecheck.conformance.specs import SPECS


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m storecheck.conformance.wire",
        description="The wire protocol that checks a store written in any language "
        "(pytest --store=exec:COMMAND).")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve", help="serve a Python backend over the wire protocol on stdin/stdout")
    serve.add_argument("backend", help="a registered backend name (sqlite, memory, ...) or "
                       "module:attr, as --store takes")
    protocol = commands.add_parser(
        "protocol", help="print a spec's wire protocol as an OpenRPC document (JSON); with "
        "--check, check a server's reply to one valid call of every operation instead")
    protocol.add_argument("spec", nargs="?", choices=sorted(SPECS),
                          help="the spec (with --check: only this one; default every spec "
                          "the server implements)")
    protocol.add_argument("--check", metavar="COMMAND",
                          help="start COMMAND (an implementation, as exec:COMMAND names it), "
                          "make each operation's valid call and check every reply against "
                          "the protocol's schemas; exit 1 naming each wrong method and field")
    arguments = parser.parse_args(argv)
    if arguments.command == "protocol":
        if arguments.check is not None:
            from storecheck.conformance.wire.validate import check_server

            return check_server(arguments.check.removeprefix("exec:"),
                                [arguments.spec] if arguments.spec else [])
        if arguments.spec is None:
            parser.error("protocol: name a spec (or --check COMMAND)")
        return print_protocol(arguments.spec)
    return serve_backend(arguments.backend)


def print_protocol(spec: str) -> int:
    from storecheck.conformance.wire.openrpc import openrpc_document

    json.dump(openrpc_document(spec), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def serve_backend(ref: str) -> int:
    from storecheck.conformance.backend_refs import BackendRefError, resolve_backend
    from storecheck.conformance.wire.server import serve

    known = {entry.name: entry for entry in entry_points(group="storecheck.backends")}
    try:
        backend = resolve_backend(ref, known, [Path.cwd()])
    except BackendRefError as exc:
        print(f"serve {ref}: {exc}", file=sys.stderr)
        return 2
    return serve(backend)
