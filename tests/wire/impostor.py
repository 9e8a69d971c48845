"""An implementation process that breaks the wire protocol in one way, named by argv[1]:
``die`` (exits when asked to open), ``hang`` (never answers the open), ``garbage`` (answers
with a line that is not JSON), ``shape`` (a result of the wrong shape), ``foreign-error``
(an error that is none of the spec's)."""

from __future__ import annotations

import json
import sys

MODE = sys.argv[1]


def answer(request_id: object, **body: object) -> None:
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, **body}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    method, request_id = request["method"], request["id"]
    if method == "storecheck.handshake":
        answer(request_id, result={"protocol": 1, "name": f"impostor-{MODE}",
                                   "specs": ["session_history"], "capabilities": []})
    elif method == "storecheck.open":
        answer(request_id, result={"sql_dialect": None})
    elif method == "store.close":
        answer(request_id, result=None)
    elif MODE == "die":
        print("impostor: giving up on", method, file=sys.stderr, flush=True)
        sys.exit(3)
    elif MODE == "hang":
        print("impostor: thinking about", method, file=sys.stderr, flush=True)
    elif MODE == "garbage":
        print("impostor: about to misbehave", file=sys.stderr, flush=True)
        sys.stdout.write("Traceback (most recent call last): oops\n")
        sys.stdout.flush()
    elif MODE == "shape":
        answer(request_id, result={"id": "not an integer", "path": "/w"})
    elif MODE == "foreign-error":
        answer(request_id, error={"code": -32603, "message": "TypeError: undefined is not a function"})
