"""Per-client rate limits on the invite server's public paths: a token bucket per client
address, in this process's memory.

A seller's whole path is a handful of requests (the invite page, the button, the
Login-URI hop, Amazon's answer), so a limit of a request a second with a burst of a
minute's worth never slows a person, while it bounds what one address can make the
server do (states written, pages rendered). With several instances behind one domain
each keeps its own buckets: the limit per client is then at most that many times the
configured one, which is still a bound. The number of addresses tracked is bounded too.

A client is an IPv4 address, or the /64 an IPv6 address is in: a subscriber is given a
/64 at least, and a bucket per IPv6 address would let it choose among 2^64 of them.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

MAX_CLIENTS = 50_000
IPV6_PREFIX = 64


def client_of(address: str) -> str:
    """The bucket's name for a peer address (module docstring); anything that is not an
    IP address (a Unix socket's peer, "-") is its own name."""
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, updated)

    def wait_needed(self, client: str) -> float:
        """0 when ``client`` may go ahead now (and counts the request), else the seconds
        until it may. Called from the event loop only, so no lock is needed."""
        client = client_of(client)
        now = self.clock()
        tokens, updated = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - updated) * self.rate)
        if tokens >= 1.0:
            tokens -= 1.0
            wait = 0.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)  # re-inserted: the dict stays in LRU order
        if len(self._buckets) > self.max_clients:
            self._prune(now)
        return wait

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket.
        full = [
            client
            for client, (tokens, updated) in self._buckets.items()
            if tokens + (now - updated) * self.rate >= self.capacity
        ]
        for client in full:
            del self._buckets[client]
        # Still too many (a flood from many addresses): forget the least recent half.
        excess = len(self._buckets) - self.max_clients // 2
        if len(self._buckets) > self.max_clients:
            for client in list(self._buckets)[:excess]:
                del self._buckets[client]
