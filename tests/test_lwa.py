"""The LWA client against the emulator over real HTTP: grants, errors, retries."""

from __future__ import annotations

import time

import pytest

from spconnect.amazon.lwa import (
    SCOPE_NOTIFICATIONS,
    SCOPE_ROTATION,
    FailureContext,
    LwaClient,
    RetryPolicy,
)
from spconnect.emulator import Emulator
from spconnect.emulator.state import EmulatedApp
from spconnect.errors import (
    AmazonRequestRejected,
    AmazonUnavailable,
    AuthorizationRejected,
    ClientRejected,
    ExitCode,
    LoginIncomplete,
)


class Sleeps:
    """Records the delays the client asks for instead of sleeping (keeps tests fast)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def app(emulator: Emulator) -> EmulatedApp:
    return emulator.state.register_app("demo")


def client(emulator: Emulator, sleeps: Sleeps | None = None, **policy: float) -> LwaClient:
    return LwaClient(
        emulator.token_url,
        retry=RetryPolicy(**policy),  # type: ignore[arg-type]
        sleep=sleeps or Sleeps(),
        jitter=lambda: 1.0,
        timeout=2.0,
    )


def test_refresh_grant_returns_token_with_expiry_from_receipt(
    emulator: Emulator, app: EmulatedApp
) -> None:
    emulator.state.access_token_lifetime = 1234
    refresh = emulator.state.self_authorize(app.client_id, "A1SELLER00001")
    before = time.time()
    grant = client(emulator).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert grant.access_token.startswith("Atza|")
    assert grant.refresh_token == refresh  # '|' and other characters survived form encoding
    assert grant.expires_in == 1234
    assert before <= grant.obtained_at <= time.time()
    assert grant.expires_at == pytest.approx(grant.obtained_at + 1234)
    assert grant.server_date is not None and abs(grant.clock_skew or 0) < 5
    assert emulator.count("refresh_token") == 1


def test_code_grant_is_single_use_and_expires_after_five_minutes(
    emulator: Emulator, app: EmulatedApp
) -> None:
    lwa = client(emulator)
    redirect = app.redirect_uris[0]
    code = emulator.state.issue_code(app.client_id, redirect, "A1SELLER00001")
    grant = lwa.exchange_code(
        code=code, redirect_uri=redirect, client_id=app.client_id, client_secret=app.client_secret
    )
    assert grant.refresh_token and grant.refresh_token.startswith("Atzr|")
    with pytest.raises(LoginIncomplete) as reused:
        lwa.exchange_code(
            code=code,
            redirect_uri=redirect,
            client_id=app.client_id,
            client_secret=app.client_secret,
        )
    assert reused.value.exit_code == ExitCode.LOGIN_INCOMPLETE
    old = emulator.state.issue_code(app.client_id, redirect, "A1SELLER00001")
    emulator.state.advance(301)
    with pytest.raises(LoginIncomplete, match="5 minutes"):
        lwa.exchange_code(
            code=old,
            redirect_uri=redirect,
            client_id=app.client_id,
            client_secret=app.client_secret,
        )


def test_client_credentials_for_both_grantless_scopes(emulator: Emulator, app: EmulatedApp) -> None:
    lwa = client(emulator)
    for scope in (SCOPE_NOTIFICATIONS, SCOPE_ROTATION):
        grant = lwa.client_credentials(
            scope=scope, client_id=app.client_id, client_secret=app.client_secret
        )
        assert grant.access_token.startswith("Atza|") and grant.refresh_token is None
    with pytest.raises(ClientRejected, match="scope"):
        lwa.client_credentials(
            scope="sellingpartnerapi::migration",
            client_id=app.client_id,
            client_secret=app.client_secret,
        )
    assert emulator.count("client_credentials") == 3


def test_revoked_refresh_token_is_exit_4_naming_reauth(
    emulator: Emulator, app: EmulatedApp
) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.state.revoke(refresh)
    with pytest.raises(AuthorizationRejected) as info:
        client(emulator).refresh(
            client_id=app.client_id,
            client_secret=app.client_secret,
            refresh_token=refresh,
            context=FailureContext(profile="shop-eu"),
        )
    assert info.value.exit_code == ExitCode.AUTHORIZATION_REJECTED
    assert info.value.hint == "the seller must authorize again: `spconnect reauth -p shop-eu`"
    assert "request id" in info.value.message
    assert emulator.count("token_requests") == 1  # a 4xx is never retried


def test_wrong_secret_is_exit_5_naming_set_secret(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    with pytest.raises(ClientRejected) as info:
        client(emulator).refresh(
            client_id=app.client_id,
            client_secret="amzn1.oa2-cs.v1.wrong",
            refresh_token=refresh,
            context=FailureContext(app="demo"),
        )
    assert info.value.exit_code == ExitCode.CLIENT_REJECTED
    assert "invalid_client" in info.value.message
    assert "`spconnect app set-secret demo`" in str(info.value.hint)
    assert emulator.count("token_requests") == 1


def test_unsupported_grant_is_a_bug_report_without_secrets(
    emulator: Emulator, app: EmulatedApp
) -> None:
    lwa = client(emulator)
    with pytest.raises(AmazonRequestRejected) as info:
        lwa._post(
            {
                "grant_type": "password",
                "client_id": app.client_id,
                "client_secret": app.client_secret,
            },
            FailureContext(),
        )
    assert info.value.exit_code == ExitCode.UNEXPECTED
    assert "unsupported_grant_type" in info.value.message
    assert app.client_secret not in str(info.value)


def test_503_is_retried_with_backoff_then_succeeds(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("status", times=2, status=503)
    sleeps = Sleeps()
    grant = client(emulator, sleeps, base_delay=0.5).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert grant.access_token
    assert emulator.count("token_requests") == 3
    assert sleeps.delays == [0.5, 1.0]  # exponential (jitter fixed at 1.0 here)


def test_jitter_spreads_the_backoff(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("status", times=1, status=500)
    sleeps = Sleeps()
    LwaClient(emulator.token_url, sleep=sleeps, jitter=lambda: 0.25).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert sleeps.delays == [0.125]


def test_429_retry_after_is_honoured(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("rate_limit", times=1, retry_after=3)
    sleeps = Sleeps()
    client(emulator, sleeps).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert sleeps.delays == [3.0]
    assert emulator.count("token_requests") == 2


def test_retry_after_longer_than_the_budget_gives_up_at_once(
    emulator: Emulator, app: EmulatedApp
) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("rate_limit", times=1, retry_after=120)
    sleeps = Sleeps()
    with pytest.raises(AmazonUnavailable, match="HTTP 429"):
        client(emulator, sleeps, max_total_seconds=10).refresh(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
        )
    assert sleeps.delays == []
    assert emulator.count("token_requests") == 1


def test_attempts_are_bounded_and_the_error_is_exit_6(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("html", times=10, status=502)
    sleeps = Sleeps()
    with pytest.raises(AmazonUnavailable) as info:
        client(emulator, sleeps, max_attempts=3).refresh(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
        )
    assert info.value.exit_code == ExitCode.AMAZON_UNAVAILABLE
    assert "HTTP 502 with an HTML page: 'Service Unavailable'" in info.value.message
    assert "3 attempt(s)" in info.value.message
    assert "request id" in info.value.message
    assert emulator.count("token_requests") == 3
    assert len(sleeps.delays) == 2


def test_slow_answer_times_out_and_is_retried(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("slow", times=1, delay=1.5)
    lwa = LwaClient(emulator.token_url, timeout=0.5, sleep=Sleeps(), jitter=lambda: 0.0)
    grant = lwa.refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert grant.access_token
    assert emulator.count("token_requests") == 2


def test_total_time_is_bounded(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("slow", times=10, delay=0.6)
    lwa = LwaClient(
        emulator.token_url,
        timeout=0.3,
        sleep=Sleeps(),
        jitter=lambda: 0.0,
        retry=RetryPolicy(max_attempts=10, max_total_seconds=1.0),
    )
    started = time.monotonic()
    with pytest.raises(AmazonUnavailable, match="timed out"):
        lwa.refresh(client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh)
    assert time.monotonic() - started < 2.5


def test_unreachable_endpoint_is_exit_6(app: EmulatedApp) -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    lwa = LwaClient(
        f"http://127.0.0.1:{port}/auth/o2/token", sleep=Sleeps(), retry=RetryPolicy(max_attempts=2)
    )
    with pytest.raises(AmazonUnavailable, match="ConnectError"):
        lwa.refresh(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token="Atzr|x"
        )


def test_dropped_connection_is_retried(emulator: Emulator, app: EmulatedApp) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("drop", times=1)
    grant = client(emulator).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert grant.access_token


# -- the answer's shape (issue 8, section 5) -------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ({"access_token": ""}, "its access token is empty"),
        ({"access_token": None}, "it has no access token"),
        ({"access_token": 42}, "its access token is not a string"),
        ({"access_token": "Atza|IwEBIabc\r\nX-Injected: 1"}, "control"),
        ({"access_token": "Atza|IwEBI\x1b[2Jabc"}, "control"),
        ({"access_token": "Atza|" + "x" * 2044}, "longer than 2048 bytes"),
        ({"token_type": "mac"}, "token type is 'mac', not 'bearer'"),
        ({"token_type": None}, "token type is None"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_in": None}, "expires_in"),
        ({"expires_in": "3600"}, "expires_in"),
        ({"expires_in": 10**9}, "expires_in"),
        ({"refresh_token": "Atzr|IwEBI\nabc"}, "its refresh token contains"),
        ({"refresh_token": "Atzr|" + "r" * 2044}, "its refresh token is longer"),
    ],
)
def test_an_unusable_grant_is_exit_6_naming_the_problem(
    emulator: Emulator, app: EmulatedApp, patch: dict[str, object], problem: str
) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("grant", patch=patch)
    with pytest.raises(AmazonUnavailable) as info:
        client(emulator).refresh(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
        )
    assert info.value.exit_code == ExitCode.AMAZON_UNAVAILABLE
    assert problem in info.value.message
    assert "nothing was printed or stored" in info.value.message
    assert "\r" not in info.value.message and "\n" not in info.value.message
    assert emulator.count("token_requests") == 1  # a malformed answer is not retried


def test_token_type_is_case_insensitive(emulator: Emulator, app: EmulatedApp) -> None:
    # RFC 6749 section 5.1: the token type value is case insensitive.
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject("grant", patch={"token_type": "Bearer"})
    grant = client(emulator).refresh(
        client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
    )
    assert grant.token_type == "bearer"


def test_a_code_exchange_without_a_refresh_token_is_exit_6(
    emulator: Emulator, app: EmulatedApp
) -> None:
    redirect = app.redirect_uris[0]
    for patch, problem in (
        ({"refresh_token": None}, "it has no refresh token"),
        ({"refresh_token": ""}, "its refresh token is empty"),
        ({"refresh_token": "Atzr|IwEBI\r\nabc"}, "its refresh token contains"),
    ):
        code = emulator.state.issue_code(app.client_id, redirect, "A1SELLER00001")
        emulator.inject("grant", patch=patch)
        with pytest.raises(AmazonUnavailable, match=problem):
            client(emulator).exchange_code(
                code=code,
                redirect_uri=redirect,
                client_id=app.client_id,
                client_secret=app.client_secret,
            )


@pytest.mark.parametrize("status", [400, 403, 407])
@pytest.mark.parametrize(
    ("page", "first_line"),
    [
        (
            "<!DOCTYPE html>\n<html><head><title>Access Denied</title></head><body><h1>Access"
            " Denied</h1><p>Blocked by the corporate web filter.</p></body></html>",
            "Access Denied",
        ),
        ('{"message": "Forbidden"}', '{"message": "Forbidden"}'),
        ("Request blocked\x1b[2J by\u202e policy\nsecond line", "Request blocked by policy"),
    ],
)
def test_a_page_that_is_not_lwa_json_is_a_network_problem(
    emulator: Emulator, app: EmulatedApp, status: int, page: str, first_line: str
) -> None:
    """An HTML 400/403 from a proxy or firewall was reported as "likely a bug" (exit 1)."""
    emulator.inject("html", status=status, body=page)
    with pytest.raises(AmazonUnavailable) as info:
        client(emulator).refresh(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token="Atzr|x"
        )
    assert info.value.exit_code == ExitCode.AMAZON_UNAVAILABLE
    assert f"HTTP {status}" in info.value.message
    assert first_line in info.value.message
    assert "second line" not in info.value.message
    assert "proxy" in str(info.value.hint)
    assert emulator.count("token_requests") == 1


def test_control_characters_in_an_lwa_error_never_reach_the_message(
    emulator: Emulator, app: EmulatedApp
) -> None:
    refresh = emulator.state.self_authorize(app.client_id)
    emulator.inject(
        "status",
        status=400,
        error="invalid_grant",
        description="\x1b]0;pwned\x07\x1b[31mThe grant\x1b[0m was\r\nrevoked\u202e\x9b2J",
    )
    with pytest.raises(AuthorizationRejected) as info:
        client(emulator).refresh(
            client_id=app.client_id, client_secret=app.client_secret, refresh_token=refresh
        )
    message = info.value.message
    assert "The grant was revoked" in message
    for char in ("\x1b", "\x07", "\r", "\n", "\u202e", "\x9b"):
        assert char not in message
