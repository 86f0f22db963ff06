"""The invite server's test bench: a deployment (the emulator for Amazon, an app, the real
server on loopback) and a seller's browser that reaches it as a TLS terminator would
forward it.

Sellers see ``PUBLIC_URL`` (https); the server listens on plain http on 127.0.0.1, as it
does behind Caddy or nginx. ``Browser`` plays both the seller's browser and the
terminator: a request for the public origin goes to the server's loopback address with
``Host``, ``X-Forwarded-Proto: https`` and ``X-Forwarded-For`` set, and cookies are kept
per the public origin (Secure ones included, since the seller's side is https). Amazon's
pages are the emulator's, reached directly; its consent is answered by HTTP (the
emulator approves at once when told to), not by a real browser.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from spconnect.amazon.lwa import LwaClient, RetryPolicy
from spconnect.emulator import Emulator
from spconnect.emulator.state import EmulatedApp
from spconnect.serve import sealing
from spconnect.serve.runner import ServerThread, build_app
from spconnect.serve.settings import ServeSettings
from spconnect.serve.storage import Storage, open_storage

PUBLIC_URL = "https://connect.example.test"
REDIRECT_URI = f"{PUBLIC_URL}/spconnect/callback"
LOGIN_URI = f"{PUBLIC_URL}/spconnect/login"
ADMIN_TOKEN = "test-admin-token-0123456789abcdefghijklmnop"


class Clock:
    """The server's clock, which a test can move forward (invite and state expiry)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass
class Browser:
    """A seller's browser behind the TLS terminator (module docstring)."""

    server_url: str
    address: str = "203.0.113.10"
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: list[str] = field(default_factory=list)
    history: list[httpx.Response] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    # A real TLS terminator at server_url (tests/test_terminators.py): it sets the
    # X-Forwarded-* headers itself, and the TLS handshake names the public host (SNI) and
    # trusts ``verify``. ``local_address``: the loopback address this browser comes from.
    terminator: bool = False
    verify: Any = True
    local_address: str = ""

    def __post_init__(self) -> None:
        transport = httpx.HTTPTransport(
            verify=self.verify, local_address=self.local_address or None
        )
        self.http = httpx.Client(timeout=30, transport=transport)

    def request(
        self, method: str, url: str, *, data: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = dict(headers or {})
        if url.startswith(PUBLIC_URL):
            target = self.server_url + url[len(PUBLIC_URL) :]
            sent.setdefault("Host", urlsplit(PUBLIC_URL).netloc)
            if not self.terminator:
                sent.setdefault("X-Forwarded-Proto", "https")
                sent.setdefault("X-Forwarded-For", self.address)
            if self.cookies:
                sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        else:
            target = url
        self.addresses.append(url)
        sni = {"sni_hostname": urlsplit(PUBLIC_URL).hostname} if self.terminator else None
        response = self.http.request(method, target, data=data, headers=sent, extensions=sni)
        if url.startswith(PUBLIC_URL):
            for header in response.headers.get_list("set-cookie"):
                self.set_cookies.append(header)
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
        self.history.append(response)
        return response

    def go(self, url: str, method: str = "GET", *, hops: int = 10) -> httpx.Response:
        """Open ``url`` and follow redirects as a browser does (303: GET)."""
        response = self.request(method, url)
        for _ in range(hops):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            url = urljoin(url, response.headers["location"])
            method = "GET" if response.status_code in (301, 302, 303) else method
            response = self.request(method, url)
        raise AssertionError(f"more than {hops} redirects")

    def visited(self) -> list[str]:
        """The addresses this browser was sent to, as the browser saw them (public ones
        under PUBLIC_URL)."""
        return list(self.addresses)

    def close(self) -> None:
        self.http.close()


def form_fields(page: str) -> dict[str, str]:
    """The hidden inputs of an emulator page's form."""
    return {
        name: html.unescape(value)
        for name, value in re.findall(r"name='(\w+)' value='([^']*)'", page)
    }


@dataclass
class Deployment:
    emulator: Emulator
    app: EmulatedApp
    settings: ServeSettings
    storage: Storage
    server: ServerThread
    clock: Clock
    keys: sealing.KeyPair
    key_id: str
    admin_http: httpx.Client
    # Another instance of the server on the same database (several behind one domain).
    another_instance: Callable[[], tuple[Storage, ServerThread]]
    browsers: list[Browser] = field(default_factory=list)

    def admin(
        self, method: str, path: str, *, body: Any = None, token: str | None = ADMIN_TOKEN
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.admin_http.request(method, self.server.url + path, json=body, headers=headers)

    def invite(self, **fields: Any) -> dict[str, Any]:
        body = {"key_id": self.key_id, "profile": "acme", "marketplace": "US", **fields}
        answer = self.admin("POST", "/admin/v1/invites", body=body)
        assert answer.status_code == 201, answer.text
        created: dict[str, Any] = answer.json()
        return created

    def status(self, invite_id: str) -> dict[str, Any]:
        answer = self.admin("GET", f"/admin/v1/invites/{invite_id}")
        assert answer.status_code == 200, answer.text
        described: dict[str, Any] = answer.json()
        return described

    def browser(self, address: str = "203.0.113.10") -> Browser:
        browser = Browser(self.server.url, address)
        self.browsers.append(browser)
        return browser

    def opened(self, described: dict[str, Any]) -> dict[str, Any]:
        """The sealed blob of a connected invite, opened as the developer's CLI will."""
        context = sealing.invite_context(
            described["id"], described["selling_partner_id"], self.app.client_id
        )
        plain = sealing.open_sealed(self.keys.private_key, described["sealed"], context)
        payload: dict[str, Any] = json.loads(plain)
        return payload

    def code_exchanges(self) -> int:
        return self.emulator.count("authorization_code")


Deploy = Callable[..., Deployment]


@contextmanager
def deployments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deploy]:
    """The ``deploy`` fixture's body (tests/conftest.py): ``deploy(login_uri=..., kind=...,
    open_enrollment=..., rate_limit=..., forwarded_allow_ips=..., database=...)`` makes a
    running deployment; all are torn down at the end."""
    stack = ExitStack()
    made = 0

    def make(
        *,
        login_uri: str | None = None,
        kind: str = "seller",
        open_enrollment: bool = False,
        rate_limit: int = 60,
        forwarded_allow_ips: str = "127.0.0.1",
        database: str | None = None,
        draft: bool = True,
    ) -> Deployment:
        nonlocal made
        made += 1
        emulator = stack.enter_context(Emulator())
        # The same overrides the CLI reads: the catalogue's Central is the emulator.
        monkeypatch.setenv("SPCONNECT_CENTRAL_URL", emulator.url)
        app = emulator.state.register_app(
            "demo", redirect_uris=[REDIRECT_URI], login_uri=login_uri, draft=draft, kind=kind
        )
        settings = ServeSettings(
            app_name="Acme Sync",
            client_id=app.client_id,
            app_id=app.app_id,
            redirect_uri=REDIRECT_URI,
            login_uri=login_uri,
            draft=draft,
            kind=kind,  # type: ignore[arg-type]
            public_url=PUBLIC_URL,
            open_enrollment=open_enrollment,
            rate_limit=rate_limit,
        )
        url = database or str(tmp_path / f"invites-{made}.db")
        clock = Clock()

        def instance() -> tuple[Storage, ServerThread]:
            """A server process of this deployment: its own storage connections to the
            shared database, its own LWA client and rate limits (nothing else shared)."""
            storage = open_storage(url)
            stack.callback(storage.close)
            lwa = LwaClient(emulator.token_url, retry=RetryPolicy(max_attempts=1))
            server = ServerThread(
                build_app(settings, storage, app.client_secret, lwa=lwa, clock=clock),
                forwarded_allow_ips=forwarded_allow_ips,
            )
            stack.enter_context(server)
            return storage, server

        storage, server = instance()
        storage.set_admin_token(ADMIN_TOKEN, int(time.time()), replace=False)
        admin_http = httpx.Client(timeout=30)
        stack.callback(admin_http.close)
        keys = sealing.generate_key_pair()
        deployment = Deployment(
            emulator, app, settings, storage, server, clock, keys, "", admin_http, instance
        )
        answer = deployment.admin("POST", "/admin/v1/keys", body={"public_key": keys.public_key})
        assert answer.status_code == 201, answer.text
        deployment.key_id = answer.json()["key_id"]
        stack.callback(lambda: [b.close() for b in deployment.browsers])
        return deployment

    with stack:
        yield make
