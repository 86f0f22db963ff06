"""Pacing SP-API calls to the operation's usage plan (amazon.md section 9; design, "Speed":
a steady ``api --paginate`` export meets no 429 and takes little more than the plan's
floor).

Amazon keeps a token bucket per operation, selling partner and application: ``burst``
requests at once, refilled at ``rate`` per second. The rate comes back in every answer's
``x-amzn-RateLimit-Limit``; the burst is not announced, so it comes from the documented
usage plans (usage_plans.py), else 1. The pacer keeps the same bucket on this side,
assumed full at the start, refilled at the announced rate less a small margin for network
jitter, and waits when it is empty: a long export spends the burst at once and then runs
at the announced rate, which Amazon's bucket always allows. A 429 (another program of the
app drained the bucket) empties this side's bucket too, so the retry waits for a refill.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx

RATE_HEADER = "x-amzn-RateLimit-Limit"
# Arrivals at Amazon jitter by some milliseconds; refilling 2% slower than announced keeps
# a request from landing just before Amazon's bucket holds a whole token.
MARGIN = 1.02
# Amazon's slowest usage plans allow one call every few minutes (0.0056 per second);
# a header announcing less is not believed beyond ten minutes between calls.
MAX_INTERVAL = 600.0


def announced_rate(headers: httpx.Headers) -> float | None:
    """Requests per second from ``x-amzn-RateLimit-Limit``, or None when absent or odd."""
    try:
        rate = float(headers.get(RATE_HEADER, "").strip())
    except ValueError:
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


class Pacer:
    """This side's copy of one operation's token bucket."""

    def __init__(
        self,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self.interval: float | None = None  # seconds per refilled request, once announced
        self._tokens = self.burst
        self._updated: float | None = None
        self._anchored = False

    def learn(self, headers: httpx.Headers) -> None:
        """An answer arrived: note the rate it announces. The first answer also anchors
        the refill clock: Amazon's bucket began to refill when the first request reached
        it, some time between sending and this answer; counting from now (the latest it
        can have been) rather than from the send keeps the first request's latency from
        making every later one early."""
        rate = announced_rate(headers)
        if rate is not None:
            self.interval = min(MAX_INTERVAL, MARGIN / rate)
        if not self._anchored and self._updated is not None:
            self._updated = max(self._updated, self._clock())
            self._anchored = True

    def throttled(self) -> None:
        """Amazon answered 429: its bucket is empty, whatever this side counted."""
        self._tokens = 0.0
        self._updated = self._clock()

    def wait_needed(self) -> float:
        """Seconds ``wait_turn`` would sleep now."""
        if self.interval is None or self._updated is None:
            return 0.0
        tokens = min(self.burst, self._tokens + (self._clock() - self._updated) / self.interval)
        return max(0.0, (1 - tokens) * self.interval)

    def rate_text(self) -> str:
        """The announced rate, as a person reads it."""
        if self.interval is None:
            return "rate not announced yet"
        return f"{MARGIN / self.interval:g} requests per second"

    def wait_turn(self) -> float:
        """Sleep until the bucket holds a request, take it; returns the seconds slept."""
        now = self._clock()
        if self.interval is not None and self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) / self.interval)
        waited = 0.0
        if self._tokens < 1 and self.interval is not None:
            waited = (1 - self._tokens) * self.interval
            self._sleep(waited)
            self._tokens = 1.0
        # Before the first rate is announced nothing is known to wait for: go.
        self._tokens = max(0.0, self._tokens - 1)
        self._updated = now + waited
        return waited
