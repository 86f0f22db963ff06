"""The loopback listener, in-process over real HTTP (and TLS), as the design lists it."""

from __future__ import annotations

import queue
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from spconnect.consent.answers import Authorized, ExpectedAnswer, Refused
from spconnect.consent.listener import CallbackListener, ListenerEvent, port_is_free
from spconnect.consent.pages import SECURITY_HEADERS
from spconnect.errors import LoginIncomplete

STATE = "53682.AbCdEfGhIjKlMnOpQrStUvWxYz012345"
EXPECTED = ExpectedAnswer(
    STATE, "https://you.example.com/cb", True, "https://sellercentral.amazon.com"
)


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallbackListener]:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)
    lst = CallbackListener(EXPECTED, port=0).start()
    yield lst
    lst.stop()


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


def final_verdicts(listener: CallbackListener) -> list[Authorized | Refused]:
    return [e.verdict for e in events(listener) if e.verdict is not None]


def test_binds_loopback_only(listener: CallbackListener) -> None:
    assert listener._server is not None
    assert listener._server.server_address[0] == "127.0.0.1"
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
    assert final_verdicts(listener) == [Authorized("abc", "A1B2C3D4E5")]


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
    assert final_verdicts(listener) == [Authorized("good", None)]


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
    # The verdict is queued only after the page was written (the request has completed).
    assert final_verdicts(listener) == [Authorized("SECRETCODE123", "A1B2C3D4E5")]


def test_state_is_single_use(listener: CallbackListener) -> None:
    get(listener, f"/callback?state={STATE}&spapi_oauth_code=first")
    second = get(listener, f"/callback?state={STATE}&spapi_oauth_code=second")
    assert second.status_code == 400 and "already finished" in second.text
    assert final_verdicts(listener) == [Authorized("first", None)]


def test_error_callback_is_a_refusal_with_amazons_text(listener: CallbackListener) -> None:
    response = get(
        listener,
        f"/callback?state={STATE}&error=access_denied"
        "&error_description=The+user+denied+%3Cb%3Eit%3C%2Fb%3E",
    )
    assert response.status_code == 400
    assert "&lt;b&gt;it&lt;/b&gt;" in response.text and "<b>it</b>" not in response.text
    verdict = final_verdicts(listener)[0]
    assert isinstance(verdict, Refused) and "The user denied <b>it</b>" in verdict.reason


def test_consent_error_code_is_explained(listener: CallbackListener) -> None:
    get(listener, f"/callback?state={STATE}&error=invalid_request&error_description=MD5101")
    verdict = final_verdicts(listener)[0]
    assert isinstance(verdict, Refused) and "MD5101" in verdict.reason
    assert "redirect URI" in verdict.advice


def test_login_uri_hop_is_redirected_to_amazon_with_our_state(listener: CallbackListener) -> None:
    response = get(
        listener,
        "/callback?amazon_callback_uri=%2Fapps%2Fauthorize%2Fconfirm%2Fx"
        "&amazon_state=AMZ&selling_partner_id=A1B2C3D4E5&version=beta",
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


def test_unsafe_hop_is_refused_and_the_listener_keeps_waiting(listener: CallbackListener) -> None:
    response = get(
        listener, "/callback?amazon_callback_uri=https%3A%2F%2Fevil.example%2Fx&amazon_state=AMZ"
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
    try:
        url = f"https://localhost:{lst.port}/spconnect/cb?state={STATE}&spapi_oauth_code=tls"
        trust = ssl.create_default_context(cafile=cert.cert_path)
        response = httpx.get(url, verify=trust, timeout=5)
        assert response.status_code == 200
        assert final_verdicts(lst) == [Authorized("tls", None)]
    finally:
        lst.stop()
