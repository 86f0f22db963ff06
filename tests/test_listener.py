"""The loopback listener, in-process over real HTTP (and TLS), as the design lists it."""

from __future__ import annotations

import contextlib
import queue
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spconnect.consent.answers import Authorized, ExpectedAnswer, Refused
from spconnect.consent.listener import CallbackListener, ListenerEvent, port_is_free
from spconnect.consent.pages import SECURITY_HEADERS
from spconnect.errors import LoginIncomplete

STATE = "53682.AbCdEfGhIjKlMnOpQrStUvWxYz012345"
EXPECTED = ExpectedAnswer(
    STATE, "https://you.example.com/cb", True, "https://sellercentral.amazon.com"
)


CONSENT_URL = (
    "https://sellercentral.amazon.com/apps/authorize/consent?application_id=amzn1.sp.solution"
    f".x&state={STATE}&version=beta&redirect_uri=https%3A%2F%2Fyou.example.com%2Fcb"
)
HOP = "/callback?amazon_callback_uri=%2Fapps%2Fauthorize%2Fconfirm%2Fx&amazon_state=AMZ"


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbackListener]:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)
    lst = CallbackListener(EXPECTED, port=0).start()
    lst.begin(EXPECTED, CONSENT_URL)
    yield lst
    lst.stop()


@pytest.fixture
def browser(listener: CallbackListener) -> Iterator[httpx.Client]:
    """The person's browser: it opened the login's start address, so it holds the cookie."""
    with httpx.Client(timeout=5) as client:
        opened = client.get(listener.start_address())
        assert opened.status_code == 302 and opened.headers["location"] == CONSENT_URL
        yield client


def cookie_header(client: httpx.Client) -> bytes:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items()).encode()


def get(listener: CallbackListener, path: str, host: str | None = None) -> httpx.Response:
    headers = {"Host": host} if host else {}
    return httpx.get(f"http://127.0.0.1:{listener.port}{path}", headers=headers, timeout=5)


def events(listener: CallbackListener) -> list[ListenerEvent]:
    found = []
    while True:
        try:
            found.append(listener.events.get_nowait())
        except queue.Empty:
            return found


def final_verdicts(listener: CallbackListener, expect: int = 0) -> list[Authorized | Refused]:
    """The final answers the listener has reported. It reports them just after the page
    went out, so the client may see the page a moment earlier: wait for ``expect``."""
    found: list[Authorized | Refused] = []
    deadline = time.monotonic() + 3
    while len(found) < expect and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            event = listener.events.get(timeout=0.05)
            if event.verdict is not None:
                found.append(event.verdict)
    return found + [e.verdict for e in events(listener) if e.verdict is not None]


def test_binds_loopback_only(listener: CallbackListener) -> None:
    assert listener.address[0] == "127.0.0.1"
    with pytest.raises(ValueError, match="loopback"):
        CallbackListener(EXPECTED, port=0, bind_address="0.0.0.0")


@pytest.mark.parametrize("path", ["/", "/favicon.ico", "/callback/x", "/Callback"])
def test_anything_but_the_callback_is_404_and_the_listener_keeps_waiting(
    listener: CallbackListener, path: str
) -> None:
    response = get(listener, path + f"?state={STATE}&spapi_oauth_code=abc")
    assert response.status_code == 404
    assert final_verdicts(listener) == []
    ok = get(
        listener, f"/callback?state={STATE}&spapi_oauth_code=abc&selling_partner_id=A1B2C3D4E5"
    )
    assert ok.status_code == 200
    assert final_verdicts(listener, 1) == [Authorized("abc", "A1B2C3D4E5")]


def test_wrong_or_missing_state_gets_an_error_page_and_the_listener_keeps_waiting(
    listener: CallbackListener,
) -> None:
    for query in (
        "state=53682.wrongwrongwrongwrongwrong&spapi_oauth_code=evil",
        "spapi_oauth_code=evil",
        "state=&error=access_denied",
    ):
        response = get(listener, f"/callback?{query}")
        assert response.status_code == 400
        assert "does not belong to the current login" in response.text
    assert final_verdicts(listener) == []
    assert get(listener, f"/callback?state={STATE}&spapi_oauth_code=good").status_code == 200
    assert final_verdicts(listener, 1) == [Authorized("good", None)]


def test_host_header_is_checked(listener: CallbackListener) -> None:
    response = get(listener, f"/callback?state={STATE}&spapi_oauth_code=x", host="evil.example:80")
    assert response.status_code == 400
    assert final_verdicts(listener) == []
    assert (
        get(
            listener,
            f"/callback?state={STATE}&spapi_oauth_code=x",
            host=f"localhost:{listener.port}",
        ).status_code
        == 200
    )


def test_success_page_goes_out_first_and_carries_no_code(listener: CallbackListener) -> None:
    response = get(
        listener,
        f"/callback?state={STATE}&spapi_oauth_code=SECRETCODE123&selling_partner_id=A1B2C3D4E5",
    )
    assert response.status_code == 200
    assert "Authorization received" in response.text
    assert "SECRETCODE123" not in response.text and STATE not in response.text
    # The verdict is reported only once the page has gone out.
    assert final_verdicts(listener, 1) == [Authorized("SECRETCODE123", "A1B2C3D4E5")]


def test_state_is_single_use(listener: CallbackListener) -> None:
    get(listener, f"/callback?state={STATE}&spapi_oauth_code=first")
    second = get(listener, f"/callback?state={STATE}&spapi_oauth_code=second")
    assert second.status_code == 400 and "already finished" in second.text
    assert final_verdicts(listener, 1) == [Authorized("first", None)]


def test_error_callback_is_a_refusal_with_amazons_text(listener: CallbackListener) -> None:
    response = get(
        listener,
        f"/callback?state={STATE}&error=access_denied"
        "&error_description=The+user+denied+%3Cb%3Eit%3C%2Fb%3E",
    )
    assert response.status_code == 400
    assert "&lt;b&gt;it&lt;/b&gt;" in response.text and "<b>it</b>" not in response.text
    verdict = final_verdicts(listener, 1)[0]
    assert isinstance(verdict, Refused) and "The user denied <b>it</b>" in verdict.reason


def test_consent_error_code_is_explained(listener: CallbackListener) -> None:
    get(listener, f"/callback?state={STATE}&error=invalid_request&error_description=MD5101")
    verdict = final_verdicts(listener, 1)[0]
    assert isinstance(verdict, Refused) and "MD5101" in verdict.reason
    assert "redirect URI" in verdict.advice


def test_login_uri_hop_is_redirected_to_amazon_with_our_state(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    response = browser.get(
        f"http://127.0.0.1:{listener.port}{HOP}&selling_partner_id=A1B2C3D4E5&version=beta"
    )
    assert response.status_code == 302
    location = httpx.URL(response.headers["location"])
    assert (location.scheme, location.host, location.path) == (
        "https",
        "sellercentral.amazon.com",
        "/apps/authorize/confirm/x",
    )
    assert dict(location.params) == {
        "amazon_state": "AMZ",
        "state": STATE,
        "redirect_uri": "https://you.example.com/cb",
        "version": "beta",
    }
    assert final_verdicts(listener) == []  # still waiting for the code


@pytest.mark.parametrize(
    "cookie",
    [None, "spconnect_{port}=guess", "spconnect_1={value}", "x={value}"],
    ids=["no cookie", "wrong value", "another login's name", "another name"],
)
def test_hop_without_this_logins_cookie_gets_no_state_and_the_listener_keeps_waiting(
    listener: CallbackListener, browser: httpx.Client, cookie: str | None
) -> None:
    """Issue 8, section 1: any local process could read state from the hop's redirect."""
    value = next(iter(browser.cookies.values()))
    headers = {"Cookie": cookie.format(port=listener.port, value=value)} if cookie else {}
    response = httpx.get(f"http://127.0.0.1:{listener.port}{HOP}", headers=headers, timeout=5)
    assert response.status_code == 403
    assert "location" not in response.headers and "set-cookie" not in response.headers
    assert STATE not in response.text and STATE.split(".")[1] not in response.text
    assert "paste it into that terminal" in response.text
    assert events(listener) == []  # not even a note: the page says what to do
    # The person's browser still goes through, and the login still finishes.
    assert browser.get(f"http://127.0.0.1:{listener.port}{HOP}").status_code == 302
    assert browser.get(
        f"http://127.0.0.1:{listener.port}/callback?state={STATE}&spapi_oauth_code=c"
    )
    assert final_verdicts(listener, 1) == [Authorized("c", None)]


def test_start_address_sets_a_strict_cookie_and_sends_the_browser_to_amazon(
    listener: CallbackListener,
) -> None:
    start = listener.start_address()
    assert start.startswith(f"http://127.0.0.1:{listener.port}/callback?spconnect_start=")
    response = httpx.get(start, timeout=5)
    assert response.status_code == 302 and response.headers["location"] == CONSENT_URL
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"spconnect_{listener.port}=")
    for attribute in ("Path=/callback", "HttpOnly", "SameSite=Lax", "Max-Age="):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1: a Secure cookie would be lost
    assert listener.start_address() != start  # each address is its own token


def test_start_address_works_once_and_a_second_browser_ends_the_login(
    listener: CallbackListener,
) -> None:
    """The start address is in the browser's command line, which other local users can
    read: whoever opens it second (without the first one's cookie) ends the login, since
    the first one received the consent URL and its state."""
    start = listener.start_address()
    with httpx.Client(timeout=5) as first:
        assert first.get(start).status_code == 302
        assert first.get(start).status_code == 302  # the same browser reloading
        second = httpx.get(start, timeout=5)
        assert second.status_code == 403 and "location" not in second.headers
        assert STATE not in second.text
        verdict = final_verdicts(listener, 1)
        assert len(verdict) == 1 and isinstance(verdict[0], Refused)
        assert "opened a second time" in verdict[0].reason
        late = first.get(
            f"http://127.0.0.1:{listener.port}/callback?state={STATE}&spapi_oauth_code=c"
        )
        assert late.status_code == 400 and "already finished" in late.text
        assert final_verdicts(listener) == []


def test_unknown_start_address_is_refused_and_the_listener_keeps_waiting(
    listener: CallbackListener,
) -> None:
    for token in ("guess", "x" * 5000, listener.start_address().split("=")[1] + "x"):
        response = get(listener, f"/callback?spconnect_start={token}")
        assert 400 <= response.status_code < 500 and "location" not in response.headers
    still_answers(listener)


def test_unsafe_hop_is_refused_and_the_listener_keeps_waiting(
    listener: CallbackListener, browser: httpx.Client
) -> None:
    for target in ("https%3A%2F%2Fevil.example%2Fx", "https%3A%2F%2F%5B%3A%3A1%2Fx"):
        response = browser.get(
            f"http://127.0.0.1:{listener.port}/callback?amazon_callback_uri={target}"
            "&amazon_state=AMZ"
        )
        assert response.status_code == 400
        assert "location" not in response.headers
    assert final_verdicts(listener) == []


def test_security_headers_on_every_page(listener: CallbackListener) -> None:
    for path in (
        "/",
        "/callback",
        "/callback?state=x",
        f"/callback?state={STATE}&spapi_oauth_code=c",
    ):
        response = get(listener, path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
        assert "<script" not in response.text and "http" not in response.text.split("<body>")[1]


def test_port_in_use_names_the_port_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LoginIncomplete) as info:
            CallbackListener(EXPECTED, port=port).start()
    assert f"port {port}" in info.value.message and "--port" in str(info.value.hint)


def test_stop_frees_the_port() -> None:
    lst = CallbackListener(EXPECTED, port=0).start()
    port = lst.port
    assert not port_is_free(port)
    lst.stop()
    assert port_is_free(port)


def test_tls_mode_serves_https_on_the_redirect_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path))
    from spconnect.consent.tls import self_signed_certificate

    cert = self_signed_certificate("localhost")
    assert cert.created and (tmp_path / "tls" / "localhost.key").stat().st_mode & 0o777 == 0o600
    assert not self_signed_certificate("localhost").created  # made once, then kept
    lst = CallbackListener(
        EXPECTED, port=0, path="/spconnect/cb", host_name="localhost", tls=cert.server_context()
    ).start()
    lst.begin(EXPECTED, CONSENT_URL)
    try:
        trust = ssl.create_default_context(cafile=cert.cert_path)
        base = f"https://localhost:{lst.port}/spconnect/cb"
        with httpx.Client(verify=trust, timeout=5) as browser:
            start = lst.start_address()
            assert start.startswith(f"{base}?spconnect_start=")
            opened = browser.get(start)
            assert opened.status_code == 302 and "; Secure" in opened.headers["set-cookie"]
            hop = browser.get(f"{base}?amazon_callback_uri=%2Fx&amazon_state=AMZ")
            assert hop.status_code == 302 and f"state={STATE}" in hop.headers["location"]
            stranger = httpx.get(f"{base}?amazon_callback_uri=%2Fx&amazon_state=A", verify=trust)
            assert stranger.status_code == 403 and "location" not in stranger.headers
            response = browser.get(f"{base}?state={STATE}&spapi_oauth_code=tls")
        assert response.status_code == 200
        assert final_verdicts(lst, 1) == [Authorized("tls", None)]
    finally:
        lst.stop()


# Hostile and malformed input (issue 8, section 4): anything on this machine can connect.


def exchange(listener: CallbackListener, raw: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes as one client and read the whole reply (the listener closes)."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=timeout) as client:
        client.sendall(raw)
        reply = b""
        while chunk := client.recv(65536):
            reply += chunk
    return reply


def status_of(reply: bytes) -> int:
    assert reply.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")), reply[:80]
    return int(reply[9:12])


def still_answers(listener: CallbackListener) -> None:
    """The login is still waiting, and the real answer is still accepted."""
    assert final_verdicts(listener) == []
    good = get(listener, f"/callback?state={STATE}&spapi_oauth_code=good")
    assert good.status_code == 200
    assert final_verdicts(listener, 1) == [Authorized("good", None)]


MALFORMED = {
    "70 KB query": f"GET /callback?x={'a' * 70_000} HTTP/1.1\r\nHost: H\r\n\r\n".encode(),
    "1 MB query": f"GET /callback?x={'a' * 1_000_000} HTTP/1.1\r\nHost: H\r\n\r\n".encode(),
    "binary garbage": bytes(range(256)) * 4 + b"\r\n\r\n",
    "no request line": b"\r\n\r\n",
    "not HTTP": b"HELLO\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "TLS to the plain port": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 32 + b"\n\n",
    "header without colon": b"GET /callback HTTP/1.1\r\nHost H\r\n\r\n",
    "folded header": b"GET /callback HTTP/1.1\r\nHost: H\r\n x\r\n\r\n",
    "two Host headers": b"GET /callback HTTP/1.1\r\nHost: H\r\nHost: evil\r\n\r\n",
    "huge headers": b"GET /callback HTTP/1.1\r\nHost: H\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n",
    "authority-form target": b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: H\r\n\r\n",
    "asterisk target": b"OPTIONS * HTTP/1.1\r\nHost: H\r\n\r\n",
    "malformed amazon_callback_uri": (
        b"GET /callback?amazon_callback_uri=https%3A%2F%2F%5B%3A%3A1%2Fx&amazon_state=y "
        b"HTTP/1.1\r\nHost: H\r\n\r\n"
    ),
    "bad port in amazon_callback_uri": (
        b"GET /callback?amazon_callback_uri=https%3A%2F%2Fsellercentral.amazon.com%3A99999"
        b"&amazon_state=y HTTP/1.1\r\nHost: H\r\n\r\n"
    ),
    "undecodable query": b"GET /callback?state=%ff%fe\xff&code=\x00 HTTP/1.1\r\nHost: H\r\n\r\n",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_get_a_4xx_page_and_the_listener_keeps_waiting(
    listener: CallbackListener, raw: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    raw = raw.replace(b"Host: H", f"Host: 127.0.0.1:{listener.port}".encode())
    reply = exchange(listener, raw)
    assert 400 <= status_of(reply) < 500
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"Content-Security-Policy: default-src 'none'" in head
    assert b"Location" not in head and b"<!DOCTYPE html>" in body
    still_answers(listener)
    printed = capfd.readouterr()
    assert printed.out == "" and printed.err == ""  # no traceback, nothing at all


@pytest.mark.parametrize(
    ("callback", "path"),
    [
        ("%2Fapps%2Fx%0D%0ASet-Cookie%3A%20a%3Db%0D%0A", "/apps/xSet-Cookie:%20a=b"),
        ("%2Fapps%2F%E2%98%83%00%0B%C2%85x", "/apps/%E2%98%83%00%0B%C2%85x"),
    ],
    ids=["CR LF", "non-ASCII and control characters"],
)
def test_the_hop_location_is_one_ascii_header(
    listener: CallbackListener, browser: httpx.Client, callback: str, path: str
) -> None:
    """Whatever the Amazon address carries, it goes out as one percent-encoded Location
    header: no response splitting, nothing that cannot be sent."""
    query = f"amazon_callback_uri={callback}&amazon_state=y"
    reply = exchange(
        listener,
        f"GET /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1:{listener.port}\r\n".encode()
        + b"Cookie: "
        + cookie_header(browser)
        + b"\r\n\r\n",
    )
    assert status_of(reply) == 302
    head = reply.partition(b"\r\n\r\n")[0]
    assert head.isascii()
    lines = head.decode().split("\r\n")
    assert not [line for line in lines if line.lower().startswith("set-cookie: a")]
    location = [line for line in lines if line.startswith("Location: ")]
    assert location == [
        f"Location: https://sellercentral.amazon.com{path}?amazon_state=y&state={STATE}"
        "&redirect_uri=https%3A%2F%2Fyou.example.com%2Fcb&version=beta"
    ]


def test_no_cross_origin_answers(listener: CallbackListener) -> None:
    """The relay page navigates here (no fetch), so no CORS or Private Network Access
    header is ever needed; a reflected Origin would let any web page read the answers."""
    evil = {"Origin": "https://evil.example"}
    url = f"http://127.0.0.1:{listener.port}/callback"
    preflight = httpx.options(
        url,
        headers={
            **evil,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert preflight.status_code == 405
    responses = [
        preflight,
        httpx.get(url, headers=evil),
        httpx.get(url),
        httpx.get(f"{url}?state=wrong", headers=evil),
        httpx.get(f"http://127.0.0.1:{listener.port}/", headers=evil),
    ]
    for response in responses:
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_head_gets_headers_only(listener: CallbackListener) -> None:
    reply = exchange(
        listener, b"HEAD /callback HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % listener.port
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert status_of(reply) == 200 and b"Content-Length: " in head and body == b""


def test_a_flood_of_idle_connections_neither_spawns_threads_nor_delays_the_answer(
    listener: CallbackListener,
) -> None:
    """400 half-open connections used to keep 402 threads alive with no timeout."""
    threads_before = threading.active_count()
    flood = []
    try:
        for i in range(400):
            client = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
            if i % 2:
                client.sendall(b"GET /callback?state=")  # a request that never ends
            flood.append(client)
        time.sleep(0.3)
        assert threading.active_count() <= threads_before + 1
        started = time.monotonic()
        good = get(listener, f"/callback?state={STATE}&spapi_oauth_code=good")
        assert good.status_code == 200 and time.monotonic() - started < 2
        assert final_verdicts(listener, 1) == [Authorized("good", None)]
    finally:
        for client in flood:
            client.close()


def test_idle_connections_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    lst = CallbackListener(EXPECTED, port=0, idle_timeout=0.5).start()
    try:
        silent = socket.create_connection(("127.0.0.1", lst.port), timeout=5)
        slow = socket.create_connection(("127.0.0.1", lst.port), timeout=5)
        slow.sendall(b"GET /callback?state=")
        started = time.monotonic()
        for client in (silent, slow):
            with client:
                assert client.recv(100) == b""  # closed by the listener
        assert time.monotonic() - started < 3
        assert len(lst._connections) == 0
    finally:
        lst.stop()


def test_connections_beyond_the_limit_drop_the_oldest() -> None:
    lst = CallbackListener(EXPECTED, port=0, max_connections=10).start()
    clients = [socket.create_connection(("127.0.0.1", lst.port), timeout=5) for _ in range(15)]
    try:
        assert clients[0].recv(100) == b""  # the oldest made room
        good = get(lst, f"/callback?state={STATE}&spapi_oauth_code=good")
        assert good.status_code == 200
        assert len(lst._connections) <= 10
    finally:
        for client in clients:
            client.close()
        lst.stop()


REQUEST_PIECES = st.sampled_from(
    [
        b"GET ",
        b"HEAD ",
        b"OPTIONS ",
        b"POST ",
        b"/callback",
        b"/",
        b"http://127.0.0.1/callback",
        b"?",
        b"&",
        b"=",
        b"state=",
        b"spconnect_start=",
        STATE.encode(),
        b"spapi_oauth_code=c",
        b"amazon_callback_uri=",
        b"https%3A%2F%2F%5B%3A%3A1%2Fx",
        b"%2Fapps%2Fx%0D%0A",
        b"amazon_state=y",
        b"%ff",
        b"\xff",
        b"\x00",
        b" HTTP/1.1",
        b" HTTP/1.0",
        b"\r\n",
        b"\n",
        b"Host: 127.0.0.1:PORT",
        b"Host:",
        b"Cookie: a=b; c",
        b":",
        b" ",
        b"\t",
    ]
)
REQUEST_HEADS = st.lists(REQUEST_PIECES | st.binary(max_size=6), max_size=24).map(b"".join)


# The fuzzed listeners wait for a state the pieces above never spell, so no example can
# be a valid final answer: every one must leave the login waiting.
UNGUESSABLE = ExpectedAnswer(
    "53682.NotAmongTheFuzzedPiecesXXXXXXXX", EXPECTED.redirect_uri, True, EXPECTED.consent_base
)


@pytest.fixture(scope="module")
def fuzz_listener() -> Iterator[CallbackListener]:
    lst = CallbackListener(UNGUESSABLE, port=0).start()
    yield lst
    lst.stop()


@given(head=REQUEST_HEADS | st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_any_request_head_gets_a_page(head: bytes) -> None:
    """Property: whatever the head, the listener answers with a status line and a page,
    and never ends the login."""
    listener = CallbackListener(UNGUESSABLE, port=0)  # respond() needs no socket
    listener.allowed_hosts = {"127.0.0.1:53682"}
    reply, events = listener.respond(head.replace(b"PORT", b"53682"))
    assert 200 <= status_of(reply) < 500
    assert [e for e in events if e.verdict is not None] == []


@given(raw=REQUEST_HEADS | st.binary(min_size=1, max_size=200))
@settings(max_examples=60, deadline=None)
def test_any_bytes_over_a_real_connection_get_a_reply(
    fuzz_listener: CallbackListener, raw: bytes
) -> None:
    reply = exchange(
        fuzz_listener, raw.replace(b"PORT", str(fuzz_listener.port).encode()) + b"\r\n\r\n"
    )
    assert 200 <= status_of(reply) < 500
    assert final_verdicts(fuzz_listener) == []


def test_tls_listener_survives_plain_text_silent_and_broken_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPCONNECT_CONFIG_DIR", str(tmp_path))
    from spconnect.consent.tls import self_signed_certificate

    cert = self_signed_certificate("localhost")
    lst = CallbackListener(
        EXPECTED, port=0, host_name="localhost", tls=cert.server_context(), idle_timeout=1
    ).start()
    silent = socket.create_connection(("127.0.0.1", lst.port), timeout=5)  # never says hello
    try:
        for garbage in (b"GET /callback HTTP/1.1\r\nHost: localhost\r\n\r\n", bytes(range(256))):
            with socket.create_connection(("127.0.0.1", lst.port), timeout=5) as client:
                client.sendall(garbage)
                # The handshake failed: closed without an answer (a reset when unread
                # bytes were left over).
                with contextlib.suppress(ConnectionResetError):
                    assert client.recv(100) == b""
        trust = ssl.create_default_context(cafile=cert.cert_path)
        url = f"https://localhost:{lst.port}/callback?state={STATE}&spapi_oauth_code=tls"
        assert httpx.get(url, verify=trust, timeout=5).status_code == 200
        assert final_verdicts(lst, 1) == [Authorized("tls", None)]
        assert silent.recv(100) == b""  # timed out by the listener
    finally:
        silent.close()
        lst.stop()
