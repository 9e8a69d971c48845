"""Reading the global feed page by page, as a processor does, without trusting it to move on.

Every loop over ``read_feed`` in the app_meta checks reads through ``next_page``: a feed
that hands back a position at or before ``after`` (an inclusive ``after``, a page out of
order) would keep a reader on the same page forever, so the check fails there, naming
the positions, instead of hanging the run.
"""

from __future__ import annotations

import itertools
from typing import Any

from storecheck.conformance.checks import expect
from storecheck.conformance.specs.app_meta import SPEC, StoredEvent


def next_page(store: Any, after: int, limit: int) -> list[StoredEvent]:
    """``store.read_feed(after, limit)``, held to the spec's rule that each event's position
    is past ``after`` and the positions rise."""
    page: list[StoredEvent] = store.read_feed(after, limit)
    positions = [event.position for event in page]
    moving_on = all(position > after for position in positions) and all(
        earlier < later for earlier, later in itertools.pairwise(positions))
    expect(moving_on, SPEC, "read_feed",
           f"read_feed({after}, {limit}) to hand only positions past {after}, rising",
           positions[:5])
    return page


def whole_feed(store: Any, limit: int = 1000) -> list[StoredEvent]:
    """Every event of the feed, read a page at a time from the start."""
    events: list[StoredEvent] = []
    page = next_page(store, 0, limit)
    while page:
        events.extend(page)
        page = next_page(store, page[-1].position, limit)
    return events
