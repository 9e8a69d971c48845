"""In-memory models of the specs: the ``memory`` backend."""

from storecheck.reference_impl.memory.backend import MEMORY_BACKEND, MemoryBackend
from storecheck.reference_impl.memory.session_history import MemorySessionHistory

__all__ = ["MEMORY_BACKEND", "MemoryBackend", "MemorySessionHistory"]
