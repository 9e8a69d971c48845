"""What every model shares: one lock, and each operation applied to a copy of the state."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, Self, TypeVar

T = TypeVar("T")


class CopyableState(Protocol):
    def copy(self) -> Self: ...


S = TypeVar("S", bound=CopyableState)


class MemoryStore(Generic[S]):
    """Operations run ``change`` on a copy and keep it only if it returns: atomic by design."""

    def __init__(self, state: S) -> None:
        self.state = state
        self.lock = threading.RLock()

    def _apply(self, change: Callable[[S], T]) -> T:
        with self.lock:
            draft = self.state.copy()
            result = change(draft)
            self.state = draft
            return result

    def _read(self, look: Callable[[S], T]) -> T:
        with self.lock:
            return look(self.state)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Hold the lock for the block; an exception restores the state from before it."""
        with self.lock:
            saved = self.state.copy()
            try:
                yield
            except BaseException:
                self.state = saved
                raise

    def close(self) -> None:
        """Nothing to release; the data lives as long as the backend keeps the location."""
