"""How long to wait before asking the CA again: Retry-After when given, else a fast ramp."""

from __future__ import annotations

# Local and fast CAs answer in tens of milliseconds; remote ones in seconds. The ramp finds out
# quickly without hammering: 7 polls in the first 2 s, then at most one per `ceiling` seconds.
RAMP = (0.02, 0.04, 0.08, 0.15, 0.3, 0.6, 1.0, 2.0, 3.0, 5.0)


def next_poll_delay(attempt: int, retry_after: float | None = None, ceiling: float = 10.0,
                    floor: float = 0.0) -> float:
    """Seconds to wait before poll number `attempt` (0-based)."""
    if retry_after is not None:
        return max(retry_after, floor)
    step = RAMP[attempt] if attempt < len(RAMP) else ceiling
    return max(min(step, ceiling), floor)
