"""The TLS context of every HTTP client spconnect makes (LWA, the SP-API, the invite
server's admin API): made once per process, then shared.

httpx builds a new ``SSLContext`` for each ``Client`` it is not given one, and loads
certifi's CA bundle into it: some 20-25 ms of CPU with the GIL held, about twice Python's
start-up. A command that makes one client pays it once; the invite server made one per
code exchange, and ``invite pull`` three per invite (the admin API twice, LWA once), so
under load that was most of their CPU. benchmarks/invite_load.py, 200 sellers at once:
58% of the server's CPU samples; with one context its p95 from Amazon's redirect to the
blob stored fell from 3.5-4.1 s to 1.2-1.6 s, and the pull of 200 from 25 s to 11 s.
requests keeps one preloaded context for the same reason. Sharing is safe: an
``SSLContext`` may serve any number of connections and threads, and these two are never
changed after they are made.

- https: httpx's own default (certifi's bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``
  when set), certificates and host names verified.
- plain http (the emulator, an admin API on loopback, a local proxy through
  ``SPCONNECT_SPAPI_URL``): such a client never uses TLS, since it talks to its one
  origin and follows no redirect, so it gets a context that trusts no one and costs
  nothing to make; were TLS ever attempted with it, verification would fail, not pass.
"""

from __future__ import annotations

import functools
import ssl


@functools.cache
def _verifying() -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()


@functools.cache
def _trusting_no_one() -> ssl.SSLContext:
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, host names checked


def context_for(url: str) -> ssl.SSLContext:
    """httpx's ``verify`` for a client that talks to ``url``'s origin alone."""
    return _verifying() if url.lower().startswith("https:") else _trusting_no_one()
