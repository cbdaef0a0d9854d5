"""Times as the REST APIs show and take them: ISO 8601 in UTC (stores keep epoch seconds)."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def parse_time(value: str) -> float:
    """ISO 8601 (naive means UTC) or epoch seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
