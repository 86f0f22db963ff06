"""The emulated SP-API's usage plans: a token bucket per operation and selling partner,
429 ``QuotaExceeded`` when it is empty, and ``x-amzn-RateLimit-Limit`` on every answer
(amazon.md section 9).

Amazon's buckets hold ``burst`` requests and refill at ``rate`` per second, per selling
partner and application; the defaults below are the documented usage plans of the
operations the emulator serves. Tests and benchmarks set small rates and bursts with
``EmulatorState.set_rate_limit`` so that throttling shows within a second.
"""

from __future__ import annotations

from dataclasses import dataclass

from spconnect.emulator.sellers import Answer
from spconnect.emulator.state import EmulatorState

# Operation -> (rate per second, burst), from the operations' reference pages (Orders v0
# getOrders: 0.0167/20, getOrder, getOrderAddress, getOrderBuyerInfo: 0.5/30; Tokens
# createRestrictedDataToken: 1/10; Reports 2021-06-30 getReports: 0.0222/10).
DEFAULT_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "getOrderBuyerInfo": (0.5, 30),
    "createRestrictedDataToken": (1.0, 10),
    "getReports": (0.0222, 10),
}


@dataclass(frozen=True)
class Quota:
    allowed: bool
    rate: float

    @property
    def header(self) -> dict[str, str]:
        return {"x-amzn-RateLimit-Limit": f"{self.rate:g}"}


def plan(state: EmulatorState, operation: str) -> tuple[float, float]:
    """The operation's usage plan: (rate per second, burst)."""
    with state.lock:
        return state.rate_limits.get(operation) or DEFAULT_RATE_LIMITS[operation]


def take(state: EmulatorState, operation: str, selling_partner_id: str) -> Quota:
    """Spend one request of ``operation``'s bucket for this account, if there is one."""
    with state.lock:
        rate, burst = plan(state, operation)
        key = (operation, selling_partner_id)
        now = state.now()
        tokens, last = state.spapi_buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1
        state.spapi_buckets[key] = (tokens - 1 if allowed else tokens, now)
        state.counts[f"{operation}:{'ok' if allowed else 'throttled'}"] += 1
        return Quota(allowed, rate)


def quota_exceeded(quota: Quota) -> Answer:
    """Amazon's 429 for an empty bucket."""
    message = "You exceeded your quota for the requested resource."
    errors: list[object] = [{"code": "QuotaExceeded", "message": message, "details": ""}]
    return Answer(429, {"errors": errors}, quota.header)
