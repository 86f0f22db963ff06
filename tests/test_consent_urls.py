"""Consent URLs, state and the Login-URI hop's redirect rules (amazon.md sections 2, 3)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from spconnect.amazon import consent, marketplaces
from tests.test_marketplaces import AMAZON_MD_ROWS

APP_ID = "amzn1.sp.solution.8a2c4b1e-1234-4cde-9f00-0123456789ab"
REDIRECT = "https://you.example.com/spconnect/callback"


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)


@pytest.mark.parametrize(("code", "mid", "region", "seller", "vendor"), AMAZON_MD_ROWS)
@pytest.mark.parametrize("draft", [True, False])
def test_consent_url_for_every_marketplace_seller_and_vendor(
    code: str, mid: str, region: str, seller: str, vendor: str | None, draft: bool
) -> None:
    m = marketplaces.resolve_marketplace(code)
    beta = "&version=beta" if draft else ""
    url = consent.consent_url(
        app_id=APP_ID, marketplace=m, state="53682.abc", redirect_uri=REDIRECT, draft=draft
    )
    assert url == (
        f"{seller}/apps/authorize/consent?application_id={APP_ID}&state=53682.abc"
        f"{beta}&redirect_uri=https%3A%2F%2Fyou.example.com%2Fspconnect%2Fcallback"
    )
    if vendor is None:
        with pytest.raises(Exception, match="no Vendor Central URL"):
            consent.consent_url(
                app_id=APP_ID,
                marketplace=m,
                state="s",
                redirect_uri=REDIRECT,
                draft=draft,
                vendor=True,
            )
    else:
        vendor_url = consent.consent_url(
            app_id=APP_ID,
            marketplace=m,
            state="53682.abc",
            redirect_uri=REDIRECT,
            draft=draft,
            vendor=True,
        )
        assert vendor_url == url.replace(seller, vendor, 1)


def test_state_is_port_dot_at_least_128_random_bits() -> None:
    states = {consent.make_state(53682) for _ in range(200)}
    assert len(states) == 200
    for state in states:
        port, random_part = state.split(".", 1)
        assert port == "53682"
        assert len(random_part) * 6 >= 128  # URL-safe base64: 6 bits per character
        assert consent.port_of_state(state) == 53682


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        "99999.xxxxxxxxxxxxxxxxxxxxxxxx",
        "1.short",
        "-1.xxxxxxxxxxxxxxxxxxxxxxxx",
        "0.xxxxxxxxxxxxxxxxxxxxxxxx",
    ],
)
def test_malformed_states_have_no_port(bad: str) -> None:
    assert consent.port_of_state(bad) is None


def continuation(callback: str, base: str = "https://sellercentral.amazon.com") -> str:
    return consent.login_uri_continuation(
        amazon_callback_uri=callback,
        amazon_state="amz",
        state="53682.ours",
        redirect_uri=REDIRECT,
        draft=True,
        consent_base=base,
    )


def test_relative_callback_is_resolved_against_the_consent_host() -> None:
    url = continuation("/apps/authorize/confirm/amzn1.sp.solution.x")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "sellercentral.amazon.com")
    assert parts.path == "/apps/authorize/confirm/amzn1.sp.solution.x"
    assert parse_qs(parts.query) == {
        "amazon_state": ["amz"],
        "state": ["53682.ours"],
        "redirect_uri": [REDIRECT],
        "version": ["beta"],
    }


def test_absolute_callback_on_another_central_host_is_allowed() -> None:
    url = continuation("https://vendorcentral.amazon.de/apps/authorize/confirm/x?a=1")
    assert url.startswith("https://vendorcentral.amazon.de/apps/authorize/confirm/x?a=1&")


@pytest.mark.parametrize(
    "target",
    [
        "https://vendorcentral.amazon.in/apps/authorize/confirm/x",
        "https://www.vendorcentral.in/apps/authorize/confirm/x",  # amazon.md section 11
    ],
)
def test_both_india_vendor_central_hosts_are_hop_targets(target: str) -> None:
    url = continuation(target, base="https://vendorcentral.amazon.in")
    assert url.startswith(target + "?amazon_state=amz&")


def test_a_relative_hop_of_a_vendor_login_stays_on_its_vendor_central() -> None:
    url = continuation("/apps/authorize/confirm/x", base="https://vendorcentral.amazon.co.uk")
    assert url.startswith("https://vendorcentral.amazon.co.uk/apps/authorize/confirm/x?")


@pytest.mark.parametrize(
    "target",
    [
        "https://vendorcentral.in/apps/authorize/confirm/x",
        "https://www.vendorcentral.in.evil.example/x",
        "http://sellercentral.amazon.com/apps/authorize/confirm/x",
        "https://evil.example.com/apps/authorize/confirm/x",
        "//evil.example.com/x",
        "https://sellercentral.amazon.com.evil.example/x",
        "https://user@sellercentral.amazon.com/x",
        "https://sellercentral.amazon.com:8443/x",
        "javascript:alert(1)",
    ],
)
def test_unsafe_hop_targets_are_refused(target: str) -> None:
    with pytest.raises(consent.UnsafeRedirect):
        continuation(target)


def test_central_override_is_the_only_allowed_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPCONNECT_CENTRAL_URL", "http://127.0.0.1:4000")
    assert continuation("/apps/x", base="http://127.0.0.1:4000").startswith(
        "http://127.0.0.1:4000/apps/x?"
    )
    with pytest.raises(consent.UnsafeRedirect):
        continuation("https://sellercentral.amazon.com/apps/x", base="http://127.0.0.1:4000")


@pytest.mark.parametrize(
    "code",
    [
        "MD1000",
        "MD5101",
        "MD5110",
        "MD5100",
        "MD9100",
        "MD9000",
        "MD9999",
        "SPDC8143",
        "MD9010",
        "CONSENT_LIMIT_REACHED",
    ],
)
def test_every_consent_error_of_amazon_md_is_explained(code: str) -> None:
    known = consent.explain_consent_error(f"We're sorry. Error code: {code}.")
    assert known is not None and known.code == code
    assert known.cause and known.advice
    assert code in consent.CONSENT_ERRORS  # a cause and fix of its own, not the fallback


def test_text_without_a_code_is_not_explained() -> None:
    assert consent.explain_consent_error("something went wrong") is None
