"""The wire's command line: ``serve BACKEND`` and ``protocol SPEC``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from storecheck.conformance.specs import SPECS

USAGE = """\
usage: python -m storecheck.conformance.wire serve BACKEND
       python -m storecheck.conformance.wire protocol SPEC

  serve BACKEND   serve a Python backend over the wire protocol on stdin/stdout:
                  a registered name (sqlite, memory, ...) or module:attr, as --store takes
  protocol SPEC   print SPEC's wire protocol as an OpenRPC document (JSON)"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storecheck.conformance.wire", usage=USAGE)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a Python backend on stdin/stdout")
    serve.add_argument("backend", help="a registered backend name, or module:attr")
    protocol = commands.add_parser("protocol", help="print a spec's OpenRPC document")
    protocol.add_argument("spec", choices=sorted(SPECS))
    arguments = parser.parse_args(argv)
    if arguments.command == "protocol":
        return print_protocol(arguments.spec)
    return serve_backend(arguments.backend)


def print_protocol(spec: str) -> int:
    from storecheck.conformance.wire.openrpc import openrpc_document

    json.dump(openrpc_document(spec), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


def serve_backend(ref: str) -> int:
    import pytest
    from storecheck.conformance.wire.server import serve
    from storecheck.plugin.selection import load_backend

    known = {entry.name: entry for entry in entry_points(group="storecheck.backends")}
    try:
        backend = load_backend(ref, known)
    except pytest.UsageError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    return serve(backend)
