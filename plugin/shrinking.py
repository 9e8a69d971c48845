"""How long a failure may be shrunk: a time budget per profile, ``--store-shrink-seconds``.

Hypothesis shrinks a failing example until it is minimal or five minutes have passed, and
then asks for a bug report.  A store's example is slow to replay (stores reopened, files
synced, a round trip per call through the wire), so a model failure at the default profile
could shrink for minutes before anything was printed.  The profile bounds it instead; when
the bound stops shrinking, the failure says so in storecheck's words, with what to do next.

Hypothesis offers no setting for this, only the module constant its engine reads when
shrinking starts: this module is the one place that sets it.
"""

from __future__ import annotations

import re

import pytest
from hypothesis.internal.conjecture import engine

_GAVE_UP = re.compile(
    r"WARNING: Hypothesis has spent more than .*? working to shrink.*?"
    r"(?:performance for everyone\.|$)\s*", re.DOTALL)
_EXITED_EARLY = re.compile(r"This test function exited early because it took too long to "
                           r"shrink\..*?(?:--hypothesis-seed=(\d+))?\.?\s*$", re.DOTALL)


def apply_budget(seconds: float) -> bool:
    """Shrink each failure for at most ``seconds``; False when this hypothesis has no such
    bound to set (its own, five minutes, then holds)."""
    if not isinstance(getattr(engine, "MAX_SHRINKING_SECONDS", None), (int, float)):
        return False
    engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
    return True


def explain_stop(report: pytest.TestReport, seconds: float, budget: str,
                 seed: object = None) -> None:
    """Replace hypothesis's words for shrinking stopped by the budget with storecheck's,
    ``budget`` saying whose bound it was and ``seed`` the run's ``--hypothesis-seed``, if
    one was given."""
    # Hypothesis's words land in its own report section for a ``@given`` check, and in the
    # captured output for a stateful machine run from inside a check.
    for index, (title, text) in enumerate(report.sections):
        if not _GAVE_UP.search(text):
            continue
        generated = _EXITED_EARLY.search(text)
        if generated is not None and generated.group(1):
            seed = generated.group(1)
        rest = _EXITED_EARLY.sub("", _GAVE_UP.sub("", text)).strip()
        stopped = (
            f"storecheck: shrinking stopped after {seconds:g} s ({budget}): the failing example "
            "above is the smallest found by then, not necessarily the smallest there is. The "
            "rerun command below replays it as it is")
        if seed is not None:
            stopped += f"; --hypothesis-seed={seed} repeats the whole search"
        report.sections[index] = (title, "\n\n".join(filter(None, [rest, stopped + "."])))
        return
