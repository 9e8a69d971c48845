"""``python -m storecheck.conformance.wire serve BACKEND`` serves a Python backend over the
wire protocol; ``... protocol SPEC`` prints the spec's OpenRPC document."""

from __future__ import annotations

import sys

from storecheck.conformance.wire.cli import main

sys.exit(main())
