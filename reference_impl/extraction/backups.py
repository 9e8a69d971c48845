"""What a restore of the reference ``extraction`` store verifies beyond the engine's checks."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from storecheck.conformance.errors import StorageCause, StorageFailed
from storecheck.conformance.specs.extraction import SPEC, content_digest
from storecheck.reference_impl.engine.backups import BackingUpStore
from storecheck.reference_impl.engine.maintenance import read_only

BLOCK_DIGESTS: Final = "SELECT id, content, digest FROM code_blocks ORDER BY id"
VERIFY_BATCH: Final = 1_000
"""Code blocks read from a backup at a time while their digests are verified."""


class ExtractionBackups(BackingUpStore):
    """Backups of the extraction store: a restore verifies every code block's digest."""

    def _verify_contents(self, path: Path, name: str) -> None:
        """StorageFailed(CORRUPT) unless every code block in the backup has the digest of its
        content: restored, a block whose content was changed would stand in the way of the
        content it now holds (saved again, it would be stored twice) and hide the one it
        was saved with."""
        conn = read_only(path)
        try:
            found = conn.execute(BLOCK_DIGESTS)
            while batch := found.fetchmany(VERIFY_BATCH):
                for block_id, content, digest in batch:
                    if content_digest(content) != digest:
                        raise StorageFailed(SPEC, "restore", StorageCause.CORRUPT,
                                            f"backup {path.name} failed verification: code "
                                            f"block {block_id}'s content does not have its "
                                            f"digest {digest}", name)
        finally:
            conn.close()
