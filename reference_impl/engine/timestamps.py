"""How the reference stores timestamps: fixed-width UTC text, so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime


def to_text(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def optional_text(value: datetime | None) -> str | None:
    return None if value is None else to_text(value)


def from_text(value: str) -> datetime:
    """Parse what :func:`to_text` wrote; its ``Z`` suffix already yields UTC."""
    return datetime.fromisoformat(value)


def optional_from_text(value: str | None) -> datetime | None:
    return None if value is None else from_text(value)
