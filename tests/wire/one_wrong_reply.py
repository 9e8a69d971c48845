"""The reference served through the wire, with one reply made wrong on its way out: the
``workspace_id`` of every ``session_history.get_session`` result turned into text.  Between the
harness and ``storecheck.conformance.wire serve sqlite``, it relays each line."""

from __future__ import annotations

import json
import subprocess
import sys

server = subprocess.Popen([sys.executable, "-m", "storecheck.conformance.wire", "serve", "sqlite"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
assert server.stdin is not None and server.stdout is not None
for line in sys.stdin:
    request = json.loads(line)
    server.stdin.write(line)
    server.stdin.flush()
    reply = json.loads(server.stdout.readline())
    if request.get("method") == "session_history.get_session" and "result" in reply:
        reply["result"]["workspace_id"] = str(reply["result"]["workspace_id"])
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
server.stdin.close()
server.wait()
