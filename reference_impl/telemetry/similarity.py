"""Cosine top-k over the stored feature vectors, with numpy.

The vectors are read once into memory and kept until the table changes: each
search first reads the table's version (:data:`SERIAL_COMMITS`,
:data:`IDS_BEFORE_COMMIT`), which every insert and delete changes.

A search screens every vector in float32 (unit rows against the unit probe: half
the memory traffic of float64, and no overflow for components near the float32
range), then computes the spec's float64 cosine only for the vectors the screen
cannot rule out.  A float32 dot product of unit vectors of dimension n is within
``(n + 2) * 2**-24`` of the exact cosine, so a vector whose screened value is more than
twice that (plus one unit of the rounding to :data:`DIGITS` places) below the k-th
best screened value ranks below all k after rounding, whatever the exact values; the
screen widens k until the k best cover ``limit`` distinct queries.  The answer is
therefore the one a full float64 pass gives.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from storecheck.conformance.specs.telemetry import DIGITS, SimilarQuery

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float64]
    Matrix32 = npt.NDArray[np.float32]
# numpy is imported where it is used: loading it costs a tenth of a second, which every
# process that only imports the reference stores (a served backend, a worker) would pay.

UNIT_ROUNDOFF_32 = 2.0 ** -24


@dataclass(frozen=True)
class VectorMatrix:
    version: tuple[int, int | None, int | None]
    query_ids: npt.NDArray[np.object_]
    query_order: npt.NDArray[np.int64]
    """Each vector's query id as its rank among the distinct ids (ties go to the lower)."""
    vectors: Matrix32
    """The stored float32 components, exact."""
    norms: Matrix
    units: Matrix32
    """Each vector divided by its norm (in float64), rounded to float32: the screen."""
    dimension: int | None

    def top(self, probe: Sequence[float], limit: int) -> list[SimilarQuery]:
        """The ``limit`` queries with the highest best similarity, ties by query id."""
        if self.dimension is None:
            return []
        import numpy as np

        target = np.asarray(probe, dtype=np.float64)
        length = np.sqrt(target @ target)
        screened = self.units @ (target / length).astype(np.float32)
        candidates = self._candidates(screened, limit)
        similarity = ((self.vectors[candidates].astype(np.float64) @ target)
                      / (self.norms[candidates] * length))
        rounded = np.round(similarity, DIGITS)
        order = np.lexsort((self.query_order[candidates], -rounded))
        found: list[SimilarQuery] = []
        seen: set[str] = set()
        for index in order:
            query_id = str(self.query_ids[candidates[index]])
            if query_id not in seen:
                seen.add(query_id)
                found.append(SimilarQuery(query_id, round(float(similarity[index]), DIGITS)))
                if len(found) == limit:
                    break
        return found

    def _candidates(self, screened: Matrix32, limit: int) -> npt.NDArray[np.intp]:
        """The vectors that may be among the best ``limit`` queries' best vectors."""
        import numpy as np

        count = len(screened)
        margin = 2 * ((self.dimension or 0) + 4) * UNIT_ROUNDOFF_32 + 2 * 10.0 ** -DIGITS
        best = limit
        while best < count:
            leaders = np.argpartition(-screened, best - 1)[:best]
            if len(np.unique(self.query_order[leaders])) >= limit:
                threshold = float(screened[leaders].min()) - margin
                return np.flatnonzero(screened >= threshold)
            best *= 4
        return np.arange(count)


@cache
def empty() -> VectorMatrix:
    import numpy as np

    return VectorMatrix((0, None, None), np.array([], dtype=object), np.array([], dtype=np.int64),
                        np.zeros((0, 0), dtype=np.float32), np.zeros(0),
                        np.zeros((0, 0), dtype=np.float32), None)


SERIAL_COMMITS: Final = ("SELECT (SELECT count(*) FROM feature_vectors), "
                          "(SELECT max(id) FROM feature_vectors), NULL")
"""The version where writers commit one at a time and ids are never reused (SQLite, with
``AUTOINCREMENT``): an insert raises the highest id, a delete lowers the count, so the two
tell every change; each is a scalar subquery so that SQLite counts the B-tree's pages and
seeks the highest key (7 microseconds on 10,000 vectors) instead of scanning an index
(1 ms)."""

IDS_BEFORE_COMMIT: Final = "SELECT count(*), max(id), sum(id) FROM feature_vectors"
"""The version where ids are handed out before commit (a PostgreSQL sequence): a delete
plus a late commit of a lower id leaves count and maximum as they were, not the total."""


class VectorIndex:
    """The kept matrix of one store object, shared by its threads."""

    def __init__(self, version_query: str) -> None:
        self._version_query = version_query
        self._lock = threading.Lock()
        self._matrix: VectorMatrix | None = None

    def current(self, conn: Any) -> VectorMatrix:
        """The matrix of what ``conn``'s transaction sees."""
        count, highest, total = conn.execute(self._version_query).fetchone()
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

    dimension = len(found[0][1]) // 4
    blob = b"".join(bytes(row[1]) for row in found)
    return build(version, [row[0] for row in found],
                 np.frombuffer(blob, dtype="<f4").reshape(len(found), dimension))


def build(version: tuple[int, int | None, int | None], query_ids: Sequence[str],
          vectors: Matrix32) -> VectorMatrix:
    """The matrix of ``vectors`` (float32, one row per stored vector, in id order)."""
    import numpy as np

    if not len(query_ids):
        return empty()
    exact = vectors.astype(np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", exact, exact))
    ids = np.array(query_ids, dtype=object)
    _, query_order = np.unique(ids.astype(str), return_inverse=True)
    return VectorMatrix(version, ids, query_order.astype(np.int64), vectors, norms,
                        (exact / norms[:, None]).astype(np.float32), vectors.shape[1])
