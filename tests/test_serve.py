"""The invite server on the seller's path, against the emulator (issue 11).

Each test runs the real server (uvicorn in a thread, runner.ServerThread) on loopback
behind the pretend TLS terminator of serve_harness.Browser, with SQLite storage, and the
emulator as Amazon: Seller/Vendor Central's consent pages and the LWA token endpoint.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from spconnect.admin_api import AdminApi
from tests.serve_harness import (
    ADMIN_TOKEN,
    LOGIN_URI,
    PUBLIC_URL,
    REDIRECT_URI,
    Browser,
    Deploy,
    Deployment,
    form_fields,
)


def connect(d: Deployment, invite: dict[str, Any], account_id: str, browser: Browser) -> Any:
    """The seller opens the link, presses the button and approves as ``account_id``."""
    d.emulator.state.auto_approve = account_id
    page = browser.request("GET", invite["url"])
    assert page.status_code == 200, page.text
    return browser.go(invite["url"], "POST")


def untouched(d: Deployment, invite: dict[str, Any]) -> bool:
    """No code was exchanged, and the invite still waits for its seller."""
    return d.code_exchanges() == 0 and d.status(invite["id"])["status"] == "pending"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_seller_connects_and_only_a_sealed_token_is_kept(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite(note="Hello Acme: this connects your US store")
    assert invite["url"].startswith(f"{PUBLIC_URL}/i/") and invite["status"] == "pending"
    browser = d.browser()
    page = browser.request("GET", invite["url"])
    for shown in ("Acme Sync", "United States (US)", "Hello Acme", d.app.app_id, "Continue"):
        assert shown in page.text

    answer = connect(d, invite, seller.selling_partner_id, browser)
    assert answer.status_code == 200 and "Connected" in answer.text
    assert seller.selling_partner_id in answer.text

    consent = next(u for u in browser.visited() if "/apps/authorize/consent" in u)
    assert consent.startswith(d.emulator.url)  # SPCONNECT_CENTRAL_URL, as for the CLI
    sent = query_of(consent)
    assert sent["application_id"] == d.app.app_id and sent["version"] == "beta"
    assert sent["redirect_uri"] == REDIRECT_URI and len(sent["state"]) >= 32

    described = d.status(invite["id"])
    assert described["status"] == "connected"
    assert described["selling_partner_id"] == seller.selling_partner_id
    payload = d.opened(described)
    grant = d.emulator.state.refresh_tokens[payload["refresh_token"]]
    assert (grant.client_id, grant.selling_partner_id) == (
        d.app.client_id,
        seller.selling_partner_id,
    )
    assert payload["invite"] == invite["id"] and payload["client_id"] == d.app.client_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", payload["authorized_at"])
    # Pulled: the blob is deleted and the status says so.
    pulled = d.admin("POST", f"/admin/v1/invites/{invite['id']}/pulled")
    assert pulled.status_code == 200 and pulled.json()["status"] == "pulled"
    assert "sealed" not in d.status(invite["id"])
    again = d.admin("POST", f"/admin/v1/invites/{invite['id']}/pulled")
    assert again.status_code == 200  # idempotent
    stored = d.storage.invite(invite["id"])
    assert stored is not None and stored.sealed is None
    events = [e.event for e in d.storage.audit_log(invite["id"])]
    assert events == [
        "invite_created",
        "consent_started",
        "answer_received",
        "connected",
        "pulled",
    ]


def test_the_browser_cookie_is_httponly_secure_and_lax(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    browser = d.browser()
    connect(d, d.invite(), seller.selling_partner_id, browser)
    (cookie,) = set(browser.set_cookies)
    assert cookie.startswith("__Host-spconnect=")
    for attribute in ("Path=/", "HttpOnly", "SameSite=Lax", "Secure"):
        assert attribute in cookie.split("; ")


def test_a_vendor_connects_at_vendor_central(deploy: Deploy) -> None:
    d = deploy(kind="vendor")
    vendor = d.emulator.state.add_account("Acme Vendor", vendor=True)
    invite = d.invite(marketplace="DE", vendor=True)
    assert invite["kind"] == "vendor" and invite["marketplace"] == "DE"
    browser = d.browser()
    assert "Vendor Central" in browser.request("GET", invite["url"]).text
    answer = connect(d, invite, vendor.selling_partner_id, browser)
    assert answer.status_code == 200, answer.text
    described = d.status(invite["id"])
    assert described["selling_partner_id"] == vendor.selling_partner_id  # amzn1.vg.…
    assert d.opened(described)["selling_partner_id"].startswith("amzn1.vg.")


def test_a_vendor_invite_needs_a_marketplace_with_a_vendor_central(deploy: Deploy) -> None:
    d = deploy(kind="vendor")
    for marketplace in ("IE", "eu"):
        answer = d.admin(
            "POST",
            "/admin/v1/invites",
            body={"key_id": d.key_id, "profile": "v", "marketplace": marketplace, "vendor": True},
        )
        assert answer.status_code == 400 and answer.json()["error"] == "bad_marketplace"


def test_a_denied_consent_fails_the_invite_and_says_so(deploy: Deploy) -> None:
    d = deploy()
    d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    browser = d.browser()
    consent_page = browser.go(invite["url"], "POST")  # Amazon's page, waiting for a choice
    assert consent_page.status_code == 200 and "Confirm" in consent_page.text
    decide = f"{d.emulator.url}/apps/authorize/decide"
    denied = browser.request(
        "POST", decide, data={**form_fields(consent_page.text), "decision": "deny"}
    )
    answer = browser.go(denied.headers["location"])
    assert answer.status_code == 400
    assert "chose not to authorize" in answer.text and "new one" in answer.text
    described = d.status(invite["id"])
    assert described["status"] == "failed" and "consent refused" in described["failure"]
    assert "access_denied" in described["failure"]
    assert d.code_exchanges() == 0
    again = browser.request("GET", invite["url"])
    assert again.status_code == 410 and "can no longer be used" in again.text


def test_amazons_consent_error_is_explained(deploy: Deploy) -> None:
    d = deploy()
    invite = d.invite()
    browser = d.browser()
    started = browser.request("POST", invite["url"])
    state = query_of(started.headers["location"])["state"]
    answer = browser.request(
        "GET",
        f"{REDIRECT_URI}?"
        + urlencode({"state": state, "error": "server_error", "error_description": "MD5101"}),
    )
    assert answer.status_code == 400
    assert "MD5101" in answer.text and "redirect URI is not registered" in answer.text
    assert d.status(invite["id"])["failure"].startswith("Amazon answered MD5101")


def test_an_amazon_error_without_state_is_explained_and_changes_nothing(deploy: Deploy) -> None:
    d = deploy()
    invite = d.invite()
    answer = d.browser().request(
        "GET",
        f"{REDIRECT_URI}?" + urlencode({"error": "invalid_request", "error_description": "MD1000"}),
    )
    assert answer.status_code == 400 and "MD1000" in answer.text and "version=beta" in answer.text
    assert untouched(d, invite)


def test_an_expired_invite_cannot_be_used(deploy: Deploy) -> None:
    d = deploy()
    invite = d.invite(expires_in=60)
    browser = d.browser()
    assert browser.request("GET", invite["url"]).status_code == 200
    d.clock.advance(61)
    page = browser.request("GET", invite["url"])
    assert page.status_code == 410 and "expired" in page.text
    started = browser.request("POST", invite["url"])
    assert started.status_code == 410 and "location" not in started.headers
    assert d.status(invite["id"])["status"] == "expired"
    assert [e.event for e in d.storage.audit_log(invite["id"])][-1] == "expired"


def test_a_state_expires_with_its_sign_in(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    browser = d.browser()
    started = browser.request("POST", invite["url"])
    d.clock.advance(d.settings.state_lifetime + 1)
    d.emulator.state.auto_approve = seller.selling_partner_id
    answer = browser.go(started.headers["location"])
    assert answer.status_code == 400 and "too late" in answer.text
    assert untouched(d, invite)


def test_a_reauth_invite_renews_the_same_seller(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite(reauth=True, expected_selling_partner_id=seller.selling_partner_id)
    browser = d.browser()
    page = browser.request("GET", invite["url"])
    assert "renews the authorization" in page.text and seller.selling_partner_id in page.text
    answer = connect(d, invite, seller.selling_partner_id, browser)
    assert answer.status_code == 200
    described = d.status(invite["id"])
    assert described["status"] == "connected" and described["reauth"] is True


def test_a_reauth_invite_refuses_another_seller_before_the_exchange(deploy: Deploy) -> None:
    d = deploy()
    expected = d.emulator.state.add_account("Acme Shop")
    other = d.emulator.state.add_account("Someone Else")
    invite = d.invite(reauth=True, expected_selling_partner_id=expected.selling_partner_id)
    answer = connect(d, invite, other.selling_partner_id, d.browser())
    assert answer.status_code == 400
    assert f"You signed in as account {other.selling_partner_id}" in answer.text
    assert expected.selling_partner_id in answer.text and "Nothing was stored" in answer.text
    described = d.status(invite["id"])
    assert described["status"] == "failed" and "wrong seller" in described["failure"]
    assert "sealed" not in described and described["selling_partner_id"] is None
    assert d.code_exchanges() == 0  # the foreign code was never exchanged


def test_the_login_uri_hop_continues_for_the_browser_that_started(deploy: Deploy) -> None:
    """Real Amazon's website flow goes straight to the redirect URI (amazon.md section 3);
    a seller who, after opening the invite, authorizes from the app's Appstore page in the
    same browser reaches the Login URI instead, and the invite's cookie carries it on."""
    d = deploy(login_uri=LOGIN_URI)
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    browser = d.browser()
    assert browser.request("GET", invite["url"]).status_code == 200
    started = browser.request("POST", invite["url"])  # the cookie; Amazon's consent URL
    first_state = query_of(started.headers["location"])["state"]
    d.emulator.state.auto_approve = seller.selling_partner_id
    hop = browser.request(
        "POST", f"{d.emulator.url}/apps/appstore/authorize", data={"application_id": d.app.app_id}
    )
    assert hop.headers["location"].startswith(LOGIN_URI)
    answer = browser.go(hop.headers["location"])
    assert answer.status_code == 200, answer.text
    visited = browser.visited()
    confirm = next(u for u in visited if "/apps/authorize/confirm/" in u)
    assert confirm.startswith(d.emulator.url)  # the relative callback, on the consent host
    continued = query_of(confirm)
    assert continued["amazon_state"] == query_of(hop.headers["location"])["amazon_state"]
    assert continued["redirect_uri"] == REDIRECT_URI and continued["version"] == "beta"
    assert continued["state"] != first_state  # a fresh state replaced the first
    assert d.status(invite["id"])["status"] == "connected"
    assert "login_uri_hop" in [e.event for e in d.storage.audit_log(invite["id"])]


def login_uri_visit(d: Deployment, account_id: str) -> str:
    """Play Amazon starting a flow itself (the Appstore's Authorize now): the address of
    the Login URI it sends the browser to."""
    import httpx

    d.emulator.state.auto_approve = account_id
    started = httpx.post(
        f"{d.emulator.url}/apps/appstore/authorize", data={"application_id": d.app.app_id}
    )
    assert started.status_code == 302 and started.headers["location"].startswith(LOGIN_URI)
    return str(started.headers["location"])


def test_a_hop_without_the_invite_cookie_asks_for_an_invite(deploy: Deploy) -> None:
    d = deploy(login_uri=LOGIN_URI)
    seller = d.emulator.state.add_account("Acme Shop")
    d.invite()
    # Another browser started a consent; this one (no cookie) gets Amazon's hop.
    d.browser().request("POST", d.invite()["url"])
    stranger = d.browser(address="198.51.100.7")
    answer = stranger.go(login_uri_visit(d, seller.selling_partner_id))
    assert answer.status_code == 403 and "invite link is needed" in answer.text
    assert "location" not in answer.headers and d.code_exchanges() == 0
    assert all(
        i["status"] == "pending" for i in d.admin("GET", "/admin/v1/invites").json()["invites"]
    )


def test_open_enrollment_takes_a_seller_amazon_sent_without_an_invite(deploy: Deploy) -> None:
    d = deploy(login_uri=LOGIN_URI, open_enrollment=True)
    seller = d.emulator.state.add_account("Acme Shop")
    browser = d.browser()
    answer = browser.go(login_uri_visit(d, seller.selling_partner_id))
    assert answer.status_code == 200 and "Connected" in answer.text, answer.text
    (entry,) = d.admin("GET", "/admin/v1/invites").json()["invites"]
    assert entry["open_enrollment"] is True and entry["status"] == "connected"
    assert entry["profile"] == seller.selling_partner_id
    assert entry["marketplace"] == "US"  # --enrollment-marketplace's default
    payload = d.opened(d.status(entry["id"]))
    assert d.emulator.state.refresh_tokens[payload["refresh_token"]].selling_partner_id == (
        seller.selling_partner_id
    )
    assert d.admin("GET", "/admin/v1/info").json()["open_enrollment"] is True


def test_open_enrollment_records_the_marketplace_the_seller_came_from(deploy: Deploy) -> None:
    d = deploy(login_uri=LOGIN_URI, open_enrollment=True)
    seller = d.emulator.state.add_account("Tokyo Shop", region="fe")
    browser = d.browser()
    hop = browser.request(
        "GET",
        login_uri_visit(d, seller.selling_partner_id),
        headers={"Referer": "https://sellercentral.amazon.co.jp/"},
    )
    assert browser.go(hop.headers["location"]).status_code == 200
    (entry,) = d.admin("GET", "/admin/v1/invites").json()["invites"]
    assert entry["marketplace"] == "JP"


def test_open_enrollment_leaves_nothing_for_a_refused_consent(deploy: Deploy) -> None:
    d = deploy(login_uri=LOGIN_URI, open_enrollment=True)
    d.emulator.state.add_account("Acme Shop")
    d.emulator.state.add_account("Another Shop")  # two accounts: Amazon's page asks
    browser = d.browser()
    consent_page = browser.go(login_uri_visit(d, None))  # type: ignore[arg-type]
    decide = f"{d.emulator.url}/apps/authorize/decide"
    denied = browser.request(
        "POST", decide, data={**form_fields(consent_page.text), "decision": "deny"}
    )
    answer = browser.go(denied.headers["location"])
    assert answer.status_code == 400
    assert d.admin("GET", "/admin/v1/invites").json()["invites"] == []


def test_a_forged_state_changes_nothing(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    browser = d.browser()
    browser.request("POST", invite["url"])  # a real consent started: the cookie is set
    code = d.emulator.state.issue_code(d.app.client_id, REDIRECT_URI, seller.selling_partner_id)
    for state in ("forged-state-value-1234567890", "", "x" * 3000):
        answer = browser.request(
            "GET",
            f"{REDIRECT_URI}?"
            + urlencode(
                {
                    "state": state,
                    "selling_partner_id": seller.selling_partner_id,
                    "spapi_oauth_code": code,
                }
            ),
        )
        assert answer.status_code == 400, answer.text
    assert untouched(d, invite)


def test_a_state_is_useless_in_another_browser(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    started = d.browser().request("POST", invite["url"])
    d.emulator.state.auto_approve = seller.selling_partner_id
    thief = d.browser(address="198.51.100.9")
    thief.cookies["__Host-spconnect"] = "A" * 43  # a cookie, but not the one
    answer = thief.go(started.headers["location"])
    assert answer.status_code == 400 and "another browser" in answer.text
    assert untouched(d, invite)


def test_a_used_invite_cannot_be_used_again(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    other = d.emulator.state.add_account("Other Shop")
    invite = d.invite()
    connect(d, invite, seller.selling_partner_id, d.browser())
    second = d.browser(address="198.51.100.20")
    page = second.request("GET", invite["url"])
    assert page.status_code == 410 and "already used" in page.text
    started = second.request("POST", invite["url"])
    assert started.status_code == 410 and "location" not in started.headers
    d.emulator.state.auto_approve = other.selling_partner_id
    assert d.status(invite["id"])["selling_partner_id"] == seller.selling_partner_id
    assert d.code_exchanges() == 1


def test_two_tabs_of_one_invite_connect_it_once(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    browser = d.browser()
    first = browser.request("POST", invite["url"])
    second = browser.request("POST", invite["url"])
    d.emulator.state.auto_approve = seller.selling_partner_id
    assert browser.go(first.headers["location"]).status_code == 200
    late = browser.go(second.headers["location"])
    assert late.status_code == 410 and "already used" in late.text
    assert d.status(invite["id"])["status"] == "connected"


def test_a_reused_code_is_not_exchanged_twice(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    browser = d.browser()
    connect(d, invite, seller.selling_partner_id, browser)
    answer_url = next(u for u in browser.visited() if u.startswith(REDIRECT_URI))
    # The same answer again (a reload): the connected page, no second exchange.
    reload = browser.request("GET", answer_url)
    assert reload.status_code == 200 and "Connected" in reload.text
    # The same answer from elsewhere: refused.
    assert d.browser(address="198.51.100.3").request("GET", answer_url).status_code == 400
    assert d.code_exchanges() == 1
    # The code under a fresh, valid state of another invite: Amazon refuses it (used),
    # and that invite fails without storing anything.
    other = d.invite(profile="other")
    state = query_of(browser.request("POST", other["url"]).headers["location"])["state"]
    code = query_of(answer_url)["spapi_oauth_code"]
    replayed = browser.request(
        "GET",
        f"{REDIRECT_URI}?"
        + urlencode(
            {
                "state": state,
                "selling_partner_id": seller.selling_partner_id,
                "spapi_oauth_code": code,
            }
        ),
    )
    assert replayed.status_code == 400 and "Nothing was stored" in replayed.text
    described = d.status(other["id"])
    assert described["status"] == "failed" and "code exchange failed" in described["failure"]
    assert "sealed" not in described


def test_amazon_unreachable_leaves_the_invite_usable(deploy: Deploy) -> None:
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    d.emulator.inject("status", status=503)
    answer = connect(d, invite, seller.selling_partner_id, d.browser())
    assert answer.status_code == 503 and "try again" in answer.text.lower()
    assert d.status(invite["id"])["status"] == "pending"
    retry = connect(d, invite, seller.selling_partner_id, d.browser())
    assert retry.status_code == 200 and d.status(invite["id"])["status"] == "connected"


def test_a_revoked_invite_is_withdrawn(deploy: Deploy) -> None:
    d = deploy()
    invite = d.invite()
    revoked = d.admin("DELETE", f"/admin/v1/invites/{invite['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    page = d.browser().request("GET", invite["url"])
    assert page.status_code == 410 and "withdrawn" in page.text
    missing = d.browser().request("GET", f"{PUBLIC_URL}/i/{'Z' * 22}")
    assert missing.status_code == 404 and "not valid" in missing.text


@pytest.mark.parametrize(
    "callback",
    [
        "https://evil.example/apps/authorize/confirm/x",
        "//evil.example/apps/authorize/confirm/x",
        "https://sellercentral.amazon.com.evil.example/x",
        "javascript:alert(1)",
        "http://127.0.0.1:1/x",
        "/apps/authorize/confirm/x\r\nSet-Cookie: a=b",
    ],
)
def test_the_hop_never_redirects_off_amazon(deploy: Deploy, callback: str) -> None:
    d = deploy(login_uri=LOGIN_URI, open_enrollment=True)
    browser = d.browser()
    answer = browser.request(
        "GET", f"{LOGIN_URI}?" + urlencode({"amazon_callback_uri": callback, "amazon_state": "s1"})
    )
    assert answer.status_code == 400 and "location" not in answer.headers, answer.text
    assert "set-cookie" not in answer.headers


def test_no_request_value_reaches_a_location_header(deploy: Deploy) -> None:
    """Every redirect the server gives goes to the emulator's Central (the catalogue's
    stand-in): the consent URL and the hop's continuation, whatever the request said."""
    d = deploy(login_uri=LOGIN_URI, open_enrollment=True)
    browser = d.browser()
    browser.request("POST", d.invite(note="https://evil.example")["url"])
    browser.request(
        "GET",
        f"{LOGIN_URI}?"
        + urlencode({"amazon_callback_uri": "/apps/authorize/confirm/x", "amazon_state": "s"}),
    )
    browser.request("GET", f"{REDIRECT_URI}?state=x&next=https://evil.example")
    locations = [r.headers["location"] for r in browser.history if "location" in r.headers]
    assert len(locations) == 2
    assert all(loc.startswith(d.emulator.url + "/apps/authorize/") for loc in locations)


@pytest.mark.postgres
def test_two_instances_on_postgresql_share_the_sellers_path(
    deploy: Deploy, postgres_url: str
) -> None:
    """Several instances behind one domain: the seller starts on one and Amazon's answer
    reaches another (a load balancer's choice); the database alone carries the state."""
    d = deploy(database=postgres_url, login_uri=LOGIN_URI)
    _, other = d.another_instance()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite()
    on_first = d.browser()
    started = on_first.request("POST", invite["url"])
    d.emulator.state.auto_approve = seller.selling_partner_id
    amazon = on_first.request("GET", started.headers["location"])  # approved at Amazon
    assert amazon.headers["location"].startswith(REDIRECT_URI)
    on_first.server_url = other.url  # from here on, the other instance answers
    answer = on_first.go(amazon.headers["location"])
    assert answer.status_code == 200 and "Connected" in answer.text, answer.text
    described = d.status(invite["id"])
    assert described["status"] == "connected"
    assert d.opened(described)["selling_partner_id"] == seller.selling_partner_id
    # The same answer at the first instance now: already used, nothing exchanged again.
    on_first.server_url = d.server.url
    answer_url = next(u for u in on_first.visited() if u.startswith(REDIRECT_URI))
    assert "Connected" in on_first.request("GET", answer_url).text
    assert d.code_exchanges() == 1


def test_connected_invites_are_listed_however_many_came_after(
    deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list holds the newest invites only; `invite pull` asks for the connected ones
    apart (?status=connected), so an old connection is never hidden by newer invites."""
    monkeypatch.setattr("spconnect.serve.admin.MAX_LISTED", 3)
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    oldest = d.invite(profile="old")
    assert connect(d, oldest, seller.selling_partner_id, d.browser()).status_code == 200
    d.clock.advance(1)  # times are whole seconds
    for n in range(4):
        d.invite(profile=f"later{n}")
    listed = d.admin("GET", "/admin/v1/invites").json()["invites"]
    assert len(listed) == 3 and oldest["id"] not in [i["id"] for i in listed]
    (connected,) = d.admin("GET", "/admin/v1/invites?status=connected").json()["invites"]
    assert connected["id"] == oldest["id"] and connected["status"] == "connected"
    # The CLI's client asks exactly that.
    api = AdminApi("test", d.server.url, ADMIN_TOKEN)
    assert [i.id for i in api.invites(status="connected")] == [oldest["id"]]
    bad = d.admin("GET", "/admin/v1/invites?status=everything")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_request"


def test_an_invite_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """An id is also a command-line argument (`spconnect invite revoke ID`), where a
    leading "-" reads as an option: one random id in 64 did, and is drawn again."""
    from spconnect.serve import flow

    drawn = iter(["-c1BWbgAVC07hyP9ytCzZA", "8GHRbBZrHFI-oV6228z9Qg"])
    monkeypatch.setattr(flow.secrets, "token_urlsafe", lambda size: next(drawn))
    assert flow.new_invite_id() == "8GHRbBZrHFI-oV6228z9Qg"
