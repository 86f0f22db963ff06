"""Pairing this CLI with invite servers (issue 11): ``spconnect server add/list/remove``.

Pairing checks the admin token with ``GET /admin/v1/info``, registers the public half of
an X25519 key pair (serve/sealing.py) with the server, and then keeps the admin token and
the private half in the secret store (store/secrets.py: the keyring, or by explicit
choice the 0600 file) and the server's description in config.toml (``[servers.NAME]``).
Nothing is stored before the server has accepted both the token and the key, and a
failure while storing puts back what a previous pairing of the same name held (design,
"Security rules": a failed operation never deletes a working credential).

Pairing a name again (a rotated admin token, a new address) keeps its private key and
registers it again, so that invites sealed to it before still open.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

import httpx

from spconnect import accounts
from spconnect.admin_api import AdminApi, ServerInfo, check_admin_token
from spconnect.amazon import ids
from spconnect.errors import NotSetUp, ServerUnavailable, UsageError
from spconnect.redaction import register_secret
from spconnect.serve import sealing
from spconnect.store.config import (
    ServerConfig,
    editing_config,
    now_utc,
    server_url_problem,
)
from spconnect.store.secrets import admin_token_key, private_key_key
from spconnect.workspace import Workspace


@dataclass(frozen=True)
class Pairing:
    name: str
    server: ServerConfig
    info: ServerInfo
    kept_key: bool  # the name's existing private key was registered again
    local_app: str | None  # the configured app with the server's client id, if any


def check_server_url(url: str, flag: str = "--url") -> str:
    """The admin address as stored: cleaned, without a trailing slash; else exit 2."""
    from spconnect.names import clean_pasted

    url = clean_pasted(url).rstrip("/")
    problem = server_url_problem(url)
    if problem is not None:
        raise UsageError(
            f"{flag} {problem}",
            "give the address where this computer reaches the server's admin API, "
            "e.g. --url https://invites.example.com",
        )
    return url


def app_for_client_id(ws: Workspace, client_id: str) -> str | None:
    """The configured app with this LWA client id (the first by name, if several)."""
    names = sorted(n for n, app in ws.config.apps.items() if app.client_id == client_id)
    return names[0] if names else None


def check_storage(ws: Workspace, insecure_storage: bool) -> None:
    """The admin token and the private key need a store that can keep them."""
    if ws.config.storage == "env" and not insecure_storage:
        raise UsageError(
            'storage = "env" is read-only, and pairing must keep the server\'s admin token '
            "and a private key",
            'set storage = "keyring" in config.toml, or keep them in a 0600 file with '
            "--insecure-storage",
        )


def add_server(
    ws: Workspace,
    name: str,
    url: str,
    token: str,
    *,
    insecure_storage: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Pairing:
    """Pair with the server at ``url`` (checked by the caller or here) as ``name``."""
    ids.check_profile_name(name)
    url = check_server_url(url)
    token = check_admin_token(token)
    check_storage(ws, insecure_storage)
    api = AdminApi(name, url, token, transport=transport)
    try:
        info = api.info()  # the token is checked here: 401 is exit 3
    except NotSetUp as refused:
        if name in ws.config.servers:
            raise  # paired before: its hint says how to pair again
        raise NotSetUp(
            refused.message,
            "give the token the server printed as `admin token: …` on its first start "
            "(`spconnect serve --rotate-admin-token` on the server makes a new one)",
        ) from None
    public_url = info.public_url.rstrip("/")
    problem = server_url_problem(public_url)
    if problem is not None:
        raise ServerUnavailable(
            f"the invite server {name!r} reports a public URL that {problem}",
            "start `spconnect serve` with --public-url set to the https origin sellers see",
        )
    if insecure_storage:
        accounts.use_insecure_storage(ws)
    pair, kept = _key_pair(ws, name)
    key_id = api.add_key(pair.public_key, label=f"spconnect {name} on {socket.gethostname()}")
    server = ServerConfig(
        url=url,
        key_id=key_id,
        public_url=public_url,
        client_id=info.client_id,
        app=info.app,
        added_at=now_utc(),
    )
    _store(ws, name, server, token, pair.private_key)
    return Pairing(name, server, info, kept, app_for_client_id(ws, info.client_id))


def _key_pair(ws: Workspace, name: str) -> tuple[sealing.KeyPair, bool]:
    """The name's stored key pair when there is a usable one, else a new one."""
    if name in ws.config.servers:
        stored = ws.secrets.get(private_key_key(name))
        if stored:
            with contextlib.suppress(sealing.SealError):
                return sealing.KeyPair(stored, sealing.public_key_of(stored)), True
    pair = sealing.generate_key_pair()
    register_secret(pair.private_key)
    return pair, False


def _store(ws: Workspace, name: str, server: ServerConfig, token: str, private_key: str) -> None:
    """Secrets first, then config.toml; if the config cannot be written, the store gets
    back what it held, so a failed pairing leaves the previous one working."""
    values = {admin_token_key(name): token, private_key_key(name): private_key}
    with accounts.replacing_secrets(ws, values), editing_config() as config:
        config.servers[name] = server
    ws.use_config(config)


def admin_token(ws: Workspace, name: str) -> str:
    """The stored admin token of a paired server; exit 3 when it is missing."""
    ws.config.server(name)
    token = ws.secrets.get(admin_token_key(name))
    if not token:
        raise NotSetUp(
            f"no admin token is stored for invite server {name!r} ({ws.secrets.description})",
            f"pair again: `spconnect server add {name} --url URL --token-stdin --yes`",
        )
    register_secret(token)
    return token


def private_key(ws: Workspace, name: str) -> str:
    """The stored private key of a paired server; exit 3 when it is missing."""
    stored = ws.secrets.get(private_key_key(name))
    if not stored:
        raise NotSetUp(
            f"the private key of invite server {name!r} is not in {ws.secrets.description}, "
            "so nothing it sealed can be opened here",
            f"pair again (`spconnect server add {name} --url URL --token-stdin --yes`) and "
            "send new invites",
        )
    register_secret(stored)
    return stored


def api_for(ws: Workspace, name: str) -> AdminApi:
    server = ws.config.server(name)
    return AdminApi(name, server.url, admin_token(ws, name))


def remove_server(ws: Workspace, name: str) -> None:
    """Forget a paired server: its admin token, private key and config entry."""
    ws.config.server(name)
    if ws.secrets.writable:
        ws.secrets.delete(admin_token_key(name))
        ws.secrets.delete(private_key_key(name))
    with editing_config() as config:
        config.servers.pop(name, None)
    ws.use_config(config)


def resolve_server_name(ws: Workspace, requested: str | None) -> str:
    """--server, or the only paired server."""
    if requested is not None:
        ws.config.server(requested)
        return requested
    if len(ws.config.servers) == 1:
        return next(iter(ws.config.servers))
    if not ws.config.servers:
        raise NotSetUp(
            "no invite server is paired with this CLI",
            "pair one: `spconnect server add NAME --url URL --token-stdin` (the token is "
            "the one `spconnect serve` printed on its first start)",
        )
    raise UsageError(
        f"several invite servers are paired ({', '.join(sorted(ws.config.servers))})",
        "choose one with --server NAME",
    )
