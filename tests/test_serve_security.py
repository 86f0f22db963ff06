"""The invite server faces the internet (issue 11, "Security"): the admin token, size
caps, rate limits, headers on every answer, and the admin API's strictness. The real
server in a thread, as in test_serve.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from spconnect.serve.ratelimit import RateLimiter
from tests.serve_harness import (
    ADMIN_TOKEN,
    LOGIN_URI,
    PUBLIC_URL,
    REDIRECT_URI,
    Deploy,
    Deployment,
)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        f"Bearer {ADMIN_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        f"Basic {ADMIN_TOKEN}",
        f"Bearer {'x' * 5000}",
    ],
)
def test_the_admin_api_wants_the_token(deploy: Deploy, authorization: str | None) -> None:
    d = deploy()
    headers = {} if authorization is None else {"Authorization": authorization}
    for method, path in [
        ("GET", "/admin/v1/invites"),
        ("GET", "/admin/v1/info"),
        ("POST", "/admin/v1/keys"),
        ("GET", "/admin/v1/no-such-thing"),  # 401 too: the API's shape stays hidden
        ("GET", "/admin"),
    ]:
        answer = d.admin_http.request(method, d.server.url + path, headers=headers, json={})
        assert answer.status_code == 401, (method, path, answer.text)
        assert answer.json() == {"error": "unauthorized"}
        assert answer.headers["www-authenticate"] == "Bearer"
    assert d.admin("GET", "/admin/v1/invites").status_code == 200


def test_info_describes_the_app(deploy: Deploy) -> None:
    d = deploy(login_uri=LOGIN_URI)
    info = d.admin("GET", "/admin/v1/info").json()
    assert info["app"] == "Acme Sync" and info["client_id"] == d.app.client_id
    assert info["app_id"] == d.app.app_id and info["kind"] == "seller"
    assert info["public_url"] == PUBLIC_URL and info["open_enrollment"] is False
    assert info["version"]


KEY = "<the registered key>"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], "bad_request"),
        ({"profile": "a", "marketplace": "US"}, "bad_request"),  # no key_id
        ({"key_id": KEY, "profile": "a", "marketplace": "US", "extra": 1}, "bad_request"),
        ({"key_id": KEY, "profile": "../etc", "marketplace": "US"}, "bad_request"),
        ({"key_id": KEY, "profile": "a", "marketplace": "XX"}, "bad_marketplace"),
        ({"key_id": KEY, "profile": "a", "marketplace": "US", "expires_in": 59}, "bad_request"),
        (
            {"key_id": KEY, "profile": "a", "marketplace": "US", "expires_in": 31 * 86400},
            "bad_request",
        ),
        ({"key_id": KEY, "profile": "a", "marketplace": "US", "expires_in": True}, "bad_request"),
        ({"key_id": KEY, "profile": "a", "marketplace": "US", "note": "x" * 201}, "bad_request"),
        (
            {"key_id": KEY, "profile": "a", "marketplace": "US", "note": "a\x1b[31mred"},
            "bad_request",
        ),
        ({"key_id": KEY, "profile": "a", "marketplace": "US", "vendor": "yes"}, "bad_request"),
        (
            {
                "key_id": KEY,
                "profile": "a",
                "marketplace": "US",
                "expected_selling_partner_id": "lower",
            },
            "bad_request",
        ),
        ({"key_id": "k-unknown", "profile": "a", "marketplace": "US"}, "unknown_key"),
    ],
)
def test_a_malformed_invite_request_is_refused(deploy: Deploy, body: Any, error: str) -> None:
    d = deploy()
    if isinstance(body, dict) and body.get("key_id") == KEY:
        body = {**body, "key_id": d.key_id}
    answer = d.admin("POST", "/admin/v1/invites", body=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error and answer.json()["message"]
    assert d.admin("GET", "/admin/v1/invites").json()["invites"] == []


def test_the_admin_api_takes_json_only(deploy: Deploy) -> None:
    d = deploy()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    url = d.server.url + "/admin/v1/keys"
    form = d.admin_http.post(url, headers=headers, data={"public_key": d.keys.public_key})
    assert form.status_code == 415
    broken = d.admin_http.post(
        url, headers={**headers, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert broken.status_code == 400 and broken.json()["error"] == "bad_request"
    nested = d.admin_http.post(
        url, headers={**headers, "Content-Type": "application/json"}, content=b"[" * 50_000
    )
    assert nested.status_code == 400
    bad_key = d.admin("POST", "/admin/v1/keys", body={"public_key": "not-a-key"})
    assert bad_key.status_code == 400


def test_registering_a_key_twice_answers_the_same_id(deploy: Deploy) -> None:
    d = deploy()
    again = d.admin("POST", "/admin/v1/keys", body={"public_key": d.keys.public_key, "label": "x"})
    assert again.status_code == 201 and again.json()["key_id"] == d.key_id


def test_pulled_and_revoked_follow_the_status(deploy: Deploy) -> None:
    d = deploy()
    invite = d.invite()
    pending_pull = d.admin("POST", f"/admin/v1/invites/{invite['id']}/pulled")
    assert pending_pull.status_code == 409 and pending_pull.json()["error"] == "not_connected"
    assert d.admin("GET", "/admin/v1/invites/unknown-id-0000000000").status_code == 404
    assert d.admin("DELETE", "/admin/v1/invites/x").status_code == 404
    assert d.admin("DELETE", f"/admin/v1/invites/{invite['id']}").status_code == 200
    assert d.admin("DELETE", f"/admin/v1/invites/{invite['id']}").status_code == 200


def test_an_oversized_body_is_refused_before_it_is_read(deploy: Deploy) -> None:
    d = deploy()
    invite = d.invite()
    big_admin = d.admin(
        "POST", "/admin/v1/invites", body={"key_id": d.key_id, "note": "x" * 70_000}
    )
    assert big_admin.status_code == 413 and big_admin.json()["error"] == "too_large"
    browser = d.browser()
    big_form = browser.request("POST", invite["url"], data={"x": "y" * 9000})
    assert big_form.status_code == 413 and "set-cookie" not in big_form.headers

    # A body announced small but sent without a length (chunked) is counted as it comes.
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"z" * 4096

    chunked = httpx.post(
        d.server.url + invite["url"][len(PUBLIC_URL) :],
        content=chunks(),
        headers={"Host": "connect.example.test", "X-Forwarded-Proto": "https"},
    )
    assert chunked.status_code == 413
    assert d.status(invite["id"])["status"] == "pending"
    assert [e.event for e in d.storage.audit_log(invite["id"])] == ["invite_created"]


def test_a_content_length_is_judged_before_any_byte_arrives(deploy: Deploy) -> None:
    """The server answers 413 to the head alone: it never waits for the body."""
    d = deploy()
    with socket.create_connection(("127.0.0.1", d.server.port), timeout=5) as raw:
        raw.sendall(
            b"POST /admin/v1/invites HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        head = raw.recv(4096)
    assert head.startswith(b"HTTP/1.1 413 ")


def test_long_addresses_and_heads_are_refused(deploy: Deploy) -> None:
    d = deploy()
    browser = d.browser()
    assert browser.request("GET", f"{REDIRECT_URI}?state={'a' * 9000}").status_code == 414
    assert browser.request("GET", f"{PUBLIC_URL}/{'a' * 3000}").status_code == 414
    huge_head = browser.request("GET", PUBLIC_URL + "/healthz", headers={"X-Big": "a" * 20_000})
    assert huge_head.status_code >= 400


def test_public_paths_are_rate_limited_per_client(deploy: Deploy) -> None:
    d = deploy(rate_limit=5)
    invite = d.invite()
    first = d.browser(address="203.0.113.1")
    answers = [first.request("GET", invite["url"]).status_code for _ in range(7)]
    assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]
    limited = first.history[-1]
    assert int(limited.headers["retry-after"]) >= 1 and "Too many requests" in limited.text
    # Another address has its own bucket; the admin API and the health check have none.
    assert d.browser(address="203.0.113.2").request("GET", invite["url"]).status_code == 200
    assert all(d.admin("GET", "/admin/v1/invites").status_code == 200 for _ in range(8))
    assert all(first.request("GET", PUBLIC_URL + "/healthz").status_code == 200 for _ in range(8))


def test_a_bucket_refills_with_time_and_idle_clients_are_forgotten() -> None:
    now = [1000.0]
    limiter = RateLimiter(60, max_clients=4, clock=lambda: now[0])
    assert [limiter.wait_needed("a") for _ in range(60)] == [0.0] * 60
    assert limiter.wait_needed("a") == pytest.approx(1.0)
    now[0] += 1.0  # 60 a minute: one more a second
    assert limiter.wait_needed("a") == 0.0
    for client in "bcdefgh":
        limiter.wait_needed(client)
    assert len(limiter._buckets) <= 4


def test_x_forwarded_for_counts_only_from_the_trusted_proxy(deploy: Deploy) -> None:
    """With no proxy trusted, a client cannot pick a fresh bucket per request."""
    d = deploy(rate_limit=3, forwarded_allow_ips="192.0.2.1")
    invite = d.invite()
    statuses = [
        d.browser(address=f"203.0.113.{n}").request("GET", invite["url"]).status_code
        for n in range(1, 6)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def every_kind_of_answer(d: Deployment) -> list[httpx.Response]:
    invite = d.invite()
    browser = d.browser()
    answers = [
        browser.request("GET", invite["url"]),  # the invite page
        browser.request("POST", invite["url"]),  # 303 to Amazon
        browser.request("GET", f"{PUBLIC_URL}/i/{'Z' * 22}"),  # 404
        browser.request("GET", f"{PUBLIC_URL}/nothing"),  # 404
        browser.request("DELETE", invite["url"]),  # 405
        browser.request("GET", REDIRECT_URI),  # the answer path, empty
        browser.request("GET", f"{REDIRECT_URI}?state=forged"),  # 400
        browser.request("GET", f"{LOGIN_URI}?amazon_callback_uri=/x&amazon_state=s"),  # 302
        d.browser(address="198.51.100.1").request(
            "GET", f"{LOGIN_URI}?amazon_callback_uri=/x&amazon_state=s"
        ),  # 403: no consent started in that browser
        browser.request("GET", PUBLIC_URL + "/healthz", headers={"X-Big": "a" * 20_000}),  # 431
        browser.request("GET", f"{PUBLIC_URL}/healthz"),
        browser.request("POST", invite["url"], data={"x": "y" * 9000}),  # 413
        browser.request("GET", f"{REDIRECT_URI}?state={'a' * 9000}"),  # 414
        d.admin("GET", "/admin/v1/invites"),
        d.admin("GET", "/admin/v1/invites", token="wrong"),  # 401
        d.admin("GET", "/admin/v1/invites/nope-nope-nope-nope"),  # 404 JSON
    ]
    answers += [browser.request("GET", invite["url"]) for _ in range(3)]  # 429 at last
    return answers


def test_every_answer_carries_the_security_headers(deploy: Deploy) -> None:
    d = deploy(login_uri=LOGIN_URI, rate_limit=10)
    answers = every_kind_of_answer(d)
    assert {a.status_code for a in answers} == {
        200, 302, 303, 400, 401, 403, 404, 405, 413, 414, 429, 431
    }  # fmt: skip
    for answer in answers:
        headers = answer.headers
        csp = headers["content-security-policy"]
        for directive in (
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ):
            assert directive in csp, (answer.request.url, csp)
        assert "script-src" not in csp and "http" not in csp.replace(d.emulator.url, "")
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert "server" not in headers
        if headers.get("content-type", "").startswith("text/html"):
            # Self-contained: no script, no external style, image or font.
            for tag in ("<script", "<link", "<img", "src=", "@import", "url("):
                assert tag not in answer.text, (answer.request.url, tag)


def test_the_invite_form_may_go_to_its_central_only(deploy: Deploy) -> None:
    d = deploy()
    page = d.browser().request("GET", d.invite()["url"])
    assert f"form-action 'self' {d.emulator.url};" in page.headers["content-security-policy"]
    other = d.browser().request("GET", f"{PUBLIC_URL}/healthz")
    assert "form-action 'none'" in other.headers["content-security-policy"]


@pytest.mark.postgres
def test_a_database_outage_is_a_503_and_the_server_recovers(
    deploy: Deploy, postgres_url: str, postgres_server: str
) -> None:
    """PostgreSQL drops every connection (a restart, a failover): the request that finds
    out gets the unavailable page, with the headers; the next one works again."""
    import psycopg

    d = deploy(database=postgres_url)
    invite = d.invite()
    browser = d.browser()
    assert browser.request("GET", invite["url"]).status_code == 200
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    outage = browser.request("GET", invite["url"])
    assert outage.status_code == 503 and "try again" in outage.text.lower()
    assert outage.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in outage.headers["content-security-policy"]
    assert browser.request("GET", invite["url"]).status_code == 200
    assert d.status(invite["id"])["status"] == "pending"


def test_no_answer_redirects_to_the_host_the_request_named(deploy: Deploy) -> None:
    """Starlette's trailing-slash redirect builds its Location from the Host header: a
    request naming another host (a proxy that passes any Host on, a default server)
    would be sent there, Amazon's answer (state, code) included."""
    d = deploy(login_uri=LOGIN_URI)
    invite = d.invite()
    browser = d.browser()
    for url in (
        f"{PUBLIC_URL}/healthz/",
        invite["url"] + "/",
        f"{REDIRECT_URI}/?state=s&spapi_oauth_code=c",
        f"{LOGIN_URI}/?amazon_callback_uri=/x&amazon_state=s",
    ):
        answer = browser.request("GET", url, headers={"Host": "evil.example"})
        assert answer.status_code == 404, (url, answer.status_code)
        assert "location" not in answer.headers, (url, answer.headers["location"])
    assert d.status(invite["id"])["status"] == "pending"


@pytest.mark.parametrize("listed_meanwhile", [False, True])
def test_an_invite_that_expires_while_the_seller_is_at_amazon_does_not_connect(
    deploy: Deploy, listed_meanwhile: bool
) -> None:
    """The outcome must not depend on whether someone listed the invites in between
    (the listing marks expired invites): past its expiry an invite never connects, and
    no code is exchanged for it."""
    d = deploy()
    seller = d.emulator.state.add_account("Acme Shop")
    invite = d.invite(expires_in=60)
    browser = d.browser()
    started = browser.request("POST", invite["url"])
    assert started.status_code == 303
    d.clock.advance(61)  # the state (20 minutes) still lives; the invite does not
    if listed_meanwhile:
        d.admin("GET", "/admin/v1/invites")
    d.emulator.state.auto_approve = seller.selling_partner_id
    answer = browser.go(started.headers["location"])
    assert answer.status_code == 410 and "expired" in answer.text, answer.text
    described = d.status(invite["id"])
    assert described["status"] == "expired" and "sealed" not in described
    assert d.code_exchanges() == 0


def test_an_ipv6_client_cannot_pick_a_fresh_bucket_from_its_own_64(deploy: Deploy) -> None:
    """An IPv6 subscriber is given a /64 at least: one bucket per address would let it
    make 2^64 buckets. Its addresses share one; another /64 has its own."""
    d = deploy(rate_limit=3)
    invite = d.invite()
    statuses = [
        d.browser(address=f"2001:db8:1:2::{n:x}").request("GET", invite["url"]).status_code
        for n in range(1, 6)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    assert d.browser(address="2001:db8:1:3::1").request("GET", invite["url"]).status_code == 200
    # An IPv4 address written as IPv6 (a dual-stack proxy) counts as that IPv4 address.
    v4 = [
        d.browser(address=address).request("GET", invite["url"]).status_code
        for address in ("198.51.100.7", "::ffff:198.51.100.7", "198.51.100.7", "198.51.100.7")
    ]
    assert v4 == [200, 200, 200, 429]


def test_a_body_that_trickles_is_cut_at_a_deadline(
    deploy: Deploy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that announces a body and sends it a byte at a time (or never) holds a
    connection and a task for as long as it likes, unless the server bounds the time
    the body may take: 408, and the connection closed."""
    from spconnect.serve import app

    monkeypatch.setattr(app, "BODY_DEADLINE_SECONDS", 1.0)
    d = deploy()
    invite = d.invite()
    path = invite["url"][len(PUBLIC_URL) :].encode()
    with socket.create_connection(("127.0.0.1", d.server.port), timeout=8) as raw:
        raw.sendall(
            b"POST " + path + b" HTTP/1.1\r\nHost: connect.example.test\r\n"
            b"X-Forwarded-Proto: https\r\nContent-Length: 100\r\n\r\nabc"
        )
        received = b""
        while chunk := raw.recv(4096):  # the server closes the connection at the end
            received += chunk
    assert received.startswith(b"HTTP/1.1 408 "), received[:100]
    assert b"set-cookie" not in received.lower()
    assert [e.event for e in d.storage.audit_log(invite["id"])] == ["invite_created"]


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
def test_another_site_cannot_start_a_consent_in_a_sellers_browser(
    deploy: Deploy, site: str
) -> None:
    """A page elsewhere that submits a form to /i/<id> would send the seller to Amazon's
    consent for an invite they never opened, and replace their browser's cookie (ending a
    consent they had started). Browsers say where a request comes from
    (Sec-Fetch-Site); the invite page's own button is same-origin."""
    d = deploy()
    invite = d.invite()
    browser = d.browser()
    forged = browser.request("POST", invite["url"], headers={"Sec-Fetch-Site": site})
    assert forged.status_code == 403, forged.text
    assert "location" not in forged.headers and "set-cookie" not in forged.headers
    assert [e.event for e in d.storage.audit_log(invite["id"])] == ["invite_created"]
    own = browser.request("POST", invite["url"], headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 303
    assert browser.request("POST", invite["url"]).status_code == 303  # an older browser


@pytest.mark.postgres
def test_a_rotation_racing_another_stores_the_token_it_prints(postgres_url: str) -> None:
    """Two `serve --rotate-admin-token` at once on PostgreSQL (two operators, a script
    run twice): each prints its token, so each must be stored; the later one wins. With
    a delete-then-insert, the second saw the first's new row only at its insert and
    stored nothing, and printed a token that never worked."""
    import threading
    import time

    import psycopg

    from spconnect.serve.storage import digest, open_storage

    storage = open_storage(postgres_url)
    try:
        storage.set_admin_token("first-token-0123456789abcdef", 1, replace=False)
        stored: list[bool] = []
        with psycopg.connect(postgres_url) as first:  # a rotation, not yet committed
            first.execute("DELETE FROM meta WHERE name = 'admin_token_sha256'")
            first.execute(
                "INSERT INTO meta (name, value) VALUES ('admin_token_sha256', %s)",
                (digest("rotated-by-the-other-0123456789"),),
            )
            second = threading.Thread(
                target=lambda: stored.append(
                    storage.set_admin_token("rotated-here-0123456789abcdef", 2, replace=True)
                )
            )
            second.start()
            time.sleep(0.5)  # the second rotation now waits on the first's row lock
            first.commit()
        second.join(10)
        assert stored == [True]
        assert storage.admin_token_matches("rotated-here-0123456789abcdef")
    finally:
        storage.close()
