"""Issue 11's acceptance in a real browser: headless Chromium plays the seller who is
somewhere else. It opens the invite link at the server's public https URL, continues to
the emulator's Seller (or Vendor) Central consent page, decides there, and lands on the
server's page; then the developer's CLI pulls and ``spconnect token -p PROFILE`` works.

The deployment is tests/invite_helpers.py's: the real ``spconnect serve`` subprocess
(its own config, the client secret from the environment, SQLite), the emulator as
Amazon, and the developer's CLI with the real Secret Service, paired through
``spconnect server add`` with the server's loopback URL (docs/serve.md, "Firewalling
/admin/": the admin API is reached through a tunnel, not the public origin).

The seller reaches the server as in production: at https://connect.example.test, the
public URL the server was started with, through a TLS-terminating reverse proxy
(tests/tls_terminator.py) that forwards plain http to the server's loopback port with
``Host`` kept and ``X-Forwarded-Proto``/``-For`` set, as docs/serve.md's Caddy and nginx
snippets do. Only Chromium knows where that host is: ``--host-resolver-rules`` maps
``connect.example.test:443`` to the proxy's port on 127.0.0.1, so the public URL carries
no port, as a real deployment's does. The proxy's certificate is self-signed, which
``ignore_https_errors`` accepts (below): the one thing that stands in for a real
certificate. One Chromium and one proxy serve the whole module; each test gets its own
browser context (cookies) and puts its own server behind the proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import tomllib

from spconnect.emulator.state import Account
from tests.chromium import chromium
from tests.invite_helpers import PUBLIC_URL, REDIRECT_URI, Remote, remote_setup
from tests.tls_terminator import TlsTerminator, self_signed_context

pytestmark = [pytest.mark.browser, pytest.mark.keyring]
remote = remote_setup  # the fixture, under the name the tests use

PUBLIC_HOST = urlsplit(PUBLIC_URL).hostname or ""
CONSENT_PATH = "/apps/authorize/consent"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def terminator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsTerminator]:
    context = self_signed_context(PUBLIC_HOST, tmp_path_factory.mktemp("tls"))
    with TlsTerminator(context) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def browser(terminator: TlsTerminator) -> Iterator[Any]:
    # The public host name, port 443, is the proxy on loopback, for this browser only.
    with chromium(f"MAP {PUBLIC_HOST}:443 127.0.0.1:{terminator.port}") as launched:
        yield launched


@dataclass(repr=False)  # a failure's report shows no page (or secret on it)
class Seller:
    """The seller's browser: one Chromium context, and what it saw."""

    page: Any
    context: Any
    requests: list[str] = field(default_factory=list)  # every address it asked for
    responses: list[Any] = field(default_factory=list)  # every answer, redirects included
    shown: list[str] = field(default_factory=list)  # the HTML of each server page it showed
    console: list[str] = field(default_factory=list)  # CSP violations are reported here

    def open(self, url: str) -> str:
        self.page.goto(url)
        return self.main()

    def main(self) -> str:
        """The text of the server's page now shown; its HTML is kept for the leak check."""
        assert self.page.url.startswith(PUBLIC_URL + "/"), self.page.url
        self.shown.append(self.page.content())
        return str(self.page.inner_text("main"))

    def continue_to_amazon(self, remote: Remote) -> None:
        self.page.get_by_role("button", name="Continue to Amazon").click()
        consent = remote.emulator.url + CONSENT_PATH + "?"
        self.page.wait_for_url(lambda url: url.startswith(consent), timeout=WAIT_MS)

    def decide(self, account: Account, decision: str = "approve") -> str:
        """On the emulator's consent page: choose ``account``, Confirm or Cancel; returns
        the text of the server's page Amazon's answer lands on."""
        self.page.select_option("#account", account.selling_partner_id)
        self.page.click(f"#{decision}")
        self.page.wait_for_url(lambda url: url.startswith(REDIRECT_URI + "?"), timeout=WAIT_MS)
        return self.main()


@pytest.fixture
def paired_seller(
    browser: Any, terminator: TlsTerminator, remote: Remote
) -> Iterator[tuple[Remote, Seller]]:
    """This test's server behind the proxy, the CLI paired with it, a fresh browser."""
    terminator.upstream = remote.server.url
    terminator.exchanges.clear()
    added = remote.add_server()
    assert added.returncode == 0, added.output
    # Stands in for a real certificate: the proxy's is self-signed for the public host.
    context = browser.new_context(ignore_https_errors=True)
    seller = Seller(context.new_page(), context)
    context.on("request", lambda request: seller.requests.append(request.url))
    context.on("response", lambda response: seller.responses.append(response))
    seller.page.on("console", lambda message: seller.console.append(message.text))
    yield remote, seller
    context.close()


def profiles(remote: Remote) -> dict[str, Any]:
    config = tomllib.loads((remote.cli.config_dir / "config.toml").read_text())
    found: dict[str, Any] = config.get("profiles", {})
    return found


def listed(remote: Remote, link: str) -> dict[str, Any]:
    (invite,) = [i for i in remote.invites() if i["id"] == remote.invite_id(link)]
    return invite


def check_what_the_seller_saw(remote: Remote, seller: Seller, terminator: TlsTerminator) -> None:
    """Every answer from the public origin carried the security headers and came through
    the TLS terminator; no page the seller was shown holds a secret of the flow."""
    public = [r for r in seller.responses if r.url.startswith(PUBLIC_URL + "/")]
    assert public
    for response in public:
        headers = response.all_headers()
        policy = headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, (
            response.url,
            headers,
        )
        assert headers.get("referrer-policy") == "no-referrer", (response.url, headers)
        assert headers.get("x-content-type-options") == "nosniff"
    seen = {(r.request.method, urlsplit(r.url).path, r.status) for r in public}
    forwarded = {(e.method, e.path, e.status) for e in terminator.exchanges}
    assert seen <= forwarded, (seen, forwarded)

    secrets = {remote.admin_token, remote.app.client_secret}
    secrets |= set(remote.emulator.state.refresh_tokens) | set(remote.emulator.state.access_tokens)
    for name in ("server-key:prod", *(f"profile:{p}" for p in profiles(remote))):
        secrets.add(remote.keyring_value(name) or "")
    for url in seller.requests:  # Amazon's code and the states, as they travelled
        query = dict(parse_qsl(urlsplit(url).query))
        secrets |= {query.get("spapi_oauth_code", ""), query.get("state", "")}
    secrets.discard("")
    assert seller.shown
    for page in seller.shown:
        # A count, so that a failure does not print the secret it found.
        assert sum(secret in page for secret in secrets) == 0, "a secret is on a page"
    # Nothing on the pages needed what the strict CSP forbids (scripts, other origins).
    assert not any("Content Security Policy" in text for text in seller.console)


def test_a_seller_connects_through_the_link_and_the_developer_pulls(
    paired_seller: tuple[Remote, Seller], terminator: TlsTerminator
) -> None:
    remote, seller = paired_seller
    shop = remote.emulator.state.add_account("Acme GmbH", region="eu")
    remote.emulator.state.add_account("Somebody Else", region="eu")
    link = remote.create("acme", "--marketplace", "DE", "--note", "Acme GmbH, EU stores")
    invite_id = remote.invite_id(link)

    page = seller.open(link)
    assert "You were invited to authorize demo" in page
    assert remote.app.app_id in page and "Amazon Seller Central, Germany (DE)" in page
    assert "Acme GmbH, EU stores" in page and "Link valid until" in page
    seller.continue_to_amazon(remote)
    # The browser is marked with a __Host- cookie: Chromium takes one only over https.
    (cookie,) = seller.context.cookies(PUBLIC_URL)
    assert cookie["name"] == "__Host-spconnect" and cookie["secure"] and cookie["httpOnly"]
    assert cookie["domain"] == PUBLIC_HOST and cookie["sameSite"] == "Lax"

    page = seller.decide(shop)
    assert page.startswith("Connected")
    assert f"Amazon account {shop.selling_partner_id} has authorized demo" in page
    assert listed(remote, link)["status"] == "connected"
    # A reload (a phone restoring its tabs) shows the same page; the code counted once.
    seller.page.reload()
    assert seller.main().startswith("Connected")
    assert remote.emulator.count("authorization_code") == 1

    pulled = remote.cli.run("invite", "pull")
    assert pulled.returncode == 0, pulled.output
    assert f"pulled {invite_id}: stored profile 'acme'" in pulled.stderr
    assert remote.keyring_value("profile:acme") == remote.refresh_token_of(shop)
    profile = profiles(remote)["acme"]
    assert profile["selling_partner_id"] == shop.selling_partner_id
    assert profile["region"] == "eu" and profile["marketplace"] == "A1PA6795UKMFR9"
    token = remote.cli.ok("token", "-p", "acme").stdout.strip()
    assert token.startswith("Atza|") and token in remote.emulator.state.access_tokens

    # The seller's path, as the terminator forwarded it: link, form, Amazon's answer.
    forwarded = [(e.method, e.path, e.status) for e in terminator.exchanges]
    assert forwarded == [
        ("GET", f"/i/{invite_id}", 200),
        ("POST", f"/i/{invite_id}", 303),
        ("GET", "/spconnect/callback", 200),
        ("GET", "/spconnect/callback", 200),
    ]
    check_what_the_seller_saw(remote, seller, terminator)


@pytest.mark.parametrize("app_kind", ["vendor"])
def test_a_vendor_connects_through_vendor_central(
    paired_seller: tuple[Remote, Seller], terminator: TlsTerminator
) -> None:
    remote, seller = paired_seller
    vendor = remote.emulator.state.add_account(
        "A Vendor", vendor=True, region="eu", marketplace_ids=["A1F83G8C2ARO7P"]
    )
    remote.emulator.state.add_account("A Seller", region="eu")
    link = remote.create("acme-vendor", "--marketplace", "UK", "--vendor")

    page = seller.open(link)
    assert "for your vendor account" in page
    assert "Amazon Vendor Central, United Kingdom (UK)" in page
    seller.continue_to_amazon(remote)
    offered = seller.page.locator("#account option").all_inner_texts()
    assert offered == [f"A Vendor ({vendor.selling_partner_id})"]  # vendors only
    page = seller.decide(vendor)
    assert page.startswith("Connected") and vendor.selling_partner_id in page

    pulled = remote.cli.run("invite", "pull")
    assert pulled.returncode == 0, pulled.output
    profile = profiles(remote)["acme-vendor"]
    assert profile["selling_partner_id"] == vendor.selling_partner_id
    assert profile["marketplace"] == "A1F83G8C2ARO7P"
    assert remote.keyring_value("profile:acme-vendor") == remote.refresh_token_of(vendor)
    token = remote.cli.ok("token", "-p", "acme-vendor").stdout.strip()
    assert token in remote.emulator.state.access_tokens
    check_what_the_seller_saw(remote, seller, terminator)


def test_a_refused_consent_is_explained_and_nothing_is_stored(
    paired_seller: tuple[Remote, Seller], terminator: TlsTerminator
) -> None:
    remote, seller = paired_seller
    shop = remote.emulator.state.add_account("Acme Shop")
    link = remote.create("acme", "--marketplace", "US")

    seller.open(link)
    seller.continue_to_amazon(remote)
    page = seller.decide(shop, "deny")
    assert page.startswith("Authorization not completed")
    assert "You chose not to authorize the app, so nothing was connected." in page
    assert "ask whoever sent you the link for a new one" in page

    invite = listed(remote, link)
    assert invite["status"] == "failed" and "consent refused" in invite["failure"]
    nothing = remote.cli.run("invite", "pull")
    assert nothing.returncode == 0, nothing.output
    assert "Nothing to pull" in nothing.stderr
    assert "1 invite ended without a connection (consent refused or failed)" in nothing.stderr
    assert profiles(remote) == {} and remote.keyring_value("profile:acme") is None
    assert remote.emulator.count("authorization_code") == 0

    # The link is spent: opening it again says so.
    page = seller.open(link)
    assert page.startswith("This invite can no longer be used")
    check_what_the_seller_saw(remote, seller, terminator)
    # Revoking the failed invite clears it from the summary.
    revoked = remote.cli.run("invite", "revoke", remote.invite_id(link))
    assert revoked.returncode == 0, revoked.output
    assert "without a connection" not in remote.cli.run("invite", "pull").stderr


def test_an_expired_invite_shows_an_expired_page(
    paired_seller: tuple[Remote, Seller], terminator: TlsTerminator
) -> None:
    remote, seller = paired_seller
    link = remote.create("acme", "--marketplace", "US", "--expires", "60s")
    assert "Link valid until" in seller.open(link)  # opened in time...

    # ...and the time passes before Continue: Remote.expire moves the row's expiry into
    # the past in the server's SQLite file (60 s, the shortest --expires, is too long).
    remote.expire(remote.invite_id(link))
    with seller.page.expect_navigation():
        seller.page.get_by_role("button", name="Continue to Amazon").click()
    page = seller.main()
    assert page.startswith("This invite has expired") and "It was valid until" in page
    assert "ask whoever sent you the link for a new one" in page
    # Opening the link later says the same, with nothing to continue to.
    page = seller.open(link)
    assert page.startswith("This invite has expired")
    assert seller.page.get_by_role("button").count() == 0
    assert not [url for url in seller.requests if url.startswith(remote.emulator.url)]

    # Another link, on which the seller reached Amazon in time and approved too late:
    # refused, and Amazon's code not exchanged.
    shop = remote.emulator.state.add_account("Acme Shop")
    late = remote.create("acme", "--marketplace", "US", "--expires", "60s")
    seller.open(late)
    seller.continue_to_amazon(remote)
    remote.expire(remote.invite_id(late))
    page = seller.decide(shop)
    assert page.startswith("This invite has expired")
    assert remote.emulator.count("authorization_code") == 0

    assert listed(remote, link)["status"] == "expired"
    assert listed(remote, late)["status"] == "expired"
    table = remote.cli.ok("invite", "list").stdout
    assert all("expired" in row for row in table.splitlines()[1:3])
    nothing = remote.cli.run("invite", "pull")
    assert nothing.returncode == 0 and "Nothing to pull" in nothing.stderr
    assert profiles(remote) == {}
    check_what_the_seller_saw(remote, seller, terminator)


def test_a_reauth_invite_renews_the_profile_with_the_same_account(
    paired_seller: tuple[Remote, Seller], terminator: TlsTerminator
) -> None:
    remote, seller = paired_seller
    shop = remote.emulator.state.add_account("Acme Shop")
    remote.emulator.state.add_account("Somebody Else")
    seller.open(remote.create("acme", "--marketplace", "US"))
    seller.continue_to_amazon(remote)
    assert seller.decide(shop).startswith("Connected")
    remote.cli.ok("invite", "pull")
    first_token = remote.keyring_value("profile:acme")
    assert first_token == remote.refresh_token_of(shop)

    link = remote.create("acme", "--reauth")
    page = seller.open(link)
    assert f"This renews the authorization of account {shop.selling_partner_id}" in page
    seller.continue_to_amazon(remote)
    page = seller.decide(shop)
    assert page.startswith("Connected") and shop.selling_partner_id in page

    renewed = remote.cli.run("invite", "pull")
    assert renewed.returncode == 0, renewed.output
    assert f"pulled {remote.invite_id(link)}: renewed profile 'acme'" in renewed.stderr
    new_token = remote.keyring_value("profile:acme")
    assert new_token not in (None, first_token)
    assert new_token == remote.refresh_token_of(shop)
    assert profiles(remote)["acme"]["selling_partner_id"] == shop.selling_partner_id
    # The first token withdrawn at Amazon: a refresh now works with the new one only.
    remote.emulator.state.revoke(first_token)
    token = remote.cli.ok("token", "-p", "acme", "--force-refresh").stdout.strip()
    assert token in remote.emulator.state.access_tokens
    check_what_the_seller_saw(remote, seller, terminator)


@pytest.mark.parametrize("remote", [("--open-enrollment",)], indirect=True)
def test_open_enrollment_from_the_appstore_goes_through_the_login_uri(
    paired_seller: tuple[Remote, Seller], terminator: TlsTerminator
) -> None:
    """No invite: the seller presses Authorize now on the app's Appstore page, Amazon
    sends the browser to the Login URI (amazon.md section 3), the server marks it with
    its cookie and sends it back to Amazon; the answer comes to the same browser."""
    remote, seller = paired_seller
    shop = remote.emulator.state.add_account("Appstore Shop")
    remote.emulator.state.add_account("Somebody Else")
    seller.page.goto(f"{remote.emulator.url}/apps/appstore/{remote.app.app_id}")
    seller.page.click("#authorize-now")
    seller.page.wait_for_url(
        lambda url: url.startswith(f"{remote.emulator.url}/apps/authorize/confirm/"),
        timeout=WAIT_MS,
    )
    page = seller.decide(shop)
    assert page.startswith("Connected") and shop.selling_partner_id in page

    pulled = remote.cli.run("invite", "pull")
    assert pulled.returncode == 0, pulled.output
    name = shop.selling_partner_id
    assert profiles(remote)[name]["selling_partner_id"] == name
    assert remote.keyring_value(f"profile:{name}") == remote.refresh_token_of(shop)
    assert remote.cli.ok("token", "-p", name).stdout.startswith("Atza|")
    assert ("GET", "/spconnect/login", 302) in [
        (e.method, e.path, e.status) for e in terminator.exchanges
    ]
    check_what_the_seller_saw(remote, seller, terminator)
