"""Cosine top-k over the stored feature vectors, with numpy.

The vectors are read once into one float64 matrix (with their norms) and kept
until the table changes; a search is then one matrix-vector product.  The
table's row count, highest id and id total change with every insert and delete
(ids are never reused), so together they tell whether the kept matrix is current;
the total tells apart a delete plus a late commit of a lower id, which a server
whose ids are handed out before commit can show with count and maximum unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from storecheck.conformance.specs.telemetry import DIGITS, SimilarQuery

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float64]
# numpy is imported where it is used: loading it costs a tenth of a second, which every
# process that only imports the reference stores (a served backend, a worker) would pay.


@dataclass(frozen=True)
class VectorMatrix:
    version: tuple[int, int | None, int | None]
    query_ids: npt.NDArray[np.object_]
    query_order: npt.NDArray[np.int64]
    """Each vector's query id as its rank among the distinct ids (ties go to the lower)."""
    vectors: Matrix
    norms: Matrix
    dimension: int | None

    def top(self, probe: Sequence[float], limit: int) -> list[SimilarQuery]:
        """The ``limit`` queries with the highest best similarity, ties by query id."""
        if self.dimension is None:
            return []
        import numpy as np

        target = np.asarray(probe, dtype=np.float64)
        similarity = (self.vectors @ target) / (self.norms * np.sqrt(target @ target))
        rounded = np.round(similarity, DIGITS)
        order = np.lexsort((self.query_order, -rounded))
        found: list[SimilarQuery] = []
        seen: set[str] = set()
        for index in order:
            query_id = str(self.query_ids[index])
            if query_id not in seen:
                seen.add(query_id)
                found.append(SimilarQuery(query_id, round(float(similarity[index]), DIGITS)))
                if len(found) == limit:
                    break
        return found


@cache
def empty() -> VectorMatrix:
    import numpy as np

    return VectorMatrix((0, None, None), np.array([], dtype=object), np.array([], dtype=np.int64),
                        np.zeros((0, 0)), np.zeros(0), None)


class VectorIndex:
    """The kept matrix of one store object, shared by its threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._matrix: VectorMatrix | None = None

    def current(self, conn: Any) -> VectorMatrix:
        """The matrix of what ``conn``'s transaction sees."""
        count, highest, total = conn.execute(
            "SELECT count(*), max(id), sum(id) FROM feature_vectors").fetchone()
        with self._lock:
            if self._matrix is not None and self._matrix.version == (count, highest, total):
                return self._matrix
        matrix = load(conn, (count, highest, total))
        with self._lock:
            self._matrix = matrix
        return matrix


def load(conn: Any, version: tuple[int, int | None, int | None]) -> VectorMatrix:
    found = conn.execute("SELECT query_id, embedding FROM feature_vectors ORDER BY id").fetchall()
    if not found:
        return empty()
    import numpy as np

    query_ids = np.array([row[0] for row in found], dtype=object)
    dimension = len(found[0][1]) // 4
    blob = b"".join(bytes(row[1]) for row in found)
    vectors = np.frombuffer(blob, dtype="<f4").reshape(len(found), dimension).astype(np.float64)
    _, query_order = np.unique(query_ids.astype(str), return_inverse=True)
    return VectorMatrix(version, query_ids, query_order.astype(np.int64), vectors,
                        np.sqrt(np.einsum("ij,ij->i", vectors, vectors)), dimension)
