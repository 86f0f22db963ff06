"""The access-token cache: ``<cache dir>/tokens/<profile>.json``, 0600, atomic replace.

Each entry records a hash of (client id, refresh token), so a cache written for an older
refresh token is recognised as stale by any caller that knows the current one. The fast
path cannot read the keyring and so cannot know it: whatever changes a profile's refresh
token or its app's credentials deletes or rewrites the entry in the same step (design,
"Files and storage"). With ``storage = "env"`` the fast path does know the refresh token
(it is in the environment) and checks the hash itself.

This module is on the fast path: standard library only, no ``re``/``typing``.
"""

from __future__ import annotations

import os
import time

from spconnect.store import paths

CACHE_VERSION = 1
# Refresh when less than this is left (amazon.md section 6: Amazon's SDKs refresh
# 30-60 s early; five minutes also absorbs modest clock skew). Configurable per config.
DEFAULT_REFRESH_MARGIN = 300


def cache_path(profile: str) -> str:
    return os.path.join(paths.tokens_dir(), f"{profile}.json")


def lock_path(profile: str) -> str:
    return os.path.join(paths.tokens_dir(), f"{profile}.lock")


def credential_key(client_id: str, refresh_token: str) -> str:
    """The hash that ties a cache entry to the credentials that produced it."""
    import hashlib

    material = f"{client_id}\0{refresh_token}".encode()
    return hashlib.sha256(material).hexdigest()


class _ScannerContext:
    """The attributes CPython's C JSON scanner reads from its json.JSONDecoder."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, str] = {}  # noqa: RUF012 - the C scanner's own cache, by name


def _decode_json(text: str) -> object:
    """``json.loads`` without importing ``json``.

    ``import json`` pulls in ``re`` and ``enum``: about 7 ms here, which alone would cost
    the fast path most of its budget (design, "Speed": at most 2x ``python -c pass``).
    CPython's accelerator ``_json`` parses the same grammar natively; other interpreters
    fall back to ``json``. A test feeds both the same documents.
    """
    try:
        from _json import make_scanner
    except ImportError:
        import json

        return json.loads(text)
    scan = make_scanner(_ScannerContext())  # type: ignore[arg-type]  # duck-typed context
    start = len(text) - len(text.lstrip())
    try:
        value, end = scan(text, start)
    except Exception:
        # On malformed input the C scanner builds its error from json.decoder, and only
        # if that module is already imported (else SystemError). Let json give the
        # verdict: only corrupt files, the rare case, pay for importing it.
        import json

        return json.loads(text)
    if text[end:].strip():
        raise ValueError("extra data after the JSON document")
    return value


def parse_entry(raw: bytes) -> dict[str, object] | None:
    """Decode a cache file; anything corrupt, truncated or foreign is a miss (None)."""
    try:
        entry = _decode_json(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("version") != CACHE_VERSION:
        return None
    token = entry.get("access_token")
    if not isinstance(token, str) or not token:
        return None
    for field in ("expires_at", "refresh_at"):
        value = entry.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
    for field in ("key", "client_id", "region"):
        if not isinstance(entry.get(field), str):
            return None
    return entry


def read_entry(profile: str) -> dict[str, object] | None:
    try:
        with open(cache_path(profile), "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return parse_entry(raw)


def is_usable(entry: dict[str, object], min_ttl: float = 0, now: float | None = None) -> bool:
    """True when the token has not reached its refresh time and lasts ``min_ttl`` more."""
    now = time.time() if now is None else now
    expires_at = float(entry["expires_at"])  # type: ignore[arg-type]
    refresh_at = float(entry["refresh_at"])  # type: ignore[arg-type]
    return now < refresh_at and expires_at - now >= min_ttl


def matches(entry: dict[str, object], key: str) -> bool:
    import hmac

    return hmac.compare_digest(str(entry.get("key", "")), key)
