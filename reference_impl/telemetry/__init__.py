"""The reference ``telemetry`` store (seed 000) on SQLite."""

from storecheck.reference_impl.telemetry.store import MIGRATIONS, SqliteTelemetry

__all__ = ["MIGRATIONS", "SqliteTelemetry"]
