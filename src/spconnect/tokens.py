"""Getting a valid access token for a profile: from the cache when it is fresh, else by
one refresh under a per-profile lock (design, "Cross-process refresh").

The order is the point (issue 7): a fresh cache entry is served without opening the
secret store; a stale one is re-read after taking the lock, because another process may
have refreshed meanwhile; only the lock holder reads the client secret and refresh token
and asks Amazon. Fifty processes that find the cache stale therefore make one LWA request
and one keyring session between them. The same order serves the CLI (entry.py takes the
lock before importing this module), the Python API (access.py), grantless tokens and
``status --check``.

Nothing here imports Typer, Rich, questionary or pydantic: this is the refresh path of
``spconnect token``, measured against ``python -c pass`` in benchmarks/.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from spconnect.access import AccessToken, check_min_ttl
from spconnect.amazon import lwa as lwa_module
from spconnect.errors import NotSetUp, SpconnectError, StorageUnavailable, UsageError
from spconnect.names import clean_pasted
from spconnect.redaction import register_secret
from spconnect.store import cache, envvars, files, history, paths
from spconnect.store.config import AppConfig, ProfileConfig
from spconnect.store.lock import LOCK_TIMEOUT_SECONDS, RefreshLock
from spconnect.store.secrets import app_key, profile_key, token_cache_key
from spconnect.workspace import Workspace

__all__ = [
    "LOCK_TIMEOUT_SECONDS",
    "AccessToken",
    "access_token",
    "check_min_ttl",
    "grantless_token",
]


@dataclass(frozen=True)
class Credentials:
    profile: ProfileConfig
    app_name: str
    app: AppConfig
    client_secret: str
    refresh_token: str


def client_secret_of(ws: Workspace, app_name: str) -> str:
    secret = ws.secrets.get(app_key(app_name))
    if not secret:
        if ws.secrets.kind == "env":
            raise NotSetUp(
                f"no client secret for app {app_name!r}: {envvars.CLIENT_SECRET} is not set",
                f"set {envvars.CLIENT_SECRET} in the environment",
            )
        raise NotSetUp(
            f"no client secret is stored for app {app_name!r} ({ws.secrets.description})",
            f"set it with `spconnect app set-secret {app_name}`",
        )
    return clean_pasted(secret)


def credentials(ws: Workspace, profile_name: str) -> Credentials:
    profile = ws.config.profile(profile_name)
    app = ws.config.app(profile.app)
    refresh_token = ws.secrets.get(profile_key(profile_name))
    if not refresh_token and ws.secrets.kind == "env":
        raise NotSetUp(
            f"no refresh token for profile {profile_name!r} in the "
            + envvars.describe(profile_name),
            f"set {envvars.refresh_token_variable(profile_name)} (or {envvars.REFRESH_TOKEN})",
        )
    if not refresh_token:
        raise NotSetUp(
            f"no refresh token is stored for profile {profile_name!r} ({ws.secrets.description})",
            f"run `spconnect login -p {profile_name}`",
        )
    refresh_token = clean_pasted(refresh_token)
    register_secret(refresh_token)
    return Credentials(profile, profile.app, app, client_secret_of(ws, profile.app), refresh_token)


# -- where entries live: a file (default) or the keyring (token_cache = "keyring") --------


def read_cached(ws: Workspace, name: str) -> dict[str, object] | None:
    """The profile's entry, fresh or not (for ``status``); the keyring is read only with
    ``token_cache = "keyring"``."""
    if ws.config.token_cache == "keyring":
        raw = ws.secrets.get(token_cache_key(name))
        entry = cache.parse_entry(raw.encode()) if raw else None
        return entry if entry is not None and entry.get("profile") == name else None
    return cache.read_entry(name)


def _servable(ws: Workspace, name: str, min_ttl: float) -> dict[str, object] | None:
    """A cached entry that can be served as it is, without reading any secret."""
    if ws.config.token_cache == "keyring":
        entry = read_cached(ws, name)
        if entry is None or not cache.is_usable(entry, min_ttl):
            return None
    else:
        entry = cache.fresh_entry(name, min_ttl)
    # The config may have been edited by hand to another app or client id since.
    app = ws.config.apps.get(ws.config.profile(name).app)
    if entry is None or app is None or entry.get("client_id") != app.client_id:
        return None
    return entry


def write_cached(ws: Workspace, name: str, entry: dict[str, object]) -> None:
    data = json.dumps(entry, sort_keys=True)
    if ws.config.token_cache == "keyring":
        ws.secrets.set(token_cache_key(name), data)
    else:
        write_cache_file(cache.cache_path(name), data.encode())


def write_cache_file(path: str, data: bytes) -> None:
    """Write a token cache file; a cache that cannot be written is exit 7, not a crash."""
    try:
        files.write_private(path, data)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot write the token cache {path}: {exc.strerror or exc}",
            f"check the permissions of {os.path.dirname(path)}, or remove what is in the way",
        ) from None


def invalidate_cached(ws: Workspace, name: str) -> None:
    """Forget a profile's cached access token, wherever it is kept.

    Called by everything that changes a profile's refresh token or its app's credentials,
    since the fast path trusts the cache file without the keyring.
    """
    files.remove_file(cache.cache_path(name))
    if ws.config.token_cache == "keyring" and ws.secrets.writable:
        ws.secrets.delete(token_cache_key(name))


def make_entry(
    ws: Workspace,
    *,
    name: str,
    key: str,
    client_id: str,
    profile: ProfileConfig,
    selling_partner_id: str | None,
    grant: lwa_module.TokenGrant,
) -> dict[str, object]:
    # A token shorter-lived than the margin would be stale on arrival; keep at least
    # three quarters of its life usable.
    margin = min(ws.config.refresh_margin, grant.expires_in / 4)
    return {
        "version": cache.CACHE_VERSION,
        "profile": name,
        "key": key,
        "client_id": client_id,
        "access_token": grant.access_token,
        "token_type": grant.token_type,
        "obtained_at": grant.obtained_at,
        "expires_at": grant.expires_at,
        "refresh_at": grant.expires_at - margin,
        "app": profile.app,
        "region": profile.region,
        "sandbox": profile.sandbox,
        "selling_partner_id": selling_partner_id,
        # Tells the fast path to check the entry against SPCONNECT_REFRESH_TOKEN.
        "storage": ws.config.storage,
    }


def profile_entry(
    ws: Workspace, name: str, creds: Credentials, grant: lwa_module.TokenGrant
) -> dict[str, object]:
    return make_entry(
        ws,
        name=name,
        key=cache.credential_key(creds.app.client_id, creds.refresh_token),
        client_id=creds.app.client_id,
        profile=creds.profile,
        selling_partner_id=creds.profile.selling_partner_id,
        grant=grant,
    )


def _cached_or_refreshed(
    *,
    servable: Callable[[], dict[str, object] | None],
    write: Callable[[dict[str, object]], None],
    refresh: Callable[[], dict[str, object]],
    min_ttl: float,
    force_refresh: bool,
    lock_file: str,
    what: str,
) -> tuple[dict[str, object], bool]:
    """The cache protocol: serve a fresh entry, else refresh once under the lock.

    ``servable`` must not read secrets; ``refresh`` reads them, and runs only in the lock
    holder.
    """
    if not force_refresh and (entry := servable()):
        return entry, False
    with RefreshLock(lock_file, LOCK_TIMEOUT_SECONDS, what):
        # Another process may have refreshed while we waited for the lock.
        if not force_refresh and (entry := servable()):
            return entry, False
        entry = refresh()
        expires_in = float(entry["expires_at"]) - time.time()  # type: ignore[arg-type]
        if expires_in < min_ttl:
            raise UsageError(
                f"Amazon's new token lasts {expires_in:.0f} s, less than --min-ttl {min_ttl:g}",
                "ask for a shorter --min-ttl",
            )
        write(entry)
        return entry, True


def access_token(
    ws: Workspace, name: str, *, min_ttl: float = 0, force_refresh: bool = False
) -> AccessToken:
    """A token valid for at least ``min_ttl`` seconds, refreshing once if needed."""
    check_min_ttl(min_ttl)
    ws.config.app(ws.config.profile(name).app)  # unknown profile or app: exit 3 first

    def refresh() -> dict[str, object]:
        creds = credentials(ws, name)
        try:
            grant = ws.lwa.refresh(
                client_id=creds.app.client_id,
                client_secret=creds.client_secret,
                refresh_token=creds.refresh_token,
                context=lwa_module.FailureContext(profile=name, app=creds.app_name),
            )
        except SpconnectError as error:
            history.record_refresh(name, ok=False, exit_code=error.exit_code, message=error.message)
            raise
        history.record_refresh(name, ok=True, clock_skew=grant.clock_skew)
        return profile_entry(ws, name, creds, grant)

    entry, refreshed = _cached_or_refreshed(
        servable=lambda: _servable(ws, name, min_ttl),
        write=lambda entry: write_cached(ws, name, entry),
        refresh=refresh,
        min_ttl=min_ttl,
        force_refresh=force_refresh,
        lock_file=cache.lock_path(name),
        what=f"profile {name!r}",
    )
    return AccessToken.from_entry(name, entry, refreshed)


def grantless_path(app_name: str, scope_name: str) -> str:
    """Grantless tokens belong to the app, not to an account: one cache per app and scope."""
    return os.path.join(paths.cache_dir(), "grantless", f"{app_name}.{scope_name}.json")


def obtain(
    ws: Workspace,
    name: str,
    *,
    grantless: str | None = None,
    min_ttl: float = 0,
    force_refresh: bool = False,
) -> AccessToken:
    """What ``spconnect token`` prints: the profile's token, or with ``grantless`` (a
    scope name) its app's client-credentials token."""
    if grantless is not None:
        return grantless_token(ws, name, grantless, min_ttl=min_ttl, force_refresh=force_refresh)
    return access_token(ws, name, min_ttl=min_ttl, force_refresh=force_refresh)


def forget_grantless(app_name: str) -> None:
    """Delete an app's grantless tokens (when the app is removed)."""
    for scope_name in lwa_module.GRANTLESS_SCOPES:
        files.remove_file(grantless_path(app_name, scope_name))


def grantless_token(
    ws: Workspace, name: str, scope_name: str, *, min_ttl: float = 0, force_refresh: bool = False
) -> AccessToken:
    """A client-credentials token for the profile's app (amazon.md section 5)."""
    check_min_ttl(min_ttl)
    scope = lwa_module.GRANTLESS_SCOPES.get(scope_name)
    if scope is None:
        raise UsageError(
            f"unknown grantless scope {scope_name!r}",
            f"use one of: {', '.join(lwa_module.GRANTLESS_SCOPES)}",
        )
    profile = ws.config.profile(name)
    app = ws.config.app(profile.app)
    if app.kind == "vendor":
        raise UsageError(
            f"app {profile.app!r} is a vendor app; grantless tokens are for seller apps only",
            "use a seller app's profile",
        )
    path = grantless_path(profile.app, scope_name)
    # The key needs no secret (client id and scope), so a fresh entry is checked and
    # served without opening the secret store.
    key = cache.credential_key(app.client_id, scope)

    def servable() -> dict[str, object] | None:
        raw = cache.read_trusted(path)
        entry = cache.parse_entry(raw) if raw is not None else None
        if entry and cache.matches(entry, key) and cache.is_usable(entry, min_ttl):
            return entry
        return None

    def refresh() -> dict[str, object]:
        grant = ws.lwa.client_credentials(
            scope=scope,
            client_id=app.client_id,
            client_secret=client_secret_of(ws, profile.app),
            context=lwa_module.FailureContext(profile=name, app=profile.app),
        )
        return make_entry(
            ws,
            name=name,
            key=key,
            client_id=app.client_id,
            profile=profile,
            selling_partner_id=None,
            grant=grant,
        )

    entry, refreshed = _cached_or_refreshed(
        servable=servable,
        write=lambda entry: write_cache_file(path, json.dumps(entry, sort_keys=True).encode()),
        refresh=refresh,
        min_ttl=min_ttl,
        force_refresh=force_refresh,
        lock_file=path + ".lock",
        what=f"app {profile.app!r} ({scope_name})",
    )
    return AccessToken.from_entry(name, entry, refreshed)
