"""`--from-url`: the Login-URI address of a flow Amazon started, read as hostile input
(issue 9, item 3; amazon.md section 3). The whole flow runs in test_login.py and, in
Chromium, in test_browser.py."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spconnect.amazon.marketplaces import central_hosts
from spconnect.consent.answers import ExpectedAnswer, Hop, interpret
from spconnect.consent.login_uri import (
    MAX_ADDRESS_CHARS,
    LoginUriVisit,
    check_target,
    continuation,
    read_login_uri_address,
)
from spconnect.errors import UsageError

APP_ID = "amzn1.sp.solution.8a2c4b1e-1234-4cde-9f00-0123456789ab"
CALLBACK = quote(f"/apps/authorize/confirm/{APP_ID}", safe="")
SELLER_CENTRAL = "https://sellercentral.amazon.com"
QUERY = f"amazon_callback_uri={CALLBACK}&amazon_state=AMZ-state_1&selling_partner_id=A3FHEXAMPLEYWS"


@pytest.fixture(autouse=True)
def no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPCONNECT_CENTRAL_URL", raising=False)


@pytest.mark.parametrize(
    "given_text",
    [
        f"https://you.example.com/spconnect/login?{QUERY}",  # the relay page, as it shows it
        f"http://127.0.0.1:53682/callback?{QUERY}",  # the browser's error page for loopback
        f"  '{QUERY}' ",
        f"https://you.example.com/spconnect/login?{QUERY}&version=beta",
    ],
)
def test_login_uri_addresses_are_read(given_text: str) -> None:
    visit = read_login_uri_address(given_text)
    assert visit.amazon_callback_uri == f"/apps/authorize/confirm/{APP_ID}"
    assert visit.amazon_state == "AMZ-state_1"
    assert visit.selling_partner_id == "A3FHEXAMPLEYWS"
    assert visit.application_id == APP_ID
    assert visit.beta == given_text.rstrip().endswith("version=beta")


def test_vendor_groups_are_read_and_malformed_ids_refused() -> None:
    vendor = QUERY.replace("A3FHEXAMPLEYWS", "amzn1.vg.123456")
    assert read_login_uri_address(vendor).selling_partner_id == "amzn1.vg.123456"
    with pytest.raises(UsageError, match="selling partner id"):
        read_login_uri_address(QUERY.replace("A3FHEXAMPLEYWS", "<script>"))


@pytest.mark.parametrize(
    ("given_text", "said"),
    [
        ("", "not an address"),
        ("hello world", "not an address"),
        ("x" * (MAX_ADDRESS_CHARS + 1), "characters long"),
        ("https://you.example.com/cb?state=1.abc&spapi_oauth_code=AN", "Amazon's answer"),
        ("https://you.example.com/cb?state=1.abc&error=access_denied", "Amazon's answer"),
        ("Error code: MD1000", "MD1000"),
        ("https://you.example.com/cb?error_description=MD5101", "MD5101"),
        (f"{SELLER_CENTRAL}/apps/authorize/consent?application_id={APP_ID}&state=1.a", "own page"),
        (f"https://you.example.com/login?amazon_callback_uri={CALLBACK}", "no amazon_callback"),
        ("https://you.example.com/login?amazon_state=A", "own page"),
        (f"?amazon_callback_uri={CALLBACK}&amazon_state=%0D%0ALocation:x", "amazon_state"),
        (f"?amazon_callback_uri={CALLBACK}&amazon_state={'A' * 3000}", "amazon_state"),
        ("?amazon_callback_uri=%2Fa%20b&amazon_state=A", "amazon_callback_uri is malformed"),
    ],
)
def test_what_is_not_a_login_uri_visit_is_explained(given_text: str, said: str) -> None:
    with pytest.raises(UsageError, match=said):
        read_login_uri_address(given_text)


def visit(callback: str) -> LoginUriVisit:
    return LoginUriVisit(callback, "AMZ", None, beta=False)


@pytest.mark.parametrize(
    "callback",
    [
        "https://evil.example/apps/authorize/confirm/x",
        "//evil.example/x",
        "http://sellercentral.amazon.com/x",
        "https://sellercentral.amazon.com:8443/x",
        "https://user@sellercentral.amazon.com/x",
        "https://sellercentral.amazon.com.evil.example/x",
        "javascript:alert(1)",
        "https://[::1/x",
    ],
)
def test_only_catalogue_central_hosts_are_continued(callback: str) -> None:
    with pytest.raises(UsageError, match="will not continue") as info:
        check_target(visit(callback), SELLER_CENTRAL)
    assert "AMZ" not in info.value.message and len(info.value.message) < 300


def test_the_continuation_carries_amazon_state_our_state_and_version_beta() -> None:
    url = continuation(
        LoginUriVisit(f"/apps/authorize/confirm/{APP_ID}", "AMZ", None, beta=True),
        state="53682.ours",
        redirect_uri="https://you.example.com/cb",
        draft=False,  # a published configuration, but Amazon said version=beta
        consent_base="https://vendorcentral.amazon.in",
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "https://vendorcentral.amazon.in"
    assert parse_qs(parts.query) == {
        "amazon_state": ["AMZ"],
        "state": ["53682.ours"],
        "redirect_uri": ["https://you.example.com/cb"],
        "version": ["beta"],
    }


def test_a_hop_through_the_listener_keeps_amazons_version_beta() -> None:
    """amazon.md section 3: the hop of a draft's flow carries version=beta, and so must
    the continuation, whatever the app's configuration says."""
    expected = ExpectedAnswer("53682.ours", "https://you.example.com/cb", False, SELLER_CENTRAL)
    params = {"amazon_callback_uri": "/apps/x", "amazon_state": "AMZ", "version": "beta"}
    verdict = interpret(params, expected)
    assert isinstance(verdict, Hop) and "version=beta" in verdict.target
    published = interpret({k: v for k, v in params.items() if k != "version"}, expected)
    assert isinstance(published, Hop) and "version=beta" not in published.target


# What a crafted link to the relay page could put in amazon_callback_uri: other hosts in
# every spelling urllib and browsers disagree on, and anything else.
HOSTILE_CALLBACKS = st.sampled_from(
    [
        "/apps/authorize/confirm/x",
        "https://sellercentral.amazon.com/x",
        "https://www.vendorcentral.in/x",
        "//evil.example/x",
        "///evil.example/x",
        "/\\evil.example/x",
        "\\\\evil.example/x",
        "https:evil.example",
        "https://sellercentral.amazon.com@evil.example/",
        "https://sellercentral.amazon.com\\@evil.example/",
        "https://evil.example\\.sellercentral.amazon.com/",
        "https://evil.example#@sellercentral.amazon.com/",
        "https://evil.example?@sellercentral.amazon.com/",
        "https://sellercentral.amazon.com%2F@evil.example/",
        "https://sellercentral.amazon.com.:443/x",
        "HTTPS://SELLERCENTRAL.AMAZON.COM/x",
        "https://xn--sellercentral-.amazon.com/x",
        "data:text/html,x",
    ]
) | st.text(max_size=40)
ADDRESSES = st.builds(
    lambda callback, amazon_state: (
        "https://you.example.com/login?amazon_callback_uri="
        + quote(callback, safe="", errors="surrogatepass")
        + "&amazon_state="
        + quote(amazon_state, safe="", errors="surrogatepass")
    ),
    HOSTILE_CALLBACKS,
    st.text(max_size=20),
)


@given(ADDRESSES | st.text(max_size=300))
def test_any_address_is_refused_or_continues_to_a_catalogue_central(text: str) -> None:
    """Never an open redirect: whatever the address, the browser is sent nowhere but to a
    Seller or Vendor Central host of the catalogue, or the address is refused (exit 2)."""
    try:
        found = read_login_uri_address(text)
        check_target(found, SELLER_CENTRAL)
    except UsageError:
        return
    target = continuation(
        found,
        state="1.s",
        redirect_uri="https://you.example.com/cb",
        draft=False,
        consent_base=SELLER_CENTRAL,
    )
    parts = urlsplit(target)
    assert parts.scheme == "https" and parts.hostname in central_hosts()
    assert parts.username is None and parts.port is None
