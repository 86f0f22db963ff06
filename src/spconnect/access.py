"""The Python API's access token: from memory, else the cache file, else one refresh.

    import spconnect

    token = spconnect.access_token("default", min_ttl=120)
    token.access_token, token.endpoint, token.expires_at

Import-light (standard library only until a refresh is needed) because a worker calls it
per request: a repeated call with a fresh token is a dictionary look-up (no file read, no
keyring), and the first call in a new process reads the cache file and never opens the
keyring while that entry is fresh (issue 7). Only a stale or missing entry loads the
refresh path (tokens.py), which takes the same per-profile lock as ``spconnect token``.

Thread-safe: threads asking for the same profile wait for one refresh between them.
A token held in memory stays in use until its refresh time even if another process logs
the profile out meanwhile, as an access token already handed out would anyway.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

from spconnect.amazon.endpoints import spapi_endpoint
from spconnect.errors import UsageError
from spconnect.store import cache, envvars, paths

# Amazon's access tokens live one hour (amazon.md section 6): asking for more than this
# could never be satisfied and would refresh on every call.
MAX_MIN_TTL = 3000


@dataclass(frozen=True)
class AccessToken:
    """A valid LWA access token and where to use it. ``repr`` never shows the token."""

    access_token: str = field(repr=False)
    expires_at: float  # seconds since the epoch
    profile: str
    region: str
    endpoint: str  # the SP-API base URL for the profile's region (sandbox when set)
    selling_partner_id: str | None
    refreshed: bool = field(default=False, compare=False)  # this call asked Amazon for it
    refresh_at: float = field(default=0.0, repr=False, compare=False)  # when it is renewed

    @classmethod
    def from_entry(
        cls, profile: str, entry: dict[str, object], refreshed: bool = False
    ) -> AccessToken:
        """From an access-token cache entry (store/cache.py)."""
        sp_id = entry.get("selling_partner_id")
        region = str(entry["region"])
        return cls(
            access_token=str(entry["access_token"]),
            expires_at=float(entry["expires_at"]),  # type: ignore[arg-type]
            profile=profile,
            region=region,
            endpoint=spapi_endpoint(region, bool(entry.get("sandbox"))),
            selling_partner_id=sp_id if isinstance(sp_id, str) else None,
            refreshed=refreshed,
            refresh_at=float(entry["refresh_at"]),  # type: ignore[arg-type]
        )

    def usable(self, min_ttl: float = 0, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now < self.refresh_at and self.expires_at - now >= min_ttl


def check_min_ttl(min_ttl: float) -> None:
    if not 0 <= min_ttl <= MAX_MIN_TTL:
        raise UsageError(
            f"--min-ttl {min_ttl:g} is out of range",
            f"use 0 to {MAX_MIN_TTL} seconds (access tokens live one hour)",
        )


_switched_default: list[str] = []  # read once per process (see profile_name)


def profile_name(profile: str | None) -> str:
    """The profile asked for, else $SPCONNECT_PROFILE, else the default `spconnect switch`
    chose, else 'default' (store/default_profile.py); checked, since it becomes part of a
    file name. The switched default is read once per process: repeated calls read no
    file, and a running worker keeps its profile when someone switches meanwhile."""
    from spconnect.names import is_profile_name

    name = profile or os.environ.get("SPCONNECT_PROFILE")
    if not name:
        if not _switched_default:
            from spconnect.store import default_profile

            try:
                _switched_default.append(default_profile.resolve(None)[0])
            except default_profile.MalformedDefault as error:
                raise UsageError(
                    f"{default_profile.path()} does not hold a profile name ({error})",
                    "run `spconnect switch NAME`, or `spconnect switch --unset`",
                ) from None
        name = _switched_default[0]
    if not is_profile_name(name):
        raise UsageError(
            f"{name!r} is not a valid profile name",
            "use letters, digits, '.', '_' and '-' (at most 64 characters)",
        )
    return name


_Key = tuple[str, str, str, str]
_memory: dict[_Key, AccessToken] = {}
_guards: dict[_Key, threading.Lock] = {}


def _memory_key(name: str) -> _Key:
    # Everything that selects where a profile's token comes from: its name, the cache and
    # config directories, and the environment's refresh token for it (storage = "env":
    # the profile's own variable, else the shared one, as store/envvars.py reads them).
    return (
        name,
        paths.cache_dir(),
        os.environ.get("SPCONNECT_CONFIG_DIR", ""),
        envvars.refresh_token(name) or "",
    )


def access_token(
    profile: str | None = None, *, min_ttl: float = 0, force_refresh: bool = False
) -> AccessToken:
    """A token for ``profile`` (default: $SPCONNECT_PROFILE, else 'default') valid for at
    least ``min_ttl`` seconds. Raises the errors of ``spconnect.errors``."""
    name = profile_name(profile)
    key = _memory_key(name)
    if not force_refresh:
        held = _memory.get(key)
        if held is not None and held.usable(min_ttl):
            return held
    check_min_ttl(min_ttl)
    with _guards.setdefault(key, threading.Lock()):
        if not force_refresh:
            held = _memory.get(key)  # another thread may have refreshed meanwhile
            if held is not None and held.usable(min_ttl):
                return held
            entry = cache.fresh_entry(name, min_ttl)
            if entry is not None:
                token = AccessToken.from_entry(name, entry)
                _memory[key] = token
                return token
        from spconnect.tokens import access_token as obtain
        from spconnect.workspace import Workspace

        token = obtain(
            Workspace(zero_config=True), name, min_ttl=min_ttl, force_refresh=force_refresh
        )
        _memory[key] = token
        return token


def get_access_token(
    profile: str | None = None, *, min_ttl: float = 0, force_refresh: bool = False
) -> str:
    """Just the token string of ``access_token()``, and as fast."""
    return access_token(profile, min_ttl=min_ttl, force_refresh=force_refresh).access_token


def forget() -> None:
    """Drop every token held in memory and the default profile read (the next call reads
    them again)."""
    _memory.clear()
    _switched_default.clear()
